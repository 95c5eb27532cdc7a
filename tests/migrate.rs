//! Migrations against a real nats-server: a family copied into a bucket of another declaration
//! (another key pattern, key type, value type and codec), with keys and values transformed,
//! left out, or not decodable; resumed from a report's revision; following the source until
//! stopped; stopped by a write the target refuses, then resumed.

mod common;

use common::{DeviceKey, dev};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use natskv::{
    Bucket, ErrorKind, Family, Json, KeyFilter, KvBucket, KvKey, Migration, MigrationProgress,
    MigrationReport,
};
use serde::{Deserialize, Serialize};

/// What version 1 stores per device.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct StateV1 {
    online: bool,
    battery: u8,
    name: String,
}

/// Whether a device is connected, as version 2 says it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
enum Link {
    Up,
    Down,
}

/// What version 2 stores per device: another shape, which version 1 cannot decode.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct StateV2 {
    link: Link,
    battery_permille: u16,
    label: String,
}

/// Version 2's device key: the id first.
#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct DeviceId {
    id: u32,
    site: String,
}

#[derive(KvBucket, Debug)]
#[kv(bucket = "fleet_v1", history = 5)]
struct FleetV1 {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, StateV1>,
}

#[derive(KvBucket, Debug)]
#[kv(bucket = "fleet_v2", codec = natskv::Json)]
struct FleetV2 {
    #[kv(key = "device.{id}.at.{site}")]
    devices: Family<DeviceId, StateV2, Json>,
}

const WAIT: Duration = Duration::from_secs(20);

fn state(battery: u8) -> StateV1 {
    StateV1 {
        online: battery.is_multiple_of(2),
        battery,
        name: format!("unit {battery}"),
    }
}

fn id(site: &str, id: u32) -> DeviceId {
    DeviceId {
        id,
        site: site.to_owned(),
    }
}

/// The key map of every test.
#[allow(clippy::unnecessary_wraps)] // the shape `map_keys` takes
fn to_v2_key(key: DeviceKey) -> Option<DeviceId> {
    Some(DeviceId {
        id: key.id,
        site: key.site,
    })
}

/// The value map of every test.
fn upgraded(state: StateV1) -> StateV2 {
    StateV2 {
        link: if state.online { Link::Up } else { Link::Down },
        battery_permille: u16::from(state.battery) * 10,
        label: state.name,
    }
}

#[allow(clippy::unnecessary_wraps)] // the shape `map_values` takes
fn to_v2_state(_key: &DeviceKey, state: StateV1) -> Option<StateV2> {
    Some(upgraded(state))
}

/// Both versions, each in a bucket of its own name.
async fn fleets(nats: &async_nats::Client) -> (FleetV1, FleetV2) {
    let v1 = FleetV1::ensure_named(nats, &common::unique_bucket("mig_v1"))
        .await
        .expect("ensure v1");
    let v2 = FleetV2::ensure_named(nats, &common::unique_bucket("mig_v2"))
        .await
        .expect("ensure v2");
    (v1, v2)
}

/// Every live key of `family` and its value.
async fn contents<K, V, C>(family: &Family<K, V, C>) -> BTreeMap<K, V>
where
    K: KvKey + Ord + std::fmt::Debug,
    C: natskv::Codec<V>,
{
    let snapshot = family.get_matching(KeyFilter::any()).await.expect("read");
    snapshot
        .entries
        .into_iter()
        .map(|entry| {
            let entry = entry.expect("entry");
            (entry.key, entry.value)
        })
        .collect()
}

/// The last revision of the bucket (0 when empty): what was written to it, in count.
async fn last_revision(nats: &async_nats::Client, bucket: &Bucket) -> u64 {
    let js = async_nats::jetstream::new(nats.clone());
    let mut stream = js
        .get_stream(format!("KV_{}", bucket.name()))
        .await
        .expect("stream");
    stream
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence
}

/// A progress callback that keeps what it is given.
fn recorder() -> (
    Arc<Mutex<Vec<MigrationProgress>>>,
    impl FnMut(&MigrationProgress) + Send + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    (seen, move |p: &MigrationProgress| {
        keep.lock().expect("progress lock").push(*p);
    })
}

