//! Bulk writes against a real nats-server: `put_many` writes every good entry once, at the
//! revision it reports, and gives each bad entry its own error.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::TryStreamExt;
use natskv::server::{Cluster, User};
use natskv::{Bucket, BucketSpec, Error, ErrorKind, Family, WriteRetry};
use serde::ser::{Error as _, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};

/// A value that refuses to encode below absolute zero.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Reading {
    celsius: i32,
}

impl Serialize for Reading {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.celsius < -273 {
            return Err(S::Error::custom("below absolute zero"));
        }
        let mut state = serializer.serialize_struct("Reading", 1)?;
        state.serialize_field("celsius", &self.celsius)?;
        state.end()
    }
}

type Readings = Family<String, Reading>;

async fn family(nats: &async_nats::Client, spec: BucketSpec) -> (Bucket, Readings) {
    let bucket = Bucket::create(nats, &spec).await.unwrap();
    let fam = Family::bind(&bucket, "r.{id}").unwrap();
    (bucket, fam)
}

fn reading(celsius: i32) -> Reading {
    Reading { celsius }
}

/// `n` keys `k0..` with the readings `0..`, as `put_many` takes them.
fn numbered(n: i32) -> (Vec<String>, Vec<Reading>) {
    (
        (0..n).map(|i| format!("k{i}")).collect(),
        (0..n).map(reading).collect(),
    )
}

/// Puts every key with `put_many`; each must succeed. Returns the revisions, in order.
async fn put_all(fam: &Readings, keys: &[String], values: &[Reading]) -> Vec<u64> {
    let results = fam.put_many(keys.iter().zip(values)).await.unwrap();
    assert_eq!(results.len(), keys.len());
    results.into_iter().map(Result::unwrap).collect()
}

/// Reads every key back: each holds the value put, at the revision `put_many` reported.
async fn assert_stored(fam: &Readings, keys: &[String], values: &[Reading], revisions: &[u64]) {
    let entries = fam.get_many(keys).await.unwrap();
    for (((key, value), revision), entry) in keys.iter().zip(values).zip(revisions).zip(entries) {
        let entry = entry.unwrap().expect(key);
        assert_eq!(entry.revision, *revision, "{key}");
        assert_eq!(&entry.value, value, "{key}");
    }
}

#[tokio::test]
async fn every_entry_is_stored_at_the_revision_reported_in_input_order() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (_bucket, fam) = family(&nats, BucketSpec::new(common::unique_bucket("pm"))).await;
    let (keys, values) = numbered(300);
    let revisions = put_all(&fam, &keys, &values).await;
    // One connection, nothing else writing: the server stored them in the order sent.
    assert_eq!(revisions, (1..=300).collect::<Vec<u64>>());
    assert_stored(&fam, &keys, &values, &revisions).await;
}

