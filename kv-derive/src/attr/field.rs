//! The options of a bucket's fields (`key`, `breaking`) and of a key type (`crate`).

use syn::Attribute;

use crate::ctxt::Ctxt;
use crate::symbol::{BREAKING, CRATE, FIELD_OPTIONS, KEY, KEY_TYPE_OPTIONS, KV};

use super::values::{flag_value, parsed_pattern, path_value, string_value};
use super::{Attr, KeyAttr, KeyTypeAttrs, for_each_option, unknown};

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
