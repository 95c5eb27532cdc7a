//! The naming rules of NATS Key/Value (ADR-8): bucket names, keys, tokens, key paths, filters and
//! subjects outside a bucket.
//!
//! The one definition of them: the derive macro calls it at compile time to check a declaration,
//! the runtime before any wire call.
//!
//! - A bucket name is 1 to 255 characters of `A-Z a-z 0-9 - _`.
//! - A key is `.`-separated tokens, each one or more of `A-Z a-z 0-9 - _ / =`; no token is empty and
//!   the first one does not start with `_kv` (reserved by NATS).
//! - A filter is a key whose tokens may also be exactly `*` (any one token) or, as the last token
//!   only, exactly `>` (one or more tokens).
//! - A key pattern is a key whose tokens may also be exactly one parameter `{name}`, for example
//!   `site.{site}.device.{id}`, and whose last token may be a tail parameter `{name..}` (one or
//!   more tokens, a key path), for example `config.{path..}`; see
//!   [`KeyPattern`](crate::pattern::KeyPattern).

use std::fmt;

/// The longest bucket name accepted.
pub const MAX_BUCKET_NAME_LEN: usize = 255;

/// Whether `c` may appear in a key token.
pub(crate) const fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '=')
}

/// Whether `c` may appear in a bucket name.
const fn is_bucket_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
}

/// Splits on `.`, yielding each token with its byte offset in `s`.
pub(crate) fn tokens_with_offsets(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.split('.').scan(0, |pos, token| {
        let start = *pos;
        *pos += token.len() + 1;
        Some((start, token))
    })
}

// ---------------------------------------------------------------------------------------------
// Naming rules
// ---------------------------------------------------------------------------------------------

/// What a [`NameError`] was checking.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// A bucket name.
    Bucket,
    /// A full key.
    Key,
    /// A single key token (the value of one key parameter).
    Token,
    /// A key filter (a key that may hold `*` and `>` wildcards).
    Filter,
    /// A NATS subject outside the bucket (a republish destination), wildcards allowed.
    Subject,
    /// A key path: one or more key tokens (the value of a tail parameter `{name..}`).
    Path,
}

impl NameKind {
    fn noun(self) -> &'static str {
        match self {
            Self::Bucket => "bucket name",
            Self::Key => "key",
            Self::Token => "key token",
            Self::Filter => "key filter",
            Self::Subject => "subject",
            Self::Path => "key path",
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Self::Bucket => "a bucket name is 1 to 255 characters of A-Z a-z 0-9 `-` `_`",
            Self::Key => {
                "a key is `.`-separated tokens of A-Z a-z 0-9 `-` `_` `/` `=`, none empty, \
                 the first not starting with `_kv`"
            }
            Self::Token => {
                "a token is one or more of A-Z a-z 0-9 `-` `_` `/` `=`; \
                 use natskv::Encoded for arbitrary text"
            }
            Self::Filter => {
                "a filter is a key whose tokens may also be `*` (any one token) \
                 or, last, `>` (one or more tokens)"
            }
            Self::Subject => {
                "a subject is `.`-separated tokens without whitespace, none empty; `*` and, \
                 last, `>` only as whole tokens"
            }
            Self::Path => {
                "a key path is one or more `.`-separated tokens of A-Z a-z 0-9 `-` `_` `/` `=`, \
                 none empty; use natskv::Encoded for arbitrary text in a token"
            }
        }
    }
}

/// Why a name, key, token or filter was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameErrorReason {
    /// It is empty.
    Empty,
    /// It is longer than the limit.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A character that is not allowed here.
    InvalidChar {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// A wildcard (`*` or `>`) where only filters may hold one.
    Wildcard {
        /// The wildcard.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// In a filter, a wildcard that is not a whole token, or a `>` that is not the last token.
    MisplacedWildcard {
        /// Its byte offset.
        at: usize,
    },
    /// An empty token: a leading, trailing or doubled `.`.
    EmptyToken {
        /// The byte offset where the empty token is.
        at: usize,
    },
    /// The first token starts with `_kv`, which NATS reserves.
    Reserved,
}

impl fmt::Display for NameErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("it is empty"),
            Self::TooLong { len, max } => write!(f, "it is {len} bytes long, the limit is {max}"),
            Self::InvalidChar { ch, at } => {
                write!(f, "character {ch:?} at byte {at} is not allowed")
            }
            Self::Wildcard { ch, at } => {
                write!(f, "wildcard {ch:?} at byte {at} is only allowed in filters")
            }
            Self::MisplacedWildcard { at } => write!(
                f,
                "the wildcard at byte {at} must be a whole token, and `>` only the last one"
            ),
            Self::EmptyToken { at } => write!(
                f,
                "empty token at byte {at} (a leading, trailing or doubled `.`)"
            ),
            Self::Reserved => f.write_str("it starts with `_kv`, which NATS reserves"),
        }
    }
}

