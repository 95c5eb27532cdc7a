//! Key patterns: `site.{site}.device.{id}`, literal tokens and parameters, the last one possibly a
//! tail `{path..}`; parsed with spans for compiler diagnostics, rendered, matched and turned
//! into subject filters, and compared for overlap.

use std::fmt;
use std::ops::Range;

use crate::names::{
    RESERVED_PREFIX, is_token_char, tokens_with_offsets, validate_path, validate_token,
};
/// What is wrong with a key pattern.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatternErrorKind {
    /// The pattern is empty.
    Empty,
    /// An empty token: a leading, trailing or doubled `.`.
    EmptyToken,
    /// A character keys do not allow.
    InvalidChar,
    /// A `*` or `>` in a literal token.
    Wildcard,
    /// The first token starts with `_kv`, which NATS reserves.
    ReservedPrefix,
    /// A `{` without its `}` in the same token.
    UnclosedBrace,
    /// A `}` without a `{` before it.
    UnopenedBrace,
    /// An empty parameter `{}`.
    EmptyParam,
    /// A parameter name that is not a Rust identifier.
    InvalidParamName,
    /// A parameter named twice.
    DuplicateParam,
    /// A token mixing literal text and a parameter, such as `dev-{id}`.
    MixedToken,
    /// A tail parameter `{name..}` that is not the last token.
    TailNotLast,
}

/// A key pattern that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    kind: PatternErrorKind,
    span: Range<usize>,
    pattern: String,
    message: String,
}

impl PatternError {
    fn new(kind: PatternErrorKind, pattern: &str, span: Range<usize>, message: String) -> Self {
        Self {
            kind,
            span,
            pattern: pattern.to_owned(),
            message,
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> PatternErrorKind {
        self.kind
    }

    /// The byte range of the offending text within the pattern (empty only for an empty pattern).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The pattern that was refused.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// What is wrong and what to do, without repeating the pattern (for a compiler diagnostic).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid key pattern {:?}: {}",
            self.pattern, self.message
        )
    }
}

impl std::error::Error for PatternError {}

/// One `.`-separated token of a [`KeyPattern`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A literal token, matched as is.
    Literal(String),
    /// A parameter `{name}`; holds the name. Its value is exactly one token.
    Param(String),
    /// A tail parameter `{name..}`, always the last segment; holds the name. Its value is one or
    /// more tokens (a key path), so the pattern's keys have any depth from its length on.
    Tail(String),
}

/// A parsed key pattern such as `site.{site}.device.{id}`.
///
/// Each `.`-separated token is either a literal key token or exactly one parameter `{name}`
/// filling the whole token, where `name` is a Rust identifier used once. A parameter's value is
/// always exactly one token, so it can never change the shape of a key.
///
/// The last token may instead be a tail parameter `{name..}`: its value is a key path of one or
/// more tokens, so `config.{path..}` holds `config.a` and `config.a.b.c` alike (a tree of any
/// depth), and its filter with the tail left open is `config.>`.
///
/// ```
/// use natskv::{KeyPattern, PatternErrorKind};
///
/// let pattern = KeyPattern::parse("site.{site}.device.{id}")?;
/// assert_eq!(pattern.params().collect::<Vec<_>>(), ["site", "id"]);
/// assert_eq!(pattern.match_key("site.paris.device.7"), Some(vec!["paris", "7"]));
/// assert_eq!(pattern.filter(&[Some("paris")]), "site.paris.device.*");
///
/// let err = KeyPattern::parse("site.dev-{id}").unwrap_err();
/// assert_eq!(err.kind(), PatternErrorKind::MixedToken);
/// assert_eq!(err.span(), 5..13);
///
/// let tree = KeyPattern::parse("config.{path..}")?;
/// assert_eq!(tree.tail(), Some("path"));
/// assert_eq!(tree.match_key("config.a.b.c"), Some(vec!["a.b.c"]));
/// assert_eq!(tree.filter(&[]), "config.>");
/// # Ok::<(), natskv::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPattern {
    source: String,
    segments: Vec<Segment>,
}

fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {}
        Some('_') if name.len() > 1 => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl KeyPattern {
    /// Parses a pattern, refusing anything that could produce a key NATS refuses.
    pub fn parse(source: &str) -> Result<Self, PatternError> {
        use PatternErrorKind as K;
        let fail = |kind, span: Range<usize>, message: String| {
            Err(PatternError::new(kind, source, span, message))
        };
        if source.is_empty() {
            return fail(
                K::Empty,
                0..0,
                "the pattern is empty; write at least one token, such as `config` or `device.{id}`"
                    .to_owned(),
            );
        }
        let (body, tail) = split_tail(source)?;
        let mut segments: Vec<Segment> = Vec::new();
        for (start, token) in body.into_iter().flat_map(tokens_with_offsets) {
            if token.is_empty() {
                let span = start.saturating_sub(1)..(start + 1).min(source.len());
                return fail(
                    K::EmptyToken,
                    span,
                    "empty token (a leading, trailing or doubled `.`); \
                     every `.`-separated token needs at least one character"
                        .to_owned(),
                );
            }
            let segment = parse_segment(source, start, token, &segments)?;
            if segments.is_empty()
                && matches!(&segment, Segment::Literal(l) if l.starts_with(RESERVED_PREFIX))
            {
                return fail(
                    K::ReservedPrefix,
                    start..start + token.len(),
                    "keys starting with `_kv` are reserved by NATS; rename the first token"
                        .to_owned(),
                );
            }
            segments.push(segment);
        }
        if let Some((span, name)) = tail {
            let name = parse_param(source, span, name, &segments)?;
            segments.push(Segment::Tail(name));
        }
        Ok(Self {
            source: source.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The tokens, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The parameter names, in pattern order (a tail parameter, if any, last).
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) | Segment::Tail(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The name of the tail parameter `{name..}`, if the pattern ends with one.
    pub fn tail(&self) -> Option<&str> {
        match self.segments.last() {
            Some(Segment::Tail(name)) => Some(name),
            _ => None,
        }
    }

    /// The number of parameters.
    pub fn param_count(&self) -> usize {
        self.params().count()
    }

    /// Whether the pattern has no parameter, i.e. names exactly one key.
    pub fn is_literal(&self) -> bool {
        self.param_count() == 0
    }

    /// Appends a key: literal tokens and dots are written here, and `write_param(i, out)` appends
    /// the token of parameter `i` (in pattern order).
    ///
    /// The callback is trusted to append exactly one valid token (a valid key path for a tail);
    /// callers that cannot promise it check the result with [`validate_key`](crate::names::validate_key) (as
    /// `key::render_key` does).
    pub fn render_into<E>(
        &self,
        out: &mut String,
        mut write_param: impl FnMut(usize, &mut String) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut param = 0;
        for (index, segment) in self.segments.iter().enumerate() {
            if index > 0 {
                out.push('.');
            }
            match segment {
                Segment::Literal(literal) => out.push_str(literal),
                Segment::Param(_) | Segment::Tail(_) => {
                    write_param(param, out)?;
                    param += 1;
                }
            }
        }
        Ok(())
    }

    /// If `key` has exactly this pattern's shape (same number of tokens, equal literals, and a
    /// valid token in each parameter position), returns the parameter tokens in pattern order.
    /// A tail parameter takes the rest of the key (one or more valid tokens) as its one item.
    pub fn match_key<'k>(&self, key: &'k str) -> Option<Vec<&'k str>> {
        let mut params = Vec::with_capacity(self.param_count());
        self.match_params(key, |_, token| params.push(token))
            .then_some(params)
    }

    /// [`match_key`](Self::match_key) without collecting: whether `key` has this pattern's
    /// shape, handing each parameter token to `param` with its index (pattern order) on the way.
    /// On a mismatch some tokens may already have been handed over.
    pub(crate) fn match_params<'k>(
        &self,
        key: &'k str,
        mut param: impl FnMut(usize, &'k str),
    ) -> bool {
        // Split by hand: keys are short, and a search call per token costs more than the scan.
        let mut rest = Some(key);
        let mut index = 0;
        for segment in &self.segments {
            let Some(current) = rest else {
                return false;
            };
            if let Segment::Tail(_) = segment {
                // The last segment: it takes the rest of the key.
                if validate_path(current).is_err() {
                    return false;
                }
                param(index, current);
                return true;
            }
            let token = if let Some(at) = current.bytes().position(|b| b == b'.') {
                rest = current.get(at + 1..);
                current.get(..at).unwrap_or_default()
            } else {
                rest = None;
                current
            };
            match segment {
                Segment::Literal(literal) if literal == token => {}
                Segment::Literal(_) => return false,
                Segment::Param(_) | Segment::Tail(_) => {
                    if validate_token(token).is_err() {
                        return false;
                    }
                    param(index, token);
                    index += 1;
                }
            }
        }
        rest.is_none()
    }

    /// A subject filter for this pattern: parameter `i` (pattern order) becomes `fixed[i]` when
    /// it is `Some`, and `*` when it is `None` or missing (`>` for a tail parameter). A literal
    /// pattern gives itself.
    ///
    /// The fixed tokens are written as given; pass only tokens checked with [`validate_token`]
    /// (for a tail: a path checked with [`validate_path`], or one followed by `.>`).
    pub fn filter(&self, fixed: &[Option<&str>]) -> String {
        let mut out = String::with_capacity(self.source.len());
        let tail = self.tail().map(|_| self.param_count() - 1);
        let Ok(()) = self.render_into(&mut out, |i, out| {
            let open = if Some(i) == tail { ">" } else { "*" };
            out.push_str(fixed.get(i).copied().flatten().unwrap_or(open));
            Ok::<(), std::convert::Infallible>(())
        });
        out
    }

    /// Whether some key can match both patterns: at each position both have, equal literals or
    /// a parameter on at least one side, and a length both allow (a tail parameter takes one or
    /// more tokens, any other segment exactly one).
    pub fn overlaps(&self, other: &KeyPattern) -> bool {
        let (a, b) = (self.fixed_len(), other.fixed_len());
        let lengths = match a.cmp(&b) {
            std::cmp::Ordering::Equal => self.tail().is_some() == other.tail().is_some(),
            std::cmp::Ordering::Less => self.tail().is_some(),
            std::cmp::Ordering::Greater => other.tail().is_some(),
        };
        lengths
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    _ => true,
                })
    }

    /// Whether both patterns have the same literal tokens, and parameters (tails) in the same
    /// places, whatever the parameters are named: the same keys, named differently.
    pub fn same_places(&self, other: &KeyPattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_))
                    | (Segment::Tail(_), Segment::Tail(_)) => true,
                    _ => false,
                })
    }

    /// The number of segments that take exactly one token (all but a tail).
    fn fixed_len(&self) -> usize {
        self.segments.len() - usize::from(self.tail().is_some())
    }
}

