//! `#[kv(...)]` attributes, parsed into typed options that keep the user's tokens for spans.
//!
//! One branch per option name; an unknown option is an error that lists the known ones, and an
//! option given twice is reported at its second occurrence. A bad value is reported and parsing
//! goes on, so every mistake shows in one build.

use std::fmt::Write as _;
use std::time::Duration;

use natskv_grammar::limits::{MAX_HISTORY, MAX_REPLICAS, out_of_range};
use natskv_grammar::names::{validate_bucket_name, validate_filter, validate_subject};
use natskv_grammar::pattern::KeyPattern;
use natskv_grammar::units::{parse_duration, parse_size};
use proc_macro2::{Span, TokenTree};
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Lit, LitInt, LitStr, Path, Token, Type};

use crate::ctxt::Ctxt;
use crate::spans;
use crate::symbol::{
    API_PREFIX, BREAKING, BUCKET, BUCKET_OPTIONS, CLUSTER, CODEC, COMPRESSION, CRATE,
    DELIVER_PREFIX, DESCRIPTION, FIELD_OPTIONS, HEADERS_ONLY, HISTORY, KEY, KEY_TYPE_OPTIONS, KEYS,
    KV, LIMIT_MARKERS, MAX_BYTES, MAX_VALUE_SIZE, METADATA, MIRROR, ORIGIN_BUCKET, ORIGIN_OPTIONS,
    PLACEMENT, PLACEMENT_OPTIONS, REMOVED, REPLICAS, REPUBLISH, REPUBLISH_OPTIONS, REPUBLISH_TO,
    SOURCE, STORAGE, STORAGE_FILE, STORAGE_MEMORY, STREAM, TAGS, TTL, WRITABLE,
};

