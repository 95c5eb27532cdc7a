//! The container options of `#[derive(KvBucket)]`: [`bucket_attrs`].

use natskv_grammar::limits::{MAX_HISTORY, MAX_REPLICAS};
use natskv_grammar::names::validate_bucket_name;
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr};

use crate::ctxt::Ctxt;
use crate::spans;
use crate::symbol::{
    ATOMIC, BUCKET, BUCKET_OPTIONS, CODEC, COMPRESSION, CRATE, DESCRIPTION, HISTORY, LIMIT_MARKERS,
    MAX_BYTES, MAX_VALUE_SIZE, METADATA, MIRROR, PLACEMENT, REMOVED, REPLICAS, REPUBLISH, SOURCE,
    STORAGE, STORAGE_FILE, STORAGE_MEMORY, TTL, WRITABLE,
};

use super::origin::{origin, placement, republish};
use super::values::{
    duration_value, flag, flag_value, limited, path_value, size_value, string_list, string_value,
    type_value, with_patterns,
};
use super::{
    Attr, BucketAttrs, MetadataEntry, Number, OriginAttr, StorageOpt, for_each_option, skip_value,
    unknown,
};

/// The bucket name, checked against the naming rules (and kept even when it breaks them, so no
/// "missing bucket" error follows).
pub(super) fn bucket_name(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<LitStr>> {
    let Some(lit) = string_value(cx, meta, BUCKET, "\"fleet\"")? else {
        return Ok(None);
    };
    if let Err(error) = validate_bucket_name(&lit.value()) {
        cx.syn_error(spans::name_error(&lit, &error, &error.to_string()));
    }
    Ok(Some(lit))
}

/// `max_value_size`, which must fit in 32 bits.
pub(super) fn max_value_size(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<Number>> {
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
pub(super) fn storage_value(cx: &Ctxt, meta: &ParseNestedMeta) -> syn::Result<Option<StorageOpt>> {
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

/// `metadata(key = "value", ...)`, appended to `entries`.
pub(super) fn metadata_entries(
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
    let mut atomic = Attr::none(cx, ATOMIC);

    for_each_option(cx, attrs, |meta, name| {
        let path = &meta.path;
        match name {
            Some(BUCKET) => bucket.set_some(path, bucket_name(cx, meta)?),
            Some(DESCRIPTION) => {
                description.set_some(path, string_value(cx, meta, DESCRIPTION, "\"devices\"")?);
            }
            Some(HISTORY) => history.set_some(path, limited(cx, meta, HISTORY, "5", MAX_HISTORY)?),
            Some(TTL) => ttl.set_some(path, duration_value(cx, meta, TTL, "\"7d\"")?),
            Some(MAX_VALUE_SIZE) => max_value_size_attr.set_some(path, max_value_size(cx, meta)?),
            Some(MAX_BYTES) => {
                max_bytes.set_some(path, size_value(cx, meta, MAX_BYTES, "\"1GiB\"")?);
            }
            Some(STORAGE) => storage.set_some(path, storage_value(cx, meta)?),
            Some(REPLICAS) => {
                replicas.set_some(path, limited(cx, meta, REPLICAS, "3", MAX_REPLICAS)?);
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
            Some(WRITABLE) => writable.set_some(path, flag(cx, meta, WRITABLE)?),
            Some(ATOMIC) => atomic.set_some(path, flag(cx, meta, ATOMIC)?),
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
        atomic: atomic.get(),
        republish: republish_attr.get(),
        placement: placement_attr.get(),
        removed: with_patterns(cx, removed.get().unwrap_or_default()),
    }
}
