//! Typed watches against a real nats-server: every start mode and option, the initialized
//! signal, error items that do not end the watch, unions of filters, untyped bucket watches,
//! and a resume across a server restart without gap or duplicate.

mod common;

use common::{DeviceKey, dev};

use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use natskv::{
    Bucket, BucketSpec, Entry, Error, ErrorKind, Family, KeyFilter, Operation, Result, Single,
    WatchEvent,
};
use serde::{Deserialize, Serialize};

impl DeviceKey {
    /// A partial key with the site fixed.
    fn site(site: &str) -> KeyFilter<DeviceKey> {
        DeviceKey::filter().site(site).into()
    }

    /// A partial key with the id fixed.
    fn id(id: u32) -> KeyFilter<DeviceKey> {
        DeviceKey::filter().id(id).into()
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct State {
    battery: u32,
}

fn state(battery: u32) -> State {
    State { battery }
}

type Devices = Family<DeviceKey, State>;
const DEVICES: &str = "site.{site}.device.{id}";
const CONFIGS: &str = "site.{site}.device.{id}.config";

/// A bucket of its own, and its device family.
async fn devices(nats: &async_nats::Client, history: u8) -> Devices {
    let spec = BucketSpec::new(common::unique_bucket("watch")).history(history);
    let bucket = Bucket::create(nats, &spec).await.expect("create bucket");
    Family::bind(&bucket, DEVICES).expect("bind")
}

const WAIT: Duration = Duration::from_secs(10);

/// The stream's next item, waiting at most [`WAIT`].
async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    match tokio::time::timeout(WAIT, stream.next()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("the watch ended"),
        Err(tokio::time::error::Elapsed { .. }) => panic!("no item within {WAIT:?}"),
    }
}

/// The next item, which must be an entry.
async fn entry<S, K, V>(stream: &mut S) -> Entry<K, V>
where
    S: Stream<Item = Result<Entry<K, V>>> + Unpin,
{
    next(stream).await.expect("an entry, not an error")
}

/// `(key, battery, operation)` of an entry, for compact assertions.
fn seen(e: &Entry<DeviceKey, State>) -> (u32, Option<u32>, Operation) {
    (e.key.id, e.value.as_ref().map(|s| s.battery), e.operation)
}

#[tokio::test]
async fn latest_values_then_updates_by_default() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 10).await;
    fam.put(&dev("paris", 1), &state(10)).await.unwrap();
    fam.put(&dev("paris", 1), &state(11)).await.unwrap();
    fam.put(&dev("paris", 2), &state(20)).await.unwrap();
    fam.put(&dev("paris", 3), &state(30)).await.unwrap();
    let deleted = fam.delete(&dev("paris", 3)).await.unwrap();

    let mut w = fam.watch(KeyFilter::any()).await.unwrap();
    assert!(!w.is_initialized());
    let first = entry(&mut w).await;
    assert_eq!(seen(&first), (1, Some(11), Operation::Put));
    assert_eq!(seen(&entry(&mut w).await), (2, Some(20), Operation::Put));
    assert!(!w.is_initialized());
    let marker = entry(&mut w).await;
    assert_eq!(seen(&marker), (3, None, Operation::Delete));
    assert_eq!((marker.revision, marker.delta), (deleted, 0));
    assert!(
        w.is_initialized(),
        "initialized right after the last replayed entry"
    );

    let rev = fam.put(&dev("lyon", 4), &state(40)).await.unwrap();
    let update = entry(&mut w).await;
    assert_eq!(seen(&update), (4, Some(40), Operation::Put));
    assert_eq!(update.key, dev("lyon", 4));
    assert_eq!(update.revision, rev);
    assert_eq!(w.last_revision(), rev);
}

