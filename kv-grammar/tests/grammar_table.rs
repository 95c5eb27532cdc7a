//! Checks every row of the shared grammar table (`grammar_cases/mod.rs`) against natskv-grammar.

mod grammar_cases;

use grammar_cases::{BUCKET_CASES, CASES, FILTER_CASES, KEY_CASES};
use natskv_grammar::names::{NameError, validate_bucket_name, validate_filter, validate_key};
use natskv_grammar::pattern::{KeyPattern, PatternErrorKind};

/// The variant name of a `Debug`-formatted enum value (`InvalidChar { .. }` -> `InvalidChar`).
fn variant(debug: &str) -> &str {
    debug.split([' ', '(']).next().unwrap_or(debug)
}

#[test]
fn pattern_table_has_enough_rows() {
    assert!(CASES.len() >= 40, "{} rows", CASES.len());
    assert!(CASES.iter().any(|(_, e)| e.is_none()));
}

#[test]
fn every_pattern_row() {
    let mut failures = Vec::new();
    for &(source, expected) in CASES {
        let got = KeyPattern::parse(source);
        let got_kind = got.as_ref().err().map(|e| format!("{:?}", e.kind()));
        if got_kind.as_deref() != expected {
            failures.push(format!(
                "{source:?}: expected {expected:?}, got {got_kind:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn refused_patterns_point_at_the_problem() {
    for &(source, _) in CASES {
        let Err(err) = KeyPattern::parse(source) else {
            continue;
        };
        let span = err.span();
        assert!(
            span.start <= span.end && span.end <= source.len(),
            "{source:?}: {span:?}"
        );
        assert!(
            source.is_char_boundary(span.start) && source.is_char_boundary(span.end),
            "{source:?}: {span:?}"
        );
        assert_eq!(
            span.is_empty(),
            err.kind() == PatternErrorKind::Empty,
            "{source:?}"
        );
        assert!(!err.message().is_empty());
        assert_eq!(err.pattern(), source);
        assert!(err.to_string().ends_with(err.message()), "{err}");
    }
}

#[test]
fn accepted_patterns_render_match_and_filter() {
    for &(source, expected) in CASES {
        if expected.is_some() {
            continue;
        }
        let Ok(pattern) = KeyPattern::parse(source) else {
            panic!("{source:?} is refused");
        };
        assert_eq!(pattern.as_str(), source);
        assert_eq!(pattern.segments().len(), source.split('.').count());
        let tokens: Vec<String> = (0..pattern.param_count())
            .map(|i| format!("v{i}"))
            .collect();
        let mut key = String::new();
        pattern
            .render_into(&mut key, |i, out| {
                out.push_str(&tokens[i]);
                Ok::<(), ()>(())
            })
            .unwrap_or_default();
        assert_eq!(validate_key(&key), Ok(()), "{source:?} -> {key:?}");
        let matched = pattern.match_key(&key);
        let expected_tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        assert_eq!(matched, Some(expected_tokens), "{source:?}");
        let filter = pattern.filter(&[]);
        assert_eq!(validate_filter(&filter), Ok(()), "{source:?} -> {filter:?}");
        assert_eq!(pattern.is_literal(), filter == source);
        assert!(pattern.overlaps(&pattern));
    }
}

fn check_names(
    table: &[(&str, Option<&str>)],
    validate: fn(&str) -> Result<(), NameError>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for &(input, expected) in table {
        let got = validate(input).err().map(|e| format!("{:?}", e.reason()));
        let got = got.as_deref().map(variant);
        if got != expected {
            failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
        }
    }
    failures
}

#[test]
fn every_bucket_key_and_filter_row() {
    let mut failures = check_names(BUCKET_CASES, validate_bucket_name);
    failures.extend(check_names(KEY_CASES, validate_key));
    failures.extend(check_names(FILTER_CASES, validate_filter));
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_literal_pattern_is_a_valid_key() {
    for &(source, expected) in CASES {
        let is_literal = KeyPattern::parse(source).is_ok_and(|p| p.is_literal());
        if is_literal {
            assert_eq!(expected, None);
            assert_eq!(validate_key(source), Ok(()), "{source:?}");
        }
    }
}
