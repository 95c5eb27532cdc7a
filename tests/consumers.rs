//! Nothing left behind on the server: key listings, histories, watches and caches against a real
//! nats-server, counted in consumers. A listing that ends deletes its consumer before its final
//! `None`; one dropped earlier, a dropped watch and a dropped cache have theirs deleted in the
//! background, also when dropped outside any runtime; histories use batch direct gets and no
//! consumer at all, or a consumer deleted the same way where the stream has no direct gets.

mod common;

use std::time::Instant;

use async_nats::jetstream::stream::Config;
use futures::future::join_all;
use futures::{StreamExt, TryStreamExt};
use natskv::{Bucket, BucketSpec, ErrorKind, Family, KeyFilter, Operation};

type Values = Family<String, u32>;

/// A bucket of its own (history 5), and a family of plain keys in it.
async fn values(nats: &async_nats::Client) -> Values {
    let spec = BucketSpec::new(common::unique_bucket("consumers")).history(5);
    let bucket = Bucket::create(nats, &spec).await.expect("create bucket");
    Family::bind(&bucket, "v.{id}").expect("bind")
}

fn key(n: u32) -> String {
    format!("k{n}")
}

/// Every live key matching `filter`, read to the end.
async fn all_keys(fam: &Values, filter: impl Into<natskv::KeyFilter<String>>) -> Vec<String> {
    let keys = fam.keys(filter).await.expect("keys");
    keys.try_collect().await.expect("keys")
}

/// Every kept revision of `key`, read to the end.
async fn whole_history(fam: &Values, key: &String) -> Vec<natskv::Entry<String, u32>> {
    let history = fam.history(key).await.expect("history");
    history.try_collect().await.expect("history")
}

async fn consumers(nats: &async_nats::Client, fam: &Values) -> usize {
    common::consumer_count(nats, fam.bucket().name()).await
}

/// Waits (bounded) until the family's bucket has no consumer left.
async fn until_none_left(nats: &async_nats::Client, fam: &Values, what: &str) {
    common::wait_for(what, || async {
        (consumers(nats, fam).await == 0).then_some(())
    })
    .await;
}

/// `keys` writes of `revisions` revisions each.
async fn fill(fam: &Values, keys: u32, revisions: u32) {
    for n in 0..keys {
        for r in 0..revisions {
            fam.put(&key(n), &(n * 100 + r)).await.expect("put");
        }
    }
}

/// Listings and histories of each kind in the heavy-use test.
const CALLS: usize = 10_000;
/// How many callers list at the same time there.
const LANES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_listings_and_a_thousand_dropped_watches_leave_no_consumer() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = values(&nats).await;
    fill(&fam, 3, 3).await;
    let k1 = key(1);

    // Four callers at a time, each back to back: 10,000 calls of each kind in a few seconds,
    // far more than the server keeps consumers for (without deletion each call would leave
    // one for 30 s).
    let started = Instant::now();
    join_all((0..LANES).map(|_| async {
        for _ in 0..CALLS / LANES {
            let keys: Vec<String> = all_keys(&fam, KeyFilter::any()).await;
            assert_eq!(keys.len(), 3);
        }
    }))
    .await;
    let listed = started.elapsed();
    assert_eq!(consumers(&nats, &fam).await, 0, "after 10,000 keys()");

    let started = Instant::now();
    join_all((0..LANES).map(|_| async {
        for _ in 0..CALLS / LANES {
            let history: Vec<_> = whole_history(&fam, &k1).await;
            let revisions: Vec<u32> = history.iter().filter_map(|e| e.value).collect();
            assert_eq!(revisions, [100, 101, 102]);
        }
    }))
    .await;
    let histories = started.elapsed();
    assert_eq!(consumers(&nats, &fam).await, 0, "after 10,000 history()");

    let started = Instant::now();
    for n in 0..1_000 {
        let mut watch = fam.watch(KeyFilter::any()).await.expect("watch");
        if n % 2 == 0 {
            // Half of them are dropped mid-replay, half before their first entry.
            let first = watch.next().await.expect("an entry").expect("decoded");
            assert_eq!(first.value.map(|v| v % 100), Some(2));
        }
    }
    let watched = started.elapsed();
    let started = Instant::now();
    until_none_left(&nats, &fam, "the dropped watches' consumers to be deleted").await;
    eprintln!(
        "10,000 keys() in {listed:?}, 10,000 history() in {histories:?}, 1,000 dropped watches \
         in {watched:?}, the last of their consumers gone {:?} later",
        started.elapsed()
    );

    // The bucket still serves watches: no limit was reached on the way.
    let mut watch = fam.watch(&k1).await.expect("a watch after it all");
    let latest = watch.next().await.expect("an entry").expect("decoded");
    assert_eq!(latest.value, Some(102));
}

