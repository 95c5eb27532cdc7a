//! Codecs turn typed values into the bytes stored in the bucket and back.
//!
//! [`MsgPack`] (the default) writes MessagePack with named fields, so structs can gain optional
//! fields without breaking older readers. [`Json`] writes JSON, [`Raw`] stores bytes or text as is.
//! A codec is a zero-sized type; implement [`Codec`] for a codec of your own.

use std::error::Error as StdError;
use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::schema::ValueShape;

/// Encodes values of type `V` to bytes and decodes them back.
#[diagnostic::on_unimplemented(
    message = "values of type `{V}` cannot be stored with the codec `{Self}`",
    label = "this value type has no `{Self}` encoding",
    note = "MsgPack and Json need the value type to derive `serde::Serialize` and `serde::Deserialize`; Raw stores `Vec<u8>`, `bytes::Bytes` or `String`"
)]
pub trait Codec<V>: Send + Sync + 'static {
    /// The codec's name, recorded in the bucket's stored schema.
    const NAME: &'static str;

    /// Encodes a value.
    fn encode(value: &V) -> Result<Bytes, CodecError>;

    /// Decodes a value.
    fn decode(bytes: &[u8]) -> Result<V, CodecError>;

    /// The shape of the values this codec writes, for the bucket's stored schema: what decides
    /// whether two declarations can read each other's values. `None` (the default) when it
    /// cannot be described: then changes to the value type pass unchecked.
    fn shape() -> Option<ValueShape> {
        None
    }
}

/// Why a value could not be encoded or decoded.
#[derive(Debug)]
pub struct CodecError {
    codec: &'static str,
    source: Box<dyn StdError + Send + Sync + 'static>,
}

impl CodecError {
    /// Wraps a codec's own error.
    pub fn new(codec: &'static str, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        CodecError {
            codec,
            source: source.into(),
        }
    }

    /// The name of the codec that failed.
    pub fn codec(&self) -> &'static str {
        self.codec
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} codec: {}", self.codec, self.source)
    }
}

impl StdError for CodecError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// MessagePack with named fields (rmp-serde). The default codec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MsgPack;

impl<V: Serialize + DeserializeOwned + 'static> Codec<V> for MsgPack {
    const NAME: &'static str = "msgpack";

    fn shape() -> Option<ValueShape> {
        ValueShape::of_serde::<V>(false)
    }

    fn encode(value: &V) -> Result<Bytes, CodecError> {
        rmp_serde::to_vec_named(value)
            .map(Bytes::from)
            .map_err(|e| CodecError::new("msgpack", e))
    }

    fn decode(bytes: &[u8]) -> Result<V, CodecError> {
        let value = rmp_serde::from_slice(bytes).map_err(|e| CodecError::new("msgpack", e))?;
        // `rmp_serde::from_slice` stops after the first value; bytes after it mean the stored
        // value is not what this type wrote.
        match msgpack_value_len(bytes) {
            Some(len) if len == bytes.len() => Ok(value),
            Some(len) => Err(CodecError::new(
                "msgpack",
                format!("{} bytes left over after the value", bytes.len() - len),
            )),
            None => Err(CodecError::new("msgpack", "the value is cut short")),
        }
    }
}