#[tokio::test]
async fn full_history_then_updates() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 10).await;
    let k = dev("oslo", 1);
    let r1 = fam.put(&k, &state(1)).await.unwrap();
    let r2 = fam.put(&k, &state(2)).await.unwrap();
    let r3 = fam.delete(&k).await.unwrap();

    let mut w = fam.watch_with(&k).history().start().await.unwrap();
    let replay = [
        entry(&mut w).await,
        entry(&mut w).await,
        entry(&mut w).await,
    ];
    assert_eq!(
        replay.iter().map(|e| e.revision).collect::<Vec<_>>(),
        [r1, r2, r3]
    );
    assert_eq!(
        replay.iter().map(|e| e.delta).collect::<Vec<_>>(),
        [2, 1, 0]
    );
    assert_eq!(seen(&replay[2]), (1, None, Operation::Delete));
    assert!(w.is_initialized());

    let r4 = fam.put(&k, &state(4)).await.unwrap();
    assert_eq!(entry(&mut w).await.revision, r4);
}

#[tokio::test]
async fn updates_only_is_initialized_at_once() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    fam.put(&dev("rome", 1), &state(1)).await.unwrap();

    let w = fam
        .watch_with(KeyFilter::any())
        .updates_only()
        .start()
        .await
        .unwrap();
    assert!(w.is_initialized(), "nothing to replay");
    let mut events = w.events();
    assert_eq!(next(&mut events).await.unwrap(), WatchEvent::Initialized);
    let rev = fam.put(&dev("rome", 2), &state(2)).await.unwrap();
    let WatchEvent::Entry(e) = next(&mut events).await.unwrap() else {
        panic!("expected the update");
    };
    assert_eq!((e.key.id, e.revision), (2, rev));
}

#[tokio::test]
async fn updates_only_does_not_replay_after_a_restart_before_any_update() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    for id in 0..5 {
        fam.put(&dev("rome", id), &state(id)).await.unwrap();
    }
    let mut w = fam
        .watch_with(KeyFilter::any())
        .updates_only()
        .start()
        .await
        .unwrap();

    server.restart().await.unwrap();
    let rev = put_until_acknowledged(&fam, &dev("rome", 9), &state(9)).await;
    let e = entry(&mut w).await;
    assert_eq!(
        e.revision, rev,
        "only the update, not the entries before the watch"
    );
}

#[tokio::test]
async fn from_a_revision() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 10).await;
    let k = dev("kyiv", 1);
    fam.put(&k, &state(1)).await.unwrap();
    let r2 = fam.put(&k, &state(2)).await.unwrap();
    let r3 = fam.put(&k, &state(3)).await.unwrap();

    let mut w = fam
        .watch_with(KeyFilter::any())
        .from_revision(r2)
        .start()
        .await
        .unwrap();
    assert_eq!(entry(&mut w).await.revision, r2);
    assert_eq!(entry(&mut w).await.revision, r3);
    assert!(w.is_initialized());
    let r4 = fam.put(&k, &state(4)).await.unwrap();
    assert_eq!(entry(&mut w).await.revision, r4);

    // A revision past the end is an empty range: initialized at once.
    let w = fam
        .watch_with(KeyFilter::any())
        .from_revision(r4 + 100)
        .start()
        .await
        .unwrap();
    assert!(w.is_initialized());
}

#[tokio::test]
async fn initialized_fires_for_an_empty_range() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    fam.put(&dev("paris", 1), &state(1)).await.unwrap();

    for w in [
        fam.watch(DeviceKey::site("nowhere")).await.unwrap(),
        fam.watch_with(DeviceKey::site("nowhere"))
            .history()
            .start()
            .await
            .unwrap(),
    ] {
        assert!(w.is_initialized());
        let mut events = w.events();
        assert_eq!(next(&mut events).await.unwrap(), WatchEvent::Initialized);
        let rev = fam.put(&dev("nowhere", 1), &state(5)).await.unwrap();
        let WatchEvent::Entry(e) = next(&mut events).await.unwrap() else {
            panic!("expected the update");
        };
        assert_eq!(e.revision, rev);
        fam.purge(&dev("nowhere", 1)).await.unwrap();
    }
}

