//! The [`KeyPart`] impls of the built-in one-token types: `String`, `bool` and the integers.

use std::fmt::Write as _;

use super::{KeyError, KeyPart};
use crate::names::validate_token;

impl KeyPart for String {
    const KIND: &'static str = "str";

    fn write_token(&self, out: &mut String) -> Result<(), KeyError> {
        validate_token(self).map_err(|cause| KeyError::invalid_token(self, cause))?;
        out.push_str(self);
        Ok(())
    }

    fn parse_token(token: &str) -> Result<Self, KeyError> {
        validate_token(token).map_err(|cause| KeyError::invalid_token(token, cause))?;
        Ok(token.to_owned())
    }
}

impl KeyPart for bool {
    const KIND: &'static str = "bool";

    fn write_token(&self, out: &mut String) -> Result<(), KeyError> {
        out.push_str(if *self { "true" } else { "false" });
        Ok(())
    }

    fn parse_token(token: &str) -> Result<Self, KeyError> {
        match token {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(KeyError::unparsable(token, "bool")),
        }
    }
}

/// Whether `token` is an integer written the way `Display` writes one: an optional `-`, then
/// `0` or digits not starting with `0`; `-0` is not canonical.
fn is_canonical_int(token: &str) -> bool {
    let digits = match token.strip_prefix('-') {
        Some("0") => return false,
        Some(digits) => digits,
        None => token,
    };
    match digits.as_bytes() {
        [b'0'] => true,
        [] | [b'0', ..] => false,
        bytes => bytes.iter().all(u8::is_ascii_digit),
    }
}

macro_rules! int_key_part {
    ($($int:ty),* $(,)?) => {$(
        impl KeyPart for $int {
            const KIND: &'static str = stringify!($int);

            fn write_token(&self, out: &mut String) -> Result<(), KeyError> {
                // Writing to a String cannot fail.
                let _ = write!(out, "{self}");
                Ok(())
            }

            fn parse_token(token: &str) -> Result<Self, KeyError> {
                match token.parse::<$int>() {
                    Ok(value) if is_canonical_int(token) => Ok(value),
                    _ => Err(KeyError::unparsable(token, stringify!($int))),
                }
            }
        }
    )*};
}

int_key_part!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);