fn assert_counts(report: &MigrationReport, copied: u64, deleted: u64, skipped: u64, bad: u64) {
    assert_eq!(
        (
            report.copied,
            report.deleted,
            report.skipped,
            report.undecodable
        ),
        (copied, deleted, skipped, bad),
        "copied, deleted, skipped, undecodable of {report:?}"
    );
}

#[tokio::test]
async fn copies_live_keys_with_key_and_value_transforms() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (v1, v2) = fleets(&nats).await;
    let old = &v1.devices;
    for (site, ids) in [("paris", 1..=6), ("lyon", 1..=4)] {
        for n in ids {
            old.put(&dev(site, n), &state(u8::try_from(n).unwrap() * 10))
                .await
                .unwrap();
        }
    }
    // An older value is not copied, a deleted or purged key is not copied at all.
    old.put(&dev("paris", 1), &state(99)).await.unwrap();
    old.delete(&dev("paris", 2)).await.unwrap();
    let last = old.purge(&dev("lyon", 3)).await.unwrap();

    let (seen, record) = recorder();
    let report = Migration::new(old, &v2.devices)
        .map_keys(to_v2_key)
        .map_values(|_key: &DeviceKey, value: StateV1| Some(upgraded(value)))
        .progress(record)
        .run()
        .await
        .expect("migration");

    assert_counts(&report, 8, 0, 0, 0);
    assert!(report.caught_up);
    assert_eq!(report.revision, last);
    assert!(report.undecodable_entries.is_empty());
    let expected: BTreeMap<DeviceId, StateV2> = [
        (id("paris", 1), upgraded(state(99))),
        (id("paris", 3), upgraded(state(30))),
        (id("paris", 4), upgraded(state(40))),
        (id("paris", 5), upgraded(state(50))),
        (id("paris", 6), upgraded(state(60))),
        (id("lyon", 1), upgraded(state(10))),
        (id("lyon", 2), upgraded(state(20))),
        (id("lyon", 4), upgraded(state(40))),
    ]
    .into_iter()
    .collect();
    assert_eq!(contents(&v2.devices).await, expected);
    assert_eq!(
        v2.devices.key(&id("paris", 1)).unwrap(),
        "device.1.at.paris"
    );
    // Each live key written once, nothing else.
    assert_eq!(last_revision(&nats, v2.bucket()).await, 8);
    // The last progress reported is the report.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&report.progress()));
    assert!(seen.windows(2).all(|w| w[0].revision <= w[1].revision));
}

#[tokio::test]
async fn same_types_copy_without_a_map() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let old = FleetV1::ensure_named(&nats, &common::unique_bucket("mig_same"))
        .await
        .unwrap();
    let new = FleetV1::ensure_named(&nats, &common::unique_bucket("mig_same"))
        .await
        .unwrap();
    for n in 1..=5 {
        old.devices.put(&dev("oslo", n), &state(7)).await.unwrap();
    }
    let report = Migration::new(&old.devices, &new.devices)
        .run()
        .await
        .unwrap();
    assert_counts(&report, 5, 0, 0, 0);
    let copied: Vec<(DeviceKey, StateV1)> = (1..=5).map(|n| (dev("oslo", n), state(7))).collect();
    for (key, value) in &copied {
        assert_eq!(new.devices.value(key).await.unwrap().as_ref(), Some(value));
    }
}

