//! Errors that point inside a string literal: a key pattern, a bucket name or a key filter.
//!
//! `proc_macro2::Literal::subspan` gives the exact characters on compilers that support it; on
//! stable it does not, so the whole literal is underlined and the message repeats the text with
//! carets under the offending part.

use std::ops::Range;

use natskv_grammar::names::{NameError, NameErrorReason};
use natskv_grammar::pattern::PatternError;
use proc_macro2::Span;
use syn::LitStr;

/// The span of bytes `range` of the literal's value, when the compiler can give one.
fn subspan(lit: &LitStr, range: &Range<usize>) -> Option<Span> {
    let token = lit.token();
    let source = token.to_string();
    // Only a plain or raw string without escapes maps value bytes to source bytes one to one.
    let value_start = if source.starts_with('"') && !source.contains('\\') {
        1
    } else if source.starts_with('r') {
        source.find('"')? + 1
    } else {
        return None;
    };
    token.subspan(value_start + range.start..value_start + range.end)
}

/// The message, and when the span cannot point inside the literal, the literal's text with
/// carets under `range`.
fn located(lit: &LitStr, range: &Range<usize>, message: &str) -> syn::Error {
    if let Some(span) = subspan(lit, range) {
        return syn::Error::new(span, message);
    }
    let text = lit.value();
    let Some(before) = text.get(..range.start) else {
        return syn::Error::new(lit.span(), message);
    };
    let width = text
        .get(range.clone())
        .map_or(1, |s| s.chars().count().max(1));
    let caret_line = format!(
        "{}{}",
        " ".repeat(before.chars().count() + 1),
        "^".repeat(width)
    );
    syn::Error::new(
        lit.span(),
        format!("{message}\n  \"{text}\"\n  {caret_line}"),
    )
}

/// A key pattern that does not parse, pointed at its offending part.
pub(crate) fn pattern_error(lit: &LitStr, error: &PatternError) -> syn::Error {
    let range = error.span();
    if range.is_empty() {
        return syn::Error::new(lit.span(), error.message());
    }
    located(lit, &range, error.message())
}

/// A bucket name or a key filter that breaks the naming rules, reported with `message` and
/// pointed at the offending characters when the rule says which.
pub(crate) fn name_error(lit: &LitStr, error: &NameError, message: &str) -> syn::Error {
    let range = match error.reason() {
        NameErrorReason::InvalidChar { ch, at } | NameErrorReason::Wildcard { ch, at } => {
            at..at + ch.len_utf8()
        }
        NameErrorReason::MisplacedWildcard { at } | NameErrorReason::EmptyToken { at } => {
            at..at + 1
        }
        _ => return syn::Error::new(lit.span(), message),
    };
    located(lit, &range, message)
}
