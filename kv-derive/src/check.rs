//! Checks that span several attributes or fields of a bucket declaration. Each problem is an
//! error in the context, spanned on the user's tokens.
//!
//! What needs a type the macro cannot see (the parameters of a key type, the mode of a family,
//! whether a type is a family at all) is checked by the compiler from the generated code; see
//! `expand_bucket`.

use natskv_grammar::pattern::{KeyPattern, Segment};

use crate::ast::BucketDecl;
use crate::ctxt::Ctxt;
use crate::types::Shape;

/// Runs every cross-attribute check of a bucket.
pub(crate) fn bucket(cx: &Ctxt, decl: &BucketDecl) {
    missing_bucket_name(cx, decl);
    topology(cx, decl);
    let Some(fields) = &decl.fields else {
        return;
    };
    if fields.is_empty() {
        cx.error_spanned_by(
            decl.ident,
            "a bucket needs at least one field: a `Family<K, V>` or `Single<V>` with #[kv(key = \"...\")]",
        );
    }
    missing_keys(cx, decl);
    single_without_params(cx, decl);
    overlapping_patterns(cx, decl);
    removed_but_declared(cx, decl);
}

fn missing_bucket_name(cx: &Ctxt, decl: &BucketDecl) {
    if decl.attrs.bucket.is_none() {
        cx.error_spanned_by(
            decl.ident,
            format!(
                "`{}` has no bucket name; add #[kv(bucket = \"...\")] above the struct",
                decl.ident
            ),
        );
    }
}

/// A mirror or an aggregate (ADR-8), with the runtime's rules (`BucketSpec::validate`): not
/// both, never of itself, and `writable` only on an aggregate.
fn topology(cx: &Ctxt, decl: &BucketDecl) {
    let attrs = &decl.attrs;
    if let (Some(mirror), false) = (&attrs.mirror, attrs.sources.is_empty()) {
        cx.error_spanned_by(
            &mirror.path,
            "a bucket is either a mirror or an aggregate, not both: keep `mirror(...)` for a \
             read-only copy of one bucket, or the `source(...)`s for an aggregate of several",
        );
    }
    if let Some(name) = &attrs.bucket {
        let own = name.value();
        let origins = attrs
            .mirror
            .iter()
            .map(|o| ("mirror", o))
            .chain(attrs.sources.iter().map(|o| ("take keys from", o)));
        for (what, origin) in origins {
            let Some(bucket) = origin.bucket.as_ref().filter(|b| b.value() == own) else {
                continue;
            };
            cx.error_spanned_by(
                bucket,
                format!(
                    "bucket \"{own}\" cannot {what} itself; name the origin bucket, the one that \
                     is written to"
                ),
            );
        }
    }
    if let Some(writable) = &attrs.writable {
        if attrs.mirror.is_some() {
            cx.error_spanned_by(
                &writable.path,
                "a mirror is read-only: remove `writable` (only an aggregate, declared with \
                 `source(...)`, can take writes of its own), and write to the origin bucket",
            );
        } else if attrs.sources.is_empty() {
            cx.error_spanned_by(
                &writable.path,
                "`writable` applies to an aggregate, a bucket declared with `source(...)`; a \
                 bucket without `mirror` or `source` is writable already: remove it",
            );
        }
    }
    if let Some(atomic) = attrs.atomic.as_ref().filter(|a| a.value)
        && attrs.is_read_only()
    {
        cx.error_spanned_by(
            &atomic.path,
            "`atomic` enables transactions, which write: a mirror or a read-only aggregate \
             takes no writes; remove `atomic`, or declare it on the bucket written to",
        );
    }
}

fn missing_keys(cx: &Ctxt, decl: &BucketDecl) {
    for field in decl.fields().iter().filter(|f| f.key.is_none()) {
        cx.error_spanned_by(
            field.ident,
            format!(
                "field `{}` has no key pattern; add #[kv(key = \"...\")] above it, such as \
                 #[kv(key = \"{}.{{id}}\")] for a Family or #[kv(key = \"{}\")] for a Single",
                field.ident, field.ident, field.ident
            ),
        );
    }
}

