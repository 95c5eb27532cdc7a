//! Typed keys: how a Rust value becomes the parameters of a [`KeyPattern`], and back.
//!
//! A key type ([`KvKey`]) names its parameters; each parameter's value ([`KeyPart`]) is written as
//! exactly one key token, validated before it is used, so a value can never change the shape of
//! a key. The one exception is declared in the pattern: a tail parameter `{name..}` takes a
//! [`KeyPath`] of one or more tokens. Parsing is the exact inverse of rendering. No dependencies.

use std::borrow::Borrow;
use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::ops::Deref;

use crate::pattern::{
    KeyPattern, NameError, NameKind, RESERVED_PREFIX, is_token_char, validate_filter, validate_key,
    validate_path, validate_token,
};

/// The parameter name of a key type that has one unnamed parameter (`String`, integers, `bool`,
/// [`Encoded`]): a key type whose [`KvKey::PARAMS`] is exactly `[ANY_PARAM]` binds to the single
/// parameter of a pattern, whatever its name.
pub const ANY_PARAM: &str = "*";

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a key could not be rendered or parsed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyErrorReason {
    /// A value that is not exactly one valid key token (it holds `.`, a wildcard, whitespace or
    /// another character keys do not allow, or it is empty).
    InvalidToken {
        /// The refused token.
        token: String,
        /// The naming rule it breaks.
        cause: NameError,
    },
    /// A valid token that is not the canonical text of the expected type.
    Unparsable {
        /// The token.
        token: String,
        /// The type it should have parsed as.
        expected_type: &'static str,
    },
    /// A key that does not have the pattern's shape.
    NotMatching {
        /// The key.
        key: String,
        /// The pattern.
        pattern: String,
    },
    /// A number of tokens different from the key type's number of parameters.
    TokenCount {
        /// The key type's number of parameters.
        expected: usize,
        /// The number of tokens given.
        found: usize,
    },
    /// A parameter index the key type does not have.
    NoSuchParam {
        /// The index asked for.
        index: usize,
        /// The key type's number of parameters.
        count: usize,
    },
    /// A rendered key or filter that NATS would refuse, such as one whose first token (a
    /// parameter's value) starts with the reserved `_kv`.
    InvalidKey {
        /// The key or filter.
        key: String,
        /// The naming rule it breaks.
        cause: NameError,
    },
    /// The parameter map does not fit the pattern and key type (it was not built by
    /// [`bind_params`] for them).
    BindingMismatch,
    /// An empty set of partial keys where at least one is needed (`watch_many` of nothing):
    /// never read as "every key".
    NoFilters,
    /// A key longer than the bucket's longest: the server would refuse the line that carries
    /// it, by closing the connection.
    TooLong {
        /// The key's length in bytes.
        length: usize,
        /// The longest key the bucket takes, in bytes.
        limit: usize,
    },
}

/// A key that could not be rendered from, or parsed into, its key type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    reason: Box<KeyErrorReason>,
    param: Option<&'static str>,
}

impl KeyError {
    /// An error with this reason.
    pub fn new(reason: KeyErrorReason) -> Self {
        Self {
            reason: Box::new(reason),
            param: None,
        }
    }

    /// `token` is not one valid key token.
    pub fn invalid_token(token: &str, cause: NameError) -> Self {
        Self::new(KeyErrorReason::InvalidToken {
            token: token.to_owned(),
            cause,
        })
    }

    /// `token` does not parse as `expected_type`.
    pub fn unparsable(token: &str, expected_type: &'static str) -> Self {
        Self::new(KeyErrorReason::Unparsable {
            token: token.to_owned(),
            expected_type,
        })
    }

    /// `found` tokens were given to a key type of `expected` parameters.
    pub fn token_count(expected: usize, found: usize) -> Self {
        Self::new(KeyErrorReason::TokenCount { expected, found })
    }

    /// Parameter `index` was asked of a key type of `count` parameters.
    pub fn no_such_param(index: usize, count: usize) -> Self {
        Self::new(KeyErrorReason::NoSuchParam { index, count })
    }

    /// Names the parameter the error is about, unless one is named already.
    #[must_use]
    pub fn in_param(mut self, name: &'static str) -> Self {
        if self.param.is_none() && name != ANY_PARAM {
            self.param = Some(name);
        }
        self
    }

    /// Why it failed.
    pub fn reason(&self) -> &KeyErrorReason {
        &self.reason
    }

    /// The key parameter it is about, when known.
    pub fn param(&self) -> Option<&'static str> {
        self.param
    }

    fn binding_mismatch() -> Self {
        Self::new(KeyErrorReason::BindingMismatch)
    }
}

