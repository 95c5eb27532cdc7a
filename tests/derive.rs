//! `#[derive(KvBucket)]` and `#[derive(KvKey)]` end to end, against a real nats-server: each test
//! starts its own server, so the fixed bucket names of the declarations do not collide.

mod common;

use std::time::Duration;

use futures::TryStreamExt;
use natskv::key::bind_params;
use natskv::{
    Bucket, BucketSpec, Encoded, Error, ErrorKind, Family, KeyFilter, KvBucket, KvKey, MsgPack,
    PerKeyTtl, SCHEMA_METADATA_KEY, Single, Storage, WatchEvent, WatchEvents,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct DeviceState {
    online: bool,
    firmware: String,
    battery: u8,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct DeviceConfig {
    interval_s: u32,
}

/// The parameters of a device key.
#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct DeviceKey {
    site: String,
    id: u32,
}

#[derive(KvBucket, Debug)]
#[kv(
    bucket = "fleet",
    description = "devices",
    history = 5,
    ttl = "7d",
    storage = "file",
    replicas = 1
)]
struct Fleet {
    /// Latest reported state of each device.
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, DeviceState>,
    /// Desired configuration of each device: same key type, another family.
    #[kv(key = "site.{site}.device.{id}.config")]
    configs: Family<DeviceKey, DeviceConfig>,
    /// Global maintenance switch.
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

/// The same declaration written differently: fields in another order, a type by another path.
#[allow(dead_code)] // only opened, to compare schemas
#[derive(KvBucket, Debug)]
#[kv(
    bucket = "fleet",
    description = "devices",
    history = 5,
    ttl = "7d",
    storage = "file",
    replicas = 1
)]
struct FleetReordered {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
    #[kv(key = "site.{site}.device.{id}.config")]
    configs: Family<crate::DeviceKey, DeviceConfig, natskv::MsgPack>,
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, DeviceState>,
}

/// Another schema under the same bucket name: the devices' values changed type.
#[allow(dead_code)] // only opened, to compare schemas
#[derive(KvBucket, Debug)]
#[kv(
    bucket = "fleet",
    description = "devices",
    history = 5,
    ttl = "7d",
    storage = "file",
    replicas = 1
)]
struct FleetV2 {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, DeviceConfig>,
    #[kv(key = "site.{site}.device.{id}.config")]
    configs: Family<DeviceKey, DeviceConfig>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn device(site: &str, id: u32) -> DeviceKey {
    DeviceKey {
        site: site.to_owned(),
        id,
    }
}

fn state(battery: u8) -> DeviceState {
    DeviceState {
        online: true,
        firmware: "1.2.0".to_owned(),
        battery,
    }
}

async fn sorted_keys<K: KvKey + Ord, V, C: natskv::Codec<V>>(
    family: &Family<K, V, C>,
    filter: impl Into<KeyFilter<K>>,
) -> Vec<K> {
    common::sorted(family.keys(filter).await.unwrap()).await
}

#[tokio::test]
async fn ensure_creates_the_declared_bucket() {
    let server = common::server().await;
    let nats = common::connect(&server).await;

    let fleet = Fleet::ensure(&nats).await.unwrap();
    assert_eq!(fleet.bucket().name(), "fleet");
    let status = fleet.status().await.unwrap();
    assert_eq!(status.name, "fleet");
    assert_eq!(status.description.as_deref(), Some("devices"));
    assert_eq!(status.history, 5);
    assert_eq!(status.ttl, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(status.storage, Storage::File);
    assert_eq!(status.replicas, 1);
    // The declaration's schema is in the stream's metadata (not a user entry).
    assert!(!status.metadata.contains_key(SCHEMA_METADATA_KEY));
    let mut stream = async_nats::jetstream::new(nats.clone())
        .get_stream("KV_fleet")
        .await
        .unwrap();
    let config = &stream.info().await.unwrap().config;
    assert_eq!(
        config.metadata.get(SCHEMA_METADATA_KEY),
        Fleet::spec()
            .schema_value()
            .map(natskv::Schema::to_text)
            .as_ref()
    );

    // Ensuring again changes nothing; opening checks the configuration and schema.
    Fleet::ensure(&nats).await.unwrap();
    let opened = Fleet::open(&nats).await.unwrap();
    assert_eq!(opened.devices.pattern().as_str(), "site.{site}.device.{id}");
    assert_eq!(opened.maintenance.key(), "maintenance");
    // Creating an existing bucket with the same configuration succeeds.
    Fleet::create(&nats).await.unwrap();
}

#[tokio::test]
async fn typed_put_get_update_delete() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fleet = Fleet::ensure(&nats).await.unwrap();

    let key = device("paris", 7);
    let rev = fleet.devices.put(&key, &state(90)).await.unwrap();
    let entry = fleet.devices.get(&key).await.unwrap().expect("a value");
    assert_eq!(entry.key, key);
    assert_eq!(entry.value, state(90));
    assert_eq!(entry.revision, rev);

    let next = fleet.devices.update(&key, &state(89), rev).await.unwrap();
    assert!(next > rev);
    let lost = fleet
        .devices
        .update(&key, &state(88), rev)
        .await
        .unwrap_err();
    assert_eq!(lost.kind(), ErrorKind::WrongRevision);
    assert!(matches!(lost, Error::WrongRevision { ref key, .. } if key == "site.paris.device.7"));
    assert_eq!(fleet.devices.value(&key).await.unwrap(), Some(state(89)));

    fleet.devices.delete(&key).await.unwrap();
    assert_eq!(fleet.devices.get(&key).await.unwrap(), None);

    // A parameter that would change the key's shape is refused before any wire call.
    let error = fleet
        .devices
        .put(&device("a.b", 1), &state(1))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidKey);

