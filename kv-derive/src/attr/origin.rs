//! The nested options of a bucket: `mirror(...)` / `source(...)` origins, `republish(...)` and
//! `placement(...)`.

use natskv_grammar::names::{validate_bucket_name, validate_filter, validate_subject};
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, Lit, LitStr};

use crate::ctxt::Ctxt;
use crate::spans;
use crate::symbol::{
    API_PREFIX, CLUSTER, DELIVER_PREFIX, HEADERS_ONLY, KEYS, ORIGIN_BUCKET, ORIGIN_OPTIONS,
    PLACEMENT, PLACEMENT_OPTIONS, REPUBLISH, REPUBLISH_OPTIONS, REPUBLISH_TO, STREAM, TAGS,
};

use super::values::{flag_value, non_empty, string_list, string_value, value_expr};
use super::{Attr, OriginAttr, PlacementAttr, RepublishAttr, option_name, skip_value, unknown};

/// `mirror(...)` or `source(...)` (`kind`): the origin bucket, its key filters and how to reach
/// it. Names and filters are checked with the runtime's rules (`natskv_grammar::pattern`).
pub(super) fn origin(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    kind: &'static str,
) -> syn::Result<OriginAttr> {
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
pub(super) fn origin_bucket(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    kind: &str,
) -> syn::Result<Option<LitStr>> {
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
pub(super) fn key_filters(
    cx: &Ctxt,
    meta: &ParseNestedMeta,
    kind: &str,
) -> syn::Result<Option<Vec<LitStr>>> {
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

/// `republish(to = "changes.>", keys = "eu.>", headers_only)`: the destination subject, the
/// key filter of the writes republished, and whether only headers go. Subjects and filters are
/// checked with the runtime's rules.
pub(super) fn republish(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<RepublishAttr>> {
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
pub(super) fn republish_subject(cx: &Ctxt, lit: &LitStr, name: &str) -> bool {
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
pub(super) fn placement(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<PlacementAttr>> {
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