#[tokio::test]
async fn a_map_returning_none_leaves_the_entry_out() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (v1, v2) = fleets(&nats).await;
    let old = &v1.devices;
    for n in 1..=4 {
        old.put(&dev("paris", n), &state(50)).await.unwrap();
        old.put(&dev("legacy", n), &state(50)).await.unwrap();
    }
    // A battery at zero is a retired device: left out.
    old.put(&dev("paris", 4), &state(0)).await.unwrap();

    let migration = || {
        Migration::new(old, &v2.devices)
            .map_keys(|key: DeviceKey| (key.site != "legacy").then(|| id(&key.site, key.id)))
            .map_values(|_key: &DeviceKey, value: StateV1| {
                (value.battery > 0).then(|| upgraded(value))
            })
    };
    let report = migration().run().await.unwrap();
    assert_counts(&report, 3, 0, 5, 0);
    let live: Vec<DeviceId> = contents(&v2.devices).await.into_keys().collect();
    assert_eq!(live, [id("paris", 1), id("paris", 2), id("paris", 3)]);

    // Changes after the copy: a value now left out removes the target's stale one; a key left
    // out stays out, deletes included.
    old.put(&dev("paris", 1), &state(0)).await.unwrap();
    old.put(&dev("legacy", 9), &state(50)).await.unwrap();
    let last = old.delete(&dev("legacy", 1)).await.unwrap();
    let resumed = migration()
        .resume_from(report.revision)
        .run()
        .await
        .unwrap();
    assert_counts(&resumed, 0, 0, 3, 0);
    assert_eq!(resumed.revision, last);
    let live: Vec<DeviceId> = contents(&v2.devices).await.into_keys().collect();
    assert_eq!(live, [id("paris", 2), id("paris", 3)]);
}

#[tokio::test]
async fn undecodable_entries_are_counted_listed_and_can_stop_the_run() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (v1, v2) = fleets(&nats).await;
    let old = &v1.devices;
    for n in 1..=3 {
        old.put(&dev("paris", n), &state(10)).await.unwrap();
    }
    // Bytes that are no MessagePack value, and a key whose id is not a number.
    let kv = async_nats::jetstream::new(nats.clone())
        .get_key_value(v1.bucket().name())
        .await
        .unwrap();
    let bad_value = kv
        .put("site.paris.device.9", Bytes::from_static(&[0xc1]))
        .await
        .unwrap();
    let encoded = rmp_serde::to_vec_named(&state(10)).unwrap();
    let bad_key = kv
        .put("site.paris.device.nine", Bytes::from(encoded))
        .await
        .unwrap();
    let last = old.put(&dev("paris", 4), &state(10)).await.unwrap();

    // By default: counted, listed, and the others copied.
    let report = Migration::new(old, &v2.devices)
        .map_keys(to_v2_key)
        .map_values(to_v2_state)
        .run()
        .await
        .unwrap();
    assert_counts(&report, 4, 0, 0, 2);
    assert_eq!(report.revision, last);
    let listed: Vec<(&str, u64, ErrorKind)> = report
        .undecodable_entries
        .iter()
        .map(|u| (u.key.as_str(), u.revision, u.error.kind()))
        .collect();
    assert_eq!(
        listed,
        [
            ("site.paris.device.9", bad_value, ErrorKind::Codec),
            ("site.paris.device.nine", bad_key, ErrorKind::InvalidKey),
        ]
    );
    assert_eq!(contents(&v2.devices).await.len(), 4);

    // Stopping at the first one: its error, the revision past it, what came before copied.
    let other = FleetV2::ensure_named(&nats, &common::unique_bucket("mig_v2"))
        .await
        .unwrap();
    let strict = |resume: u64| {
        Migration::new(old, &other.devices)
            .map_keys(to_v2_key)
            .map_values(to_v2_state)
            .stop_on_undecodable()
            .resume_from(resume)
    };
    let stopped = strict(0).run().await.expect_err("an undecodable value");
    assert_eq!(stopped.kind(), ErrorKind::Codec);
    assert_eq!(stopped.error().key(), Some("site.paris.device.9"));
    assert_eq!(stopped.error().revision(), Some(bad_value));
    assert_eq!(stopped.report().revision, bad_value);
    assert_counts(stopped.report(), 3, 0, 0, 1);
    assert!(stopped.report().undecodable_entries.is_empty());
    assert!(!stopped.report().caught_up);
    assert_eq!(contents(&other.devices).await.len(), 3);

    let stopped = strict(stopped.report().revision)
        .run()
        .await
        .expect_err("an undecodable key");
    assert_eq!(stopped.kind(), ErrorKind::InvalidKey);
    assert_eq!(stopped.report().revision, bad_key);
    assert_counts(stopped.report(), 0, 0, 0, 1);

    let done = strict(stopped.report().revision).run().await.unwrap();
    assert_counts(&done, 1, 0, 0, 0);
    assert_eq!(done.revision, last);
    assert_eq!(contents(&other.devices).await, contents(&v2.devices).await);
}

