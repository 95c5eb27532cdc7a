//! Unit tests of typed keys.

use super::bind::bind_names;
use super::*;
use crate::pattern::KeyPattern;

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
        assert!(matches!(err.reason(), KeyErrorReason::InvalidToken { token, .. } if token == bad));
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