/// An option that may be set once.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: &'static str,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: &'static str) -> Self {
        Attr {
            cx,
            name,
            value: None,
        }
    }

    /// Sets the value; a second `set` is an error at the second occurrence.
    fn set(&mut self, path: &Path, value: T) {
        if self.value.is_some() {
            self.cx
                .error_spanned_by(path, format!("`{}` is given twice; keep one", self.name));
        } else {
            self.value = Some(value);
        }
    }

    /// Sets the value when there is one (a bad value was reported already).
    fn set_some(&mut self, path: &Path, value: Option<T>) {
        if let Some(value) = value {
            self.set(path, value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// A whole number, with its span.
#[derive(Clone, Copy)]
pub(crate) struct Number {
    pub(crate) value: u64,
    pub(crate) span: Span,
}

/// A duration.
#[derive(Clone, Copy)]
pub(crate) struct DurationOpt {
    pub(crate) value: Duration,
}

/// Where the bucket keeps its data.
#[derive(Clone, Copy)]
pub(crate) enum StorageOpt {
    File,
    Memory,
}

/// One `metadata(key = "value")` entry.
pub(crate) struct MetadataEntry {
    pub(crate) key: String,
    pub(crate) value: LitStr,
}

/// One `mirror(...)` or `source(...)`: the bucket a mirror or an aggregate takes its keys from.
pub(crate) struct OriginAttr {
    /// `mirror` or `source` as written, for errors about the whole origin.
    pub(crate) path: Path,
    /// The origin bucket (required; a missing one was reported).
    pub(crate) bucket: Option<LitStr>,
    /// The key filters (empty: every key).
    pub(crate) keys: Vec<LitStr>,
    pub(crate) api_prefix: Option<LitStr>,
    pub(crate) deliver_prefix: Option<LitStr>,
    pub(crate) stream: Option<LitStr>,
}

/// A flag option with the name it was written with, for errors about it.
pub(crate) struct Flag {
    pub(crate) path: Path,
    pub(crate) value: bool,
}

/// The options of `#[derive(KvBucket)]` on the struct.
pub(crate) struct BucketAttrs {
    pub(crate) bucket: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    pub(crate) history: Option<Number>,
    pub(crate) ttl: Option<DurationOpt>,
    pub(crate) max_value_size: Option<Number>,
    pub(crate) max_bytes: Option<Number>,
    pub(crate) storage: Option<StorageOpt>,
    pub(crate) replicas: Option<Number>,
    pub(crate) compression: Option<bool>,
    pub(crate) metadata: Vec<MetadataEntry>,
    pub(crate) limit_markers: Option<DurationOpt>,
    pub(crate) codec: Option<Type>,
    pub(crate) krate: Option<Path>,
    /// `mirror(...)`: the bucket is a read-only copy of this origin.
    pub(crate) mirror: Option<OriginAttr>,
    /// `source(...)`, once per origin: the bucket is an aggregate of these.
    pub(crate) sources: Vec<OriginAttr>,
    /// `writable`: an aggregate that also takes writes.
    pub(crate) writable: Option<Flag>,
    /// `republish(...)`: where writes are also sent.
    pub(crate) republish: Option<RepublishAttr>,
    /// `placement(...)`: where the stream is placed.
    pub(crate) placement: Option<PlacementAttr>,
    /// `removed = [...]`: families of earlier declarations this one removes, each with its
    /// pattern when it parses.
    pub(crate) removed: Vec<(LitStr, Option<KeyPattern>)>,
}

/// `republish(to = "...", keys = "...", headers_only)`.
pub(crate) struct RepublishAttr {
    pub(crate) to: LitStr,
    pub(crate) keys: Option<LitStr>,
    pub(crate) headers_only: bool,
}

/// `placement(cluster = "...", tags = [...])`.
pub(crate) struct PlacementAttr {
    pub(crate) cluster: Option<LitStr>,
    pub(crate) tags: Vec<LitStr>,
}

impl BucketAttrs {
    /// Whether the declaration takes no writes: a mirror, or an aggregate not declared writable.
    pub(crate) fn is_read_only(&self) -> bool {
        self.mirror.is_some()
            || (!self.sources.is_empty() && !self.writable.as_ref().is_some_and(|w| w.value))
    }
}

/// A field's `#[kv(key = "...")]`: the literal, and the pattern when it parses.
pub(crate) struct KeyAttr {
    pub(crate) lit: LitStr,
    pub(crate) pattern: Option<KeyPattern>,
    /// `breaking`: the declaration opts into an incompatible change of the family's values.
    pub(crate) breaking: bool,
}

/// The options of `#[derive(KvKey)]` on the struct.
pub(crate) struct KeyTypeAttrs {
    pub(crate) krate: Option<Path>,
}

/// The name of an option as written (raw identifiers unescaped; `crate` is an identifier here),
/// if it is a single identifier.
fn option_name(path: &Path) -> Option<String> {
    path.get_ident().map(|ident| ident.unraw().to_string())
}

/// The closest known option, for a "did you mean".
fn suggestion(name: &str, known: &[&'static str]) -> Option<&'static str> {
    /// Edit distance, two rows at a time.
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut previous: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut current = Vec::with_capacity(previous.len());
            current.push(i + 1);
            for (j, &cb) in b.iter().enumerate() {
                let substitute = previous
                    .get(j)
                    .map_or(usize::MAX, |d| d + usize::from(ca != cb));
                let delete = previous.get(j + 1).map_or(usize::MAX, |d| d + 1);
                let insert = current.last().map_or(usize::MAX, |d| d + 1);
                current.push(substitute.min(delete).min(insert));
            }
            previous = current;
        }
        previous.last().copied().unwrap_or(usize::MAX)
    }
    known
        .iter()
        .map(|&k| (distance(name, k), k))
        .filter(|&(d, k)| d <= 2 && d < k.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// The error for an unknown option, saying where it belongs when it is an option of the other
/// level, and skipping its value so the other options are still read.
fn unknown(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    known: &[&'static str],
    level: &str,
) -> syn::Result<()> {
    let name = option_name(&meta.path);
    let written = name.clone().unwrap_or_else(|| {
        let path = &meta.path;
        quote::quote!(#path).to_string().replace(' ', "")
    });
    let is_origin = level == MIRROR || level == SOURCE;
    let mut message = if is_origin {
        format!("unknown `{level}(...)` option `{written}`")
    } else {
        format!("unknown kv option `{written}`")
    };
    let is_field_option = FIELD_OPTIONS.contains(&written.as_str());
    let is_bucket_option = BUCKET_OPTIONS.contains(&written.as_str());
    if is_origin && is_bucket_option && !ORIGIN_OPTIONS.contains(&written.as_str()) {
        message = format!(
            "`{written}` is an option of the bucket itself: write it beside `{level}(...)`, not inside; \
             the {level} options are: {}",
            known.join(", ")
        );
    } else if level == "bucket" && is_field_option {
        message = format!(
            "`{written}` is a field option: put #[kv({written} = \"...\")] on a field of the struct"
        );
    } else if level == "field" && is_bucket_option {
        message =
            format!("`{written}` is a bucket option: put it in the #[kv(...)] above the struct");
    } else {
        if let Some(close) = name.as_deref().and_then(|n| suggestion(n, known)) {
            let _ = write!(message, "; did you mean `{close}`?");
        }
        let _ = write!(message, "; the {level} options are: {}", known.join(", "));
    }
    cx.error_spanned_by(&meta.path, message);
    skip_value(meta)
}

/// Consumes `= value` or `(...)` after an option name.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _: TokenTree = meta.input.parse()?;
    }
    Ok(())
}

/// The expression after `name =`, or an error saying how to write the option.
fn value_expr(meta: &ParseNestedMeta, name: &str, example: &str) -> syn::Result<Expr> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{name}` needs a value: `{name} = {example}`")));
    }
    let mut expr: Expr = meta.value()?.parse()?;
    // A value passed through a `macro_rules!` arrives wrapped in an invisible group.
    while let Expr::Group(group) = expr {
        expr = *group.expr;
    }
    Ok(expr)
}

/// A string option's literal, or an error saying it takes a string.
fn string_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    let expr = value_expr(meta, name, example)?;
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = expr
    {
        return Ok(Some(lit));
    }
    cx.error_spanned_by(
        expr,
        format!("`{name}` takes a string, such as `{name} = {example}`"),
    );
    Ok(None)
}

/// An integer literal as a `u64`.
fn int_number(cx: &Ctxt, lit: &LitInt, name: &str) -> Option<Number> {
    if let Ok(value) = lit.base10_parse::<u64>() {
        return Some(Number {
            value,
            span: lit.span(),
        });
    }
    cx.error_spanned_by(lit, format!("`{name}` is too large"));
    None
}

/// A whole-number option, or an error saying it takes one.
fn number_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<Number>> {
    match value_expr(meta, name, example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => Ok(int_number(cx, &lit, name)),
        other => {
            cx.error_spanned_by(
                other,
                format!("`{name}` takes a whole number, such as `{name} = {example}`"),
            );
            Ok(None)
        }
    }
}

/// `number` when it is within `1..=max` (the runtime's limits), else `None` with an error at it.
fn in_range(cx: &Ctxt, number: Option<Number>, name: &str, max: u8) -> Option<Number> {
    let number = number?;
    match out_of_range(name, number.value, 1, u64::from(max)) {
        None => Some(number),
        Some(message) => {
            cx.syn_error(syn::Error::new(number.span, message));
            None
        }
    }
}

/// A duration option (`"7d"`), parsed by `natskv_grammar::units`.
fn duration_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<DurationOpt>> {
    let Some(lit) = string_value(cx, meta, name, example)? else {
        return Ok(None);
    };
    match parse_duration(&lit.value()) {
        Ok(value) => Ok(Some(DurationOpt { value })),
        Err(error) => {
            cx.error_spanned_by(&lit, format!("`{name}`: {error}"));
            Ok(None)
        }
    }
}

/// A size option: a whole number of bytes, or a string with a unit (`"1MiB"`).
fn size_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<Number>> {
    match value_expr(meta, name, example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => Ok(int_number(cx, &lit, name)),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => match parse_size(&lit.value()) {
            Ok(value) => Ok(Some(Number {
                value,
                span: lit.span(),
            })),
            Err(error) => {
                cx.error_spanned_by(&lit, format!("`{name}`: {error}"));
                Ok(None)
            }
        },
        other => {
            cx.error_spanned_by(
                other,
                format!("`{name}` takes a size, such as `{name} = {example}` or a number of bytes"),
            );
            Ok(None)
        }
    }
}

/// A type given as `codec = Json` or `codec = "natskv::Json"`.
fn type_value(meta: &ParseNestedMeta, name: &str, example: &str) -> syn::Result<Type> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{name}` needs a value: `{name} = {example}`")));
    }
    let input = meta.value()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        lit.parse()
    } else {
        input.parse()
    }
}

/// A path given as `crate = "natskv"` or `crate = natskv`.
fn path_value(meta: &ParseNestedMeta) -> syn::Result<Path> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(
            "`crate` needs a value: `crate = \"natskv\"`, the path natskv is reachable at",
        ));
    }
    let input = meta.value()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        lit.parse_with(Path::parse_mod_style)
    } else {
        Path::parse_mod_style(input)
    }
}

