//! [`KeyPath`]: one or more key tokens, the value of a tail parameter `{name..}`.

use std::fmt;

use super::{KeyError, KeyPart};
use crate::names::{validate_path, validate_token};

/// A key path: one or more key tokens, written `a.b.c`. It is the value of a tail parameter
/// `{name..}`, the last token of a pattern such as `config.{path..}`, which makes a family of
/// keys of any depth (`config.a`, `config.a.b.c`).
///
/// Every token is checked when the path is made (one or more of `A-Z a-z 0-9 - _ / =`), so a
/// `KeyPath` is always valid; write arbitrary text in a token with [`Encoded`](super::Encoded). Ordering and
/// equality are those of the dotted text.
///
/// ```
/// use natskv::KeyPath;
///
/// let path: KeyPath = "eu.paris.limits".parse()?;
/// assert_eq!(path.tokens().collect::<Vec<_>>(), ["eu", "paris", "limits"]);
/// assert_eq!(path.depth(), 3);
/// assert_eq!(path.parent(), Some(KeyPath::parse("eu.paris")?));
/// assert!(path.starts_with(&KeyPath::new(["eu"])?));
/// assert_eq!(KeyPath::new(["eu"])?.child("lyon")?.as_str(), "eu.lyon");
/// assert!(KeyPath::parse("eu..paris").is_err());
/// assert!(KeyPath::new(["a.b"]).is_err(), "a token holds no `.`");
/// # Ok::<(), natskv::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(String);

impl KeyPath {
    /// Parses a dotted path such as `a.b.c`.
    ///
    /// # Errors
    /// [`KeyErrorReason::InvalidToken`](super::KeyErrorReason::InvalidToken) when it is empty, has an empty token (a leading,
    /// trailing or doubled `.`) or a character keys do not allow (wildcards included).
    pub fn parse(path: &str) -> Result<Self, KeyError> {
        validate_path(path).map_err(|cause| KeyError::invalid_token(path, cause))?;
        Ok(Self(path.to_owned()))
    }

    /// Joins tokens into a path.
    ///
    /// # Errors
    /// [`KeyErrorReason::InvalidToken`](super::KeyErrorReason::InvalidToken) for the first token that is not one valid key token
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
    /// [`KeyErrorReason::InvalidToken`](super::KeyErrorReason::InvalidToken) when `token` is not one valid key token.
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