impl From<KeyErrorReason> for KeyError {
    fn from(reason: KeyErrorReason) -> Self {
        Self::new(reason)
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(param) = self.param {
            write!(f, "key parameter `{param}`: ")?;
        }
        match &*self.reason {
            KeyErrorReason::InvalidToken { token, cause } if cause.kind() == NameKind::Path => {
                write!(
                    f,
                    "{token:?} cannot be a key path: {}; a path is one or more `.`-separated key \
                     tokens",
                    cause.reason()
                )
            }
            KeyErrorReason::InvalidToken { token, .. } => write!(
                f,
                "{token:?} cannot be a key token; use natskv::Encoded for arbitrary text"
            ),
            KeyErrorReason::Unparsable {
                token,
                expected_type,
            } => write!(
                f,
                "key token {token:?} is not the canonical text of a {expected_type}; \
                 the key was not written by this key type"
            ),
            KeyErrorReason::NotMatching { key, pattern } => {
                write!(f, "key {key:?} does not match the pattern {pattern:?}")
            }
            KeyErrorReason::TokenCount { expected, found } => write!(
                f,
                "the key type takes {expected} token(s), {found} were given"
            ),
            KeyErrorReason::NoSuchParam { index, count } => write!(
                f,
                "the key type has no parameter number {index} (it has {count})"
            ),
            KeyErrorReason::InvalidKey { key, .. } => write!(
                f,
                "{key:?} is not a valid key or filter; change the parameter values"
            ),
            KeyErrorReason::BindingMismatch => f.write_str(
                "the parameter map does not fit this pattern and key type; \
                 build it with bind_params",
            ),
            KeyErrorReason::NoFilters => f.write_str(
                "no partial key was given: pass at least one (KeyFilter::any() for every key of \
                 the family)",
            ),
            KeyErrorReason::TooLong { length, limit } => write!(
                f,
                "the key is {length} bytes long, longer than the {limit} bytes a key of this \
                 bucket can have (the server refuses longer subjects); use shorter parameter \
                 values, or a hash of them"
            ),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.reason {
            KeyErrorReason::InvalidToken { cause, .. }
            | KeyErrorReason::InvalidKey { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

/// A key type that does not fit a key pattern.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindError {
    /// The pattern uses a parameter the key type does not have.
    MissingParam {
        /// The parameter name.
        param: String,
    },
    /// The key type has a parameter the pattern does not use.
    UnusedParam {
        /// The parameter name.
        param: String,
    },
    /// A single-value key type (`String`, an integer, `bool`, `Encoded`) with a pattern that does
    /// not have exactly one parameter.
    AnyParamCount {
        /// The pattern's number of parameters.
        pattern_params: usize,
    },
    /// The pattern's tail parameter `{param..}` is not a [`KeyPath`] in the key type.
    NotAPath {
        /// The parameter name.
        param: String,
    },
    /// The key type's [`KeyPath`] is a one-token parameter `{param}` in the pattern.
    NotATail {
        /// The parameter name.
        param: String,
    },
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingParam { param } => write!(
                f,
                "the pattern uses parameter `{param}` but the key type has no field `{param}`; \
                 add the field or rename the parameter"
            ),
            Self::UnusedParam { param } => write!(
                f,
                "the key type has a field `{param}` that the pattern does not use; \
                 add `{{{param}}}` to the pattern or remove the field"
            ),
            Self::AnyParamCount { pattern_params } => write!(
                f,
                "a single-value key type (String, integer, bool, Encoded) needs a pattern with \
                 exactly one parameter, this one has {pattern_params}; \
                 use a key struct with #[derive(KvKey)]"
            ),
            Self::NotAPath { param } => write!(
                f,
                "the pattern's tail parameter `{{{param}..}}` takes one or more tokens, so the \
                 key type's `{param}` must be a natskv::KeyPath; or write `{{{param}}}` for one \
                 token"
            ),
            Self::NotATail { param } => write!(
                f,
                "the key type's `{param}` is a natskv::KeyPath (one or more tokens), so the \
                 pattern must end with the tail parameter `{{{param}..}}`"
            ),
        }
    }
}

impl std::error::Error for BindError {}

// ---------------------------------------------------------------------------------------------
// Traits
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// KeyPart implementations
// ---------------------------------------------------------------------------------------------

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

/// Arbitrary text as one key token, with a readable, reversible escaping.
///
/// Bytes of `A-Z a-z 0-9 - _ /` are kept; every other byte of the UTF-8 text is written `=HH`
/// (two upper-case hex digits); the empty string is written `=`. So `"Paris 7e"` is the token
/// `Paris=207e` and `"a.b"` is `a=2Eb`. Parsing accepts only what encoding writes (no lower-case
/// hex, no escaped kept byte, valid UTF-8), so the round trip is exact both ways.
///
/// ```
/// use natskv::key::{Encoded, KeyPart};
///
/// let mut token = String::new();
/// Encoded::from("Paris 7e").write_token(&mut token)?;
/// assert_eq!(token, "Paris=207e");
/// assert_eq!(Encoded::parse_token(&token)?.as_str(), "Paris 7e");
/// # Ok::<(), natskv::key::KeyError>(())
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

/// A key path: one or more key tokens, written `a.b.c`. It is the value of a tail parameter
/// `{name..}`, the last token of a pattern such as `config.{path..}`, which makes a family of
/// keys of any depth (`config.a`, `config.a.b.c`).
///
/// Every token is checked when the path is made (one or more of `A-Z a-z 0-9 - _ / =`), so a
/// `KeyPath` is always valid; write arbitrary text in a token with [`Encoded`]. Ordering and
/// equality are those of the dotted text.
///
/// ```
/// use natskv::key::KeyPath;
///
/// let path: KeyPath = "eu.paris.limits".parse()?;
/// assert_eq!(path.tokens().collect::<Vec<_>>(), ["eu", "paris", "limits"]);
/// assert_eq!(path.depth(), 3);
/// assert_eq!(path.parent(), Some(KeyPath::parse("eu.paris")?));
/// assert!(path.starts_with(&KeyPath::new(["eu"])?));
/// assert_eq!(KeyPath::new(["eu"])?.child("lyon")?.as_str(), "eu.lyon");
/// assert!(KeyPath::parse("eu..paris").is_err());
/// assert!(KeyPath::new(["a.b"]).is_err(), "a token holds no `.`");
/// # Ok::<(), natskv::key::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(String);

impl KeyPath {
    /// Parses a dotted path such as `a.b.c`.
    ///
    /// # Errors
    /// [`KeyErrorReason::InvalidToken`] when it is empty, has an empty token (a leading,
    /// trailing or doubled `.`) or a character keys do not allow (wildcards included).
    pub fn parse(path: &str) -> Result<Self, KeyError> {
        validate_path(path).map_err(|cause| KeyError::invalid_token(path, cause))?;
        Ok(Self(path.to_owned()))
    }

    /// Joins tokens into a path.
    ///
    /// # Errors
    /// [`KeyErrorReason::InvalidToken`] for the first token that is not one valid key token
    /// (it is empty, or holds `.` or another character keys do not allow), or when there is
    /// no token at all.
    pub fn new<I>(tokens: I) -> Result<Self, KeyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut path = String::new();
        for token in tokens {
            let token = token.as_ref();
            validate_token(token).map_err(|cause| KeyError::invalid_token(token, cause))?;
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(token);
        }
        Self::parse(&path)
    }

    /// The path as written, `a.b.c`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tokens, in order.
    pub fn tokens(&self) -> std::str::Split<'_, char> {
        self.0.split('.')
    }