/// Runs `each` on every option of every `#[kv(...)]` in `attrs`; syntax errors are collected.
fn for_each_option(
    cx: &Ctxt,
    attrs: &[Attribute],
    mut each: impl FnMut(&ParseNestedMeta, Option<&str>) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(KV)) {
        if !matches!(attr.meta, syn::Meta::List(_)) {
            cx.error_spanned_by(
                attr,
                "write the options in parentheses: #[kv(option = value, ...)]",
            );
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let name = option_name(&meta.path);
            each(&meta, name.as_deref())
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
}

/// The bucket name, checked against the naming rules (and kept even when it breaks them, so no
/// "missing bucket" error follows).
fn bucket_name(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<LitStr>> {
    let Some(lit) = string_value(cx, meta, BUCKET, "\"fleet\"")? else {
        return Ok(None);
    };
    if let Err(error) = validate_bucket_name(&lit.value()) {
        cx.syn_error(spans::name_error(&lit, &error, &error.to_string()));
    }
    Ok(Some(lit))
}

/// `mirror(...)` or `source(...)` (`kind`): the origin bucket, its key filters and how to reach
/// it. Names and filters are checked with the runtime's rules (`natskv_grammar::pattern`).
fn origin(cx: &Ctxt, meta: &ParseNestedMeta, kind: &'static str) -> syn::Result<OriginAttr> {
    let mut bucket = Attr::none(cx, ORIGIN_BUCKET);
    let mut keys = Attr::none(cx, KEYS);
    let mut api_prefix = Attr::none(cx, API_PREFIX);
    let mut deliver_prefix = Attr::none(cx, DELIVER_PREFIX);
    let mut stream = Attr::none(cx, STREAM);
    let parenthesized = meta.input.peek(syn::token::Paren);
    // Whether `bucket` was written at all: a bad value was reported, not a missing one.
    let mut bucket_written = false;
    if parenthesized {
        meta.parse_nested_meta(|inner| {
            let path = &inner.path;
            match option_name(path).as_deref() {
                Some(ORIGIN_BUCKET) => {
                    bucket_written = true;
                    bucket.set_some(path, origin_bucket(cx, &inner, kind)?);
                }
                Some(KEYS) => keys.set_some(path, key_filters(cx, &inner, kind)?),
                Some(API_PREFIX) => api_prefix.set_some(
                    path,
                    string_value(cx, &inner, API_PREFIX, "\"$JS.hub.API\"")?,
                ),
                Some(DELIVER_PREFIX) => deliver_prefix.set_some(
                    path,
                    string_value(cx, &inner, DELIVER_PREFIX, "\"deliver.hub\"")?,
                ),
                Some(STREAM) => {
                    stream.set_some(path, string_value(cx, &inner, STREAM, "\"KV_fleet\"")?);
                }
                _ => return unknown(cx, &inner, ORIGIN_OPTIONS, kind),
            }
            Ok(())
        })?;
    } else {
        cx.error_spanned_by(
            &meta.path,
            format!(
                "write the origin in parentheses: `{kind}(bucket = \"fleet\")`, optionally with \
                 `keys = [\"site.paris.>\"]`, `api_prefix`, `deliver_prefix` and `stream`"
            ),
        );
        skip_value(meta)?;
    }
    let bucket = bucket.get();
    if parenthesized && !bucket_written {
        cx.error_spanned_by(
            &meta.path,
            format!("`{kind}(...)` needs the origin bucket: `{kind}(bucket = \"fleet\")`"),
        );
    }
    Ok(OriginAttr {
        path: meta.path.clone(),
        bucket,
        keys: keys.get().unwrap_or_default(),
        api_prefix: api_prefix.get(),
        deliver_prefix: deliver_prefix.get(),
        stream: stream.get(),
    })
}

/// An origin's bucket name, checked against the naming rules.
fn origin_bucket(cx: &Ctxt, meta: &ParseNestedMeta, kind: &str) -> syn::Result<Option<LitStr>> {
    let Some(lit) = string_value(cx, meta, ORIGIN_BUCKET, "\"fleet\"")? else {
        return Ok(None);
    };
    if let Err(error) = validate_bucket_name(&lit.value()) {
        let message = format!("`{kind}(bucket = ...)`: {error}");
        cx.syn_error(spans::name_error(&lit, &error, &message));
    }
    Ok(Some(lit))
}

/// `keys = ["site.paris.>", ...]`: key filters, each checked with the runtime's filter rules.
fn key_filters(cx: &Ctxt, meta: &ParseNestedMeta, kind: &str) -> syn::Result<Option<Vec<LitStr>>> {
    const EXAMPLE: &str = "[\"site.paris.>\", \"config.*\"]";
    let Expr::Array(array) = value_expr(meta, KEYS, EXAMPLE)? else {
        cx.error_spanned_by(
            &meta.path,
            format!("`keys` takes a list of key filters, such as `keys = {EXAMPLE}`"),
        );
        return Ok(None);
    };
    if array.elems.is_empty() {
        cx.error_spanned_by(
            &array,
            format!(
                "`keys` is empty; remove it to take every key of the origin, or list key \
                 filters such as `keys = {EXAMPLE}`"
            ),
        );
        return Ok(None);
    }
    let mut filters: Vec<LitStr> = Vec::new();
    for mut elem in array.elems {
        while let Expr::Group(group) = elem {
            elem = *group.expr;
        }
        let Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) = elem
        else {
            cx.error_spanned_by(
                elem,
                "a key filter is a string, such as \"site.paris.>\" (`*` stands for one token, \
                 a final `>` for the rest)",
            );
            continue;
        };
        let value = lit.value();
        if let Err(error) = validate_filter(&value) {
            let message = format!("`{kind}(keys = ...)`: {error}");
            cx.syn_error(spans::name_error(&lit, &error, &message));
        } else if filters.iter().any(|f| f.value() == value) {
            cx.error_spanned_by(
                &lit,
                format!("key filter \"{value}\" is given twice; keep one"),
            );
        } else {
            filters.push(lit);
        }
    }
    Ok(Some(filters))
}

/// `max_value_size`, which must fit in 32 bits.
fn max_value_size(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<Number>> {
    let size = size_value(cx, meta, MAX_VALUE_SIZE, "\"1MiB\"")?;
    Ok(size.filter(|n| {
        let fits = u32::try_from(n.value).is_ok();
        if !fits {
            cx.error_at(
                n.span,
                "`max_value_size` must be less than 4GiB (it is a 32-bit size)",
            );
        }
        fits
    }))
}

/// `"file"` or `"memory"`.
fn storage_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<StorageOpt>> {
    let Some(lit) = string_value(cx, meta, STORAGE, "\"file\"")? else {
        return Ok(None);
    };
    Ok(match lit.value().as_str() {
        STORAGE_FILE => Some(StorageOpt::File),
        STORAGE_MEMORY => Some(StorageOpt::Memory),
        other => {
            cx.error_spanned_by(
                &lit,
                format!(
                    "unknown storage \"{other}\"; write \"{STORAGE_FILE}\" or \"{STORAGE_MEMORY}\""
                ),
            );
            None
        }
    })
}

/// A flag: bare (`compression`) means `true`, or `= true` / `= false`.
fn flag_value(cx: &Ctxt, meta: &ParseNestedMeta, name: &str) -> syn::Result<Option<bool>> {
    if !meta.input.peek(Token![=]) {
        return Ok(Some(true));
    }
    match value_expr(meta, name, "true")? {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(Some(b.value)),
        other => {
            cx.error_spanned_by(other, format!("`{name}` takes `true` or `false`"));
            Ok(None)
        }
    }
}

/// `metadata(key = "value", ...)`, appended to `entries`.
fn metadata_entries(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    entries: &mut Vec<MetadataEntry>,
) -> syn::Result<()> {
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            "write metadata as `metadata(key = \"value\", ...)`",
        );
        return skip_value(meta);
    }
    meta.parse_nested_meta(|entry| {
        let Some(key) = entry.path.get_ident().map(|i| i.unraw().to_string()) else {
            cx.error_spanned_by(
                &entry.path,
                "a metadata key is an identifier: `metadata(owner = \"ops\")`",
            );
            return skip_value(&entry);
        };
        if let Some(value) = string_value(cx, &entry, &key, "\"...\"")? {
            if entries.iter().any(|m| m.key == key) {
                cx.error_spanned_by(
                    &entry.path,
                    format!("metadata key `{key}` is given twice; keep one"),
                );
            } else {
                entries.push(MetadataEntry { key, value });
            }
        }
        Ok(())
    })
}