/// A `Single` is one key: its pattern has no parameters.
fn single_without_params(cx: &Ctxt, decl: &BucketDecl) {
    for field in decl.fields() {
        let (Shape::Single { .. }, Some(key)) = (&field.shape, &field.key) else {
            continue;
        };
        let Some(pattern) = &key.pattern else {
            continue;
        };
        if let Some(param) = pattern.params().next() {
            cx.error_spanned_by(
                &key.lit,
                format!(
                    "a Single is one key, so its pattern cannot have a parameter (`{{{param}}}`); \
                     use `Family<K, V>` for the keys of a pattern with parameters"
                ),
            );
        }
    }
}

/// Two families whose patterns can match the same key would read each other's values.
fn overlapping_patterns(cx: &Ctxt, decl: &BucketDecl) {
    let patterns: Vec<_> = decl
        .fields()
        .iter()
        .filter_map(|field| {
            let key = field.key.as_ref()?;
            Some((field.ident, key, key.pattern.as_ref()?))
        })
        .collect();
    for (i, (_, key, pattern)) in patterns.iter().enumerate() {
        let Some((earlier_field, _, earlier)) = patterns
            .iter()
            .take(i)
            .find(|(_, _, p)| p.overlaps(pattern))
        else {
            continue;
        };
        cx.error_spanned_by(
            &key.lit,
            format!(
                "key pattern \"{}\" can match the same keys as \"{}\" of field `{earlier_field}` \
                 (such as \"{}\"); every family of a bucket needs keys of its own: make a literal \
                 token differ, or add one",
                pattern.as_str(),
                earlier.as_str(),
                common_key(pattern, earlier),
            ),
        );
    }
}

/// A family in `removed = [...]` that a field still declares (by its literal tokens and
/// parameter places; names aside): the runtime refuses it too.
fn removed_but_declared(cx: &Ctxt, decl: &BucketDecl) {
    for (lit, removed) in &decl.attrs.removed {
        let Some(removed) = removed else {
            continue;
        };
        let declared = decl.fields().iter().find_map(|field| {
            let pattern = field.key.as_ref()?.pattern.as_ref()?;
            pattern
                .same_places(removed)
                .then_some((field.ident, pattern))
        });
        if let Some((field, pattern)) = declared {
            cx.error_spanned_by(
                lit,
                format!(
                    "family \"{}\" is both declared (field `{field}`, \"{}\") and removed; \
                     `removed` names families of earlier declarations that this one drops: \
                     remove it here, or remove the field",
                    removed.as_str(),
                    pattern.as_str()
                ),
            );
        }
    }
}

/// A key both (overlapping) patterns match: literals where either has one, `<param>` elsewhere.
/// A tail parameter stands for as many tokens as the other pattern has there (one at least).
fn common_key(a: &KeyPattern, b: &KeyPattern) -> String {
    let (la, lb) = (a.segments().len(), b.segments().len());
    let len = match (a.tail(), b.tail()) {
        (Some(_), Some(_)) => la.max(lb),
        (Some(_), None) => lb,
        _ => la,
    };
    (0..len)
        .map(|i| match (at(a, i), at(b, i)) {
            (Some(Segment::Literal(l)), _) | (_, Some(Segment::Literal(l))) => l.clone(),
            (Some(Segment::Param(p) | Segment::Tail(p)), _)
            | (_, Some(Segment::Param(p) | Segment::Tail(p))) => format!("<{p}>"),
            (None, None) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Segment `i` of a pattern, its tail standing for every position from its own on.
fn at(pattern: &KeyPattern, i: usize) -> Option<&Segment> {
    let segments = pattern.segments();
    segments
        .get(i)
        .or_else(|| pattern.tail().and(segments.last()))
}
