//! The two traits of typed keys: [`KeyPart`] (one parameter's value, one token or a key path) and
//! [`KvKey`] (a key type: the values of a pattern's parameters), with the key types built in.

use super::{ANY_PARAM, Encoded, KeyError, KeyPath, tail_index};

/// A value that is written as exactly one key token.
///
/// Implemented for `String`, the integer types, `bool` and [`Encoded`]. `write_token` and
/// `parse_token` must be exact inverses: `parse_token` accepts only what `write_token` writes.
/// Whatever an implementation writes is validated again before it is used in a key.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a key token",
    label = "this type has no key-token form",
    note = "use a String, an integer, bool or natskv::Encoded, or implement natskv::KeyPart"
)]
pub trait KeyPart: Sized {
    /// Whether the value is a key path of one or more tokens rather than one token: true only
    /// for [`KeyPath`], which fills a tail parameter `{name..}` (and only such a parameter).
    const IS_PATH: bool = false;

    /// What the token holds, as the bucket's stored schema names it (`"str"`, `"u32"`,
    /// `"bool"`, `"encoded"`, `"path"`): a family whose parameter changes kind is another
    /// family. Implementations of your own keep the default, `"custom"`, or name their format.
    const KIND: &'static str = "custom";

    /// Appends this value as exactly one valid key token; a value that cannot be one (a `String`
    /// holding `.`, `*`, `>`, whitespace, any character keys do not allow, or empty) is refused
    /// with a [`KeyError`] and nothing valid is written.
    fn write_token(&self, out: &mut String) -> Result<(), KeyError>;

    /// Parses a token back; the exact inverse of [`write_token`](KeyPart::write_token).
    fn parse_token(token: &str) -> Result<Self, KeyError>;
}

/// A key type: a value that fills the parameters of a key pattern.
///
/// Derive it with `#[derive(natskv::KvKey)]` on a struct whose fields are [`KeyPart`]s; a bare
/// `String`, integer, `bool` or [`Encoded`] is a key type with one unnamed parameter
/// ([`ANY_PARAM`]), and `()` is the key type of a literal pattern.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a key type",
    note = "derive it with #[derive(natskv::KvKey)] or use a String, integer, bool or natskv::Encoded"
)]
pub trait KvKey: Sized {
    /// Parameter names in declaration order.
    const PARAMS: &'static [&'static str];

    /// The index (into [`PARAMS`](KvKey::PARAMS)) of the parameter that is a [`KeyPath`], which
    /// a pattern's tail parameter `{name..}` takes; `None` when every parameter is one token.
    const TAIL: Option<usize> = None;

    /// The [`KeyPart::KIND`] of each parameter, in [`PARAMS`](KvKey::PARAMS) order (empty: every
    /// parameter is `"custom"`).
    const KINDS: &'static [&'static str] = &[];

    /// Appends the token of parameter `index` (an index into [`PARAMS`](KvKey::PARAMS)).
    fn write_param(&self, index: usize, out: &mut String) -> Result<(), KeyError>;

    /// Builds the key from one token per parameter, in [`PARAMS`](KvKey::PARAMS) order.
    fn from_tokens(tokens: &[&str]) -> Result<Self, KeyError>;
}

impl KvKey for () {
    const PARAMS: &'static [&'static str] = &[];

    fn write_param(&self, index: usize, _out: &mut String) -> Result<(), KeyError> {
        Err(KeyError::no_such_param(index, 0))
    }

    fn from_tokens(tokens: &[&str]) -> Result<Self, KeyError> {
        if tokens.is_empty() {
            Ok(())
        } else {
            Err(KeyError::token_count(0, tokens.len()))
        }
    }
}

macro_rules! single_param_key {
    ($($ty:ty),* $(,)?) => {$(
        impl KvKey for $ty {
            const PARAMS: &'static [&'static str] = &[ANY_PARAM];
            const TAIL: Option<usize> = tail_index(&[<$ty as KeyPart>::IS_PATH]);
            const KINDS: &'static [&'static str] = &[<$ty as KeyPart>::KIND];

            fn write_param(&self, index: usize, out: &mut String) -> Result<(), KeyError> {
                if index == 0 {
                    <$ty as KeyPart>::write_token(self, out)
                } else {
                    Err(KeyError::no_such_param(index, 1))
                }
            }

            fn from_tokens(tokens: &[&str]) -> Result<Self, KeyError> {
                match tokens {
                    [token] => <$ty as KeyPart>::parse_token(token),
                    _ => Err(KeyError::token_count(1, tokens.len())),
                }
            }
        }
    )*};
}

single_param_key!(
    String, Encoded, KeyPath, bool, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);