    fleet.maintenance.put(&true).await.unwrap();
    assert_eq!(fleet.maintenance.value().await.unwrap(), Some(true));
}

#[tokio::test]
async fn keys_parse_back_and_filters_select_them() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fleet = Fleet::ensure(&nats).await.unwrap();

    for (site, id) in [("paris", 1), ("paris", 2), ("lyon", 3)] {
        fleet
            .devices
            .put(&device(site, id), &state(50))
            .await
            .unwrap();
    }
    fleet
        .configs
        .put(&device("paris", 1), &DeviceConfig { interval_s: 30 })
        .await
        .unwrap();
    fleet.maintenance.put(&false).await.unwrap();

    // The filters render to the subjects the patterns call for.
    let pattern = fleet.devices.pattern();
    let map = bind_params::<DeviceKey>(pattern).unwrap();
    let subject = |filter: KeyFilter<DeviceKey>| filter.to_subject_filter(pattern, &map).unwrap();
    assert_eq!(subject(DeviceKey::filter().into()), "site.*.device.*");
    assert_eq!(
        subject(DeviceKey::filter().site("paris").into()),
        "site.paris.device.*"
    );
    assert_eq!(
        subject(DeviceKey::filter().id(3_u32).into()),
        "site.*.device.3"
    );
    assert_eq!(
        subject(DeviceKey::filter().site("lyon").id(3_u32).into()),
        "site.lyon.device.3"
    );

    // Keys come back parsed into the key type; the configs family's keys are not the devices'.
    assert_eq!(
        sorted_keys(&fleet.devices, DeviceKey::filter().site("paris")).await,
        [device("paris", 1), device("paris", 2)]
    );
    assert_eq!(
        sorted_keys(&fleet.devices, DeviceKey::filter().id(3_u32)).await,
        [device("lyon", 3)]
    );
    assert_eq!(sorted_keys(&fleet.devices, KeyFilter::any()).await.len(), 3);
    assert_eq!(
        sorted_keys(&fleet.configs, DeviceKey::filter()).await,
        [device("paris", 1)]
    );
    assert!(
        sorted_keys(&fleet.devices, DeviceKey::filter().site("nantes"))
            .await
            .is_empty()
    );

    // The families of one bucket keep their values apart.
    assert_eq!(
        fleet.configs.value(&device("paris", 1)).await.unwrap(),
        Some(DeviceConfig { interval_s: 30 })
    );
    assert_eq!(
        fleet.devices.value(&device("paris", 1)).await.unwrap(),
        Some(state(50))
    );

    // A filter value that is not a token is refused, not sent.
    let error = fleet
        .devices
        .keys(DeviceKey::filter().site("a b"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidKey);
}