#[tokio::test]
async fn a_listing_read_to_its_end_leaves_no_consumer_at_once() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = values(&nats).await;
    fill(&fam, 4, 2).await;
    fam.delete(&key(3)).await.expect("delete");

    let keys: Vec<String> = all_keys(&fam, KeyFilter::any()).await;
    assert_eq!(keys.len(), 3, "the deleted key is not listed");
    assert_eq!(consumers(&nats, &fam).await, 0, "keys() read to the end");

    let none: Vec<String> = all_keys(&fam, &key(99)).await;
    assert!(none.is_empty());
    assert_eq!(consumers(&nats, &fam).await, 0, "an empty keys()");

    let history: Vec<_> = whole_history(&fam, &key(3)).await;
    let deltas: Vec<u64> = history.iter().map(|e| e.delta).collect();
    assert_eq!(deltas, [2, 1, 0]);
    assert_eq!(history[2].operation, Operation::Delete);
    assert_eq!(consumers(&nats, &fam).await, 0, "history() read to the end");

    let empty: Vec<_> = whole_history(&fam, &key(99)).await;
    assert!(empty.is_empty());

    assert_eq!(fam.bucket().purge_deletes(None).await.expect("purge"), 1);
    assert_eq!(consumers(&nats, &fam).await, 0, "purge_deletes");
}

#[tokio::test]
async fn a_listing_dropped_before_its_end_leaves_no_consumer() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = values(&nats).await;
    fill(&fam, 50, 1).await;
    fill(&fam, 1, 4).await;

    let mut keys = fam.keys(KeyFilter::any()).await.expect("keys");
    keys.next().await.expect("a key").expect("parsed");
    assert_eq!(
        consumers(&nats, &fam).await,
        1,
        "keys() reads through a consumer"
    );
    drop(keys);
    until_none_left(&nats, &fam, "the dropped keys() consumer to be deleted").await;

    // A history uses no consumer at all, even while it is open.
    let mut history = fam.history(&key(0)).await.expect("history");
    let first = history.next().await.expect("an entry").expect("decoded");
    assert_eq!((first.value, first.delta), (Some(0), 4));
    assert_eq!(consumers(&nats, &fam).await, 0, "an open history");
    drop(history);
    assert_eq!(consumers(&nats, &fam).await, 0, "a dropped history");
}

#[tokio::test]
async fn dropped_watches_and_caches_leave_no_consumer() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = values(&nats).await;
    fill(&fam, 2, 1).await;

    let watch = fam.watch(KeyFilter::any()).await.expect("watch");
    assert_eq!(consumers(&nats, &fam).await, 1);
    drop(watch);
    until_none_left(&nats, &fam, "a dropped watch's consumer to be deleted").await;

    let events = fam
        .watch_with(KeyFilter::any())
        .updates_only()
        .start()
        .await
        .expect("watch")
        .events();
    assert_eq!(consumers(&nats, &fam).await, 1);
    drop(events);
    until_none_left(
        &nats,
        &fam,
        "a dropped event stream's consumer to be deleted",
    )
    .await;

    let all = fam.bucket().watch_all().await.expect("bucket watch");
    assert_eq!(consumers(&nats, &fam).await, 1);
    drop(all);
    until_none_left(
        &nats,
        &fam,
        "a dropped bucket watch's consumer to be deleted",
    )
    .await;

    let cache = fam.cache().await.expect("cache");
    cache.initialized().await.expect("initialized");
    assert_eq!(cache.len(), 2);
    assert_eq!(consumers(&nats, &fam).await, 1);
    drop(cache);
    until_none_left(&nats, &fam, "a dropped cache's consumer to be deleted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_dropped_outside_any_runtime_leave_no_consumer() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = values(&nats).await;
    fill(&fam, 20, 1).await;

    let mut keys = fam.keys(KeyFilter::any()).await.expect("keys");
    keys.next().await.expect("a key").expect("parsed");
    let watch = fam.watch(KeyFilter::any()).await.expect("watch");
    assert_eq!(consumers(&nats, &fam).await, 2);
    // A plain thread has no tokio runtime: dropping there must neither panic nor leak.
    let dropped = std::thread::spawn(move || {
        assert!(tokio::runtime::Handle::try_current().is_err());
        drop(keys);
        drop(watch);
    })
    .join();
    assert!(dropped.is_ok(), "dropping outside a runtime panicked");
    until_none_left(
        &nats,
        &fam,
        "consumers dropped outside a runtime to be deleted",
    )
    .await;
}