/// A bucket name, key, token or filter that breaks the NATS Key/Value naming rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    kind: NameKind,
    input: String,
    reason: NameErrorReason,
}

impl NameError {
    fn new(kind: NameKind, input: &str, reason: NameErrorReason) -> Self {
        Self {
            kind,
            input: input.to_owned(),
            reason,
        }
    }

    /// What was being checked.
    pub fn kind(&self) -> NameKind {
        self.kind
    }

    /// The refused input.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why it was refused.
    pub fn reason(&self) -> NameErrorReason {
        self.reason
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} {:?}: {}; {}",
            self.kind.noun(),
            self.input,
            self.reason,
            self.kind.rule()
        )
    }
}

impl std::error::Error for NameError {}

/// Checks a bucket name: 1 to 255 characters of `A-Z a-z 0-9 - _`.
pub fn validate_bucket_name(name: &str) -> Result<(), NameError> {
    let fail = |reason| Err(NameError::new(NameKind::Bucket, name, reason));
    if name.is_empty() {
        return fail(NameErrorReason::Empty);
    }
    if let Some((at, ch)) = name.char_indices().find(|&(_, c)| !is_bucket_char(c)) {
        return fail(NameErrorReason::InvalidChar { ch, at });
    }
    if name.len() > MAX_BUCKET_NAME_LEN {
        return fail(NameErrorReason::TooLong {
            len: name.len(),
            max: MAX_BUCKET_NAME_LEN,
        });
    }
    Ok(())
}

/// Checks a single key token (a parameter's value): one or more of `A-Z a-z 0-9 - _ / =`.
pub fn validate_token(token: &str) -> Result<(), NameError> {
    let fail = |reason| Err(NameError::new(NameKind::Token, token, reason));
    if token.is_empty() {
        return fail(NameErrorReason::Empty);
    }
    // Every token character is ASCII: a byte check settles the usual, valid case.
    if token.bytes().all(|b| is_token_char(char::from(b))) {
        return Ok(());
    }
    match token.char_indices().find(|&(_, c)| !is_token_char(c)) {
        Some((at, ch @ ('*' | '>'))) => fail(NameErrorReason::Wildcard { ch, at }),
        Some((at, ch)) => fail(NameErrorReason::InvalidChar { ch, at }),
        None => Ok(()),
    }
}

/// The prefix NATS reserves: no key's first token may start with it.
pub const RESERVED_PREFIX: &str = "_kv";

/// Checks a key: `.`-separated non-empty tokens, no wildcard, not starting with `_kv`.
pub fn validate_key(key: &str) -> Result<(), NameError> {
    check_subject(key, NameKind::Key)
}

/// Checks a key path (the value of a tail parameter `{name..}`): one or more `.`-separated
/// tokens, each as [`validate_token`] wants it. Unlike a key, a path may start with `_kv`: it
/// never starts a key unless its pattern is only the tail, and then the key is checked.
pub fn validate_path(path: &str) -> Result<(), NameError> {
    // Every path character is ASCII: a byte check settles the usual, valid case.
    let simple = !path.is_empty()
        && path
            .bytes()
            .all(|b| b == b'.' || is_token_char(char::from(b)))
        && !path.starts_with('.')
        && !path.ends_with('.')
        && !path.contains("..");
    if simple {
        return Ok(());
    }
    let fail = |reason| Err(NameError::new(NameKind::Path, path, reason));
    if path.is_empty() {
        return fail(NameErrorReason::Empty);
    }
    for (start, token) in tokens_with_offsets(path) {
        if token.is_empty() {
            return fail(NameErrorReason::EmptyToken { at: start });
        }
        if let Err(error) = validate_token(token) {
            let reason = match error.reason {
                NameErrorReason::InvalidChar { ch, at } => {
                    NameErrorReason::InvalidChar { ch, at: start + at }
                }
                NameErrorReason::Wildcard { ch, at } => {
                    NameErrorReason::Wildcard { ch, at: start + at }
                }
                other => other,
            };
            return fail(reason);
        }
    }
    Ok(())
}