    /// The number of tokens (at least 1).
    pub fn depth(&self) -> usize {
        self.tokens().count()
    }

    /// The path with `token` appended.
    ///
    /// # Errors
    /// [`KeyErrorReason::InvalidToken`] when `token` is not one valid key token.
    pub fn child(&self, token: &str) -> Result<Self, KeyError> {
        validate_token(token).map_err(|cause| KeyError::invalid_token(token, cause))?;
        Ok(Self(format!("{}.{token}", self.0)))
    }

    /// The path without its last token; `None` for a path of one token.
    #[must_use]
    pub fn parent(&self) -> Option<Self> {
        self.0
            .rsplit_once('.')
            .map(|(parent, _)| Self(parent.to_owned()))
    }

    /// Whether `prefix`'s tokens are this path's first tokens (a path starts with itself).
    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    }

    /// Unwraps the dotted text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl KeyPart for KeyPath {
    const IS_PATH: bool = true;
    const KIND: &'static str = "path";

    fn write_token(&self, out: &mut String) -> Result<(), KeyError> {
        out.push_str(&self.0);
        Ok(())
    }

    fn parse_token(token: &str) -> Result<Self, KeyError> {
        Self::parse(token)
    }
}

impl std::str::FromStr for KeyPath {
    type Err = KeyError;

    fn from_str(path: &str) -> Result<Self, Self::Err> {
        Self::parse(path)
    }
}

impl TryFrom<&str> for KeyPath {
    type Error = KeyError;

    fn try_from(path: &str) -> Result<Self, Self::Error> {
        Self::parse(path)
    }
}

impl TryFrom<String> for KeyPath {
    type Error = KeyError;

    fn try_from(path: String) -> Result<Self, Self::Error> {
        validate_path(&path).map_err(|cause| KeyError::invalid_token(&path, cause))?;
        Ok(Self(path))
    }
}

impl From<KeyPath> for String {
    fn from(path: KeyPath) -> Self {
        path.0
    }
}

impl AsRef<str> for KeyPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// KvKey implementations
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Binding a key type to a pattern, rendering and parsing
// ---------------------------------------------------------------------------------------------