/// The next event of a watch, within a bounded time.
async fn next_event(
    events: &mut WatchEvents<DeviceKey, DeviceState>,
) -> WatchEvent<natskv::Entry<DeviceKey, DeviceState>> {
    let next = tokio::time::timeout(Duration::from_secs(10), events.try_next());
    next.await
        .expect("an event in time")
        .unwrap()
        .expect("an open watch")
}

#[tokio::test]
async fn watches_follow_a_derived_filter() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fleet = Fleet::ensure(&nats).await.unwrap();
    fleet
        .devices
        .put(&device("paris", 1), &state(10))
        .await
        .unwrap();
    fleet
        .devices
        .put(&device("lyon", 2), &state(20))
        .await
        .unwrap();
    fleet
        .configs
        .put(&device("paris", 1), &DeviceConfig { interval_s: 5 })
        .await
        .unwrap();

    let mut events = fleet
        .devices
        .watch(DeviceKey::filter().site("paris"))
        .await
        .unwrap()
        .events();
    let WatchEvent::Entry(first) = next_event(&mut events).await else {
        panic!("the replay holds paris/1");
    };
    assert_eq!(
        (first.key, first.value),
        (device("paris", 1), Some(state(10)))
    );
    assert!(matches!(
        next_event(&mut events).await,
        WatchEvent::Initialized
    ));

    // Only paris devices come through: not lyon, not the configs family's keys.
    fleet
        .devices
        .put(&device("lyon", 4), &state(40))
        .await
        .unwrap();
    fleet
        .configs
        .put(&device("paris", 3), &DeviceConfig { interval_s: 5 })
        .await
        .unwrap();
    fleet
        .devices
        .put(&device("paris", 3), &state(30))
        .await
        .unwrap();
    let WatchEvent::Entry(update) = next_event(&mut events).await else {
        panic!("an update");
    };
    assert_eq!(update.key, device("paris", 3));
}

#[tokio::test]
async fn drift_from_the_declaration_is_reported() {
    let server = common::server().await;
    let nats = common::connect(&server).await;

    // Someone created the bucket by hand with another history.
    Bucket::create(
        &nats,
        &BucketSpec::new("fleet").description("devices").history(2),
    )
    .await
    .unwrap();
    let error = Fleet::open(&nats).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigDrift);
    let Error::ConfigDrift { differences, .. } = &error else {
        panic!("expected ConfigDrift, got {error:?}");
    };
    let history = differences
        .iter()
        .find(|d| d.option == "history")
        .expect("history differs");
    assert_eq!(
        (history.declared.as_str(), history.actual.as_str()),
        ("5", "2")
    );
    assert!(
        differences.iter().any(|d| d.option == "ttl"),
        "{differences:?}"
    );

    // `ensure` brings the bucket to the declaration; then it opens.
    Fleet::ensure(&nats).await.unwrap();
    let fleet = Fleet::open(&nats).await.unwrap();
    assert_eq!(fleet.status().await.unwrap().history, 5);
}

#[tokio::test]
async fn another_schema_under_the_same_name_is_refused() {
    let server = common::server().await;
    let nats = common::connect(&server).await;

    assert_ne!(Fleet::spec().schema_value(), FleetV2::spec().schema_value());
    Fleet::ensure(&nats).await.unwrap();
    for result in [FleetV2::open(&nats).await, FleetV2::ensure(&nats).await] {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::SchemaMismatch, "{error}");
        // The error names the family that changed, and only that one.
        let natskv::Error::SchemaMismatch { differences, .. } = &error else {
            panic!("{error:?}");
        };
        let [natskv::SchemaDifference::Changed { pattern, detail }] = &differences[..] else {
            panic!("{differences:?}");
        };
        assert_eq!(pattern, "site.{site}.device.{id}");
        assert!(detail.contains("is new and required"), "{detail}");
        let text = error.to_string();
        assert!(
            text.contains("family `site.{site}.device.{id}`: "),
            "{text}"
        );
        assert!(text.contains("breaking)]"), "says how to opt in: {text}");
    }
    // The same declaration written differently is the same schema.
    assert_eq!(
        Fleet::spec().schema_value(),
        FleetReordered::spec().schema_value()
    );
    FleetReordered::open(&nats).await.unwrap();
}