/// Parses the container options of a bucket.
pub(crate) fn bucket_attrs(cx: &Ctxt, attrs: &[Attribute]) -> BucketAttrs {
    let mut bucket = Attr::none(cx, BUCKET);
    let mut description = Attr::none(cx, DESCRIPTION);
    let mut history = Attr::none(cx, HISTORY);
    let mut ttl = Attr::none(cx, TTL);
    let mut max_value_size_attr = Attr::none(cx, MAX_VALUE_SIZE);
    let mut max_bytes = Attr::none(cx, MAX_BYTES);
    let mut storage = Attr::none(cx, STORAGE);
    let mut replicas = Attr::none(cx, REPLICAS);
    let mut compression = Attr::none(cx, COMPRESSION);
    let mut metadata: Vec<MetadataEntry> = Vec::new();
    let mut metadata_seen = Attr::none(cx, METADATA);
    let mut limit_markers = Attr::none(cx, LIMIT_MARKERS);
    let mut codec = Attr::none(cx, CODEC);
    let mut krate = Attr::none(cx, CRATE);
    let mut mirror: Option<OriginAttr> = None;
    let mut sources: Vec<OriginAttr> = Vec::new();
    let mut writable = Attr::none(cx, WRITABLE);
    let mut republish_attr = Attr::none(cx, REPUBLISH);
    let mut placement_attr = Attr::none(cx, PLACEMENT);
    let mut removed = Attr::none(cx, REMOVED);

    for_each_option(cx, attrs, |meta, name| {
        let path = &meta.path;
        match name {
            Some(BUCKET) => bucket.set_some(path, bucket_name(cx, meta)?),
            Some(DESCRIPTION) => {
                description.set_some(path, string_value(cx, meta, DESCRIPTION, "\"devices\"")?);
            }
            Some(HISTORY) => {
                let number = number_value(cx, meta, HISTORY, "5")?;
                history.set_some(path, in_range(cx, number, HISTORY, MAX_HISTORY));
            }
            Some(TTL) => ttl.set_some(path, duration_value(cx, meta, TTL, "\"7d\"")?),
            Some(MAX_VALUE_SIZE) => max_value_size_attr.set_some(path, max_value_size(cx, meta)?),
            Some(MAX_BYTES) => {
                max_bytes.set_some(path, size_value(cx, meta, MAX_BYTES, "\"1GiB\"")?);
            }
            Some(STORAGE) => storage.set_some(path, storage_value(cx, meta)?),
            Some(REPLICAS) => {
                let number = number_value(cx, meta, REPLICAS, "3")?;
                replicas.set_some(path, in_range(cx, number, REPLICAS, MAX_REPLICAS));
            }
            Some(COMPRESSION) => compression.set_some(path, flag_value(cx, meta, COMPRESSION)?),
            Some(METADATA) => {
                metadata_seen.set(path, ());
                metadata_entries(cx, meta, &mut metadata)?;
            }
            Some(LIMIT_MARKERS) => {
                limit_markers.set_some(path, duration_value(cx, meta, LIMIT_MARKERS, "\"1s\"")?);
            }
            Some(CODEC) => codec.set(path, type_value(meta, CODEC, "natskv::Json")?),
            Some(CRATE) => krate.set(path, path_value(meta)?),
            Some(MIRROR) => {
                let parsed = origin(cx, meta, MIRROR)?;
                if mirror.is_some() {
                    cx.error_spanned_by(
                        path,
                        "`mirror` is given twice: a mirror copies one bucket; to collect the keys \
                         of several, make an aggregate with one `source(...)` per bucket",
                    );
                } else {
                    mirror = Some(parsed);
                }
            }
            Some(SOURCE) => sources.push(origin(cx, meta, SOURCE)?),
            Some(WRITABLE) => {
                let value = flag_value(cx, meta, WRITABLE)?;
                writable.set_some(
                    path,
                    value.map(|value| Flag {
                        path: path.clone(),
                        value,
                    }),
                );
            }
            Some(REPUBLISH) => republish_attr.set_some(path, republish(cx, meta)?),
            Some(PLACEMENT) => placement_attr.set_some(path, placement(cx, meta)?),
            Some(REMOVED) => {
                let patterns = string_list(cx, meta, REMOVED, "[\"legacy.{id}\"]")?;
                removed.set_some(path, patterns);
            }
            _ => return unknown(cx, meta, BUCKET_OPTIONS, "bucket"),
        }
        Ok(())
    });

    BucketAttrs {
        bucket: bucket.get(),
        description: description.get(),
        history: history.get(),
        ttl: ttl.get(),
        max_value_size: max_value_size_attr.get(),
        max_bytes: max_bytes.get(),
        storage: storage.get(),
        replicas: replicas.get(),
        compression: compression.get(),
        metadata,
        limit_markers: limit_markers.get(),
        codec: codec.get(),
        krate: krate.get(),
        mirror,
        sources,
        writable: writable.get(),
        republish: republish_attr.get(),
        placement: placement_attr.get(),
        removed: with_patterns(cx, removed.get().unwrap_or_default()),
    }
}

