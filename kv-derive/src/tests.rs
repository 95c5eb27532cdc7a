//! The macro run on declarations as text: it accepts and refuses exactly what the shared
//! grammar does, and reports every mistake of a declaration at once.

use natskv_grammar::names::validate_bucket_name;
use natskv_grammar::pattern::KeyPattern;
use proc_macro2::TokenStream;
use syn::DeriveInput;

#[allow(dead_code)]
#[path = "../../kv-grammar/tests/grammar_cases/mod.rs"]
mod cases;

fn bucket(source: &str) -> TokenStream {
    let input: DeriveInput = syn::parse_str(source).expect("a struct");
    crate::expand_bucket::derive(&input)
}

fn key(source: &str) -> TokenStream {
    let input: DeriveInput = syn::parse_str(source).expect("a struct");
    crate::expand_key::derive(&input)
}

/// The messages of the `compile_error!`s in an expansion.
fn errors(tokens: &TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = tokens.clone().into_iter().peekable();
    while let Some(token) = iter.next() {
        if matches!(&token, proc_macro2::TokenTree::Ident(ident) if ident == "compile_error") {
            // `compile_error ! { "message" }`
            let _bang = iter.next();
            if let Some(proc_macro2::TokenTree::Group(group)) = iter.next() {
                let lit: syn::LitStr = syn::parse2(group.stream()).expect("a message");
                out.push(lit.value());
            }
        }
    }
    out
}

fn with_pattern(pattern: &str) -> String {
    format!("#[kv(bucket = \"b\")] struct B {{ #[kv(key = {pattern:?})] f: Family<String, u8> }}")
}

#[test]
fn patterns_are_judged_by_the_shared_grammar() {
    for &(pattern, expected) in cases::CASES {
        let messages = errors(&bucket(&with_pattern(pattern)));
        match (expected, KeyPattern::parse(pattern)) {
            (None, Ok(_)) => assert!(messages.is_empty(), "{pattern:?}: {messages:?}"),
            (Some(kind), Err(error)) => {
                assert_eq!(format!("{:?}", error.kind()), kind, "{pattern:?}");
                assert_eq!(messages.len(), 1, "{pattern:?}: {messages:?}");
                assert!(
                    messages[0].starts_with(error.message()),
                    "{pattern:?}: {messages:?}"
                );
            }
            (expected, parsed) => {
                panic!("{pattern:?}: table says {expected:?}, grammar says {parsed:?}")
            }
        }
    }
}

#[test]
fn bucket_names_are_judged_by_the_shared_rules() {
    for &(name, expected) in cases::BUCKET_CASES {
        let source =
            format!("#[kv(bucket = {name:?})] struct B {{ #[kv(key = \"k\")] f: Single<u8> }}");
        let messages = errors(&bucket(&source));
        assert_eq!(
            messages.is_empty(),
            expected.is_none(),
            "{name:?}: {messages:?}"
        );
        assert_eq!(
            validate_bucket_name(name).is_ok(),
            expected.is_none(),
            "{name:?}"
        );
    }
}

#[test]
fn every_mistake_shows_in_one_build() {
    let tokens = bucket(
        "#[kv(bucket = \"a.b\", histroy = 5, storage = \"disk\", ttl = \"7 days\")]
         #[kv(ttl = \"1d\", ttl = \"2d\")]
         struct B {
             #[kv(key = \"a..b\")] f: Family<String, u8>,
             g: Single<u8>,
             #[kv(key = \"x.{id}\", color = \"red\")] h: Family<String, u8>,
             #[kv(key = \"x.{name}\")] i: Family<String, u8>,
         }",
    );
    let messages = errors(&tokens);
    let expect = [
        "invalid bucket name \"a.b\"",
        "unknown kv option `histroy`; did you mean `history`?",
        "unknown storage \"disk\"",
        "`ttl`: invalid duration \"7 days\"",
        "`ttl` is given twice",
        "empty token",
        "field `g` has no key pattern",
        "unknown kv option `color`",
        "key pattern \"x.{name}\" can match the same keys as \"x.{id}\" of field `h`",
    ];
    for start in expect {
        assert!(
            messages.iter().any(|m| m.starts_with(start)),
            "{start}: {messages:#?}"
        );
    }
    assert_eq!(messages.len(), expect.len(), "{messages:#?}");
    // A stub keeps the user's calls to the generated functions from adding errors.
    assert!(tokens.to_string().contains("fn ensure"));
}

