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

/// Encodes values of type `V` to bytes and decodes them back.
#[diagnostic::on_unimplemented(
    message = "values of type `{V}` cannot be stored with the codec `{Self}`",
    label = "this value type has no `{Self}` encoding",
    note = "MsgPack and Json need the value type to derive `serde::Serialize` and `serde::Deserialize`; Raw stores `Vec<u8>`, `bytes::Bytes` or `String`"
)]
pub trait Codec<V>: Send + Sync + 'static {
    /// The codec's name, recorded in the bucket's schema fingerprint.
    const NAME: &'static str;

    /// Encodes a value.
    fn encode(value: &V) -> Result<Bytes, CodecError>;

    /// Decodes a value.
    fn decode(bytes: &[u8]) -> Result<V, CodecError>;
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

    fn encode(value: &V) -> Result<Bytes, CodecError> {
        rmp_serde::to_vec_named(value)
            .map(Bytes::from)
            .map_err(|e| CodecError::new("msgpack", e))
    }

    fn decode(bytes: &[u8]) -> Result<V, CodecError> {
        let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
        let value = V::deserialize(&mut de).map_err(|e| CodecError::new("msgpack", e))?;
        // `rmp_serde::from_slice` stops after the first value; bytes after it mean the stored
        // value is not what this type wrote.
        let read = usize::try_from(de.position()).unwrap_or(usize::MAX);
        match bytes.len().saturating_sub(read) {
            0 => Ok(value),
            extra => Err(CodecError::new(
                "msgpack",
                format!("{extra} bytes left over after the value"),
            )),
        }
    }
}

/// JSON (serde_json).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Json;

impl<V: Serialize + DeserializeOwned + 'static> Codec<V> for Json {
    const NAME: &'static str = "json";

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

    fn encode(value: &Vec<u8>) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(value))
    }

    fn decode(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        Ok(bytes.to_vec())
    }
}

impl Codec<Bytes> for Raw {
    const NAME: &'static str = "raw";

    fn encode(value: &Bytes) -> Result<Bytes, CodecError> {
        Ok(value.clone())
    }

    fn decode(bytes: &[u8]) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(bytes))
    }
}

impl Codec<String> for Raw {
    const NAME: &'static str = "raw";

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
        let twice = [0x01, 0x02];
        assert!(<MsgPack as Codec<u8>>::decode(&twice).is_err());
        assert_eq!(<MsgPack as Codec<u8>>::decode(&twice[..1]).unwrap(), 1);

        let err = <Json as Codec<V1>>::decode(br#"{"a":3,"b":"z"} {"a":4,"b":"w"}"#).unwrap_err();
        assert_eq!(err.codec(), "json");
        assert!(<Json as Codec<u8>>::decode(b"1 2").is_err());
        assert_eq!(<Json as Codec<u8>>::decode(b" 1 \n").unwrap(), 1);
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