#[tokio::test]
async fn resume_applies_exactly_the_changes_after_the_revision() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (v1, v2) = fleets(&nats).await;
    let old = &v1.devices;
    for n in 1..=5 {
        old.put(&dev("paris", n), &state(10)).await.unwrap();
    }
    let migration = || {
        Migration::new(old, &v2.devices)
            .map_keys(to_v2_key)
            .map_values(to_v2_state)
    };
    let first = migration().run().await.unwrap();
    assert_counts(&first, 5, 0, 0, 0);
    assert_eq!(first.revision, 5);
    let written = last_revision(&nats, v2.bucket()).await;
    assert_eq!(written, 5);

    // Changes: an update, a new key, a delete, a purge, a key written and deleted again.
    old.put(&dev("paris", 1), &state(11)).await.unwrap();
    old.put(&dev("paris", 7), &state(70)).await.unwrap();
    old.delete(&dev("paris", 2)).await.unwrap();
    old.purge(&dev("paris", 3)).await.unwrap();
    old.put(&dev("paris", 8), &state(80)).await.unwrap();
    let last = old.delete(&dev("paris", 8)).await.unwrap();

    let (seen, record) = recorder();
    let second = migration()
        .resume_from(first.revision)
        .progress(record)
        .run()
        .await
        .unwrap();
    assert_counts(&second, 3, 3, 0, 0);
    assert_eq!(second.revision, last);
    assert!(second.caught_up);
    assert_eq!(seen.lock().unwrap().last(), Some(&second.progress()));
    let expected: BTreeMap<DeviceId, StateV2> = [
        (id("paris", 1), upgraded(state(11))),
        (id("paris", 4), upgraded(state(10))),
        (id("paris", 5), upgraded(state(10))),
        (id("paris", 7), upgraded(state(70))),
    ]
    .into_iter()
    .collect();
    assert_eq!(contents(&v2.devices).await, expected);
    // Six writes, one per change: nothing was copied again.
    assert_eq!(last_revision(&nats, v2.bucket()).await, written + 6);

    // Nothing changed since: nothing to do.
    let third = migration()
        .resume_from(second.revision)
        .run()
        .await
        .unwrap();
    assert_counts(&third, 0, 0, 0, 0);
    assert_eq!(third.revision, second.revision);
    assert!(third.caught_up);
    assert_eq!(last_revision(&nats, v2.bucket()).await, written + 6);
}

/// The last writes of the old service: on a runtime and a connection of their own. Returns
/// the last revision.
fn last_writes(url: &str, bucket: &str) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let nats = common::connect_url(url).await;
        let v1 = FleetV1::open_named(&nats, bucket).await.unwrap();
        v1.devices.put(&dev("paris", 3), &state(33)).await.unwrap();
        v1.devices.put(&dev("nice", 1), &state(40)).await.unwrap()
    })
}

