//! `#[kv(...)]` attributes, parsed into typed options that keep the user's tokens for spans.
//!
//! One branch per option name; an unknown option is an error that lists the known ones, and an
//! option given twice is reported at its second occurrence. A bad value is reported and parsing
//! goes on, so every mistake shows in one build.

use std::fmt::Write as _;
use std::time::Duration;

use natskv_grammar::pattern::KeyPattern;
use proc_macro2::{Span, TokenTree};
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, LitStr, Path, Token, Type};

use crate::ctxt::Ctxt;
use crate::symbol::{BUCKET_OPTIONS, FIELD_OPTIONS, KV, MIRROR, ORIGIN_OPTIONS, SOURCE};

mod bucket;
mod field;
mod origin;
mod values;

pub(crate) use bucket::bucket_attrs;
pub(crate) use field::{field_key, key_type_attrs, no_key_field_options};

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
    /// `atomic`: the bucket allows atomic batches (transactions).
    pub(crate) atomic: Option<Flag>,
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
    /// Whether the bucket is declared `atomic` (and not `atomic = false`).
    pub(crate) fn is_atomic(&self) -> bool {
        self.atomic.as_ref().is_some_and(|a| a.value)
    }

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