#[tokio::test]
async fn initialized_is_an_event_after_the_replay() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    fam.put(&dev("paris", 2), &state(2)).await.unwrap();
    fam.delete(&dev("paris", 2)).await.unwrap();

    // The replay's last entry is a marker that ignore_deletes leaves out: the signal still
    // comes, right after the entries that are delivered.
    let mut events = fam
        .watch_with(KeyFilter::any())
        .ignore_deletes()
        .start()
        .await
        .unwrap()
        .events();
    assert!(matches!(next(&mut events).await.unwrap(), WatchEvent::Entry(e) if e.key.id == 1));
    assert_eq!(next(&mut events).await.unwrap(), WatchEvent::Initialized);
    assert!(events.is_initialized());
    fam.put(&dev("paris", 3), &state(3)).await.unwrap();
    assert!(matches!(next(&mut events).await.unwrap(), WatchEvent::Entry(e) if e.key.id == 3));
}

#[tokio::test]
async fn ignore_deletes_drops_delete_and_purge_markers() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 10).await;
    let (a, b) = (dev("lima", 1), dev("lima", 2));
    fam.put(&a, &state(1)).await.unwrap();
    fam.delete(&a).await.unwrap();
    fam.put(&b, &state(2)).await.unwrap();
    fam.purge(&b).await.unwrap();
    let last = fam.put(&a, &state(3)).await.unwrap();

    let mut w = fam
        .watch_with(KeyFilter::any())
        .history()
        .ignore_deletes()
        .start()
        .await
        .unwrap();
    // The purge removed b's value, so the kept history is: a=1, a DEL, b PURGE, a=3.
    assert_eq!(seen(&entry(&mut w).await), (1, Some(1), Operation::Put));
    let e = entry(&mut w).await;
    assert_eq!((seen(&e), e.revision), ((1, Some(3), Operation::Put), last));

    fam.delete(&a).await.unwrap();
    fam.purge(&b).await.unwrap();
    let after = fam.put(&b, &state(4)).await.unwrap();
    let e = entry(&mut w).await;
    assert_eq!(
        (seen(&e), e.revision),
        ((2, Some(4), Operation::Put), after),
        "markers skipped"
    );
}

#[tokio::test]
async fn meta_only_delivers_keys_and_revisions_without_values() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    let r1 = fam.put(&dev("nice", 1), &state(1)).await.unwrap();

    let mut w = fam
        .watch_with(KeyFilter::any())
        .meta_only()
        .start()
        .await
        .unwrap();
    let e = entry(&mut w).await;
    assert_eq!(
        (e.key.id, e.revision, e.value, e.operation),
        (1, r1, None, Operation::Put)
    );
    let r2 = fam.delete(&dev("nice", 1)).await.unwrap();
    let e = entry(&mut w).await;
    assert_eq!((e.revision, e.operation), (r2, Operation::Delete));

    // The untyped watch shows that no value bytes came.
    let mut raw = fam
        .bucket()
        .watch_with()
        .meta_only()
        .history()
        .start()
        .await
        .unwrap();
    let e = entry(&mut raw).await;
    assert_eq!((e.key.as_str(), e.value), ("site.nice.device.1", None));
}

#[tokio::test]
async fn a_typed_partial_filter_watches_only_its_keys() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    fam.put(&dev("lyon", 2), &state(2)).await.unwrap();

    let mut w = fam.watch(DeviceKey::site("paris")).await.unwrap();
    assert_eq!(entry(&mut w).await.key, dev("paris", 1));
    assert!(w.is_initialized());
    fam.put(&dev("lyon", 3), &state(3)).await.unwrap();
    let rev = fam.put(&dev("paris", 4), &state(4)).await.unwrap();
    let e = entry(&mut w).await;
    assert_eq!(
        (e.key, e.revision),
        (dev("paris", 4), rev),
        "lyon is filtered out"
    );

    // A filter parameter that cannot be a token is refused before any wire call.
    let err = fam.watch(DeviceKey::site("a.b")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
}