/// Each literal with its pattern when it parses (errors reported at the literal).
fn with_patterns(cx: &Ctxt, lits: Vec<LitStr>) -> Vec<(LitStr, Option<KeyPattern>)> {
    lits.into_iter()
        .map(|lit| {
            let pattern = parsed_pattern(cx, &lit);
            (lit, pattern)
        })
        .collect()
}

/// The pattern of `lit`, or `None` with the error reported at it.
fn parsed_pattern(cx: &Ctxt, lit: &LitStr) -> Option<KeyPattern> {
    match KeyPattern::parse(&lit.value()) {
        Ok(pattern) => Some(pattern),
        Err(error) => {
            cx.syn_error(spans::pattern_error(lit, &error));
            None
        }
    }
}

/// `republish(to = "changes.>", keys = "eu.>", headers_only)`: the destination subject, the
/// key filter of the writes republished, and whether only headers go. Subjects and filters are
/// checked with the runtime's rules.
fn republish(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<RepublishAttr>> {
    const EXAMPLE: &str = "`republish(to = \"changes.>\")`, optionally with `keys = \"eu.>\"` \
                           and `headers_only`";
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(&meta.path, format!("write it as {EXAMPLE}"));
        skip_value(meta)?;
        return Ok(None);
    }
    let mut to = Attr::none(cx, REPUBLISH_TO);
    let mut keys = Attr::none(cx, KEYS);
    let mut headers_only = Attr::none(cx, HEADERS_ONLY);
    // Whether `to` was written at all: a bad value was reported, not a missing one.
    let mut to_written = false;
    meta.parse_nested_meta(|inner| {
        let path = &inner.path;
        match option_name(path).as_deref() {
            Some(REPUBLISH_TO) => {
                to_written = true;
                let lit = string_value(cx, &inner, REPUBLISH_TO, "\"changes.>\"")?;
                to.set_some(
                    path,
                    lit.filter(|lit| republish_subject(cx, lit, REPUBLISH_TO)),
                );
            }
            Some(KEYS) => {
                let lit = string_value(cx, &inner, KEYS, "\"eu.>\"")?;
                keys.set_some(path, lit.filter(|lit| republish_subject(cx, lit, KEYS)));
            }
            Some(HEADERS_ONLY) => {
                headers_only.set_some(path, flag_value(cx, &inner, HEADERS_ONLY)?);
            }
            _ => return unknown(cx, &inner, REPUBLISH_OPTIONS, REPUBLISH),
        }
        Ok(())
    })?;
    let Some(to) = to.get() else {
        if !to_written {
            cx.error_spanned_by(
                &meta.path,
                format!("`republish(...)` needs the subject to send writes to: {EXAMPLE}"),
            );
        }
        return Ok(None);
    };
    Ok(Some(RepublishAttr {
        to,
        keys: keys.get(),
        headers_only: headers_only.get().unwrap_or(false),
    }))
}