/// A Key/Value stream made by hand, as another client or an older tool may have made it.
async fn hand_made(
    nats: &async_nats::Client,
    history: i64,
    allow_direct: bool,
) -> (Values, async_nats::jetstream::Context) {
    let name = common::unique_bucket("handmade");
    let js = async_nats::jetstream::new(nats.clone());
    js.create_stream(Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: history,
        allow_rollup: true,
        deny_delete: true,
        allow_direct,
        ..Config::default()
    })
    .await
    .expect("create stream");
    let bucket = Bucket::open_name(nats, &name).await.expect("open");
    (Family::bind(&bucket, "v.{id}").expect("bind"), js)
}

#[tokio::test]
async fn without_direct_gets_a_history_reads_through_a_consumer_it_deletes() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (fam, _js) = hand_made(&nats, 10, false).await;
    fill(&fam, 1, 3).await;
    fam.delete(&key(0)).await.expect("delete");

    let history: Vec<_> = whole_history(&fam, &key(0)).await;
    let deltas: Vec<u64> = history.iter().map(|e| e.delta).collect();
    assert_eq!(deltas, [3, 2, 1, 0]);
    assert_eq!(history[1].value, Some(1));
    assert_eq!(history[3].operation, Operation::Delete);
    assert_eq!(consumers(&nats, &fam).await, 0, "read to the end");

    let mut open = fam.history(&key(0)).await.expect("history");
    open.next().await.expect("an entry").expect("decoded");
    assert_eq!(
        consumers(&nats, &fam).await,
        1,
        "without direct gets, a consumer"
    );
    drop(open);
    until_none_left(&nats, &fam, "the dropped history's consumer to be deleted").await;
}

#[tokio::test]
async fn a_long_history_is_read_in_several_batches() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let (fam, _js) = hand_made(&nats, 1_000, true).await;
    let k = key(7);
    for n in 0..600 {
        fam.put(&k, &n).await.expect("put");
    }
    fam.put(&key(8), &0).await.expect("put another key");

    let history: Vec<_> = whole_history(&fam, &k).await;
    let values: Vec<u32> = history.iter().filter_map(|e| e.value).collect();
    assert_eq!(values, (0..600).collect::<Vec<_>>());
    let deltas: Vec<u64> = history.iter().map(|e| e.delta).collect();
    assert_eq!(deltas, (0..600).rev().collect::<Vec<_>>());
    assert!(history.windows(2).all(|w| w[0].revision < w[1].revision));
    assert_eq!(consumers(&nats, &fam).await, 0);
}

#[tokio::test]
async fn a_history_ends_at_what_existed_when_it_started() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = values(&nats).await;
    fill(&fam, 1, 2).await;

    let mut history = fam.history(&key(0)).await.expect("history");
    let first = history.next().await.expect("an entry").expect("decoded");
    assert_eq!((first.value, first.delta), (Some(0), 1));
    fam.put(&key(0), &7).await.expect("a later put");
    let rest: Vec<_> = history.try_collect().await.expect("history");
    let values: Vec<Option<u32>> = rest.iter().map(|e| e.value).collect();
    assert_eq!(values, [Some(1)], "the later put is not waited for");
}

#[tokio::test]
async fn a_history_of_a_deleted_bucket_says_so() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = values(&nats).await;
    fill(&fam, 1, 1).await;
    Bucket::delete(&nats, fam.bucket().name())
        .await
        .expect("delete bucket");
    let error = fam.history(&key(0)).await.expect_err("an error");
    assert_eq!(error.kind(), ErrorKind::BucketNotFound);
    let error = fam.keys(KeyFilter::any()).await.expect_err("an error");
    assert_eq!(error.kind(), ErrorKind::BucketNotFound);
}