/// Whether two strings are equal, in a const context.
const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn contains(list: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if str_eq(list[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

/// The index of the first `true` in `tails` (a key type's [`KeyPart::IS_PATH`] per parameter, in
/// declaration order): its [`KvKey::TAIL`].
pub const fn tail_index(tails: &[bool]) -> Option<usize> {
    let mut i = 0;
    while i < tails.len() {
        if tails[i] {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// How many of a key type's parameters are key paths; more than one cannot fit any pattern,
/// which has at most one tail parameter.
pub const fn tail_count(tails: &[bool]) -> usize {
    let (mut i, mut count) = (0, 0);
    while i < tails.len() {
        if tails[i] {
            count += 1;
        }
        i += 1;
    }
    count
}

/// How a key type's parameters fit a pattern's: see [`check_params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamCheck {
    /// They fit.
    Fits,
    /// The pattern parameter at this index (pattern order) is not a parameter of the key type.
    Missing(usize),
    /// The key-type parameter at this index is not used by the pattern.
    Unused(usize),
    /// A single-value key type (`[ANY_PARAM]`) and a pattern without exactly one parameter.
    AnyParamCount,
    /// The pattern parameter at this index (pattern order) is a tail `{name..}`, and the
    /// key-type parameter it binds to is not a [`KeyPath`].
    NotAPath(usize),
    /// The pattern parameter at this index (pattern order) is one token `{name}`, and the
    /// key-type parameter it binds to is a [`KeyPath`].
    NotATail(usize),
}

const fn position(list: &[&str], name: &str) -> Option<usize> {
    let mut i = 0;
    while i < list.len() {
        if str_eq(list[i], name) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// How a key type's parameters fit a pattern's, as a const fn: every pattern parameter is a
/// key-type parameter and the reverse, a single-value key type ([`ANY_PARAM`]) has a pattern
/// with exactly one parameter, and the key type's [`KeyPath`] (`key_tail`, its [`KvKey::TAIL`])
/// is the pattern's tail parameter (`pattern_tail`: whether its last parameter is `{name..}`).
/// [`bind_params`] applies it at run time; the derive at compile time, where it can see both.
pub const fn check_params(
    key_params: &[&str],
    key_tail: Option<usize>,
    pattern_params: &[&str],
    pattern_tail: bool,
) -> ParamCheck {
    let any = key_params.len() == 1 && str_eq(key_params[0], ANY_PARAM);
    if any && pattern_params.len() != 1 {
        return ParamCheck::AnyParamCount;
    }
    let mut i = 0;
    while i < pattern_params.len() {
        let bound = if any {
            Some(0)
        } else {
            position(key_params, pattern_params[i])
        };
        let Some(j) = bound else {
            return ParamCheck::Missing(i);
        };
        let is_path = matches!(key_tail, Some(t) if t == j);
        let is_tail = pattern_tail && i + 1 == pattern_params.len();
        if is_tail && !is_path {
            return ParamCheck::NotAPath(i);
        }
        if is_path && !is_tail {
            return ParamCheck::NotATail(i);
        }
        i += 1;
    }
    let mut j = 0;
    while j < key_params.len() && !any {
        if !contains(pattern_params, key_params[j]) {
            return ParamCheck::Unused(j);
        }
        j += 1;
    }
    ParamCheck::Fits
}

/// Binds a key type's parameters to a pattern's: for each pattern parameter (pattern order), its
/// index in [`K::PARAMS`](KvKey::PARAMS). A key type of exactly `[ANY_PARAM]` binds to a
/// pattern's single parameter whatever its name. The rules are [`check_params`]'s.
pub fn bind_params<K: KvKey>(pattern: &KeyPattern) -> Result<Vec<usize>, BindError> {
    bind_names(pattern, K::PARAMS, K::TAIL)
}

fn bind_names(
    pattern: &KeyPattern,
    key_params: &[&str],
    key_tail: Option<usize>,
) -> Result<Vec<usize>, BindError> {
    let pattern_params: Vec<&str> = pattern.params().collect();
    let name = |list: &[&str], index: usize| {
        list.get(index)
            .map_or_else(String::new, |p| (*p).to_owned())
    };
    let pattern_tail = pattern.tail().is_some();
    match check_params(key_params, key_tail, &pattern_params, pattern_tail) {
        ParamCheck::Fits => {}
        ParamCheck::Missing(i) => {
            return Err(BindError::MissingParam {
                param: name(&pattern_params, i),
            });
        }
        ParamCheck::Unused(j) => {
            return Err(BindError::UnusedParam {
                param: name(key_params, j),
            });
        }
        ParamCheck::AnyParamCount => {
            return Err(BindError::AnyParamCount {
                pattern_params: pattern_params.len(),
            });
        }
        ParamCheck::NotAPath(i) => {
            return Err(BindError::NotAPath {
                param: name(&pattern_params, i),
            });
        }
        ParamCheck::NotATail(i) => {
            return Err(BindError::NotATail {
                param: name(&pattern_params, i),
            });
        }
    }
    if key_params == [ANY_PARAM] {
        return Ok(vec![0]);
    }
    Ok(pattern_params
        .iter()
        .map(|name| {
            key_params
                .iter()
                .position(|p| p == name)
                .unwrap_or_default()
        })
        .collect())
}

/// Names an error after parameter `index` of `K`.
fn in_param<K: KvKey>(error: KeyError, index: usize) -> KeyError {
    match K::PARAMS.get(index) {
        Some(name) => error.in_param(name),
        None => error,
    }
}

/// Checks that `map` binds `pattern` and `K` one to one, the key type's path to the pattern's
/// tail, as [`bind_params`] does.
fn check_map<K: KvKey>(pattern: &KeyPattern, map: &[usize]) -> Result<(), KeyError> {
    let one_to_one = map.len() == pattern.param_count()
        && map.len() == K::PARAMS.len()
        && map
            .iter()
            .enumerate()
            .all(|(i, &index)| index < map.len() && !map.iter().take(i).any(|&m| m == index));
    let tail = pattern.tail().and(map.last().copied());
    if one_to_one && tail == K::TAIL {
        Ok(())
    } else {
        Err(KeyError::binding_mismatch())
    }
}

/// Runs `write`, then checks that it appended exactly one valid token to `out` (a valid key
/// path when `path`).
fn write_part(
    out: &mut String,
    path: bool,
    write: impl FnOnce(&mut String) -> Result<(), KeyError>,
) -> Result<(), KeyError> {
    let start = out.len();
    write(out)?;
    let token = out.get(start..).unwrap_or_default();
    let valid = if path {
        validate_path(token)
    } else {
        validate_token(token)
    };
    valid.map_err(|cause| KeyError::invalid_token(token, cause))
}

/// Whether parameter `index` of `K` is its key path.
fn is_path<K: KvKey>(index: usize) -> bool {
    K::TAIL == Some(index)
}

/// Renders `key` into `pattern`; `map` comes from [`bind_params`] for this pattern and `K`.
///
/// Each parameter's token is validated; with the pattern's literals (checked when it was
/// parsed) that makes a valid key of the pattern's shape, save for the reserved `_kv` prefix a
/// first parameter could bring, which is checked here. Every key read or written is rendered
/// here, so the whole key is checked again only in debug builds.
pub fn render_key<K: KvKey>(
    pattern: &KeyPattern,
    map: &[usize],
    key: &K,
) -> Result<String, KeyError> {
    check_map::<K>(pattern, map)?;
    let mut out = String::with_capacity(pattern.as_str().len() + 16);
    pattern.render_into(&mut out, |i, out| {
        let index = map.get(i).copied().ok_or_else(KeyError::binding_mismatch)?;
        write_part(out, is_path::<K>(index), |out| key.write_param(index, out))
            .map_err(|e| in_param::<K>(e, index))
    })?;
    // Every parameter token was checked as it was written, and the literal tokens with the
    // pattern, so the key is valid and has the pattern's shape by construction; only the
    // reserved prefix, which a first parameter could carry, is left to check.
    if out.starts_with(RESERVED_PREFIX) {
        if let Err(cause) = validate_key(&out) {
            return Err(KeyError::new(KeyErrorReason::InvalidKey {
                key: out,
                cause,
            }));
        }
    }
    debug_assert!(validate_key(&out).is_ok() && pattern.match_key(&out).is_some());
    Ok(out)
}

/// Parses `key` into `K`: the key must have the pattern's shape, and each parameter token must be
/// the canonical text of its type. `map` comes from [`bind_params`] for this pattern and `K`.
pub fn parse_key<K: KvKey>(pattern: &KeyPattern, map: &[usize], key: &str) -> Result<K, KeyError> {
    let not_matching = || {
        KeyError::new(KeyErrorReason::NotMatching {
            key: key.to_owned(),
            pattern: pattern.as_str().to_owned(),
        })
    };
    // `match_key` checks every token (literals equal, parameters valid tokens); only the
    // reserved prefix, which a first parameter could carry, is left to check.
    if key.starts_with(RESERVED_PREFIX) {
        return Err(not_matching());
    }
    check_map::<K>(pattern, map)?;
    // The tokens go straight into the key type's order, on the stack for the usual few.
    let mut inline = [""; INLINE_PARAMS];
    let mut spilled = Vec::new();
    let ordered: &mut [&str] = if map.len() <= INLINE_PARAMS {
        &mut inline[..map.len()]
    } else {
        spilled.resize(map.len(), "");
        &mut spilled
    };
    let matched = pattern.match_params(key, |i, token| {
        if let Some(slot) = map.get(i).and_then(|&index| ordered.get_mut(index)) {
            *slot = token;
        }
    });
    if !matched {
        return Err(not_matching());
    }
    K::from_tokens(ordered)
}

/// Key parameters parsed without a heap allocation; keys with more use a `Vec`.
const INLINE_PARAMS: usize = 8;

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

/// A partial key of type `K`, for filtering: each parameter is fixed to a value or left open.
///
/// Setting a value that cannot be a key token does not panic: the first such error is kept and
/// returned by [`to_subject_filter`](KeyFilter::to_subject_filter).
pub struct KeyFilter<K> {
    fixed: Vec<Option<String>>,
    error: Option<KeyError>,
    key: PhantomData<fn() -> K>,
}

impl<K: KvKey> KeyFilter<K> {
    /// A filter matching every key of the pattern.
    #[must_use]
    pub fn any() -> Self {
        Self {
            fixed: vec![None; K::PARAMS.len()],
            error: None,
            key: PhantomData,
        }
    }

    /// Fixes parameter `param_index` (an index into [`KvKey::PARAMS`]) to `value`.
    #[must_use]
    pub fn with<P: KeyPart>(mut self, param_index: usize, value: &P) -> Self {
        let mut token = String::new();
        let written = match self.fixed.get_mut(param_index) {
            Some(slot) => write_part(&mut token, is_path::<K>(param_index), |out| {
                value.write_token(out)
            })
            .map(|()| *slot = Some(token)),
            None => Err(KeyError::no_such_param(param_index, K::PARAMS.len())),
        };
        if let Err(error) = written {
            self.error
                .get_or_insert_with(|| in_param::<K>(error, param_index));
        }
        self
    }

    /// Keeps only the keys whose path (the key type's [`KeyPath`], the pattern's tail
    /// `{name..}`) lies under `prefix`: `prefix` and one or more tokens more. For
    /// `config.{path..}` and the prefix `eu.paris` that is the filter `config.eu.paris.>`,
    /// which holds `config.eu.paris.limits` but not `config.eu.paris` itself (fix the path with
    /// [`with`](Self::with) for that key).
    ///
    /// Only a key type with a `KeyPath` has it: on another, it does not compile (when the
    /// program is built).
    #[must_use]
    pub fn under(mut self, prefix: &KeyPath) -> Self {
        const {
            assert!(
                K::TAIL.is_some(),
                "KeyFilter::under needs a key type with a natskv::KeyPath parameter"
            );
        }
        if let Some(slot) = K::TAIL.and_then(|index| self.fixed.get_mut(index)) {
            *slot = Some(format!("{prefix}.>"));
        }
        self
    }

    /// Whether no parameter is fixed.
    pub fn is_any(&self) -> bool {
        self.error.is_none() && self.fixed.iter().all(Option::is_none)
    }

    /// The subject filter for `pattern`: fixed parameters as their tokens, open ones as `*`.
    /// `map` comes from [`bind_params`] for this pattern and `K`.
    pub fn to_subject_filter(
        &self,
        pattern: &KeyPattern,
        map: &[usize],
    ) -> Result<String, KeyError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        check_map::<K>(pattern, map)?;
        let fixed = map
            .iter()
            .map(|&index| self.fixed.get(index).map(Option::as_deref))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(KeyError::binding_mismatch)?;
        let filter = pattern.filter(&fixed);
        match validate_filter(&filter) {
            Ok(()) => Ok(filter),
            Err(cause) => Err(KeyError::new(KeyErrorReason::InvalidKey {
                key: filter,
                cause,
            })),
        }
    }
}

impl<K: KvKey> Default for KeyFilter<K> {
    fn default() -> Self {
        Self::any()
    }
}

impl<K> Clone for KeyFilter<K> {
    fn clone(&self) -> Self {
        Self {
            fixed: self.fixed.clone(),
            error: self.error.clone(),
            key: PhantomData,
        }
    }
}

impl<K> fmt::Debug for KeyFilter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFilter")
            .field("fixed", &self.fixed)
            .field("error", &self.error)
            .finish()
    }
}

impl<K: KvKey> From<&K> for KeyFilter<K> {
    fn from(key: &K) -> Self {
        let mut filter = Self::any();
        for (index, slot) in filter.fixed.iter_mut().enumerate() {
            let mut token = String::new();
            match write_part(&mut token, is_path::<K>(index), |out| {
                key.write_param(index, out)
            }) {
                Ok(()) => *slot = Some(token),
                Err(error) => {
                    filter
                        .error
                        .get_or_insert_with(|| in_param::<K>(error, index));
                }
            }
        }
        filter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token<P: KeyPart>(value: &P) -> Result<String, KeyError> {
        let mut out = String::new();
        value.write_token(&mut out).map(|()| out)
    }

    /// A hand-written key type, as `#[derive(KvKey)]` would write it.
    #[derive(Debug, PartialEq)]
    struct DeviceKey {
        site: String,
        id: u32,
    }

    impl KvKey for DeviceKey {
        const PARAMS: &'static [&'static str] = &["site", "id"];

        fn write_param(&self, index: usize, out: &mut String) -> Result<(), KeyError> {
            match index {
                0 => self.site.write_token(out),
                1 => self.id.write_token(out),
                _ => Err(KeyError::no_such_param(index, 2)),
            }
        }

        fn from_tokens(tokens: &[&str]) -> Result<Self, KeyError> {
            match tokens {
                [site, id] => Ok(Self {
                    site: String::parse_token(site).map_err(|e| e.in_param("site"))?,
                    id: u32::parse_token(id).map_err(|e| e.in_param("id"))?,
                }),
                _ => Err(KeyError::token_count(2, tokens.len())),
            }
        }
    }

    fn device(site: &str, id: u32) -> DeviceKey {
        DeviceKey {
            site: site.to_owned(),
            id,
        }
    }

    fn pattern(s: &str) -> KeyPattern {
        KeyPattern::parse(s).unwrap()
    }

    #[test]
    fn string_tokens() {
        assert_eq!(token(&"paris".to_owned()).unwrap(), "paris");
        for bad in ["", "a.b", "*", ">", "a b", "é", "a\n"] {
            let err = token(&bad.to_owned()).unwrap_err();
            assert!(
                matches!(err.reason(), KeyErrorReason::InvalidToken { token, .. } if token == bad)
            );
            assert!(err.to_string().contains("natskv::Encoded"), "{err}");
            assert!(std::error::Error::source(&err).is_some());
        }
        let mut out = "x.".to_owned();
        assert!("a.b".to_owned().write_token(&mut out).is_err());
        assert_eq!(out, "x.", "nothing is written on error");
        assert_eq!(String::parse_token("a-b").unwrap(), "a-b");
        assert!(String::parse_token("a.b").is_err());
    }

    #[test]
    fn integers_are_canonical() {
        assert_eq!(token(&-42_i32).unwrap(), "-42");
        assert_eq!(token(&u128::MAX).unwrap(), u128::MAX.to_string());
        assert_eq!(i64::parse_token("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(u8::parse_token("0"), Ok(0));
        assert_eq!(u8::parse_token("255"), Ok(255));
        for bad in [
            "", "+1", "01", "-0", "00", "1_000", "256", "-1", " 1", "1e3", "-",
        ] {
            assert!(u8::parse_token(bad).is_err(), "{bad:?}");
        }
        for bad in ["+1", "01", "-0", "-01", "128", "-129"] {
            assert!(i8::parse_token(bad).is_err(), "{bad:?}");
        }
        assert_eq!(i8::parse_token("-128"), Ok(-128));
        let err = u32::parse_token("01").unwrap_err();
        assert_eq!(
            err.reason(),
            &KeyErrorReason::Unparsable {
                token: "01".into(),
                expected_type: "u32"
            }
        );
    }

    #[test]
    fn bools() {
        assert_eq!(token(&true).unwrap(), "true");
        assert_eq!(bool::parse_token("false"), Ok(false));
        assert!(bool::parse_token("True").is_err());
        assert!(bool::parse_token("1").is_err());
    }

    #[test]
    fn encoded() {
        let cases = [
            ("", "="),
            ("paris", "paris"),
            ("a.b", "a=2Eb"),
            ("Paris 7e", "Paris=207e"),
            ("a=b", "a=3Db"),
            ("x/y_z-0", "x/y_z-0"),
            ("é", "=C3=A9"),
            ("*>", "=2A=3E"),
        ];
        for (text, tok) in cases {
            assert_eq!(token(&Encoded::from(text)).unwrap(), tok);
            assert_eq!(Encoded::parse_token(tok).unwrap().as_str(), text);
        }
        for bad in [
            "", "==", "=2", "=2e", "=41", "a=", "a.b", "=FF", "=C3", "a==3D", "=G0",
        ] {
            assert!(Encoded::parse_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn single_value_keys() {
        assert_eq!(String::PARAMS, [ANY_PARAM]);
        assert_eq!(<()>::PARAMS.len(), 0);
        assert_eq!(u8::from_tokens(&["7"]), Ok(7));
        assert!(u8::from_tokens(&[]).is_err());
        assert!(u8::from_tokens(&["1", "2"]).is_err());
        assert!(7_u8.write_param(1, &mut String::new()).is_err());
        assert_eq!(<()>::from_tokens(&[]), Ok(()));
        assert!(<()>::from_tokens(&["a"]).is_err());
        assert!(().write_param(0, &mut String::new()).is_err());
    }

    #[test]
    fn binding() {
        let p = pattern("site.{site}.device.{id}");
        assert_eq!(bind_names(&p, &["site", "id"], None), Ok(vec![0, 1]));
        assert_eq!(bind_names(&p, &["id", "site"], None), Ok(vec![1, 0]));
        assert_eq!(
            bind_names(&p, &["site"], None),
            Err(BindError::MissingParam { param: "id".into() })
        );
        assert_eq!(
            bind_names(&p, &["site", "id", "extra"], None),
            Err(BindError::UnusedParam {
                param: "extra".into()
            })
        );
        assert_eq!(
            bind_names(&p, &[ANY_PARAM], None),
            Err(BindError::AnyParamCount { pattern_params: 2 })
        );
        assert_eq!(
            bind_names(&pattern("cfg.{name}"), &[ANY_PARAM], None),
            Ok(vec![0])
        );
        assert_eq!(bind_names(&pattern("maintenance"), &[], None), Ok(vec![]));
        assert_eq!(
            bind_names(&pattern("maintenance"), &[ANY_PARAM], None),
            Err(BindError::AnyParamCount { pattern_params: 0 })
        );
        let text = BindError::UnusedParam {
            param: "extra".into(),
        }
        .to_string();
        assert!(text.contains("{extra}"), "{text}");
    }

    #[test]
    fn render_and_parse() {
        let p = pattern("site.{site}.device.{id}");
        let map = bind_params::<DeviceKey>(&p).unwrap();
        let key = render_key(&p, &map, &device("paris", 7)).unwrap();
        assert_eq!(key, "site.paris.device.7");
        assert_eq!(
            parse_key::<DeviceKey>(&p, &map, &key),
            Ok(device("paris", 7))
        );

        // Pattern order differs from declaration order.
        let q = pattern("{id}.at.{site}");
        let qmap = bind_params::<DeviceKey>(&q).unwrap();
        let key = render_key(&q, &qmap, &device("lyon", 3)).unwrap();
        assert_eq!(key, "3.at.lyon");
        assert_eq!(
            parse_key::<DeviceKey>(&q, &qmap, &key),
            Ok(device("lyon", 3))
        );

        let err = render_key(&p, &map, &device("a.b", 1)).unwrap_err();
        assert_eq!(err.param(), Some("site"));
        assert!(
            err.to_string().starts_with("key parameter `site`:"),
            "{err}"
        );

        for foreign in [
            "site.paris.device",
            "site.paris.device.07",
            "site.paris.dev.7",
            "x",
        ] {
            assert!(
                parse_key::<DeviceKey>(&p, &map, foreign).is_err(),
                "{foreign}"
            );
        }
        let err = parse_key::<DeviceKey>(&p, &map, "site.paris.device.x").unwrap_err();
        assert_eq!(err.param(), Some("id"));
    }

    #[test]
    fn single_and_literal_keys() {
        let p = pattern("cfg.{name}");
        let map = bind_params::<String>(&p).unwrap();
        assert_eq!(render_key(&p, &map, &"x".to_owned()).unwrap(), "cfg.x");
        assert_eq!(parse_key::<String>(&p, &map, "cfg.x").unwrap(), "x");
        let err = render_key(&p, &map, &String::new()).unwrap_err();
        assert_eq!(err.param(), None);

        let lit = pattern("maintenance");
        assert_eq!(render_key(&lit, &[], &()).unwrap(), "maintenance");
        assert_eq!(parse_key::<()>(&lit, &[], "maintenance"), Ok(()));
        assert!(parse_key::<()>(&lit, &[], "other").is_err());
    }

    #[test]
    fn reserved_prefix_from_a_value_is_refused() {
        let p = pattern("{name}.x");
        let map = bind_params::<String>(&p).unwrap();
        let err = render_key(&p, &map, &"_kvsys".to_owned()).unwrap_err();
        assert!(matches!(err.reason(), KeyErrorReason::InvalidKey { .. }));
        assert!(parse_key::<String>(&p, &map, "_kvsys.x").is_err());
    }

    #[test]
    fn bad_maps_are_errors() {
        let p = pattern("site.{site}.device.{id}");
        for map in [&[0][..], &[0, 2], &[0, 0], &[0, 1, 1]] {
            assert_eq!(
                render_key(&p, map, &device("a", 1)).map_err(|e| e.reason().clone()),
                Err(KeyErrorReason::BindingMismatch),
                "{map:?}"
            );
            assert_eq!(
                parse_key::<DeviceKey>(&p, map, "site.a.device.1").map_err(|e| e.reason().clone()),
                Err(KeyErrorReason::BindingMismatch),
                "{map:?}"
            );
        }
    }

    /// A KeyPart that lies: it writes two tokens.
    struct Liar;

    impl KeyPart for Liar {
        fn write_token(&self, out: &mut String) -> Result<(), KeyError> {
            out.push_str("a.b");
            Ok(())
        }

        fn parse_token(token: &str) -> Result<Self, KeyError> {
            Err(KeyError::unparsable(token, "Liar"))
        }
    }

    #[test]
    fn filters() {
        let p = pattern("site.{site}.device.{id}");
        let map = bind_params::<DeviceKey>(&p).unwrap();
        let any = KeyFilter::<DeviceKey>::any();
        assert!(any.is_any());
        assert_eq!(any.to_subject_filter(&p, &map).unwrap(), "site.*.device.*");
        let by_site = KeyFilter::<DeviceKey>::any().with(0, &"paris".to_owned());
        assert_eq!(
            by_site.clone().to_subject_filter(&p, &map).unwrap(),
            "site.paris.device.*"
        );
        assert!(format!("{by_site:?}").contains("paris"));
        let by_id = KeyFilter::<DeviceKey>::default().with(1, &7_u32);
        assert_eq!(
            by_id.to_subject_filter(&p, &map).unwrap(),
            "site.*.device.7"
        );
        let all = KeyFilter::from(&device("paris", 7));
        assert_eq!(
            all.to_subject_filter(&p, &map).unwrap(),
            "site.paris.device.7"
        );

        let bad = KeyFilter::<DeviceKey>::any()
            .with(0, &"a.b".to_owned())
            .with(1, &Liar);
        let err = bad.to_subject_filter(&p, &map).unwrap_err();
        assert_eq!(err.param(), Some("site"), "the first error is kept");
        let liar = KeyFilter::<DeviceKey>::any().with(1, &Liar);
        assert!(liar.to_subject_filter(&p, &map).is_err());
        let out_of_range = KeyFilter::<DeviceKey>::any().with(5, &1_u8);
        assert!(matches!(
            out_of_range
                .to_subject_filter(&p, &map)
                .unwrap_err()
                .reason(),
            KeyErrorReason::NoSuchParam { index: 5, count: 2 }
        ));
        let reserved = KeyFilter::<String>::any().with(0, &"_kv".to_owned());
        let r = pattern("{n}.x");
        assert!(reserved.to_subject_filter(&r, &[0]).is_err());
        assert!(
            KeyFilter::from(&device("", 1))
                .to_subject_filter(&p, &map)
                .is_err()
        );
    }

    /// A key type with a path, as `#[derive(KvKey)]` would write it.
    #[derive(Debug, PartialEq)]
    struct TreeKey {
        tenant: String,
        path: KeyPath,
    }

    impl KvKey for TreeKey {
        const PARAMS: &'static [&'static str] = &["path", "tenant"];
        const TAIL: Option<usize> =
            tail_index(&[<KeyPath as KeyPart>::IS_PATH, <String as KeyPart>::IS_PATH]);

        fn write_param(&self, index: usize, out: &mut String) -> Result<(), KeyError> {
            match index {
                0 => self.path.write_token(out),
                1 => self.tenant.write_token(out),
                _ => Err(KeyError::no_such_param(index, 2)),
            }
        }

        fn from_tokens(tokens: &[&str]) -> Result<Self, KeyError> {
            match tokens {
                [path, tenant] => Ok(Self {
                    path: KeyPath::parse_token(path).map_err(|e| e.in_param("path"))?,
                    tenant: String::parse_token(tenant).map_err(|e| e.in_param("tenant"))?,
                }),
                _ => Err(KeyError::token_count(2, tokens.len())),
            }
        }
    }

    fn path(text: &str) -> KeyPath {
        KeyPath::parse(text).unwrap()
    }

    #[test]
    fn key_paths() {
        let p = path("eu.paris.limits");
        assert_eq!(p.depth(), 3);
        assert_eq!(p.tokens().collect::<Vec<_>>(), ["eu", "paris", "limits"]);
        assert_eq!(p.parent(), Some(path("eu.paris")));
        assert_eq!(path("eu").parent(), None);
        assert!(p.starts_with(&path("eu.paris")));
        assert!(p.starts_with(&p));
        assert!(!p.starts_with(&path("eu.par")));
        assert_eq!(path("eu").child("lyon"), Ok(path("eu.lyon")));
        assert!(path("eu").child("a.b").is_err());
        assert_eq!(KeyPath::new(["a", "b"]), Ok(path("a.b")));
        assert!(KeyPath::new(Vec::<String>::new()).is_err());
        assert!(KeyPath::new(["a", ""]).is_err());
        for bad in ["", ".", "a.", ".a", "a..b", "a.*", "a.>", "a b", "é"] {
            let err = KeyPath::parse(bad).unwrap_err();
            assert!(
                matches!(err.reason(), KeyErrorReason::InvalidToken { token, .. } if token == bad),
                "{bad:?}"
            );
        }
        assert!(
            KeyPath::parse("a..b")
                .unwrap_err()
                .to_string()
                .contains("cannot be a key path")
        );
        assert_eq!("a.b".parse::<KeyPath>(), Ok(path("a.b")));
        assert_eq!(KeyPath::try_from("a.b".to_owned()), Ok(path("a.b")));
        assert!(KeyPath::try_from("a..b".to_owned()).is_err());
        assert_eq!(String::from(path("x.y")), "x.y");
        assert_eq!(KeyPath::PARAMS, [ANY_PARAM]);
        assert_eq!(<KeyPath as KvKey>::TAIL, Some(0));
        assert_eq!(<String as KvKey>::TAIL, None);
        assert_eq!(TreeKey::TAIL, Some(0));
        assert_eq!(tail_count(&[true, false, true]), 2);
        assert_eq!(tail_index(&[false, true]), Some(1));
    }

    #[test]
    fn tails_bind_only_to_paths() {
        let tree = pattern("t.{tenant}.cfg.{path..}");
        assert_eq!(bind_params::<TreeKey>(&tree), Ok(vec![1, 0]));
        assert_eq!(bind_params::<KeyPath>(&pattern("cfg.{p..}")), Ok(vec![0]));
        assert_eq!(
            bind_params::<String>(&pattern("cfg.{p..}")),
            Err(BindError::NotAPath { param: "p".into() })
        );
        assert_eq!(
            bind_params::<KeyPath>(&pattern("cfg.{p}")),
            Err(BindError::NotATail { param: "p".into() })
        );
        assert_eq!(
            bind_params::<TreeKey>(&pattern("t.{path}.cfg.{tenant}")),
            Err(BindError::NotATail {
                param: "path".into()
            })
        );
        assert_eq!(
            bind_params::<DeviceKey>(&pattern("s.{site}.{id..}")),
            Err(BindError::NotAPath { param: "id".into() })
        );
        let text = BindError::NotAPath { param: "p".into() }.to_string();
        assert!(text.contains("natskv::KeyPath"), "{text}");
        assert_eq!(
            check_params(&["a", "b"], Some(1), &["a", "b"], true),
            ParamCheck::Fits
        );
        assert_eq!(
            check_params(&["a", "b"], Some(0), &["a", "b"], true),
            ParamCheck::NotATail(0)
        );
    }

    #[test]
    fn tails_render_and_parse() {
        let tree = pattern("t.{tenant}.cfg.{path..}");
        let map = bind_params::<TreeKey>(&tree).unwrap();
        let key = TreeKey {
            tenant: "acme".into(),
            path: path("eu.paris.limits"),
        };
        let rendered = render_key(&tree, &map, &key).unwrap();
        assert_eq!(rendered, "t.acme.cfg.eu.paris.limits");
        assert_eq!(parse_key::<TreeKey>(&tree, &map, &rendered), Ok(key));
        assert!(parse_key::<TreeKey>(&tree, &map, "t.acme.cfg").is_err());
        assert!(parse_key::<TreeKey>(&tree, &map, "t.acme.other.a").is_err());

        let whole = pattern("{all..}");
        let map = bind_params::<KeyPath>(&whole).unwrap();
        assert_eq!(render_key(&whole, &map, &path("a.b")).unwrap(), "a.b");
        let err = render_key(&whole, &map, &path("_kv.b")).unwrap_err();
        assert!(matches!(err.reason(), KeyErrorReason::InvalidKey { .. }));

        // A map that binds a one-token parameter to the path is refused, not rendered.
        let flat = pattern("t.{tenant}.cfg.{path}");
        assert_eq!(
            render_key(
                &flat,
                &[1, 0],
                &TreeKey {
                    tenant: "a".into(),
                    path: path("x.y"),
                }
            )
            .map_err(|e| e.reason().clone()),
            Err(KeyErrorReason::BindingMismatch)
        );
    }

    /// A KeyPart that claims to be a path and writes one that is not.
    struct BadPath;

    impl KeyPart for BadPath {
        const IS_PATH: bool = true;

        fn write_token(&self, out: &mut String) -> Result<(), KeyError> {
            out.push_str("a..b");
            Ok(())
        }

        fn parse_token(token: &str) -> Result<Self, KeyError> {
            Err(KeyError::unparsable(token, "BadPath"))
        }
    }

    #[test]
    fn tail_filters() {
        let cfg = pattern("cfg.{p..}");
        let map = bind_params::<KeyPath>(&cfg).unwrap();
        let filter = |f: KeyFilter<KeyPath>| f.to_subject_filter(&cfg, &map);
        assert_eq!(filter(KeyFilter::any()).unwrap(), "cfg.>");
        assert_eq!(
            filter(KeyFilter::any().with(0, &path("a.b"))).unwrap(),
            "cfg.a.b"
        );
        assert_eq!(
            filter(KeyFilter::any().under(&path("a.b"))).unwrap(),
            "cfg.a.b.>"
        );
        assert_eq!(filter(KeyFilter::from(&path("x"))).unwrap(), "cfg.x");
        assert!(filter(KeyFilter::any().with(0, &BadPath)).is_err());

        let tree = pattern("t.{tenant}.cfg.{path..}");
        let map = bind_params::<TreeKey>(&tree).unwrap();
        let by_tenant = KeyFilter::<TreeKey>::any().with(1, &"acme".to_owned());
        assert_eq!(
            by_tenant.clone().to_subject_filter(&tree, &map).unwrap(),
            "t.acme.cfg.>"
        );
        assert_eq!(
            by_tenant
                .under(&path("eu"))
                .to_subject_filter(&tree, &map)
                .unwrap(),
            "t.acme.cfg.eu.>"
        );
        // A one-token parameter does not take a path.
        assert!(
            KeyFilter::<TreeKey>::any()
                .with(1, &path("a.b"))
                .to_subject_filter(&tree, &map)
                .is_err()
        );
    }
}
