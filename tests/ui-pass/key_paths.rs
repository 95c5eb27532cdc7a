//! Key paths: a tail parameter `{name..}` bound to a `KeyPath`, alone, in a key struct and in a
//! newtype, with its filters (`under` on the derived filter too).

use natskv::key::{bind_params, parse_key, render_key};
use natskv::{Family, KeyFilter, KeyPath, KeyPattern, KvBucket, KvKey, Single};

#[derive(KvKey, Debug, Clone, PartialEq)]
pub struct TenantPath {
    pub tenant: String,
    pub path: KeyPath,
}

#[derive(KvKey, Debug, Clone, PartialEq)]
pub struct Topic(pub KeyPath);

#[derive(KvBucket)]
#[kv(bucket = "settings")]
pub struct Settings {
    #[kv(key = "config.{path..}")]
    pub config: Family<KeyPath, u32>,
    #[kv(key = "tenant.{tenant}.{path..}")]
    pub tenants: Family<TenantPath, u32>,
    #[kv(key = "topic.{t..}")]
    pub topics: Family<Topic, u32>,
    #[kv(key = "config")]
    pub root: Single<u32>,
}

fn filter<K: KvKey>(pattern: &str, filter: impl Into<KeyFilter<K>>) -> String {
    let pattern = KeyPattern::parse(pattern).unwrap();
    let map = bind_params::<K>(&pattern).unwrap();
    filter.into().to_subject_filter(&pattern, &map).unwrap()
}

fn path(text: &str) -> KeyPath {
    KeyPath::parse(text).unwrap()
}

fn main() {
    assert_eq!(TenantPath::TAIL, Some(1));
    assert_eq!(Topic::TAIL, Some(0));

    let pattern = KeyPattern::parse("tenant.{tenant}.{path..}").unwrap();
    let map = bind_params::<TenantPath>(&pattern).unwrap();
    let key = TenantPath {
        tenant: "acme".into(),
        path: path("eu.paris.limit"),
    };
    let rendered = render_key(&pattern, &map, &key).unwrap();
    assert_eq!(rendered, "tenant.acme.eu.paris.limit");
    assert_eq!(parse_key::<TenantPath>(&pattern, &map, &rendered).unwrap(), key);

    let p = "tenant.{tenant}.{path..}";
    assert_eq!(filter(p, TenantPath::filter()), "tenant.*.>");
    assert_eq!(filter(p, TenantPath::filter().tenant("acme")), "tenant.acme.>");
    assert_eq!(
        filter(p, TenantPath::filter().tenant("acme").under(&path("eu"))),
        "tenant.acme.eu.>"
    );
    assert_eq!(
        filter(p, TenantPath::filter().path(path("eu.lyon"))),
        "tenant.*.eu.lyon"
    );
    assert_eq!(filter("topic.{t..}", Topic::filter().under(&path("a"))), "topic.a.>");
    assert_eq!(
        filter("config.{path..}", KeyFilter::<KeyPath>::any().under(&path("x.y"))),
        "config.x.y.>"
    );
    assert_eq!(filter("config.{path..}", KeyFilter::<KeyPath>::any()), "config.>");
}