#[tokio::test]
async fn bad_entries_get_their_own_errors_and_the_others_are_written() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("pm")).max_value_size(1024);
    let (_bucket, fam) = family(&nats, spec).await;
    // Values over the limit are easiest made as raw bytes, in the same keys.
    let raw: Family<String, Vec<u8>> = Family::bind(fam.bucket(), "r.{id}").unwrap();
    let entries: Vec<(String, Reading)> = vec![
        ("good1".into(), reading(1)),
        ("not.one.token".into(), reading(2)),
        ("cold".into(), reading(-300)),
        ("good2".into(), reading(4)),
        (String::new(), reading(3)),
    ];
    let results = fam
        .put_many(entries.iter().map(|(k, v)| (k, v)))
        .await
        .unwrap();
    assert_eq!(results.len(), entries.len());
    let kinds: Vec<Option<ErrorKind>> = results
        .iter()
        .map(|r| r.as_ref().err().map(Error::kind))
        .collect();
    assert_eq!(
        kinds,
        [
            None,
            Some(ErrorKind::InvalidKey),
            Some(ErrorKind::Codec),
            None,
            Some(ErrorKind::InvalidKey),
        ]
    );
    let codec = results[2].as_ref().unwrap_err();
    assert_eq!(codec.key(), Some("r.cold"));

    let raw_entries = [
        ("small".to_owned(), vec![1u8; 10]),
        ("large".to_owned(), vec![1u8; 2000]),
        ("small2".to_owned(), vec![2u8; 10]),
    ];
    let raw_results = raw
        .put_many(raw_entries.iter().map(|(k, v)| (k, v)))
        .await
        .unwrap();
    let too_large = raw_results[1].as_ref().unwrap_err();
    assert_eq!(too_large.kind(), ErrorKind::ValueTooLarge, "{too_large:?}");
    assert!(
        matches!(too_large, Error::ValueTooLarge { limit: Some(1024), size, .. } if *size > 2000)
    );

    // The good ones are stored, and nothing else is.
    assert_eq!(fam.value(&"good1".into()).await.unwrap(), Some(reading(1)));
    assert_eq!(fam.value(&"good2".into()).await.unwrap(), Some(reading(4)));
    assert_eq!(fam.value(&"cold".into()).await.unwrap(), None);
    assert_eq!(raw.value(&"large".into()).await.unwrap(), None);
    let small = raw.get(&"small".into()).await.unwrap().unwrap();
    let small2 = raw.get(&"small2".into()).await.unwrap().unwrap();
    assert_eq!(Some(small.revision), raw_results[0].as_ref().ok().copied());
    assert_eq!(Some(small2.revision), raw_results[2].as_ref().ok().copied());
    assert_eq!(fam.bucket().status().await.unwrap().values, 4);
}

#[tokio::test]
async fn no_entries_send_nothing() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (_bucket, fam) = family(&nats, BucketSpec::new(common::unique_bucket("pm"))).await;
    let before = nats.statistics().out_messages.load(Ordering::Relaxed);
    let results = fam.put_many(std::iter::empty()).await.unwrap();
    assert!(results.is_empty());
    // Only bad entries: nothing to send either.
    let bad = [("a.b".to_owned(), reading(1))];
    let results = fam.put_many(bad.iter().map(|(k, v)| (k, v))).await.unwrap();
    assert_eq!(
        results[0].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    assert_eq!(
        nats.statistics().out_messages.load(Ordering::Relaxed),
        before
    );
}

#[tokio::test]
async fn many_more_entries_than_the_window_are_all_stored() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (bucket, fam) = family(&nats, BucketSpec::new(common::unique_bucket("pm"))).await;
    let (keys, values) = numbered(5_000);
    let revisions = put_all(&fam, &keys, &values).await;

    let mut sorted = revisions.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 5_000, "every entry has its own revision");
    assert_stored(&fam, &keys, &values, &revisions).await;
    let status = bucket.status().await.unwrap();
    assert_eq!(status.values, 5_000, "each written once");
}

#[tokio::test]
async fn the_same_key_twice_is_written_in_input_order() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("pm")).history(10);
    let (_bucket, fam) = family(&nats, spec).await;
    let entries: Vec<(String, Reading)> = vec![
        ("a".into(), reading(1)),
        ("b".into(), reading(1)),
        ("a".into(), reading(2)),
        ("a".into(), reading(3)),
        ("b".into(), reading(2)),
    ];
    let results = fam
        .put_many(entries.iter().map(|(k, v)| (k, v)))
        .await
        .unwrap();
    let revisions: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    assert!(revisions[0] < revisions[2] && revisions[2] < revisions[3]);
    assert!(revisions[1] < revisions[4]);

    // The last one wins, and the history holds each, in input order.
    let a = fam.get(&"a".into()).await.unwrap().unwrap();
    assert_eq!((a.revision, a.value), (revisions[3], reading(3)));
    let b = fam.get(&"b".into()).await.unwrap().unwrap();
    assert_eq!((b.revision, b.value), (revisions[4], reading(2)));
    let history: Vec<(u64, Option<Reading>)> = fam
        .history(&"a".into())
        .await
        .unwrap()
        .map_ok(|e| (e.revision, e.value))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        history,
        [
            (revisions[0], Some(reading(1))),
            (revisions[2], Some(reading(2))),
            (revisions[3], Some(reading(3))),
        ]
    );
}