/// A pattern's tokens before its tail (`None` when the tail is the whole pattern), and the tail
/// parameter if any (the span of `{name..}` and the name).
type Split<'a> = (Option<&'a str>, Option<(Range<usize>, &'a str)>);

/// Splits a pattern into the part before its tail parameter and the tail, or refuses a tail
/// that is not the whole last token.
fn split_tail(source: &str) -> Result<Split<'_>, PatternError> {
    const MARK: &str = "..}";
    let Some(at) = source.find(MARK) else {
        return Ok((Some(source), None));
    };
    let end = at + MARK.len();
    let open = source.get(..at).and_then(|s| s.rfind('{'));
    let token_start = source
        .get(..open.unwrap_or(at))
        .and_then(|s| s.rfind('.'))
        .map_or(0, |dot| dot + 1);
    if end != source.len() {
        return Err(PatternError::new(
            PatternErrorKind::TailNotLast,
            source,
            open.unwrap_or(at)..end,
            "a tail parameter `{name..}` takes the rest of the key, so it can only be the last \
             token; use `{name}` for one token here"
                .to_owned(),
        ));
    }
    let Some(open) = open else {
        return Ok((Some(source), None));
    };
    if open != token_start {
        return Err(PatternError::new(
            PatternErrorKind::MixedToken,
            source,
            token_start..end,
            "a tail parameter must fill whole tokens, as in `config.{path..}` rather than \
             `config-{path..}`"
                .to_owned(),
        ));
    }
    let name = source.get(open + 1..at).unwrap_or_default();
    let body = open.checked_sub(1).and_then(|dot| source.get(..dot));
    Ok((body, Some((open..end, name))))
}