#[tokio::test]
async fn delete_removes_the_bucket() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    Fleet::ensure(&nats).await.unwrap();
    Fleet::delete(&nats).await.unwrap();
    let error = Fleet::open(&nats).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BucketNotFound);
}

/// A session id: a single-field tuple struct binds to its pattern's one parameter.
#[derive(KvKey, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SessionId(String);

#[derive(KvBucket, Debug)]
#[kv(bucket = "sessions", storage = "memory", codec = natskv::Json)]
struct SessionStore {
    #[kv(key = "session.{id}")]
    sessions: Family<SessionId, Vec<String>, natskv::Json>,
    #[kv(key = "visits.{day}")]
    visits: Family<u32, u64, natskv::Json>,
    #[kv(key = "note.{text}")]
    notes: Family<Encoded, String, natskv::Json>,
}

#[tokio::test]
async fn newtype_and_single_value_keys() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = SessionStore::ensure(&nats).await.unwrap();
    assert_eq!(bucket.status().await.unwrap().storage, Storage::Memory);

    let id = SessionId("abc".to_owned());
    bucket
        .sessions
        .put(&id, &vec!["home".to_owned()])
        .await
        .unwrap();
    bucket
        .sessions
        .put(&SessionId("xyz".to_owned()), &vec![])
        .await
        .unwrap();
    assert_eq!(
        bucket.sessions.value(&id).await.unwrap(),
        Some(vec!["home".to_owned()])
    );
    assert_eq!(
        sorted_keys(&bucket.sessions, SessionId::filter()).await,
        [id.clone(), SessionId("xyz".to_owned())]
    );
    assert_eq!(
        sorted_keys(&bucket.sessions, SessionId::filter().value("xyz"))
            .await
            .len(),
        1
    );

    bucket.visits.put(&20_240_101, &42).await.unwrap();
    assert_eq!(
        sorted_keys(&bucket.visits, KeyFilter::any()).await,
        [20_240_101]
    );

    let note = Encoded::from("hello world.");
    bucket.notes.put(&note, &"hi".to_owned()).await.unwrap();
    assert_eq!(bucket.notes.key(&note).unwrap(), "note.hello=20world=2E");
    assert_eq!(sorted_keys(&bucket.notes, KeyFilter::any()).await, [note]);
}

#[derive(KvBucket, Debug)]
#[kv(bucket = "locks", limit_markers = "1s")]
struct Locks {
    #[kv(key = "lock.{name}")]
    locks: Family<String, String, MsgPack, PerKeyTtl>,
}

#[tokio::test]
async fn per_key_ttl_on_a_bucket_with_limit_markers() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 11, 0), "per-key TTL") {
        return;
    }
    let nats = common::connect(&server).await;
    let locks = Locks::ensure(&nats).await.unwrap();
    assert_eq!(
        locks.status().await.unwrap().limit_markers,
        Some(Duration::from_secs(1))
    );

    let name = "leader".to_owned();
    locks
        .locks
        .create_with_ttl(&name, &"me".to_owned(), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        locks.locks.value(&name).await.unwrap(),
        Some("me".to_owned())
    );
    let family = locks.locks.clone();
    common::wait_for("the lock to expire", || {
        let family = family.clone();
        let name = name.clone();
        async move { family.value(&name).await.unwrap().is_none().then_some(()) }
    })
    .await;
}