/// The length of the first MessagePack value in `bytes` (`None` when it is cut short): one
/// pass over the markers, without decoding or allocating.
fn msgpack_value_len(bytes: &[u8]) -> Option<usize> {
    use rmp::Marker;
    let be = |at: usize, n: usize| -> Option<usize> {
        let field = bytes.get(at..at + n)?;
        Some(
            field
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
        )
    };
    let mut at = 0;
    // Values still to skip: a container adds its items.
    let mut values: usize = 1;
    while values > 0 {
        values -= 1;
        let marker = Marker::from_u8(*bytes.get(at)?);
        at += 1;
        let (data, items) = match marker {
            Marker::FixPos(_)
            | Marker::FixNeg(_)
            | Marker::Null
            | Marker::True
            | Marker::False
            | Marker::Reserved => (0, 0),
            Marker::U8 | Marker::I8 => (1, 0),
            Marker::U16 | Marker::I16 | Marker::FixExt1 => (2, 0),
            Marker::U32 | Marker::I32 | Marker::F32 => (4, 0),
            Marker::U64 | Marker::I64 | Marker::F64 => (8, 0),
            Marker::FixStr(n) => (usize::from(n), 0),
            Marker::Str8 | Marker::Bin8 => (1 + be(at, 1)?, 0),
            Marker::Str16 | Marker::Bin16 => (2 + be(at, 2)?, 0),
            Marker::Str32 | Marker::Bin32 => (4 + be(at, 4)?, 0),
            Marker::FixExt2 => (3, 0),
            Marker::FixExt4 => (5, 0),
            Marker::FixExt8 => (9, 0),
            Marker::FixExt16 => (17, 0),
            Marker::Ext8 => (2 + be(at, 1)?, 0),
            Marker::Ext16 => (3 + be(at, 2)?, 0),
            Marker::Ext32 => (5 + be(at, 4)?, 0),
            Marker::FixArray(n) => (0, usize::from(n)),
            Marker::Array16 => (2, be(at, 2)?),
            Marker::Array32 => (4, be(at, 4)?),
            Marker::FixMap(n) => (0, 2 * usize::from(n)),
            Marker::Map16 => (2, be(at, 2)?.checked_mul(2)?),
            Marker::Map32 => (4, be(at, 4)?.checked_mul(2)?),
        };
        at = at.checked_add(data)?;
        values = values.checked_add(items)?;
        if at > bytes.len() {
            return None;
        }
    }
    Some(at)
}

/// JSON (serde_json).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Json;

impl<V: Serialize + DeserializeOwned + 'static> Codec<V> for Json {
    const NAME: &'static str = "json";

    fn shape() -> Option<ValueShape> {
        ValueShape::of_serde::<V>(true)
    }

    fn encode(value: &V) -> Result<Bytes, CodecError> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| CodecError::new("json", e))
    }

    fn decode(bytes: &[u8]) -> Result<V, CodecError> {
        // Refuses anything but whitespace after the value.
        serde_json::from_slice(bytes).map_err(|e| CodecError::new("json", e))
    }
}

/// Bytes or text stored as they are: for `Vec<u8>`, `bytes::Bytes` and `String` (UTF-8 checked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Raw;

impl Codec<Vec<u8>> for Raw {
    const NAME: &'static str = "raw";

    fn shape() -> Option<ValueShape> {
        Some(ValueShape::primitive("bytes"))
    }

    fn encode(value: &Vec<u8>) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(value))
    }

    fn decode(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        Ok(bytes.to_vec())
    }
}

impl Codec<Bytes> for Raw {
    const NAME: &'static str = "raw";

    fn shape() -> Option<ValueShape> {
        Some(ValueShape::primitive("bytes"))
    }

    fn encode(value: &Bytes) -> Result<Bytes, CodecError> {
        Ok(value.clone())
    }

    fn decode(bytes: &[u8]) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(bytes))
    }
}

impl Codec<String> for Raw {
    const NAME: &'static str = "raw";

    fn shape() -> Option<ValueShape> {
        Some(ValueShape::primitive("str"))
    }

