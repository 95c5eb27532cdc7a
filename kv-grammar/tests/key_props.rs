//! Property tests: a parameter value can never change the shape of a key, and parsing is the
//! exact inverse of rendering.

use natskv_grammar::key::{
    Encoded, KeyError, KeyErrorReason, KeyFilter, KeyPart, KeyPath, KvKey, bind_params, parse_key,
    render_key,
};
use natskv_grammar::names::{validate_filter, validate_key, validate_path, validate_token};
use natskv_grammar::pattern::KeyPattern;
use proptest::prelude::*;

/// Strings that are often valid tokens and often almost valid.
fn near_tokens() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-/_=.a-zA-Z0-9*> \t]{0,12}",
        "[-/_=a-zA-Z0-9]{1,12}",
        "(_kv)?[-/_=a-z0-9]{0,4}",
    ]
}

/// A two-parameter key type, written the way `#[derive(KvKey)]` writes one.
#[derive(Debug, Clone, PartialEq)]
struct Pair {
    a: String,
    b: String,
}

impl KvKey for Pair {
    const PARAMS: &'static [&'static str] = &["a", "b"];

    fn write_param(&self, index: usize, out: &mut String) -> Result<(), KeyError> {
        match index {
            0 => self.a.write_token(out),
            1 => self.b.write_token(out),
            _ => Err(KeyError::no_such_param(index, 2)),
        }
    }

    fn from_tokens(tokens: &[&str]) -> Result<Self, KeyError> {
        match tokens {
            [a, b] => Ok(Self {
                a: String::parse_token(a)?,
                b: String::parse_token(b)?,
            }),
            _ => Err(KeyError::token_count(2, tokens.len())),
        }
    }
}

fn token_of<P: KeyPart>(value: &P) -> Result<String, KeyError> {
    let mut out = String::new();
    value.write_token(&mut out).map(|()| out)
}