#[tokio::test]
async fn following_applies_changes_until_stopped() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (v1, v2) = fleets(&nats).await;
    let old = v1.devices.clone();
    for n in 1..=5 {
        old.put(&dev("paris", n), &state(10)).await.unwrap();
    }

    let (progress, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let migration = tokio::spawn(
        Migration::new(&old, &v2.devices)
            .map_keys(to_v2_key)
            .map_values(to_v2_state)
            .progress(move |p: &MigrationProgress| {
                let _ = progress.send(*p);
            })
            .follow_until(stopped),
    );
    let caught_up = tokio::time::timeout(WAIT, async {
        while let Some(p) = reports.recv().await {
            if p.caught_up {
                return p;
            }
        }
        panic!("the migration ended before it caught up");
    })
    .await
    .expect("caught up in time");
    assert_eq!((caught_up.copied, caught_up.revision), (5, 5));

    // The old service goes on writing while the migration follows.
    let writer = {
        let old = old.clone();
        tokio::spawn(async move {
            for n in 10..30 {
                old.put(&dev("lyon", n), &state(20)).await.unwrap();
            }
            old.put(&dev("paris", 1), &state(12)).await.unwrap();
            old.delete(&dev("paris", 2)).await.unwrap()
        })
    };
    writer.await.unwrap();
    let new = v2.devices.clone();
    common::wait_for("the target to see the writes", || {
        let new = new.clone();
        async move {
            let gone = new.value(&id("paris", 2)).await.unwrap().is_none();
            let last = new.value(&id("lyon", 29)).await.unwrap();
            (gone && last == Some(upgraded(state(20)))).then_some(())
        }
    })
    .await;
    assert_eq!(
        v2.devices.value(&id("paris", 1)).await.unwrap(),
        Some(upgraded(state(12)))
    );

    // The cutover: the old service's last writes land while the migration cannot run (the
    // test's runtime has one thread, and it waits for them), then the stop. The report covers
    // them all the same: the stop reads the source up to its end.
    let (url, bucket) = (server.url(), v1.bucket().name().to_owned());
    let last = std::thread::spawn(move || last_writes(&url, &bucket))
        .join()
        .unwrap();
    stop.send(()).unwrap();
    let report = tokio::time::timeout(WAIT, migration)
        .await
        .expect("stopped in time")
        .unwrap()
        .expect("migration");
    assert_counts(&report, 5 + 20 + 1 + 2, 1, 0, 0);
    assert_eq!(report.revision, last);
    assert!(report.caught_up);
    assert_eq!(
        v2.devices.value(&id("paris", 3)).await.unwrap(),
        Some(upgraded(state(33)))
    );
    assert_eq!(
        v2.devices.value(&id("nice", 1)).await.unwrap(),
        Some(upgraded(state(40)))
    );
    assert_eq!(contents(&v2.devices).await.len(), 5 - 1 + 20 + 1);
    // Its watches are gone with it.
    assert_eq!(common::consumer_count(&nats, v1.bucket().name()).await, 0);
}

#[tokio::test]
async fn a_write_the_target_refuses_stops_the_run_and_resume_goes_on() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (v1, _) = fleets(&nats).await;
    let old = &v1.devices;
    // A target that takes values of at most 160 bytes (with their headers).
    let spec = FleetV2::spec()
        .named(common::unique_bucket("mig_small"))
        .max_value_size(160);
    let small = FleetV2::from_bucket(&Bucket::create(&nats, &spec).await.unwrap()).unwrap();

    old.put(&dev("paris", 1), &state(10)).await.unwrap();
    let before = old.put(&dev("paris", 2), &state(20)).await.unwrap();
    let mut big = state(30);
    big.name = "x".repeat(200);
    old.put(&dev("paris", 3), &big).await.unwrap();
    old.put(&dev("paris", 4), &state(40)).await.unwrap();
    let last = old.put(&dev("paris", 5), &state(50)).await.unwrap();

    let stopped = Migration::new(old, &small.devices)
        .map_keys(to_v2_key)
        .map_values(to_v2_state)
        .run()
        .await
        .expect_err("a value too large");
    assert_eq!(stopped.kind(), ErrorKind::ValueTooLarge);
    assert_eq!(stopped.error().key(), Some("device.3.at.paris"));
    // Everything before the refused value is applied; values after it in the same batch may
    // be too, and are written again on resume.
    assert_eq!(stopped.report().revision, before);
    assert!(stopped.report().copied >= 2, "{:?}", stopped.report());
    assert!(!stopped.report().caught_up);
    let natskv_error: natskv::Error = stopped.into_parts().0;
    assert_eq!(natskv_error.kind(), ErrorKind::ValueTooLarge);

    // Resumed with a map that shortens names, from the revision the error reported.
    let report = Migration::new(old, &small.devices)
        .map_keys(to_v2_key)
        .map_values(|_key: &DeviceKey, mut value: StateV1| {
            value.name.truncate(16);
            Some(upgraded(value))
        })
        .resume_from(before)
        .run()
        .await
        .unwrap();
    assert_counts(&report, 3, 0, 0, 0);
    assert_eq!(report.revision, last);
    let got = contents(&small.devices).await;
    assert_eq!(got.len(), 5);
    assert_eq!(got[&id("paris", 3)].label, "x".repeat(16));
    assert_eq!(got[&id("paris", 5)], upgraded(state(50)));
}