    fn encode(value: &String) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(value.as_bytes()))
    }

    fn decode(bytes: &[u8]) -> Result<String, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| CodecError::new("raw", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V1 {
        a: u32,
        b: String,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V2 {
        a: u32,
        b: String,
        #[serde(default)]
        c: Option<bool>,
    }

    #[test]
    fn msgpack_uses_named_fields_so_structs_can_grow() {
        let bytes = <MsgPack as Codec<V1>>::encode(&V1 {
            a: 7,
            b: "x".into(),
        })
        .unwrap();
        let v2: V2 = <MsgPack as Codec<V2>>::decode(&bytes).unwrap();
        assert_eq!(
            v2,
            V2 {
                a: 7,
                b: "x".into(),
                c: None
            }
        );
    }

    #[test]
    fn json_round_trips_and_reports_garbage() {
        let bytes = <Json as Codec<V1>>::encode(&V1 {
            a: 1,
            b: "y".into(),
        })
        .unwrap();
        assert_eq!(&bytes[..], br#"{"a":1,"b":"y"}"#);
        let err = <Json as Codec<V1>>::decode(b"not json").unwrap_err();
        assert_eq!(err.codec(), "json");
    }

    #[test]
    fn bytes_after_a_valid_value_are_an_error() {
        let value = V1 {
            a: 3,
            b: "z".into(),
        };
        let mut bytes = <MsgPack as Codec<V1>>::encode(&value).unwrap().to_vec();
        assert_eq!(<MsgPack as Codec<V1>>::decode(&bytes).unwrap(), value);
        bytes.extend_from_slice(&[0xc0, 0x01]);
        let err = <MsgPack as Codec<V1>>::decode(&bytes).unwrap_err();
        assert_eq!(err.codec(), "msgpack");
        assert!(err.to_string().contains("2 bytes left over"), "{err}");
        // Two whole values are not one either.
        // Cut short or nested: the length of the first value is exact.
        assert_eq!(msgpack_value_len(&[0x92, 0x01]), None);
        assert_eq!(msgpack_value_len(&[0x92, 0x01, 0xa1, b'x', 0xc0]), Some(4));
        assert_eq!(msgpack_value_len(&[0x81, 0xa1, b'k', 0xcd, 0, 1]), Some(6));
        assert_eq!(msgpack_value_len(&[0xdd, 0xff, 0xff, 0xff, 0xff]), None);
        let twice = [0x01, 0x02];
        assert!(<MsgPack as Codec<u8>>::decode(&twice).is_err());
        assert_eq!(<MsgPack as Codec<u8>>::decode(&twice[..1]).unwrap(), 1);

        let err = <Json as Codec<V1>>::decode(br#"{"a":3,"b":"z"} {"a":4,"b":"w"}"#).unwrap_err();
        assert_eq!(err.codec(), "json");
        assert!(<Json as Codec<u8>>::decode(b"1 2").is_err());
        assert_eq!(<Json as Codec<u8>>::decode(b" 1 \n").unwrap(), 1);
    }

    #[test]
    fn the_first_value_is_measured_exactly() {
        #[derive(Serialize)]
        struct Wide {
            n: i64,
            f: f64,
            s: String,
            v: Vec<u32>,
            m: std::collections::BTreeMap<String, Option<bool>>,
            b: bytes::Bytes,
        }
        for size in [0_u32, 31, 32, 255, 256, 70_000] {
            let len = size as usize;
            let value = Wide {
                n: -i64::from(size) * 1_000_000_007,
                f: 1.5,
                s: "x".repeat(len),
                v: (0..size).map(|i| i.wrapping_mul(70_001)).collect(),
                m: (0..size.min(300))
                    .map(|i| (i.to_string(), (i % 2 == 0).then_some(true)))
                    .collect(),
                b: bytes::Bytes::from(vec![7; len]),
            };
            let bytes = rmp_serde::to_vec_named(&value).unwrap();
            assert_eq!(msgpack_value_len(&bytes), Some(bytes.len()), "size {size}");
            assert_eq!(
                msgpack_value_len(&bytes[..bytes.len() - 1]),
                None,
                "size {size}"
            );
        }
    }

    #[test]
    fn raw_keeps_bytes_and_checks_utf8() {
        assert_eq!(
            <Raw as Codec<Vec<u8>>>::decode(&[0, 255]).unwrap(),
            vec![0, 255]
        );
        assert!(<Raw as Codec<String>>::decode(&[0xff]).is_err());
        assert_eq!(
            <Raw as Codec<String>>::encode(&"hé".to_owned()).unwrap(),
            "hé".as_bytes()
        );
    }
}
