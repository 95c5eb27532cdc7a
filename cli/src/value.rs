//! Values between their stored bytes and JSON: which encoding a key's values use (the codec the
//! bucket's stored schema names for its family, else MessagePack), decoding any bytes for
//! display, and encoding JSON back to the bytes a bucket stores.
//!
//! A decoded value is kept as an [`rmpv::Value`], which keeps a map's fields in their stored
//! order (serde_json's own map would sort them), so that JSON written out and read back encodes
//! to the same bytes.

use bytes::Bytes;
use natskv_core::Schema;
use natskv_core::pattern::KeyPattern;
use rmpv::Value;

use crate::error::{Error, Result};

/// How a value's bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// MessagePack (natskv's default codec, `msgpack`).
    MsgPack,
    /// JSON text (codec `json`).
    Json,
    /// UTF-8 text stored as it is (codec `raw`).
    Text,
    /// Bytes that are none of the above.
    Bytes,
}

impl Encoding {
    /// The name in dumps and `--json` output.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::MsgPack => "msgpack",
            Self::Json => "json",
            Self::Text => "text",
            Self::Bytes => "bytes",
        }
    }

    /// The encoding named `name` (as [`as_str`](Self::as_str) writes it).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "msgpack" => Some(Self::MsgPack),
            "json" => Some(Self::Json),
            "text" => Some(Self::Text),
            "bytes" => Some(Self::Bytes),
            _ => None,
        }
    }

    /// The encoding of a natskv codec, by the name the stored schema gives it.
    fn of_codec(codec: &str) -> Option<Self> {
        match codec {
            "msgpack" => Some(Self::MsgPack),
            "json" => Some(Self::Json),
            "raw" => Some(Self::Text),
            _ => None,
        }
    }
}

/// The encoding of each family a bucket's stored schema declares.
#[derive(Debug, Default)]
pub(crate) struct Codecs {
    families: Vec<(KeyPattern, Encoding)>,
}

impl Codecs {
    /// The codecs the stored schema `text` names; none when there is no schema, or one this
    /// natskv cannot read (values are then decoded by trying each encoding).
    pub(crate) fn of_schema(text: Option<&str>) -> Self {
        let Some(Ok(Some(schema))) = text.map(Schema::parse) else {
            return Self::default();
        };
        let families = schema
            .families()
            .iter()
            .filter_map(|family| {
                let pattern = KeyPattern::parse(family.pattern()).ok()?;
                Some((pattern, Encoding::of_codec(family.codec())?))
            })
            .collect();
        Self { families }
    }

    /// The encoding of `key`'s family, when the schema has one that matches it.
    pub(crate) fn for_key(&self, key: &str) -> Option<Encoding> {
        self.families
            .iter()
            .find(|(pattern, _)| pattern.match_key(key).is_some())
            .map(|&(_, encoding)| encoding)
    }

    /// The encoding a new value of `key` is written in: its family's, else MessagePack.
    pub(crate) fn write_encoding(&self, key: &str) -> Encoding {
        self.for_key(key).unwrap_or(Encoding::MsgPack)
    }
}

/// A value's bytes, read.
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    /// How the bytes were written; [`Encoding::Bytes`] when they decode as nothing else.
    pub(crate) encoding: Encoding,
    /// The value, unless the encoding is [`Encoding::Bytes`].
    pub(crate) value: Option<Value>,
    /// Whether encoding `value` again gives back the same bytes.
    pub(crate) exact: bool,
}

/// Reads `bytes`, trying the encoding `preferred` names first (a `raw` family's values are
/// text or bytes, nothing else), then MessagePack, then JSON. A value that has no JSON form (a
/// map with a list as a key) is bytes.
pub(crate) fn decode(bytes: &[u8], preferred: Option<Encoding>) -> Decoded {
    let order: &[Encoding] = match preferred {
        Some(Encoding::Text) => &[Encoding::Text],
        Some(Encoding::Json) => &[Encoding::Json, Encoding::MsgPack],
        _ => &[Encoding::MsgPack, Encoding::Json],
    };
    for &encoding in order {
        let Some(value) = read(bytes, encoding) else {
            continue;
        };
        // What a reader of the JSON gets back: an f32 reads as an f64, bytes as a list, an
        // integer map key as a string.
        let Ok(json) = serde_json::to_vec(&value) else {
            continue;
        };
        let exact = serde_json::from_slice::<Value>(&json)
            .is_ok_and(|read| encode(&read, encoding).is_ok_and(|again| again == bytes));
        return Decoded {
            encoding,
            value: Some(value),
            exact,
        };
    }
    Decoded {
        encoding: Encoding::Bytes,
        value: None,
        exact: true,
    }
}