#[test]
fn shape_errors() {
    for (source, start) in [
        (
            "#[kv(bucket = \"b\")] enum B { A }",
            "an enum cannot declare a bucket",
        ),
        (
            "#[kv(bucket = \"b\")] struct B(Single<u8>);",
            "a tuple struct cannot declare a bucket",
        ),
        (
            "#[kv(bucket = \"b\")] struct B;",
            "a unit struct cannot declare a bucket",
        ),
        (
            "#[kv(bucket = \"b\")] struct B {}",
            "a bucket needs at least one field",
        ),
        (
            "#[kv(bucket = \"b\")] struct B<T> { #[kv(key = \"k\")] f: Single<T> }",
            "a bucket struct",
        ),
        (
            "struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "`B` has no bucket name",
        ),
        (
            "#[kv] struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "write the options in parentheses",
        ),
        (
            "#[kv(bucket = \"b\", key = \"k\")] struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "`key` is a field option",
        ),
        (
            "#[kv(bucket = \"b\")] struct B { #[kv(key = \"k\", history = 1)] f: Single<u8> }",
            "`history` is a bucket option",
        ),
        (
            "#[kv(bucket = \"b\")] struct B { #[kv(key = \"k.{x}\")] f: Single<u8> }",
            "a Single is one key",
        ),
        (
            "#[kv(bucket = \"b\", history = \"5\")] struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "`history` takes a whole number",
        ),
        (
            "#[kv(bucket = \"b\", compression = 1)] struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "`compression` takes `true` or `false`",
        ),
        (
            "#[kv(bucket = \"b\", max_value_size = \"5GiB\")] struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "`max_value_size` must be less than 4GiB",
        ),
        (
            "#[kv(bucket = \"b\", metadata(a = \"1\", a = \"2\"))] struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "metadata key `a` is given twice",
        ),
        (
            "#[kv(bucket = \"b\", metadata = \"x\")] struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "write metadata as",
        ),
        (
            "#[kv(bucket)] struct B { #[kv(key = \"k\")] f: Single<u8> }",
            "`bucket` needs a value",
        ),
    ] {
        let messages = errors(&bucket(source));
        assert!(
            messages.iter().any(|m| m.starts_with(start)),
            "{source}: {messages:#?}"
        );
    }
    for (source, start) in [
        ("enum K { A }", "an enum cannot be a key type"),
        (
            "struct K(String, u32);",
            "a tuple key type has exactly one field, this one has 2",
        ),
        ("struct K;", "a unit struct cannot be a key type"),
        ("struct K {}", "a key type needs at least one field"),
        ("struct K<T> { a: T }", "a key type"),
        (
            "struct K { #[kv(rename = \"b\")] a: String }",
            "the fields of a key type take no",
        ),
        (
            "#[kv(bucket = \"b\")] struct K { a: String }",
            "unknown kv option `bucket`",
        ),
    ] {
        let messages = errors(&key(source));
        assert!(
            messages.iter().any(|m| m.starts_with(start)),
            "{source}: {messages:#?}"
        );
    }
}

#[test]
fn a_key_type_with_errors_keeps_its_filter_setters() {
    let tokens = key("pub struct K { #[kv(rename = \"b\")] pub site: String }");
    assert_eq!(errors(&tokens).len(), 1);
    let text = tokens.to_string();
    assert!(text.contains("struct KFilter"), "{text}");
    assert!(text.contains("fn site"), "{text}");
}

