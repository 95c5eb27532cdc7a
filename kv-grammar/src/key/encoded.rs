//! [`Encoded`]: arbitrary text as one key token, with a readable, reversible escaping.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use super::{KeyError, KeyPart};
use crate::names::is_token_char;

/// Arbitrary text as one key token, with a readable, reversible escaping.
///
/// Bytes of `A-Z a-z 0-9 - _ /` are kept; every other byte of the UTF-8 text is written `=HH`
/// (two upper-case hex digits); the empty string is written `=`. So `"Paris 7e"` is the token
/// `Paris=207e` and `"a.b"` is `a=2Eb`. Parsing accepts only what encoding writes (no lower-case
/// hex, no escaped kept byte, valid UTF-8), so the round trip is exact both ways.
///
/// ```
/// use natskv::{Encoded, KeyPart};
///
/// let mut token = String::new();
/// Encoded::from("Paris 7e").write_token(&mut token)?;
/// assert_eq!(token, "Paris=207e");
/// assert_eq!(Encoded::parse_token(&token)?.as_str(), "Paris 7e");
/// # Ok::<(), natskv::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Encoded(pub String);

impl Encoded {
    /// Wraps a string.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps the text.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Whether `Encoded` writes byte `b` as itself.
fn is_kept_byte(b: u8) -> bool {
    b != b'=' && is_token_char(char::from(b))
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl KeyPart for Encoded {
    const KIND: &'static str = "encoded";

    fn write_token(&self, out: &mut String) -> Result<(), KeyError> {
        if self.0.is_empty() {
            out.push('=');
            return Ok(());
        }
        for b in self.0.bytes() {
            if is_kept_byte(b) {
                out.push(char::from(b));
            } else {
                out.push('=');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xF)]));
            }
        }
        Ok(())
    }

    fn parse_token(token: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::unparsable(token, "natskv::Encoded");
        if token == "=" {
            return Ok(Self(String::new()));
        }
        let mut bytes = Vec::with_capacity(token.len());
        let mut rest = token.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if is_kept_byte(b) {
                bytes.push(b);
                rest = tail;
                continue;
            }
            let [b'=', hi, lo, tail @ ..] = rest else {
                return Err(bad());
            };
            let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) else {
                return Err(bad());
            };
            let decoded = hi << 4 | lo;
            if is_kept_byte(decoded) {
                return Err(bad());
            }
            bytes.push(decoded);
            rest = tail;
        }
        if bytes.is_empty() {
            return Err(bad());
        }
        String::from_utf8(bytes).map(Self).map_err(|_| bad())
    }
}

impl From<String> for Encoded {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Encoded {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl From<Encoded> for String {
    fn from(encoded: Encoded) -> Self {
        encoded.0
    }
}

impl Deref for Encoded {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Encoded {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Encoded {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