#[tokio::test]
async fn undecodable_values_and_foreign_keys_are_error_items_and_the_watch_goes_on() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    let js = async_nats::jetstream::new(nats.clone());
    let prefix = format!("$KV.{}.", fam.bucket().name());
    let publish = |key: &str, payload: &'static [u8]| {
        let js = js.clone();
        let subject = format!("{prefix}{key}");
        async move {
            js.publish(subject, Bytes::from_static(payload))
                .await
                .unwrap()
                .await
                .unwrap()
                .sequence
        }
    };

    let mut w = fam
        .watch_with(KeyFilter::any())
        .updates_only()
        .start()
        .await
        .unwrap();
    let good = fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    let garbage = publish("site.paris.device.2", b"\xc1 not msgpack").await;
    let foreign = publish("site.paris.device.seven", b"").await;
    let after = fam.put(&dev("paris", 3), &state(3)).await.unwrap();

    assert_eq!(entry(&mut w).await.revision, good);
    let err = next(&mut w).await.unwrap_err();
    assert!(matches!(err, Error::Codec { .. }), "{err:?}");
    assert_eq!(err.key(), Some("site.paris.device.2"));
    assert_eq!(err.revision(), Some(garbage));
    let err = next(&mut w).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey, "{err:?}");
    assert_eq!(
        err.key(),
        Some("site.paris.device.seven"),
        "the error names the key"
    );
    assert_eq!(err.revision(), Some(foreign), "and its revision");
    assert_eq!(entry(&mut w).await.revision, after, "the watch goes on");
}

#[tokio::test]
async fn several_filters_are_one_stream_each_entry_once() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    let r1 = fam.put(&dev("paris", 7), &state(1)).await.unwrap();
    fam.put(&dev("berlin", 1), &state(2)).await.unwrap();
    let r3 = fam.put(&dev("lyon", 7), &state(3)).await.unwrap();
    let r4 = fam.put(&dev("paris", 2), &state(4)).await.unwrap();

    // Disjoint filters: filtered on the server, as a union.
    let mut w = fam
        .watch_many([DeviceKey::site("paris"), DeviceKey::site("lyon")])
        .start()
        .await
        .unwrap();
    let revs = [
        entry(&mut w).await.revision,
        entry(&mut w).await.revision,
        entry(&mut w).await.revision,
    ];
    assert_eq!(revs, [r1, r3, r4]);
    assert!(w.is_initialized());

    // Overlapping filters (paris.7 matches both), which one consumer cannot take: still each
    // entry once, and nothing outside the union.
    let mut w = fam
        .watch_with(DeviceKey::site("paris"))
        .or(DeviceKey::id(7))
        .start()
        .await
        .unwrap();
    let revs = [
        entry(&mut w).await.revision,
        entry(&mut w).await.revision,
        entry(&mut w).await.revision,
    ];
    assert_eq!(revs, [r1, r3, r4]);
    assert!(w.is_initialized());
    fam.put(&dev("berlin", 2), &state(5)).await.unwrap();
    let r6 = fam.put(&dev("berlin", 7), &state(6)).await.unwrap();
    let r7 = fam.put(&dev("paris", 7), &state(7)).await.unwrap();
    assert_eq!(entry(&mut w).await.revision, r6);
    assert_eq!(entry(&mut w).await.revision, r7);

    // A filter covered by another adds nothing.
    let mut w = fam
        .watch_many([&dev("paris", 7)])
        .or(DeviceKey::site("paris"))
        .start()
        .await
        .unwrap();
    assert_eq!(entry(&mut w).await.revision, r4);
    assert_eq!(entry(&mut w).await.revision, r7);
    assert!(w.is_initialized());

    // No partial key at all watches nothing: refused, never read as "every key", and no
    // consumer is created for it.
    let js = async_nats::jetstream::new(nats.clone());
    let stream = format!("KV_{}", fam.bucket().name());
    let consumers = || async {
        let mut stream = js.get_stream(&stream).await.unwrap();
        stream.info().await.unwrap().state.consumer_count
    };
    let before = consumers().await;
    let none: [&DeviceKey; 0] = [];
    let err = fam.watch_many(none).start().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    assert!(
        matches!(&err, Error::InvalidKey { source, .. }
            if *source.reason() == natskv::KeyErrorReason::NoFilters),
        "{err:?}"
    );
    assert_eq!(consumers().await, before, "no consumer was created");
}