#[test]
fn valid_declarations_expand_without_errors() {
    let tokens = bucket(
        "#[kv(bucket = \"fleet\", description = \"d\", history = 5, ttl = \"7d\", \
              max_value_size = \"1MiB\", max_bytes = 1024, storage = \"memory\", replicas = 3, \
              compression, metadata(owner = \"ops\"), limit_markers = \"1s\", codec = \"natskv::Json\", \
              crate = \"kv\")]
         pub struct Fleet {
             #[kv(key = \"site.{site}.device.{id}\")] pub devices: Family<DeviceKey, State, Json>,
             #[kv(key = \"maintenance\")] pub maintenance: Single<bool, Json, PerKeyTtl>,
         }",
    );
    assert!(errors(&tokens).is_empty());
    let text = tokens.to_string();
    assert!(text.contains("kv :: __private"), "{text}");
    assert!(
        !text.contains(":: natskv"),
        "the crate option replaces ::natskv: {text}"
    );
    let tokens = key("pub struct DeviceKey { pub site: String, pub r#type: u32 }");
    assert!(errors(&tokens).is_empty());
    let text = tokens.to_string();
    assert!(text.contains("pub struct DeviceKeyFilter"), "{text}");
    assert!(
        text.contains("\"type\""),
        "the parameter of r#type is `type`: {text}"
    );
    assert!(text.contains("fn r#type"), "{text}");
}

/// The generated schema, from the expansion of `source`: the statements that build it.
fn schema_of(source: &str) -> String {
    let text = bucket(source).to_string();
    let start = text.find("let __kv_schema").expect("a schema");
    let end = text[start..]
        .rfind("__kv_schema }")
        .expect("the schema's end");
    text[start..start + end].to_owned()
}

#[test]
fn the_schema_covers_what_is_on_the_wire() {
    let schema = schema_of(
        "#[kv(bucket = \"b\", removed = [\"old.{id}\"])] struct B { #[kv(key = \"d.{id}\", breaking)] d: Family<u32, State>, #[kv(key = \"m\")] m: Single<bool> }",
    );
    // Each family by its field type (key, value and codec are read from it when `spec()` runs),
    // its pattern and its opt-in; then the removed families.
    for part in [
        "< Family < u32 , State > as :: natskv :: __private :: BucketField > :: add_to_schema (__kv_schema , \"d.{id}\" , true)",
        "< Single < bool > as :: natskv :: __private :: BucketField > :: add_to_schema (__kv_schema , \"m\" , false)",
        "Schema :: removed (__kv_schema , \"old.{id}\")",
    ] {
        assert!(schema.contains(part), "{part} in {schema}");
    }
}

#[test]
fn removed_patterns_are_checked() {
    let messages = errors(&bucket(
        "#[kv(bucket = \"b\", removed = [\"old..x\", \"d.{n}\"])] struct B { #[kv(key = \"d.{id}\")] d: Family<u32, State> }",
    ));
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("empty token"), "{messages:?}");
    assert!(messages[1].contains("both declared"), "{messages:?}");
}

fn with_origin(origin: &str) -> String {
    format!(
        "#[kv(bucket = \"b\", {origin})] struct B {{ #[kv(key = \"k\")] f: Single<u8, MsgPack, ReadOnly> }}"
    )
}

#[test]
fn origin_filters_are_judged_by_the_shared_rules() {
    for &(filter, expected) in cases::FILTER_CASES {
        let messages = errors(&bucket(&with_origin(&format!(
            "mirror(bucket = \"a\", keys = [{filter:?}])"
        ))));
        assert_eq!(
            messages.is_empty(),
            expected.is_none(),
            "{filter:?}: {messages:?}"
        );
        if let Err(error) = natskv_grammar::names::validate_filter(filter) {
            assert!(
                messages[0].contains(&error.to_string()),
                "{filter:?}: {messages:?}"
            );
        }
    }
    for &(name, expected) in cases::BUCKET_CASES {
        let messages = errors(&bucket(&with_origin(&format!("source(bucket = {name:?})"))));
        // A name that is valid may still be the bucket's own.
        if name != "b" {
            assert_eq!(
                messages.is_empty(),
                expected.is_none(),
                "{name:?}: {messages:?}"
            );
        }
    }
}

#[test]
fn topology_mistakes_show_in_one_build() {
    let messages = errors(&bucket(&with_origin(
        "mirror(bucket = \"a.b\", keys = [\"x..y\"], color = 1), source(bucket = \"b\"), writable",
    )));
    let expect = [
        "`mirror(bucket = ...)`: invalid bucket name \"a.b\"",
        "`mirror(keys = ...)`: invalid key filter \"x..y\"",
        "unknown `mirror(...)` option `color`",
        "a bucket is either a mirror or an aggregate, not both",
        "bucket \"b\" cannot take keys from itself",
        "a mirror is read-only: remove `writable`",
    ];
    for start in expect {
        assert!(
            messages.iter().any(|m| m.starts_with(start)),
            "{start}: {messages:#?}"
        );
    }
    assert_eq!(messages.len(), expect.len(), "{messages:#?}");
}

