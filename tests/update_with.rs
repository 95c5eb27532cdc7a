//! Read-modify-write with compare-and-set retries against a real nats-server: no lost update
//! under contention, absent keys, and a retry budget that runs out.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use natskv::{Bucket, BucketSpec, Error, ErrorKind, Family, RetryPolicy, Single};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Device {
    battery: u32,
    firmware: String,
}

async fn bucket(nats: &async_nats::Client) -> Bucket {
    let spec = BucketSpec::new(common::unique_bucket("rmw")).history(5);
    Bucket::create(nats, &spec).await.expect("create bucket")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_writers_times_five_hundred_increments_make_four_thousand() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = bucket(&nats).await;
    let counters: Family<String, u64> = Family::bind(&bucket, "counter.{name}").unwrap();
    let key = "hits".to_owned();

    let writers: Vec<_> = (0..8)
        .map(|_| {
            // Each writer has its own connection, as separate processes would.
            let url = server.url();
            let bucket = bucket.name().to_owned();
            let key = key.clone();
            tokio::spawn(async move {
                let nats = common::connect_url(&url).await;
                let bucket = Bucket::open_name(&nats, &bucket).await.unwrap();
                let counters: Family<String, u64> =
                    Family::bind(&bucket, "counter.{name}").unwrap();
                let mut retries = 0;
                for _ in 0..500 {
                    let done = counters
                        .upsert_with(&key, |n| n.unwrap_or(0) + 1)
                        .await
                        .unwrap();
                    retries += done.attempts - 1;
                }
                retries
            })
        })
        .collect();
    let mut retries = 0;
    for writer in writers {
        retries += tokio::time::timeout(Duration::from_secs(120), writer)
            .await
            .expect("writers finish in time")
            .unwrap();
    }
    eprintln!("{retries} lost races retried");
    assert_eq!(
        counters.value(&key).await.unwrap(),
        Some(4000),
        "no update lost"
    );
}

#[tokio::test]
async fn update_with_changes_an_existing_value_in_place() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = bucket(&nats).await;
    let devices: Family<u32, Device> = Family::bind(&bucket, "device.{id}").unwrap();

    assert!(
        devices
            .update_with(&7, |d| d.battery -= 1)
            .await
            .unwrap()
            .is_none(),
        "absent: nothing"
    );
    assert_eq!(devices.get(&7).await.unwrap(), None, "and nothing written");

    let first = devices
        .put(
            &7,
            &Device {
                battery: 90,
                firmware: "1.0".into(),
            },
        )
        .await
        .unwrap();
    let done = devices
        .update_with(&7, |d| d.battery -= 1)
        .await
        .unwrap()
        .expect("updated");
    assert!(done.revision > first);
    assert_eq!(done.attempts, 1);
    assert_eq!(
        done.value,
        Device {
            battery: 89,
            firmware: "1.0".into()
        }
    );
    assert_eq!(devices.value(&7).await.unwrap(), Some(done.value));

    // A deleted key has no value to change.
    devices.delete(&7).await.unwrap();
    assert!(
        devices
            .update_with(&7, |d| d.battery -= 1)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn upsert_with_sees_none_for_an_absent_key() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = bucket(&nats).await;
    let counters: Family<String, u64> = Family::bind(&bucket, "counter.{name}").unwrap();
    let key = "visits".to_owned();

    let mut seen = Vec::new();
    let done = counters
        .upsert_with(&key, |n| {
            seen.push(n);
            n.unwrap_or(41) + 1
        })
        .await
        .unwrap();
    assert_eq!((done.value, seen), (42, vec![None]));
    let done = counters
        .upsert_with(&key, |n| n.unwrap_or(0) + 1)
        .await
        .unwrap();
    assert_eq!(done.value, 43);

    // Over a delete marker, the key is absent again: created anew.
    counters.delete(&key).await.unwrap();
    let done = counters
        .upsert_with(&key, |n| n.unwrap_or(0) + 1)
        .await
        .unwrap();
    assert_eq!(done.value, 1);
    assert_eq!(
        counters.get(&key).await.unwrap().unwrap().revision,
        done.revision
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_retry_budget_is_a_wrong_revision() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = bucket(&nats).await;
    let counters: Family<String, u64> = Family::bind(&bucket, "counter.{name}").unwrap();
    let key = "contended".to_owned();
    counters.put(&key, &0).await.unwrap();

    // A rival writes the key between every read and its compare-and-set, so every attempt
    // loses.
    let rival = counters.clone();
    let calls = Arc::new(AtomicU32::new(0));
    let policy = RetryPolicy::default()
        .attempts(3)
        .base_delay(Duration::from_millis(1));
    let err = counters
        .update_with(&key, |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            let handle = tokio::runtime::Handle::current();
            tokio::task::block_in_place(|| {
                handle.block_on(rival.put(&"contended".to_owned(), &100))
            })
            .unwrap();
            *n += 1;
        })
        .retry(policy)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongRevision);
    assert!(matches!(&err, Error::WrongRevision { key, .. } if key == "counter.contended"));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "exactly the budget");
    assert_eq!(
        counters.value(&key).await.unwrap(),
        Some(100),
        "no attempt was written"
    );
}

#[tokio::test]
async fn a_value_that_does_not_decode_is_not_overwritten() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = bucket(&nats).await;
    let raw: Family<u32, String, natskv::Json> = Family::bind(&bucket, "device.{id}").unwrap();
    let devices: Family<u32, Device> = Family::bind(&bucket, "device.{id}").unwrap();
    let written = raw.put(&1, &"not a device".to_owned()).await.unwrap();

    let err = devices
        .upsert_with(&1, |_| Device {
            battery: 1,
            firmware: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Codec);
    assert_eq!(err.revision(), Some(written));
    assert_eq!(
        raw.value(&1).await.unwrap().as_deref(),
        Some("not a device")
    );
}

#[tokio::test]
async fn singles_update_with_too() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = bucket(&nats).await;
    let visits: Single<u64> = Single::bind(&bucket, "visits").unwrap();
    assert!(visits.update_with(|n| *n += 1).await.unwrap().is_none());
    assert_eq!(
        visits
            .upsert_with(|n| n.unwrap_or(0) + 1)
            .await
            .unwrap()
            .value,
        1
    );
    assert_eq!(
        visits
            .update_with(|n| *n += 1)
            .await
            .unwrap()
            .unwrap()
            .value,
        2
    );
}
