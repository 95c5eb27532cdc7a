//! Transactions under faults: across a stream leader failover on a three-node cluster every
//! transaction is stored whole or not at all, and a commit whose answer was lost says so; a
//! commit cancelled midway stores nothing or everything.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use natskv::server::Cluster;
use natskv::{Bucket, BucketSpec, Error, Family, KeyFilter, TryStreamExt};

/// Writes per transaction.
const WRITES: u32 = 5;

/// What became of one transaction, as its commit reported it.
#[derive(Debug)]
enum Outcome {
    Committed(Vec<u64>),
    /// Certainly not stored.
    NotStored,
    /// Unknown: the answer was lost.
    MayHaveApplied,
}

/// Commits transactions of [`WRITES`] puts (keys `tx.<n>.<i>`) until `stop`; returns each
/// one's outcome, in order.
async fn writer(bucket: Bucket, stop: Arc<AtomicBool>) -> Vec<Outcome> {
    let slots: Family<String, u32> = Family::bind(&bucket, "tx.{slot}").unwrap();
    let mut outcomes = Vec::new();
    let mut n = 0_u32;
    while !stop.load(Ordering::Relaxed) {
        let mut tx = bucket.transaction();
        for i in 0..WRITES {
            tx.put(&slots, &format!("{n}_{i}"), &n).unwrap();
        }
        let outcome = match tx.commit().await {
            Ok(committed) => Outcome::Committed(committed.revisions().to_vec()),
            Err(
                Error::Timeout {
                    may_have_applied, ..
                }
                | Error::Unavailable {
                    may_have_applied, ..
                },
            ) if may_have_applied => Outcome::MayHaveApplied,
            Err(error) if error.is_transient() => Outcome::NotStored,
            Err(error) => panic!("transaction {n}: {error}"),
        };
        outcomes.push(outcome);
        n += 1;
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_whole_or_absent_across_a_leader_failover() {
    let mut cluster = Cluster::start(3).await.unwrap();
    if !cluster.version(0).at_least(2, 12, 0) {
        eprintln!("skipped: transactions need nats-server 2.12 or newer");
        return;
    }
    let nats = common::connect_all(&cluster).await;
    let name = common::unique_bucket("txfail");
    let spec = BucketSpec::new(&name).replicas(3).atomic(true);
    let bucket = common::create_on_new_cluster(&nats, &spec).await;
    let stream = format!("KV_{name}");
    let mut admin = jetstream::new(nats.clone());
    admin.set_timeout(Duration::from_secs(2));

    let stop = Arc::new(AtomicBool::new(false));
    let writing = tokio::spawn(writer(bucket.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (leader, _) = common::wait_for("the stream's leader", || {
        common::stream_cluster(&admin, &stream)
    })
    .await;
    let index = cluster.node_index(&leader).unwrap();
    cluster.stop_node(index).await.unwrap();
    common::wait_for("a new leader", || async {
        common::stream_cluster(&admin, &stream)
            .await
            .filter(|(l, _)| *l != leader)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.restart_node(index).await.unwrap();
    common::wait_for("every replica current again", || async {
        common::stream_cluster(&admin, &stream)
            .await
            .filter(|(_, current)| *current)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let outcomes = writing.await.unwrap();

    // Every key stored, with its revision.
    let slots: Family<String, u32> = Family::bind(&bucket, "tx.{slot}").unwrap();
    let keys: Vec<String> = slots
        .keys(KeyFilter::any())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut committed = 0;
    let mut unknown = 0;
    for (n, outcome) in outcomes.iter().enumerate() {
        let stored: Vec<u32> = (0..WRITES)
            .filter(|i| keys.contains(&format!("{n}_{i}")))
            .collect();
        let whole = stored.len() == WRITES as usize;
        match outcome {
            Outcome::Committed(revisions) => {
                committed += 1;
                assert!(whole, "transaction {n} committed but stored {stored:?}");
                for (i, revision) in revisions.iter().enumerate() {
                    let entry = slots.get(&format!("{n}_{i}")).await.unwrap().unwrap();
                    assert_eq!(entry.revision, *revision, "transaction {n} write {i}");
                }
            }
            Outcome::NotStored => {
                assert!(
                    stored.is_empty(),
                    "transaction {n} refused but stored {stored:?}"
                );
            }
            Outcome::MayHaveApplied => {
                unknown += 1;
                assert!(
                    whole || stored.is_empty(),
                    "transaction {n} stored in part: {stored:?}"
                );
            }
        }
    }
    println!(
        "{} transactions: {committed} committed, {unknown} unanswered (each whole or absent), \
         the rest refused and absent",
        outcomes.len()
    );
    let after_failover = outcomes
        .iter()
        .rev()
        .take(3)
        .filter(|o| matches!(o, Outcome::Committed(_)))
        .count();
    assert!(committed > 10, "{outcomes:?}");
    assert!(after_failover > 0, "commits resume after the failover");
}

#[tokio::test]
async fn a_commit_cancelled_midway_stores_all_or_nothing() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("cancel")).atomic(true);
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    let slots: Family<String, u32> = Family::bind(&bucket, "slot.{n}").unwrap();
    let mut outcomes = (0, 0);
    for (round, wait) in [50_u64, 200, 1_000, 5_000, 20_000].into_iter().enumerate() {
        let before = bucket.stream_info().await.unwrap().state.last_sequence;
        let mut tx = bucket.transaction();
        for i in 0..1_000 {
            tx.put(&slots, &format!("{round}_{i}"), &i).unwrap();
        }
        let cancelled = tokio::time::timeout(Duration::from_micros(wait), tx.commit()).await;
        // A batch whose last message never came is dropped by the server; one that committed
        // is there whole. Nothing in between, ever.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = bucket.stream_info().await.unwrap().state.last_sequence;
        match cancelled {
            Ok(committed) => {
                assert_eq!(committed.unwrap().revision(), before + 1_000);
                outcomes.0 += 1;
            }
            Err(_) if after == before => outcomes.1 += 1,
            Err(_) => assert_eq!(after, before + 1_000, "round {round}: stored in part"),
        }
    }
    // A later transaction still commits.
    let mut tx = bucket.transaction();
    tx.put(&slots, &"last".to_owned(), &1).unwrap();
    tx.commit().await.unwrap();
    println!(
        "committed in time: {}, cancelled: {}",
        outcomes.0, outcomes.1
    );
}
