//! Why a key could not be rendered or parsed ([`KeyError`]), and why a key type does not fit a
//! pattern ([`BindError`]).

use std::fmt;

use super::ANY_PARAM;
use crate::names::{NameError, NameKind};

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
    /// [`bind_params`](super::bind_params) for them).
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

    pub(super) fn binding_mismatch() -> Self {
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
    /// The pattern's tail parameter `{param..}` is not a [`KeyPath`](super::KeyPath) in the key type.
    NotAPath {
        /// The parameter name.
        param: String,
    },
    /// The key type's [`KeyPath`](super::KeyPath) is a one-token parameter `{param}` in the pattern.
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