/// Parses one non-empty token of `source`, starting at byte `start`.
fn parse_segment(
    source: &str,
    start: usize,
    token: &str,
    earlier: &[Segment],
) -> Result<Segment, PatternError> {
    use PatternErrorKind as K;
    let fail = |kind, span: Range<usize>, message: String| {
        Err(PatternError::new(kind, source, span, message))
    };
    let end = start + token.len();
    let stray = |c: usize| {
        fail(
            K::UnopenedBrace,
            start + c..start + c + 1,
            "`}` without a matching `{`; a parameter is written `{name}`".to_owned(),
        )
    };
    match (token.find('{'), token.find('}')) {
        (None, None) => check_literal(source, start, token).map(Segment::Literal),
        (Some(o), None) => fail(
            K::UnclosedBrace,
            start + o..end,
            "unclosed `{`; a parameter is written `{name}` and fills a whole `.`-separated token"
                .to_owned(),
        ),
        (None, Some(c)) => stray(c),
        (Some(o), Some(c)) if c < o => stray(c),
        (Some(0), Some(c)) if c + 1 == token.len() => {
            let name = token.get(1..c).unwrap_or_default();
            parse_param(source, start..end, name, earlier).map(Segment::Param)
        }
        (Some(_), Some(_)) => fail(
            K::MixedToken,
            start..end,
            format!(
                "token `{token}` mixes literal text and a parameter; a parameter must fill a \
                 whole token, as in `dev.{{id}}` rather than `dev-{{id}}`"
            ),
        ),
    }
}

/// Checks the parameter `name`, written `{name}` (or `{name..}`) at `span` of `source`.
fn parse_param(
    source: &str,
    span: Range<usize>,
    name: &str,
    earlier: &[Segment],
) -> Result<String, PatternError> {
    use PatternErrorKind as K;
    if name.is_empty() {
        return Err(PatternError::new(
            K::EmptyParam,
            source,
            span,
            "empty parameter `{}`; name it after a field of the key type, such as `{id}`"
                .to_owned(),
        ));
    }
    if !is_param_name(name) {
        return Err(PatternError::new(
            K::InvalidParamName,
            source,
            span.start + 1..span.start + 1 + name.len(),
            format!(
                "`{name}` is not a valid parameter name; use a Rust identifier such as `site` \
                 or `device_id`"
            ),
        ));
    }
    if earlier
        .iter()
        .any(|s| matches!(s, Segment::Param(p) | Segment::Tail(p) if p == name))
    {
        return Err(PatternError::new(
            K::DuplicateParam,
            source,
            span,
            format!("parameter `{name}` appears twice; each parameter may appear only once"),
        ));
    }
    Ok(name.to_owned())
}