/// Whether a republish subject (`to`) or key filter (`keys`) is valid; reports it if not.
fn republish_subject(cx: &Ctxt, lit: &LitStr, name: &str) -> bool {
    let value = lit.value();
    let checked = if name == REPUBLISH_TO {
        validate_subject(&value)
    } else {
        validate_filter(&value)
    };
    if let Err(error) = checked {
        let message = format!("`republish({name} = ...)`: {error}");
        cx.syn_error(spans::name_error(lit, &error, &message));
        return false;
    }
    if name == REPUBLISH_TO && value.starts_with("$KV.") {
        cx.error_spanned_by(
            lit,
            "`republish(to = ...)`: a `$KV.` subject would write into a bucket; choose a subject \
             outside `$KV.`",
        );
        return false;
    }
    true
}

/// `placement(cluster = "east", tags = ["ssd"])`: a cluster, server tags, or both.
fn placement(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<PlacementAttr>> {
    const EXAMPLE: &str = "`placement(cluster = \"east\")`, `placement(tags = [\"ssd\"])` or both";
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(&meta.path, format!("write it as {EXAMPLE}"));
        skip_value(meta)?;
        return Ok(None);
    }
    let mut cluster = Attr::none(cx, CLUSTER);
    let mut tags = Attr::none(cx, TAGS);
    meta.parse_nested_meta(|inner| {
        let path = &inner.path;
        match option_name(path).as_deref() {
            Some(CLUSTER) => {
                let lit = string_value(cx, &inner, CLUSTER, "\"east\"")?;
                cluster.set_some(path, lit.filter(|lit| non_empty(cx, lit, CLUSTER)));
            }
            Some(TAGS) => tags.set_some(path, string_list(cx, &inner, TAGS, "[\"ssd\"]")?),
            _ => return unknown(cx, &inner, PLACEMENT_OPTIONS, PLACEMENT),
        }
        Ok(())
    })?;
    let (cluster, tags) = (cluster.get(), tags.get().unwrap_or_default());
    if cluster.is_none() && tags.is_empty() {
        cx.error_spanned_by(
            &meta.path,
            format!("`placement(...)` needs a cluster, tags, or both: {EXAMPLE}"),
        );
        return Ok(None);
    }
    Ok(Some(PlacementAttr { cluster, tags }))
}

