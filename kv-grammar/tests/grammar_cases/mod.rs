//! The key-pattern and naming grammar as data: every row is an input and the error it must give
//! (`None` when it is accepted), named as the variant's name.
//!
//! Shared: natskv-core's `tests/grammar_table.rs` checks every row against `natskv_grammar::pattern`, and
//! natskv-derive's tests can include this file with `#[path = ".../grammar_cases/mod.rs"] mod cases;`
//! to check the macro gives the same answers.

/// Key patterns, with the `PatternErrorKind` each must be refused with, or `None`.
pub(crate) const CASES: &[(&str, Option<&str>)] = &[
    // Accepted.
    ("maintenance", None),
    ("config", None),
    ("site.{site}.device.{id}", None),
    ("site.{site}.device.{id}.config", None),
    ("{id}", None),
    ("{a}.{b}", None),
    ("a.{b}.c.{d}.e.{f}", None),
    ("a-b_c/d=e", None),
    ("A.Z.0.9", None),
    ("=.-./._", None),
    ("{_private}", None),
    ("{snake_case_2}", None),
    ("{type}", None),
    ("kv.{x}", None),
    ("_k.{x}", None),
    ("x_kv.{x}", None),
    ("a._kv.{x}", None),
    ("{_kv}.x", None),
    // Empty pattern or empty token.
    ("", Some("Empty")),
    (".", Some("EmptyToken")),
    (".a", Some("EmptyToken")),
    ("a.", Some("EmptyToken")),
    ("a..b", Some("EmptyToken")),
    ("a.{b}.", Some("EmptyToken")),
    // Characters keys do not allow.
    ("a b", Some("InvalidChar")),
    ("a.b c", Some("InvalidChar")),
    ("é", Some("InvalidChar")),
    ("a,b", Some("InvalidChar")),
    ("a:b", Some("InvalidChar")),
    ("a\tb", Some("InvalidChar")),
    ("$KV.x", Some("InvalidChar")),
    ("a.{b}.c#", Some("InvalidChar")),
    // Wildcards belong to filters, not patterns.
    ("a.*", Some("Wildcard")),
    ("a.>", Some("Wildcard")),
    ("a*", Some("Wildcard")),
    ("*.{x}", Some("Wildcard")),
    // The reserved prefix.
    ("_kv", Some("ReservedPrefix")),
    ("_kv.x", Some("ReservedPrefix")),
    ("_kvstore.{x}", Some("ReservedPrefix")),
    // Braces.
    ("{id", Some("UnclosedBrace")),
    ("a.{id", Some("UnclosedBrace")),
    ("{a.b}", Some("UnclosedBrace")),
    ("id}", Some("UnopenedBrace")),
    ("}{", Some("UnopenedBrace")),
    ("a.b}", Some("UnopenedBrace")),
    ("{}", Some("EmptyParam")),
    ("a.{}", Some("EmptyParam")),
    // Parameter names.
    ("{9id}", Some("InvalidParamName")),
    ("{a-b}", Some("InvalidParamName")),
    ("{_}", Some("InvalidParamName")),
    ("{a b}", Some("InvalidParamName")),
    ("{é}", Some("InvalidParamName")),
    ("{a{b}", Some("InvalidParamName")),
    ("{a}.{a}", Some("DuplicateParam")),
    ("x.{id}.y.{id}", Some("DuplicateParam")),
    // A parameter fills a whole token.
    ("dev-{id}", Some("MixedToken")),
    ("{id}-x", Some("MixedToken")),
    ("{a}{b}", Some("MixedToken")),
    ("users/{user}", Some("MixedToken")),
];

/// Bucket names, with the `NameErrorReason` each must be refused with, or `None`.
pub(crate) const BUCKET_CASES: &[(&str, Option<&str>)] = &[
    ("fleet", None),
    ("Fleet_2-a", None),
    ("0", None),
    ("", Some("Empty")),
    ("a.b", Some("InvalidChar")),
    ("a b", Some("InvalidChar")),
    ("a/b", Some("InvalidChar")),
    ("a*", Some("InvalidChar")),
    ("é", Some("InvalidChar")),
];

/// Keys, with the `NameErrorReason` each must be refused with, or `None`.
pub(crate) const KEY_CASES: &[(&str, Option<&str>)] = &[
    ("a", None),
    ("site.paris.device.7", None),
    ("a-b_c/d=e", None),
    ("a._kv", None),
    ("", Some("Empty")),
    ("a..b", Some("EmptyToken")),
    (".a", Some("EmptyToken")),
    ("a.", Some("EmptyToken")),
    ("a b", Some("InvalidChar")),
    ("a.*", Some("Wildcard")),
    ("a.>", Some("Wildcard")),
    ("_kv", Some("Reserved")),
    ("_kvx.a", Some("Reserved")),
];

/// Key filters, with the `NameErrorReason` each must be refused with, or `None`.
pub(crate) const FILTER_CASES: &[(&str, Option<&str>)] = &[
    ("a", None),
    ("*", None),
    (">", None),
    ("site.*.device.*", None),
    ("site.paris.>", None),
    ("*.*.>", None),
    ("", Some("Empty")),
    ("a..*", Some("EmptyToken")),
    (">.a", Some("MisplacedWildcard")),
    ("a*", Some("MisplacedWildcard")),
    ("a.b>", Some("MisplacedWildcard")),
    ("a b.*", Some("InvalidChar")),
    ("_kv.>", Some("Reserved")),
];