fn check_literal(source: &str, start: usize, token: &str) -> Result<String, PatternError> {
    for (offset, ch) in token.char_indices() {
        if is_token_char(ch) {
            continue;
        }
        let span = start + offset..start + offset + ch.len_utf8();
        let (kind, message) = if matches!(ch, '*' | '>') {
            (
                PatternErrorKind::Wildcard,
                format!(
                    "wildcard {ch:?} cannot appear in a key pattern; \
                     put a parameter `{{name}}` where the key varies"
                ),
            )
        } else {
            (
                PatternErrorKind::InvalidChar,
                format!(
                    "character {ch:?} is not allowed in a key; \
                     literal tokens use A-Z a-z 0-9 `-` `_` `/` `=`"
                ),
            )
        };
        return Err(PatternError::new(kind, source, span, message));
    }
    Ok(token.to_owned())
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for KeyPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(pattern: &str) -> Option<PatternErrorKind> {
        KeyPattern::parse(pattern).err().map(|e| e.kind())
    }

    fn span(pattern: &str) -> Range<usize> {
        KeyPattern::parse(pattern)
            .err()
            .map_or(usize::MAX..usize::MAX, |e| e.span())
    }

    #[test]
    fn parses_segments_and_params() {
        let p = KeyPattern::parse("site.{site}.device.{id}").unwrap();
        assert_eq!(p.as_str(), "site.{site}.device.{id}");
        assert_eq!(
            p.segments(),
            &[
                Segment::Literal("site".into()),
                Segment::Param("site".into()),
                Segment::Literal("device".into()),
                Segment::Param("id".into()),
            ]
        );
        assert_eq!(p.params().collect::<Vec<_>>(), ["site", "id"]);
        assert_eq!(p.param_count(), 2);
        assert!(!p.is_literal());
        assert!(KeyPattern::parse("maintenance").unwrap().is_literal());
        assert_eq!(p.to_string(), p.as_str());
    }

    #[test]
    fn spans_point_at_the_problem() {
        assert_eq!(span(""), 0..0);
        assert_eq!(span("a..b"), 1..3);
        assert_eq!(span(".a"), 0..1);
        assert_eq!(span("a."), 1..2);
        assert_eq!(span("a.b c"), 3..4);
        assert_eq!(span("a.é"), 2..4);
        assert_eq!(span("a.{id"), 2..5);
        assert_eq!(span("a.id}"), 4..5);
        assert_eq!(span("a.{}"), 2..4);
        assert_eq!(span("a.{9x}"), 3..5);
        assert_eq!(span("{a}.{a}"), 4..7);
        assert_eq!(span("x.dev-{id}"), 2..10);
        assert_eq!(span("_kvx.a"), 0..4);
        assert_eq!(span("a.*"), 2..3);
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("a.{b}"), None);
        assert_eq!(kind("{_x}"), None);
        assert_eq!(kind("{_}"), Some(PatternErrorKind::InvalidParamName));
        assert_eq!(kind("{a.b}"), Some(PatternErrorKind::UnclosedBrace));
        assert_eq!(kind("}{"), Some(PatternErrorKind::UnopenedBrace));
        assert_eq!(kind("{a}{b}"), Some(PatternErrorKind::MixedToken));
        assert_eq!(kind("{_kv}.a"), None);
    }

    #[test]
    fn render_match_and_filter() {
        let p = KeyPattern::parse("site.{site}.device.{id}").unwrap();
        let mut out = String::new();
        let tokens = ["paris", "7"];
        p.render_into(&mut out, |i, out| {
            out.push_str(tokens[i]);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(out, "site.paris.device.7");
        assert_eq!(p.match_key(&out), Some(vec!["paris", "7"]));
        assert_eq!(p.match_key("site.paris.device"), None);
        assert_eq!(p.match_key("site.paris.device.7.config"), None);
        assert_eq!(p.match_key("site.paris.dev.7"), None);
        assert_eq!(p.match_key("site..device.7"), None);
        assert_eq!(p.match_key("site.*.device.7"), None);
        assert_eq!(p.filter(&[Some("paris"), None]), "site.paris.device.*");
        assert_eq!(p.filter(&[]), "site.*.device.*");
        assert_eq!(p.filter(&[None, Some("7")]), "site.*.device.7");
        let lit = KeyPattern::parse("maintenance").unwrap();
        assert_eq!(lit.filter(&[]), "maintenance");
        assert_eq!(lit.match_key("maintenance"), Some(vec![]));
    }

    #[test]
    fn render_stops_at_the_first_error() {
        let p = KeyPattern::parse("{a}.{b}").unwrap();
        let mut calls = 0;
        let result = p.render_into(&mut String::new(), |i, _| {
            calls += 1;
            if i == 0 { Err("no") } else { Ok(()) }
        });
        assert_eq!(result, Err("no"));
        assert_eq!(calls, 1);
    }

    #[test]
    fn overlaps() {
        let p = |s: &str| KeyPattern::parse(s).unwrap();
        assert!(p("site.{s}.device.{id}").overlaps(&p("site.{x}.device.{y}")));
        assert!(p("site.{s}.device.{id}").overlaps(&p("site.paris.device.{y}")));
        assert!(p("a.{x}").overlaps(&p("{y}.b")));
        assert!(!p("site.{s}.device.{id}").overlaps(&p("site.{s}.device.{id}.config")));
        assert!(!p("a.{x}").overlaps(&p("b.{x}")));
        assert!(p("maintenance").overlaps(&p("maintenance")));
        assert!(!p("maintenance").overlaps(&p("config")));
    }

    #[test]
    fn tail_parameters() {
        let p = KeyPattern::parse("config.{path..}").unwrap();
        assert_eq!(
            p.segments(),
            &[
                Segment::Literal("config".into()),
                Segment::Tail("path".into())
            ]
        );
        assert_eq!(p.params().collect::<Vec<_>>(), ["path"]);
        assert_eq!(p.tail(), Some("path"));
        assert_eq!(p.as_str(), "config.{path..}");
        assert_eq!(p.match_key("config.a"), Some(vec!["a"]));
        assert_eq!(p.match_key("config.a.b.c"), Some(vec!["a.b.c"]));
        assert_eq!(p.match_key("config"), None);
        assert_eq!(p.match_key("config."), None);
        assert_eq!(p.match_key("config.a..b"), None);
        assert_eq!(p.match_key("config.a.*"), None);
        assert_eq!(p.match_key("other.a"), None);
        assert_eq!(p.filter(&[]), "config.>");
        assert_eq!(p.filter(&[Some("a.b")]), "config.a.b");
        assert_eq!(p.filter(&[Some("a.>")]), "config.a.>");

        let q = KeyPattern::parse("t.{tenant}.{rest..}").unwrap();
        assert_eq!(q.params().collect::<Vec<_>>(), ["tenant", "rest"]);
        assert_eq!(q.match_key("t.x.a.b"), Some(vec!["x", "a.b"]));
        assert_eq!(q.match_key("t.x"), None);
        assert_eq!(q.filter(&[Some("x")]), "t.x.>");
        assert_eq!(q.filter(&[None, Some("a")]), "t.*.a");

        let whole = KeyPattern::parse("{all..}").unwrap();
        assert_eq!(whole.segments(), &[Segment::Tail("all".into())]);
        assert_eq!(whole.match_key("x.y"), Some(vec!["x.y"]));
        assert_eq!(whole.filter(&[]), ">");
        assert_eq!(KeyPattern::parse("site.{s}").unwrap().tail(), None);
    }

    #[test]
    fn misplaced_tails() {
        assert_eq!(kind("a.{p..}.b"), Some(PatternErrorKind::TailNotLast));
        assert_eq!(span("a.{p..}.b"), 2..7);
        assert_eq!(kind("{p..}.{q}"), Some(PatternErrorKind::TailNotLast));
        assert_eq!(kind("a-{p..}"), Some(PatternErrorKind::MixedToken));
        assert_eq!(span("x.a-{p..}"), 2..9);
        assert_eq!(kind("a.{..}"), Some(PatternErrorKind::EmptyParam));
        assert_eq!(kind("a.{9..}"), Some(PatternErrorKind::InvalidParamName));
        assert_eq!(span("a.{9..}"), 3..4);
        assert_eq!(kind("a.{x.y..}"), Some(PatternErrorKind::InvalidParamName));
        assert_eq!(kind("{p}.{p..}"), Some(PatternErrorKind::DuplicateParam));
        assert_eq!(kind(".{p..}"), Some(PatternErrorKind::EmptyToken));
        assert_eq!(kind("a..{p..}"), Some(PatternErrorKind::EmptyToken));
        assert_eq!(kind("a.{p.}"), Some(PatternErrorKind::UnclosedBrace));
        assert_eq!(kind("_kv.{p..}"), Some(PatternErrorKind::ReservedPrefix));
    }

    #[test]
    fn tails_overlap_by_length() {
        let p = |s: &str| KeyPattern::parse(s).unwrap();
        assert!(p("config.{p..}").overlaps(&p("config.global")));
        assert!(p("config.global").overlaps(&p("config.{p..}")));
        assert!(p("config.{p..}").overlaps(&p("config.{a}.{b}.c")));
        assert!(!p("config.{p..}").overlaps(&p("config")));
        assert!(!p("config").overlaps(&p("config.{p..}")));
        assert!(!p("config.{p..}").overlaps(&p("settings.{p..}")));
        assert!(p("config.{p..}").overlaps(&p("config.a.{q..}")));
        assert!(p("{all..}").overlaps(&p("anything.{x}")));
        assert!(!p("a.b.{p..}").overlaps(&p("a.c")));
        assert!(!p("a.b.{p..}").overlaps(&p("a.{x}")));
        assert!(p("a.{x}.{y..}").same_places(&p("a.{u}.{v..}")));
        assert!(!p("a.{x}").same_places(&p("a.{x..}")));
        assert!(!p("a.{x}").same_places(&p("b.{x}")));
    }
}