/// Whether `lit` holds some text; reports it if not.
fn non_empty(cx: &Ctxt, lit: &LitStr, name: &str) -> bool {
    let empty = lit.value().is_empty();
    if empty {
        cx.error_spanned_by(lit, format!("`{name}` is empty"));
    }
    !empty
}

/// `name = ["a", "b"]`: a list of non-empty strings.
fn string_list(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
) -> syn::Result<Option<Vec<LitStr>>> {
    let Expr::Array(array) = value_expr(meta, name, example)? else {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` takes a list of strings, such as `{name} = {example}`"),
        );
        return Ok(None);
    };
    let mut out = Vec::new();
    for mut elem in array.elems {
        while let Expr::Group(group) = elem {
            elem = *group.expr;
        }
        match elem {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => {
                if non_empty(cx, &lit, name) {
                    out.push(lit);
                }
            }
            other => {
                cx.error_spanned_by(other, format!("`{name}` holds strings, such as {example}"));
            }
        }
    }
    Ok(Some(out))
}

/// Parses a bucket field's options: its key pattern, and whether its value change is breaking.
pub(crate) fn field_key(cx: &Ctxt, attrs: &[Attribute]) -> Option<KeyAttr> {
    let mut key = Attr::none(cx, KEY);
    let mut breaking = Attr::none(cx, BREAKING);
    for_each_option(cx, attrs, |meta, name| {
        match name {
            Some(KEY) => {
                if let Some(lit) = string_value(cx, meta, KEY, "\"site.{site}.device.{id}\"")? {
                    let pattern = parsed_pattern(cx, &lit);
                    key.set(
                        &meta.path,
                        KeyAttr {
                            lit,
                            pattern,
                            breaking: false,
                        },
                    );
                }
            }
            Some(BREAKING) => breaking.set_some(&meta.path, flag_value(cx, meta, BREAKING)?),
            _ => return unknown(cx, meta, FIELD_OPTIONS, "field"),
        }
        Ok(())
    });
    let breaking = breaking.get().unwrap_or(false);
    key.get().map(|key| KeyAttr { breaking, ..key })
}

/// Parses the container options of a key type.
pub(crate) fn key_type_attrs(cx: &Ctxt, attrs: &[Attribute]) -> KeyTypeAttrs {
    let mut krate = Attr::none(cx, CRATE);
    for_each_option(cx, attrs, |meta, name| {
        match name {
            Some(CRATE) => {
                let p = path_value(meta)?;
                krate.set(&meta.path, p);
            }
            _ => return unknown(cx, meta, KEY_TYPE_OPTIONS, "key type"),
        }
        Ok(())
    });
    KeyTypeAttrs { krate: krate.get() }
}

/// Reports any `#[kv(...)]` on a field of a key type: they have no options.
pub(crate) fn no_key_field_options(cx: &Ctxt, attrs: &[Attribute]) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(KV)) {
        cx.error_spanned_by(
            attr,
            "the fields of a key type take no #[kv(...)] options; the key pattern is written on \
             the bucket's field: #[kv(key = \"...\")]",
        );
    }
}