fn read(bytes: &[u8], encoding: Encoding) -> Option<Value> {
    match encoding {
        Encoding::MsgPack => {
            let mut rest = bytes;
            let value = rmpv::decode::read_value(&mut rest).ok()?;
            rest.is_empty().then_some(value)
        }
        Encoding::Json => serde_json::from_slice(bytes).ok(),
        Encoding::Text => std::str::from_utf8(bytes)
            .ok()
            .map(|text| Value::from(text.to_owned())),
        Encoding::Bytes => None,
    }
}

/// The bytes of `value` in `encoding`.
///
/// # Errors
/// Text that is not a JSON string, or [`Encoding::Bytes`] (which has no JSON form).
pub(crate) fn encode(value: &Value, encoding: Encoding) -> Result<Bytes> {
    match encoding {
        Encoding::MsgPack => {
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, value).map_err(|e| {
                Error::with_source(
                    crate::error::ErrorKind::Usage,
                    "cannot encode the value as MessagePack",
                    e,
                )
            })?;
            Ok(Bytes::from(out))
        }
        Encoding::Json => serde_json::to_vec(value).map(Bytes::from).map_err(|e| {
            Error::with_source(
                crate::error::ErrorKind::Usage,
                "cannot encode the value as JSON",
                e,
            )
        }),
        Encoding::Text => match value.as_str() {
            Some(text) => Ok(Bytes::copy_from_slice(text.as_bytes())),
            None => Err(Error::usage(
                "the key's family stores raw text (codec `raw`): give a JSON string",
            )),
        },
        Encoding::Bytes => Err(Error::usage(
            "encoding `bytes` takes `value_base64`, not `value`",
        )),
    }
}

/// Parses the JSON text `json` into a value, keeping its maps' field order.
///
/// # Errors
/// Text that is not one JSON value.
pub(crate) fn parse_json(json: &str) -> Result<Value> {
    serde_json::from_str(json)
        .map_err(|e| Error::with_source(crate::error::ErrorKind::Usage, "invalid JSON value", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_maps_keep_their_field_order_through_json() {
        let bytes = {
            let mut out = Vec::new();
            let map = Value::Map(vec![
                (Value::from("zeta"), Value::from(1)),
                (Value::from("alpha"), Value::from(-2)),
            ]);
            rmpv::encode::write_value(&mut out, &map).unwrap();
            out
        };
        let decoded = decode(&bytes, None);
        assert_eq!(decoded.encoding, Encoding::MsgPack);
        assert!(decoded.exact);
        let json = serde_json::to_string(decoded.value.as_ref().unwrap()).unwrap();
        assert_eq!(json, r#"{"zeta":1,"alpha":-2}"#);
        let again = encode(&parse_json(&json).unwrap(), Encoding::MsgPack).unwrap();
        assert_eq!(again, bytes);
    }

    #[test]
    fn json_text_and_other_bytes() {
        let decoded = decode(br#"{"b":1,"a":[true,null]}"#, None);
        assert_eq!(decoded.encoding, Encoding::Json);
        assert!(decoded.exact);
        let spaced = decode(br#"{ "a": 1 }"#, None);
        assert_eq!(spaced.encoding, Encoding::Json);
        assert!(!spaced.exact);
        let float32 = decode(&[0xca, 0x3f, 0xc0, 0, 0], None);
        assert_eq!(float32.encoding, Encoding::MsgPack);
        assert!(!float32.exact);
        let binary = decode(&[0xc1, 0xff, 0x00], None);
        assert_eq!(binary.encoding, Encoding::Bytes);
        assert!(binary.value.is_none());
    }

    #[test]
    fn a_raw_family_is_text_or_bytes() {
        let text = decode(b"7", Some(Encoding::Text));
        assert_eq!(text.value, Some(Value::from("7")));
        assert_eq!(
            decode(&[0xff], Some(Encoding::Text)).encoding,
            Encoding::Bytes
        );
    }
}
