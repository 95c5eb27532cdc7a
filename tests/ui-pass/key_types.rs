//! Key types: named fields (raw identifiers too), a newtype, the built-in ones, and filters.

use natskv::key::{bind_params, parse_key, render_key};
use natskv::{Encoded, Family, KeyFilter, KeyPattern, KvBucket, KvKey};

#[derive(KvKey, Debug, Clone, PartialEq)]
pub struct EventKey {
    pub r#type: String,
    pub day: u32,
    pub urgent: bool,
    pub note: Encoded,
}

#[derive(KvKey, Debug, Clone, PartialEq)]
pub struct SessionId(pub String);

#[derive(KvBucket)]
#[kv(bucket = "events")]
pub struct Events {
    #[kv(key = "event.{type}.{day}.{urgent}.{note}")]
    pub events: Family<EventKey, String>,
    #[kv(key = "session.{session}")]
    pub sessions: Family<SessionId, String>,
    #[kv(key = "count.{n}")]
    pub counts: Family<u64, String>,
    #[kv(key = "name.{name}")]
    pub names: Family<Encoded, String>,
}

fn filter<K: KvKey>(pattern: &str, filter: impl Into<KeyFilter<K>>) -> String {
    let pattern = KeyPattern::parse(pattern).unwrap();
    let map = bind_params::<K>(&pattern).unwrap();
    filter.into().to_subject_filter(&pattern, &map).unwrap()
}

fn main() {
    assert_eq!(EventKey::PARAMS, ["type", "day", "urgent", "note"]);
    assert_eq!(SessionId::PARAMS, [natskv::key::ANY_PARAM]);

    let pattern = KeyPattern::parse("event.{type}.{day}.{urgent}.{note}").unwrap();
    let map = bind_params::<EventKey>(&pattern).unwrap();
    let key = EventKey {
        r#type: "door".into(),
        day: 12,
        urgent: true,
        note: "a b".into(),
    };
    let rendered = render_key(&pattern, &map, &key).unwrap();
    assert_eq!(rendered, "event.door.12.true.a=20b");
    assert_eq!(
        parse_key::<EventKey>(&pattern, &map, &rendered).unwrap(),
        key
    );
    let error = parse_key::<EventKey>(&pattern, &map, "event.door.x.true.a").unwrap_err();
    assert_eq!(error.param(), Some("day"));

    let p = "event.{type}.{day}.{urgent}.{note}";
    assert_eq!(filter(p, EventKey::filter()), "event.*.*.*.*");
    assert_eq!(
        filter(p, EventKey::filter().r#type("door").urgent(false)),
        "event.door.*.false.*"
    );
    assert_eq!(
        filter(p, EventKey::filter().note("x.y")),
        "event.*.*.*.x=2Ey"
    );
    assert_eq!(
        filter("session.{s}", SessionId::filter().value("abc")),
        "session.abc"
    );
    assert_eq!(filter("session.{s}", SessionId::filter()), "session.*");
    assert!(format!("{:?}", EventKey::filter().day(3_u32)).contains('3'));

    let bad: KeyFilter<EventKey> = EventKey::filter().r#type("a.b").into();
    let error = bad.to_subject_filter(&pattern, &map).unwrap_err();
    assert_eq!(error.param(), Some("type"));

    let session = SessionId::from_tokens(&["abc"]).unwrap();
    assert_eq!(session, SessionId("abc".into()));
    assert!(SessionId::from_tokens(&["a", "b"]).is_err());
    assert!(SessionId::from_tokens(&["a.b"]).is_err());
    assert!(EventKey::from_tokens(&["a"]).is_err());
    let mut out = String::new();
    assert!(key.write_param(9, &mut out).is_err());
}