/// Render through `pattern` (whose params are `a` and `b`, in either order) and check the result.
fn render_then_parse(source: &str, pair: &Pair) -> Result<(), TestCaseError> {
    let pattern = KeyPattern::parse(source).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let map = bind_params::<Pair>(&pattern).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let a_ok = validate_token(&pair.a).is_ok();
    let b_ok = validate_token(&pair.b).is_ok();
    match render_key(&pattern, &map, pair) {
        Ok(key) => {
            prop_assert!(a_ok && b_ok);
            prop_assert_eq!(validate_key(&key), Ok(()));
            let tokens = pattern.match_key(&key);
            prop_assert!(tokens.is_some(), "{key:?} is outside {source:?}");
            let expected = source.replace("{a}", &pair.a).replace("{b}", &pair.b);
            prop_assert_eq!(&key, &expected);
            prop_assert_eq!(parse_key::<Pair>(&pattern, &map, &key), Ok(pair.clone()));
        }
        Err(err) => {
            // Refused only for a reason: a bad token (named after its parameter), or a reserved
            // first token.
            let first_is_param = source.starts_with('{');
            let first = if source.starts_with("{a}") {
                &pair.a
            } else {
                &pair.b
            };
            match err.reason() {
                KeyErrorReason::InvalidToken { .. } => {
                    prop_assert!(!a_ok || !b_ok);
                    prop_assert!(matches!(err.param(), Some("a" | "b")));
                }
                KeyErrorReason::InvalidKey { .. } => {
                    prop_assert!(first_is_param && first.starts_with("_kv"));
                }
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn string_tokens_are_one_valid_token_or_refused(s in near_tokens()) {
        let mut out = String::new();
        match s.write_token(&mut out) {
            Ok(()) => {
                prop_assert_eq!(&out, &s);
                prop_assert_eq!(validate_token(&out), Ok(()));
                prop_assert!(!out.contains(['.', '*', '>']) && !out.chars().any(char::is_whitespace));
                prop_assert_eq!(String::parse_token(&out), Ok(s));
            }
            Err(err) => {
                let names_the_token =
                    matches!(err.reason(), KeyErrorReason::InvalidToken { token, .. } if *token == s);
                prop_assert!(names_the_token);
                prop_assert!(out.is_empty(), "nothing is written on error");
                prop_assert!(validate_token(&s).is_err());
                prop_assert!(String::parse_token(&s).is_err());
            }
        }
    }

    #[test]
    fn encoded_round_trips_any_string(s in near_tokens()) {
        let token = token_of(&Encoded::from(s.as_str()));
        prop_assert!(token.is_ok());
        let token = token.unwrap_or_default();
        prop_assert_eq!(validate_token(&token), Ok(()));
        prop_assert_eq!(Encoded::parse_token(&token).map(Encoded::into_inner), Ok(s));
    }

    #[test]
    fn encoded_parses_only_what_it_writes(token in "[-/_=A-Za-z0-9]{1,12}|(=[0-9A-Fa-f]{2}){1,4}") {
        if let Ok(decoded) = Encoded::parse_token(&token) {
            prop_assert_eq!(token_of(&decoded), Ok(token));
        }
    }

    #[test]
    fn rendered_keys_stay_inside_the_pattern(a in near_tokens(), b in near_tokens()) {
        let pair = Pair { a, b };
        render_then_parse("x.{a}.y.{b}", &pair)?;
        render_then_parse("{b}.{a}", &pair)?;
        render_then_parse("{a}.mid.{b}.end", &pair)?;
    }

    #[test]
    fn filters_stay_inside_the_pattern(a in near_tokens()) {
        let pattern = KeyPattern::parse("x.{a}.y.{b}").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let map = bind_params::<Pair>(&pattern).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let filter = KeyFilter::<Pair>::any().with(0, &a).to_subject_filter(&pattern, &map);
        match filter {
            Ok(filter) => {
                prop_assert_eq!(validate_filter(&filter), Ok(()));
                prop_assert_eq!(filter, format!("x.{a}.y.*"));
            }
            Err(_) => prop_assert!(validate_token(&a).is_err()),
        }
    }

    #[test]
    fn integers_round_trip(i in any::<i64>(), u in any::<u64>(), w in any::<i128>(), b in any::<u8>()) {
        prop_assert_eq!(token_of(&i).and_then(|t| i64::parse_token(&t)), Ok(i));
        prop_assert_eq!(token_of(&u).and_then(|t| u64::parse_token(&t)), Ok(u));
        prop_assert_eq!(token_of(&w).and_then(|t| i128::parse_token(&t)), Ok(w));
        prop_assert_eq!(token_of(&b).and_then(|t| u8::parse_token(&t)), Ok(b));
        let t = token_of(&i).unwrap_or_default();
        prop_assert_eq!(validate_token(&t), Ok(()));
    }

    #[test]
    fn integer_parsing_is_canonical(t in "[-+]?[0-9]{0,5}|[0-9]{18,21}") {
        if let Ok(v) = i64::parse_token(&t) {
            prop_assert_eq!(token_of(&v), Ok(t.clone()));
        }
        if let Ok(v) = u16::parse_token(&t) {
            prop_assert_eq!(token_of(&v), Ok(t));
        }
    }

    #[test]
    fn any_pattern_text_parses_or_is_refused_with_a_valid_span(
        s in prop_oneof![
            near_tokens(),
            "([a-c_]{0,2}[{}]?[a-c_9]{0,2}[{}]?[.]?){1,4}",
            "([a-c]{0,2}[.]?){0,2}[{]?[a-c]{0,2}([.][.])?[}]?([.][a-c]{0,2})?",
        ],
    ) {
        match KeyPattern::parse(&s) {
            Ok(pattern) => {
                prop_assert_eq!(pattern.as_str(), s.as_str());
                let names: Vec<&str> = pattern.params().collect();
                let mut unique = names.clone();
                unique.sort_unstable();
                unique.dedup();
                prop_assert_eq!(unique.len(), names.len());
                prop_assert_eq!(validate_filter(&pattern.filter(&[])), Ok(()));
            }
            Err(err) => {
                let span = err.span();
                prop_assert!(span.end <= s.len());
                prop_assert!(s.is_char_boundary(span.start) && s.is_char_boundary(span.end));
            }
        }
    }

    #[test]
    fn key_paths_are_valid_tokens_or_refused_and_round_trip(s in near_tokens()) {
        match KeyPath::parse(&s) {
            Ok(path) => {
                prop_assert_eq!(validate_path(&s), Ok(()));
                prop_assert!(path.tokens().all(|t| validate_token(t).is_ok()));
                let pattern = KeyPattern::parse("config.{path..}").unwrap();
                let map = bind_params::<KeyPath>(&pattern).unwrap();
                let key = render_key(&pattern, &map, &path).unwrap();
                prop_assert_eq!(&key, &format!("config.{s}"));
                prop_assert_eq!(validate_key(&key), Ok(()));
                prop_assert_eq!(pattern.match_key(&key), Some(vec![s.as_str()]));
                prop_assert_eq!(parse_key::<KeyPath>(&pattern, &map, &key), Ok(path));
            }
            Err(_) => prop_assert!(validate_path(&s).is_err()),
        }
    }
}