#[tokio::test]
async fn bucket_watches_span_families_and_decode_per_family() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    let configs: Family<DeviceKey, String> = Family::bind(fam.bucket(), CONFIGS).unwrap();
    let maintenance: Single<bool> = Single::bind(fam.bucket(), "maintenance").unwrap();
    let r1 = fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    let r2 = configs
        .put(&dev("paris", 1), &"fast".to_owned())
        .await
        .unwrap();
    let r3 = maintenance.put(&true).await.unwrap();

    // Two families in one stream: typed per family.
    let mut w = fam
        .bucket()
        .watch_with()
        .family(&fam, KeyFilter::any())
        .family(&configs, DeviceKey::site("paris"))
        .start()
        .await
        .unwrap();
    let e = entry(&mut w).await;
    assert_eq!(e.revision, r1);
    let device = fam.try_decode(&e).expect("a device key").unwrap();
    assert_eq!(device.value, Some(state(1)));
    assert!(configs.try_decode(&e).is_none(), "not a config key");
    let e = entry(&mut w).await;
    assert_eq!(e.revision, r2);
    assert_eq!(
        configs.try_decode(&e).unwrap().unwrap().value.as_deref(),
        Some("fast")
    );
    assert!(
        w.is_initialized(),
        "the maintenance key is not in this union"
    );

    // The whole bucket, untyped.
    let mut all = fam.bucket().watch_all().await.unwrap();
    let keys = [
        entry(&mut all).await.key,
        entry(&mut all).await.key,
        entry(&mut all).await.key,
    ];
    assert_eq!(
        keys,
        [
            "site.paris.device.1",
            "site.paris.device.1.config",
            "maintenance"
        ]
    );
    assert!(all.is_initialized());
    assert_eq!(all.last_revision(), r3);
    let mut events = all.events();
    assert_eq!(next(&mut events).await.unwrap(), WatchEvent::Initialized);

    // A raw key filter.
    let mut w = fam
        .bucket()
        .watch_with()
        .key_filter("site.*.device.*.config")
        .start()
        .await
        .unwrap();
    assert_eq!(entry(&mut w).await.revision, r2);
    let err = fam
        .bucket()
        .watch_with()
        .key_filter("bad..filter")
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
}

#[tokio::test]
async fn a_single_key_can_be_watched() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new("single").history(5))
        .await
        .unwrap();
    let maintenance: Single<bool> = Single::bind(&bucket, "maintenance").unwrap();
    let r1 = maintenance.put(&false).await.unwrap();
    let mut w = maintenance.watch().await.unwrap();
    assert_eq!(entry(&mut w).await.revision, r1);
    let r2 = maintenance.put(&true).await.unwrap();
    let e = entry(&mut w).await;
    assert_eq!((e.revision, e.value), (r2, Some(true)));
    let mut h = maintenance.watch_with().history().start().await.unwrap();
    assert_eq!(entry(&mut h).await.revision, r1);
}

#[tokio::test]
async fn stop_removes_the_consumer_now() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    let consumers = || common::consumer_count(&nats, fam.bucket().name());
    let w = fam.watch(KeyFilter::any()).await.unwrap();
    assert_eq!(consumers().await, 1);
    w.stop().await;
    assert_eq!(consumers().await, 0);
}