/// One declaration, buckets under names chosen at run time (one per tenant): each has every
/// declared option and the declaration's schema, is independent of the others, and is checked
/// on open like the declared name.
#[tokio::test]
async fn a_declaration_serves_buckets_named_at_run_time() {
    let server = common::server().await;
    let nats = common::connect(&server).await;

    let eu = Fleet::ensure_named(&nats, "fleet-eu").await.unwrap();
    let us = Fleet::create_named(&nats, "fleet-us").await.unwrap();
    assert_eq!(eu.bucket().name(), "fleet-eu");
    let status = eu.status().await.unwrap();
    assert_eq!(
        (
            status.name.as_str(),
            status.description.as_deref(),
            status.history
        ),
        ("fleet-eu", Some("devices"), 5)
    );
    assert_eq!(status.ttl, Some(Duration::from_secs(7 * 86_400)));
    let mut stream = async_nats::jetstream::new(nats.clone())
        .get_stream("KV_fleet-us")
        .await
        .unwrap();
    assert_eq!(
        stream
            .info()
            .await
            .unwrap()
            .config
            .metadata
            .get(SCHEMA_METADATA_KEY),
        Fleet::spec()
            .schema_value()
            .map(natskv::Schema::to_text)
            .as_ref()
    );

    // Independent buckets.
    let key = DeviceKey {
        site: "paris".into(),
        id: 1,
    };
    let state = DeviceState {
        online: true,
        firmware: "1.0".into(),
        battery: 50,
    };
    eu.devices.put(&key, &state).await.unwrap();
    assert!(us.devices.get(&key).await.unwrap().is_none());
    let reopened = Fleet::open_named(&nats, "fleet-eu").await.unwrap();
    assert_eq!(reopened.devices.value(&key).await.unwrap(), Some(state));

    // The declared name is untouched, another declaration is refused under a runtime name too,
    // and a bad name fails before any wire call.
    assert_eq!(
        Fleet::open(&nats).await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
    assert_eq!(
        FleetV2::open_named(&nats, "fleet-eu")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::SchemaMismatch
    );
    assert_eq!(
        Fleet::ensure_named(&nats, "fleet.eu")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidBucketName
    );
}

/// Republish and placement declared on the struct: in the spec, applied to the bucket.
#[derive(KvBucket, Debug)]
#[kv(
    bucket = "announced",
    republish(to = "changes.>", keys = "site.>", headers_only),
    placement(tags = ["ssd"])
)]
struct Announced {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, DeviceState>,
}

/// The same without placement, for a server that has no tagged peers.
#[derive(KvBucket, Debug)]
#[kv(
    bucket = "announced",
    republish(to = "changes.>", keys = "site.>", headers_only)
)]
struct AnnouncedHere {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, DeviceState>,
}

#[tokio::test]
async fn republish_and_placement_are_declared_on_the_struct() {
    let spec = Announced::spec();
    assert_eq!(
        spec.republish_value(),
        Some(
            &natskv::Republish::to("changes.>")
                .keys("site.>")
                .headers_only()
        )
    );
    assert_eq!(
        spec.placement_value(),
        Some(&natskv::Placement::default().tags(["ssd"]))
    );

    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = AnnouncedHere::ensure(&nats).await.unwrap();
    let mut changes = nats.subscribe("changes.>").await.unwrap();
    nats.flush().await.unwrap();
    let key = DeviceKey {
        site: "paris".into(),
        id: 3,
    };
    let state = DeviceState {
        online: true,
        firmware: "2.0".into(),
        battery: 9,
    };
    let revision = bucket.devices.put(&key, &state).await.unwrap();
    let message = tokio::time::timeout(
        Duration::from_secs(5),
        futures::StreamExt::next(&mut changes),
    )
    .await
    .expect("republished")
    .expect("a message");
    assert!(message.payload.is_empty(), "headers only");
    assert_eq!(
        message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Sequence"))
            .map(|v| v.as_str().to_owned()),
        Some(revision.to_string())
    );
    assert_eq!(
        bucket.status().await.unwrap().republish,
        AnnouncedHere::spec().republish_value().cloned()
    );
}