#[tokio::test]
async fn a_deleted_bucket_fails_the_whole_call() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("pm");
    let (_bucket, fam) = family(&nats, BucketSpec::new(name.clone())).await;
    Bucket::delete(&nats, &name).await.unwrap();
    let keys = ["a".to_owned(), "b".to_owned()];
    let values = [reading(1), reading(2)];
    let error = fam.put_many(keys.iter().zip(&values)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BucketNotFound, "{error:?}");
}

#[tokio::test]
async fn nothing_is_left_on_the_server() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("pm");
    let (_bucket, fam) = family(&nats, BucketSpec::new(name.clone())).await;
    let (keys, values) = numbered(2_000);
    put_all(&fam, &keys, &values).await;
    let js = async_nats::jetstream::new(nats.clone());
    let mut stream = js.get_stream(format!("KV_{name}")).await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.consumer_count, 0, "no consumer");
    assert_eq!(info.state.messages, 2_000);
}

#[tokio::test]
async fn unanswered_writes_are_resent_and_applied_once() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("pm")).history(10);
    let (bucket, _) = family(&nats, spec).await;
    let patient = bucket.with_write_retry(
        WriteRetry::default()
            .ack_wait(Duration::from_millis(200))
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_millis(50))
            .timeout(Duration::from_secs(20)),
    );
    let fam: Readings = Family::bind(&patient, "r.{id}").unwrap();
    let (keys, values) = numbered(50);

    server.freeze().unwrap();
    let sent = nats.statistics().out_messages.load(Ordering::Relaxed);
    let writing = tokio::spawn({
        let (fam, keys, values) = (fam.clone(), keys.clone(), values.clone());
        async move { fam.put_many(keys.iter().zip(&values)).await }
    });
    // Wait until every write was sent at least twice, then let the server answer.
    common::wait_for("every write to be resent", || {
        let nats = nats.clone();
        async move {
            (nats.statistics().out_messages.load(Ordering::Relaxed) >= sent + 100).then_some(())
        }
    })
    .await;
    server.thaw().unwrap();
    let results = writing.await.unwrap().unwrap();
    let revisions: Vec<u64> = results.into_iter().map(Result::unwrap).collect();

    // Each write is stored once, at the revision reported, however many copies were sent.
    assert_eq!(bucket.status().await.unwrap().values, 50);
    assert_stored(&fam, &keys, &values, &revisions).await;
}

#[tokio::test]
async fn a_write_never_answered_is_a_timeout_that_may_have_applied() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let (bucket, _) = family(&nats, BucketSpec::new(common::unique_bucket("pm"))).await;
    let impatient = bucket.with_write_retry(
        WriteRetry::default()
            .ack_wait(Duration::from_millis(200))
            .timeout(Duration::from_millis(600)),
    );
    let fam: Readings = Family::bind(&impatient, "r.{id}").unwrap();
    let entries = [("a".to_owned(), reading(1)), ("b".to_owned(), reading(2))];
    let invalid = ("x.y".to_owned(), reading(3));

    server.freeze().unwrap();
    let results = fam
        .put_many(entries.iter().chain([&invalid]).map(|(k, v)| (k, v)))
        .await
        .unwrap();
    server.thaw().unwrap();
    for result in &results[..2] {
        let error = result.as_ref().unwrap_err();
        assert!(
            matches!(
                error,
                Error::Timeout {
                    may_have_applied: true,
                    ..
                }
            ),
            "{error:?}"
        );
    }
    assert_eq!(
        results[2].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
}

/// The stream's leader once every replica is current; `None` until then.
async fn settled_leader(js: &async_nats::jetstream::Context, stream: &str) -> Option<String> {
    let info = js.get_stream(stream).await.ok()?.info().await.ok()?.clone();
    let cluster = info.cluster?;
    let current = cluster.replicas.iter().all(|r| r.current && !r.offline);
    cluster.leader.filter(|_| current)
}