/// Puts until the server acknowledges (it may be restarting), and returns the revision.
async fn put_until_acknowledged(fam: &Devices, key: &DeviceKey, value: &State) -> u64 {
    common::wait_for("a put to be acknowledged", || async {
        match tokio::time::timeout(Duration::from_secs(2), fam.put(key, value)).await {
            Ok(Ok(revision)) => Some(revision),
            _ => None,
        }
    })
    .await
}

#[tokio::test]
async fn a_watch_resumes_after_a_server_restart_without_gap_or_duplicate() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await; // file storage, the default
    let mut w = fam
        .watch_with(KeyFilter::any())
        .history()
        .start()
        .await
        .unwrap();
    assert!(w.is_initialized());

    let mut written = 0;
    for id in 0..30 {
        written = fam.put(&dev("paris", id), &state(id)).await.unwrap();
    }
    // Read part of it, restart the server mid-watch, and keep writing.
    let mut revisions = Vec::new();
    for _ in 0..20 {
        revisions.push(entry(&mut w).await.revision);
    }
    server.restart().await.unwrap();
    for id in 30..60 {
        written = put_until_acknowledged(&fam, &dev("paris", id), &state(id)).await;
    }
    while revisions.last() != Some(&written) {
        // A restart is not an error item: the watch recovers on its own.
        revisions.push(entry(&mut w).await.revision);
    }
    let expected: Vec<u64> = (1..=written).collect();
    assert_eq!(revisions, expected, "every revision once, in order");

    // And once more, this time while the watch waits with nothing buffered.
    server.restart().await.unwrap();
    let after = put_until_acknowledged(&fam, &dev("paris", 99), &state(99)).await;
    let e = entry(&mut w).await;
    assert_eq!(e.revision, written + 1);
    assert_eq!(after, e.revision);
}

#[tokio::test]
async fn latest_values_replay_survives_a_restart_before_the_first_entry() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 5).await;
    for round in 0..3 {
        for id in 0..5 {
            fam.put(&dev("oslo", id), &state(round * 10 + id))
                .await
                .unwrap();
        }
    }
    let mut w = fam.watch(KeyFilter::any()).await.unwrap();
    server.restart().await.unwrap();
    let replay = [
        entry(&mut w).await,
        entry(&mut w).await,
        entry(&mut w).await,
        entry(&mut w).await,
        entry(&mut w).await,
    ];
    let batteries: Vec<_> = replay
        .iter()
        .map(|e| e.value.as_ref().unwrap().battery)
        .collect();
    assert_eq!(
        batteries,
        [20, 21, 22, 23, 24],
        "each key's latest value, once"
    );
    assert!(w.is_initialized());
    let rev = put_until_acknowledged(&fam, &dev("oslo", 9), &state(9)).await;
    assert_eq!(entry(&mut w).await.revision, rev);
}

#[tokio::test]
async fn a_slow_reader_holds_the_server_back() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, 1).await;
    let total = 3_000;
    for id in 0..total {
        fam.put(&dev("rome", id), &state(id)).await.unwrap();
    }
    let mut w = fam
        .watch_with(KeyFilter::any())
        .history()
        .start()
        .await
        .unwrap();
    assert_eq!(entry(&mut w).await.revision, 1);

    // One entry read: the server has sent at most a batch or two, not everything.
    let js = async_nats::jetstream::new(nats.clone());
    let stream = js
        .get_stream(format!("KV_{}", fam.bucket().name()))
        .await
        .unwrap();
    let infos: Vec<_> = stream.consumers().collect().await;
    assert_eq!(infos.len(), 1);
    let delivered = infos[0].as_ref().unwrap().delivered.stream_sequence;
    assert!(
        delivered <= 1_000,
        "the server ran ahead to {delivered} of {total}"
    );

    let mut last = 1;
    while last < u64::from(total) {
        let e = entry(&mut w).await;
        assert_eq!(e.revision, last + 1);
        last = e.revision;
    }
    assert!(w.is_initialized());
}