/// Checks a NATS subject (wildcards allowed) that is not a key: any characters but whitespace,
/// no empty token, `*` and a last `>` only as whole tokens.
pub fn validate_subject(subject: &str) -> Result<(), NameError> {
    let fail = |reason| Err(NameError::new(NameKind::Subject, subject, reason));
    if subject.is_empty() {
        return fail(NameErrorReason::Empty);
    }
    let count = subject.split('.').count();
    for (index, (start, token)) in tokens_with_offsets(subject).enumerate() {
        if token.is_empty() {
            return fail(NameErrorReason::EmptyToken { at: start });
        }
        if token == "*" || (token == ">" && index + 1 == count) {
            continue;
        }
        for (offset, ch) in token.char_indices() {
            let at = start + offset;
            match ch {
                '*' | '>' => return fail(NameErrorReason::MisplacedWildcard { at }),
                _ if ch.is_whitespace() || ch.is_control() => {
                    return fail(NameErrorReason::InvalidChar { ch, at });
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Checks a key filter: like a key, but a token may be exactly `*`, and the last one exactly `>`.
pub fn validate_filter(filter: &str) -> Result<(), NameError> {
    check_subject(filter, NameKind::Filter)
}

fn check_subject(input: &str, kind: NameKind) -> Result<(), NameError> {
    let fail = |reason| Err(NameError::new(kind, input, reason));
    if input.is_empty() {
        return fail(NameErrorReason::Empty);
    }
    let is_filter = kind == NameKind::Filter;
    let count = input.split('.').count();
    for (index, (start, token)) in tokens_with_offsets(input).enumerate() {
        if token.is_empty() {
            return fail(NameErrorReason::EmptyToken { at: start });
        }
        if is_filter && (token == "*" || (token == ">" && index + 1 == count)) {
            continue;
        }
        for (offset, ch) in token.char_indices() {
            let at = start + offset;
            match ch {
                '*' | '>' if is_filter => return fail(NameErrorReason::MisplacedWildcard { at }),
                '*' | '>' => return fail(NameErrorReason::Wildcard { ch, at }),
                _ if !is_token_char(ch) => return fail(NameErrorReason::InvalidChar { ch, at }),
                _ => {}
            }
        }
        if index == 0 && token.starts_with(RESERVED_PREFIX) {
            return fail(NameErrorReason::Reserved);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        assert_eq!(validate_bucket_name("fleet_2-a"), Ok(()));
        let err = validate_bucket_name("a.b").unwrap_err();
        assert_eq!(
            err.reason(),
            NameErrorReason::InvalidChar { ch: '.', at: 1 }
        );
        assert_eq!(err.kind(), NameKind::Bucket);
        assert_eq!(
            validate_bucket_name("").unwrap_err().reason(),
            NameErrorReason::Empty
        );
        assert_eq!(validate_bucket_name(&"a".repeat(255)), Ok(()));
        assert_eq!(
            validate_bucket_name(&"a".repeat(256)).unwrap_err().reason(),
            NameErrorReason::TooLong { len: 256, max: 255 }
        );
        assert!(validate_bucket_name("é").is_err());
    }

    #[test]
    fn keys() {
        for ok in ["a", "a.b", "A-z_0/9=.x", "kv_a", "a._kv", "-", "="] {
            assert_eq!(validate_key(ok), Ok(()), "{ok}");
        }
        let reason = |k: &str| validate_key(k).unwrap_err().reason();
        assert_eq!(reason(""), NameErrorReason::Empty);
        assert_eq!(reason(".a"), NameErrorReason::EmptyToken { at: 0 });
        assert_eq!(reason("a."), NameErrorReason::EmptyToken { at: 2 });
        assert_eq!(reason("a..b"), NameErrorReason::EmptyToken { at: 2 });
        assert_eq!(reason("a.*"), NameErrorReason::Wildcard { ch: '*', at: 2 });
        assert_eq!(reason("a.>"), NameErrorReason::Wildcard { ch: '>', at: 2 });
        assert_eq!(
            reason("a b"),
            NameErrorReason::InvalidChar { ch: ' ', at: 1 }
        );
        assert_eq!(reason("_kv"), NameErrorReason::Reserved);
        assert_eq!(reason("_kvx.a"), NameErrorReason::Reserved);
    }

    #[test]
    fn tokens() {
        assert_eq!(validate_token("a-b_c/d=e9"), Ok(()));
        let reason = |k: &str| validate_token(k).unwrap_err().reason();
        assert_eq!(reason(""), NameErrorReason::Empty);
        assert_eq!(
            reason("a.b"),
            NameErrorReason::InvalidChar { ch: '.', at: 1 }
        );
        assert_eq!(reason("*"), NameErrorReason::Wildcard { ch: '*', at: 0 });
        assert_eq!(
            reason("a\tb"),
            NameErrorReason::InvalidChar { ch: '\t', at: 1 }
        );
    }

    #[test]
    fn filters() {
        for ok in ["a", "*", ">", "a.*", "a.>", "*.b.>", "a.*.c"] {
            assert_eq!(validate_filter(ok), Ok(()), "{ok}");
        }
        let reason = |k: &str| validate_filter(k).unwrap_err().reason();
        assert_eq!(reason(">.a"), NameErrorReason::MisplacedWildcard { at: 0 });
        assert_eq!(reason("a*"), NameErrorReason::MisplacedWildcard { at: 1 });
        assert_eq!(reason("a.b>"), NameErrorReason::MisplacedWildcard { at: 3 });
        assert_eq!(reason("a..*"), NameErrorReason::EmptyToken { at: 2 });
        assert_eq!(reason("_kv.>"), NameErrorReason::Reserved);
    }

    #[test]
    fn subjects() {
        for ok in ["a", "$KV.b.>", "changes.*.x", ">", "ünï.$SYS"] {
            assert_eq!(validate_subject(ok), Ok(()), "{ok}");
        }
        let reason = |k: &str| validate_subject(k).unwrap_err().reason();
        assert_eq!(reason(""), NameErrorReason::Empty);
        assert_eq!(reason("a..b"), NameErrorReason::EmptyToken { at: 2 });
        assert_eq!(reason(">.a"), NameErrorReason::MisplacedWildcard { at: 0 });
        assert_eq!(reason("a*"), NameErrorReason::MisplacedWildcard { at: 1 });
        assert_eq!(
            reason("a b"),
            NameErrorReason::InvalidChar { ch: ' ', at: 1 }
        );
    }

    #[test]
    fn name_error_display_says_what_to_do() {
        let text = validate_token("a.b").unwrap_err().to_string();
        assert!(text.contains("natskv::Encoded"), "{text}");
        assert!(text.contains("'.'"), "{text}");
    }

    #[test]
    fn paths() {
        for ok in ["a", "a.b.c", "_kv.x", "A-z_0/9=.x"] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
        let reason = |k: &str| validate_path(k).unwrap_err().reason();
        assert_eq!(reason(""), NameErrorReason::Empty);
        assert_eq!(reason(".a"), NameErrorReason::EmptyToken { at: 0 });
        assert_eq!(reason("a."), NameErrorReason::EmptyToken { at: 2 });
        assert_eq!(reason("a..b"), NameErrorReason::EmptyToken { at: 2 });
        assert_eq!(reason("a.b*"), NameErrorReason::Wildcard { ch: '*', at: 3 });
        assert_eq!(reason("a.>"), NameErrorReason::Wildcard { ch: '>', at: 2 });
        assert_eq!(
            reason("a.b c"),
            NameErrorReason::InvalidChar { ch: ' ', at: 3 }
        );
        assert_eq!(validate_path("a b").unwrap_err().kind(), NameKind::Path);
    }
}