#[test]
fn topology_shape_errors() {
    for (origin, start) in [
        ("mirror = \"a\"", "write the origin in parentheses"),
        (
            "mirror(keys = [\"x\"])",
            "`mirror(...)` needs the origin bucket",
        ),
        ("source(bucket = 1)", "`bucket` takes a string"),
        (
            "mirror(bucket = \"a\"), mirror(bucket = \"c\")",
            "`mirror` is given twice",
        ),
        (
            "mirror(bucket = \"a\", bucket = \"c\")",
            "`bucket` is given twice",
        ),
        (
            "mirror(bucket = \"a\", keys = \"x.>\")",
            "`keys` takes a list",
        ),
        ("mirror(bucket = \"a\", keys = [])", "`keys` is empty"),
        (
            "mirror(bucket = \"a\", keys = [1])",
            "a key filter is a string",
        ),
        (
            "mirror(bucket = \"a\", keys = [\"x\", \"x\"])",
            "key filter \"x\" is given twice",
        ),
        (
            "mirror(bucket = \"a\", history = 5)",
            "`history` is an option of the bucket itself",
        ),
        (
            "mirror(bucket = \"b\")",
            "bucket \"b\" cannot mirror itself",
        ),
        (
            "source(bucket = \"a\"), writable = 1",
            "`writable` takes `true` or `false`",
        ),
        ("writable = false", "`writable` applies to an aggregate"),
    ] {
        let source = with_origin(origin);
        let messages = errors(&bucket(&source));
        assert!(
            messages.iter().any(|m| m.starts_with(start)),
            "{source}: {messages:#?}"
        );
        assert_eq!(messages.len(), 1, "{source}: {messages:#?}");
    }
}

#[test]
fn topologies_expand_to_origins_and_read_only_checks() {
    let text = |origin: &str| {
        let tokens = bucket(&with_origin(origin));
        assert!(errors(&tokens).is_empty(), "{origin}");
        tokens.to_string()
    };
    let mirror = text(
        "mirror(bucket = \"a\", keys = [\"x.>\", \"y.*\"], api_prefix = \"$JS.hub.API\", \
         deliver_prefix = \"d\", stream = \"KV_a\")",
    );
    for part in [
        "BucketSpec :: mirror",
        "Origin :: bucket (\"a\")",
        "[\"x.>\" , \"y.*\"]",
        "Origin :: api_prefix",
        "Origin :: deliver_prefix",
        "Origin :: stream",
        "assert_read_only_in_mirror",
    ] {
        assert!(mirror.contains(part), "{part}: {mirror}");
    }
    assert!(!mirror.contains("assert_without_limit_markers"), "{mirror}");
    let read_only = text("source(bucket = \"a\"), source(bucket = \"c\")");
    assert_eq!(read_only.matches("BucketSpec :: source").count(), 2);
    assert!(read_only.contains("assert_read_only_in_aggregate"));
    assert!(!read_only.contains("BucketSpec :: writable"));
    let writable = text("source(bucket = \"a\"), writable");
    assert!(writable.contains("BucketSpec :: writable"));
    assert!(!writable.contains("assert_read_only"), "{writable}");
}

#[test]
fn the_schema_leaves_the_topology_to_the_configuration() {
    let parts = |origin: &str| schema_of(&with_origin(origin));
    // Origins decide where values come from, not how they are encoded: `ensure` updates them.
    let base = parts("source(bucket = \"a\", keys = [\"x.>\", \"y.*\"]), source(bucket = \"c\")");
    for other in [
        "source(bucket = \"c\")",
        "source(bucket = \"a\", keys = [\"x.>\"]), source(bucket = \"d\"), writable",
        "mirror(bucket = \"a\", keys = [\"x.>\", \"y.*\"])",
    ] {
        assert_eq!(parts(other), base, "{other}");
    }
}
