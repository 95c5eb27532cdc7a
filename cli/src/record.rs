//! The JSON form of an entry: one line of a dump, what `load` reads, and what `--json` prints
//! for entries.
//!
//! `{"key":"a.b","revision":7,"operation":"PUT","created":"2026-01-02T03:04:05.123Z",
//! "encoding":"msgpack","value":{"on":true}}`. A value whose JSON does not encode back to the
//! same bytes also carries `value_base64`, the exact bytes, which `load` prefers; bytes that
//! decode as nothing have `"encoding":"bytes"` and only `value_base64`. Delete and purge
//! markers have no value.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};

use crate::entry::{Entry, Operation};
use crate::error::{Error, Result};
use crate::output::rfc3339;
use crate::value::{self, Codecs, Decoded, Encoding};

/// One entry as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The key.
    pub(crate) key: String,
    /// The revision (ignored by `load`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) revision: Option<u64>,
    /// `PUT`, `DEL` or `PURGE`; `PUT` when left out.
    #[serde(default = "put")]
    pub(crate) operation: String,
    /// When the entry was written, RFC 3339 in UTC (ignored by `load`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created: Option<String>,
    /// How the value is stored: `msgpack`, `json`, `text` or `bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) encoding: Option<String>,
    /// The value as JSON.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value: Option<rmpv::Value>,
    /// The value's exact bytes, when `value` does not give them back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) value_base64: Option<String>,
}

fn put() -> String {
    Operation::Put.as_str().to_owned()
}

/// `"value": null` is a value (null), not a missing one.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<rmpv::Value>, D::Error> {
    rmpv::Value::deserialize(deserializer).map(Some)
}

impl Record {
    /// The record of `entry`, its value decoded as `codecs` say.
    pub(crate) fn of(entry: &Entry, codecs: &Codecs) -> (Self, Option<Decoded>) {
        let mut record = Self {
            key: entry.key.clone(),
            revision: Some(entry.revision),
            operation: entry.operation.as_str().to_owned(),
            created: Some(rfc3339(entry.created)),
            encoding: None,
            value: None,
            value_base64: None,
        };
        if entry.operation != Operation::Put {
            return (record, None);
        }
        let decoded = value::decode(&entry.value, codecs.for_key(&entry.key));
        record.encoding = Some(decoded.encoding.as_str().to_owned());
        record.value.clone_from(&decoded.value);
        if !decoded.exact || decoded.value.is_none() {
            record.value_base64 = Some(STANDARD.encode(&entry.value));
        }
        (record, Some(decoded))
    }

    /// The operation the record names.
    ///
    /// # Errors
    /// A name other than `PUT`, `DEL` and `PURGE`.
    pub(crate) fn operation(&self) -> Result<Operation> {
        Operation::parse(&self.operation).ok_or_else(|| {
            Error::usage(format!(
                "unknown operation `{}` (PUT, DEL or PURGE)",
                self.operation
            ))
        })
    }

    /// The bytes to store for a `PUT`: `value_base64` when present, else `value` in the
    /// record's encoding, or in what `codecs` name for the key (MessagePack by default).
    ///
    /// # Errors
    /// Neither field, bad base64, an unknown encoding, or a value the encoding cannot hold.
    pub(crate) fn bytes(&self, codecs: &Codecs) -> Result<Bytes> {
        if let Some(text) = &self.value_base64 {
            return STANDARD.decode(text).map(Bytes::from).map_err(|e| {
                Error::with_source(crate::error::ErrorKind::Usage, "invalid value_base64", e)
            });
        }
        let Some(value) = &self.value else {
            return Err(Error::usage("a PUT needs `value` or `value_base64`"));
        };
        let encoding = match &self.encoding {
            Some(name) => Encoding::parse(name).ok_or_else(|| {
                Error::usage(format!(
                    "unknown encoding `{name}` (msgpack, json, text or bytes)"
                ))
            })?,
            None => codecs.write_encoding(&self.key),
        };
        value::encode(value, encoding)
    }
}