/// Bulk writes run while the stream's leader node stops and comes back: every entry is
/// acknowledged, stored once at the revision reported, and nothing else is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_writes_survive_a_leader_failover_exactly_once() {
    let mut cluster = Cluster::start(3).await.unwrap();
    let addrs: Vec<async_nats::ServerAddr> =
        cluster.urls().iter().map(|u| u.parse().unwrap()).collect();
    let nats = async_nats::connect(addrs).await.unwrap();
    let name = common::unique_bucket("pm_failover");
    let bucket = common::create_on_new_cluster(&nats, &BucketSpec::new(&name).replicas(3)).await;
    let fam: Family<String, u64> = Family::bind(&bucket, "n.{id}").unwrap();
    let stream = format!("KV_{name}");
    let admin = async_nats::jetstream::new(nats.clone());
    let leader = common::wait_for("a settled leader", || settled_leader(&admin, &stream)).await;

    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (fam, acked, stop) = (fam.clone(), acked.clone(), stop.clone());
        async move {
            let mut log = Vec::new();
            let mut next = 0;
            while !stop.load(Ordering::Relaxed) {
                let keys: Vec<String> = (next..next + 500).map(|i| format!("k{i}")).collect();
                let values: Vec<u64> = (next..next + 500).collect();
                let results = fam.put_many(keys.iter().zip(&values)).await.unwrap();
                acked.fetch_add(500, Ordering::Relaxed);
                log.extend(keys.into_iter().zip(values).zip(results));
                next += 500;
            }
            log
        }
    });
    let progress = |more: u64| {
        let target = acked.load(Ordering::Relaxed) + more;
        let acked = acked.clone();
        common::wait_for("the writer to go on", move || {
            let done = acked.load(Ordering::Relaxed) >= target;
            async move { done.then_some(()) }
        })
    };
    progress(2_000).await;
    let index = cluster.node_index(&leader).unwrap();
    cluster.stop_node(index).await.unwrap();
    common::wait_for("a new leader", || async {
        let info = admin
            .get_stream(&stream)
            .await
            .ok()?
            .info()
            .await
            .ok()?
            .clone();
        info.cluster?.leader.filter(|l| *l != leader)
    })
    .await;
    progress(2_000).await;
    cluster.restart_node(index).await.unwrap();
    common::wait_for("every replica current", || settled_leader(&admin, &stream)).await;
    progress(2_000).await;
    stop.store(true, Ordering::Relaxed);
    let log = writer.await.unwrap();

    let errors: Vec<_> = log.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(errors.is_empty(), "errors: {errors:?}");
    let keys: Vec<String> = log.iter().map(|((k, _), _)| k.clone()).collect();
    let entries = fam.get_many(&keys).await.unwrap();
    for (((key, value), revision), entry) in log.iter().zip(entries) {
        let entry = entry.unwrap().expect(key);
        assert_eq!(
            (entry.revision, entry.value),
            (*revision.as_ref().unwrap(), *value),
            "{key}"
        );
    }
    println!(
        "{} entries written, {} messages sent",
        log.len(),
        nats.statistics().out_messages.load(Ordering::Relaxed)
    );
    let stored = bucket.status().await.unwrap().values;
    assert_eq!(
        stored,
        log.len() as u64,
        "each entry stored once, nothing else"
    );
}

/// A connection that may not write to the bucket: the call ends at once with
/// `PermissionDenied`, and nothing is stored.
#[tokio::test]
async fn a_denied_bulk_write_ends_the_call_at_once() {
    let name = common::unique_bucket("pm_denied");
    let reader = User::new("reader", "reader-pw").deny_publish(format!("$KV.{name}.>"));
    let (server, admin) = common::server_with(&reader).await;
    let as_admin = common::plain(&server, &admin).await;
    let bucket = Bucket::create(&as_admin, &BucketSpec::new(&name))
        .await
        .unwrap();
    let nats = common::guarded(&server, &reader).await;
    let fam: Readings =
        Family::bind(&Bucket::open_name(&nats, &name).await.unwrap(), "r.{id}").unwrap();
    let (keys, values) = numbered(100);

    let started = std::time::Instant::now();
    let error = fam.put_many(keys.iter().zip(&values)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "at once");
    assert_eq!(bucket.status().await.unwrap().values, 0);
}
