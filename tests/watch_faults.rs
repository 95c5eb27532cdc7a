//! Watches and caches under faults that deliver no entries, against a real nats-server: a
//! bucket deleted and created again (its revisions start over), a bucket emptied, and a slow
//! reader whose client drops what it cannot hold. Each must be noticed in bounded time.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use natskv::{Bucket, BucketSpec, Cache, Error, ErrorKind, Family, KeyFilter};

type Values = Family<String, u32>;

/// How often the watches of these tests check their bucket: short, to keep the tests short.
const CHECK: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(15);

fn spec(name: &str) -> BucketSpec {
    BucketSpec::new(name).history(5)
}

async fn values(nats: &async_nats::Client, name: &str) -> Values {
    let bucket = Bucket::create(nats, &spec(name))
        .await
        .expect("create bucket");
    Family::bind(&bucket, "v.{key}").expect("bind")
}

/// Deletes the bucket and creates it again, empty, with the same configuration.
async fn recreate(nats: &async_nats::Client, name: &str) -> Values {
    Bucket::delete(nats, name).await.expect("delete bucket");
    values(nats, name).await
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    match tokio::time::timeout(WAIT, stream.next()).await {
        Ok(item) => item,
        Err(tokio::time::error::Elapsed { .. }) => panic!("nothing within {WAIT:?}"),
    }
}

/// Skips the `BucketNotFound` items a watch reports while its bucket is missing, and returns
/// the first other item.
async fn past_missing<T, S>(stream: &mut S) -> Option<natskv::Result<T>>
where
    S: Stream<Item = natskv::Result<T>> + Unpin,
{
    loop {
        match next(stream).await {
            Some(Err(error)) if error.kind() == ErrorKind::BucketNotFound => {}
            other => return other,
        }
    }
}

#[tokio::test]
async fn a_watch_ends_with_an_error_when_its_bucket_is_recreated() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("recreated");
    let fam = values(&nats, &name).await;
    for n in 1..=3 {
        fam.put(&format!("k{n}"), &n).await.unwrap();
    }
    let mut w = fam
        .watch_with(KeyFilter::any())
        .check_every(CHECK)
        .start()
        .await
        .unwrap();
    for n in 1..=3 {
        assert_eq!(next(&mut w).await.unwrap().unwrap().revision, n);
    }

    // The new bucket soon has more revisions than the watch saw: none of them may come out
    // as if the old bucket went on.
    let fresh = recreate(&nats, &name).await;
    let recreated = Instant::now();
    for n in 1..=5 {
        fresh.put(&format!("new{n}"), &n).await.unwrap();
    }
    let error = past_missing(&mut w).await.expect("an error item");
    let error = error.expect_err("an error, not an entry of the new bucket");
    eprintln!("recreate detected after {:?}", recreated.elapsed());
    assert_eq!(error.kind(), ErrorKind::BucketRecreated);
    assert_eq!(error.bucket(), Some(name.as_str()));
    assert_eq!(error.revision(), Some(3));
    assert!(matches!(error, Error::BucketRecreated { revision: 3, .. }));
    let after = next(&mut w).await;
    assert!(
        after.is_none(),
        "the watch ends after the error, not {after:?}"
    );
    assert!(w.next().await.is_none(), "and stays ended");
    common::wait_for("the old watch's consumer to be gone", || async {
        (common::consumer_count(&nats, &name).await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_idle_bucket_watch_notices_a_recreate_with_fewer_revisions() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("recreated");
    let fam = values(&nats, &name).await;
    for n in 1..=4 {
        fam.put(&format!("k{n}"), &n).await.unwrap();
    }
    let mut w = fam
        .bucket()
        .watch_with()
        .updates_only()
        .check_every(CHECK)
        .start()
        .await
        .unwrap();
    assert_eq!(w.last_revision(), 4);
    let fresh = recreate(&nats, &name).await;
    fresh.put(&"k1".to_owned(), &1).await.unwrap();
    let error = past_missing(&mut w)
        .await
        .expect("an error item")
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BucketRecreated);
    assert_eq!(error.revision(), Some(4));
    assert!(next(&mut w).await.is_none());
}

/// Waits, on the cache's change notifications, until `done` holds; returns how long it took.
async fn until<K, V>(
    cache: &Cache<K, V>,
    what: &str,
    done: impl Fn(&Cache<K, V>) -> bool,
) -> Duration
where
    K: Eq + std::hash::Hash + Clone,
    V: Clone,
{
    let start = Instant::now();
    let mut changes = cache.changes();
    while !done(cache) {
        let Ok(result) = tokio::time::timeout(WAIT, changes.changed()).await else {
            panic!("timed out waiting for {what}");
        };
        result.expect("the cache is running");
    }
    start.elapsed()
}

fn map(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test]
async fn a_cache_reloads_a_recreated_bucket() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("reloaded");
    let fam = values(&nats, &name).await;
    for (n, key) in (0..).zip(["a", "b", "c", "d"]) {
        fam.put(&key.to_owned(), &n).await.unwrap();
    }
    let cache = fam.cache().await.unwrap();
    tokio::time::timeout(WAIT, cache.initialized())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cache.revision(), 4);

    let fresh = recreate(&nats, &name).await;
    fresh.put(&"x".to_owned(), &10).await.unwrap();
    let rev = fresh.put(&"b".to_owned(), &11).await.unwrap();
    assert_eq!(rev, 2);
    let took = until(&cache, "the new bucket's contents", |c| {
        c.snapshot() == map(&[("x", 10), ("b", 11)])
    })
    .await;
    eprintln!("cache reloaded the recreated bucket after {took:?}");
    assert_eq!(
        cache.revision(),
        2,
        "the revision starts over with the new bucket"
    );
    assert!(cache.is_initialized());

    // And it goes on following the new bucket.
    let rev = fresh.put(&"y".to_owned(), &12).await.unwrap();
    until(&cache, "an update of the new bucket", |c| {
        c.revision() >= rev
    })
    .await;
    assert_eq!(cache.get(&"y".to_owned()), Some(12));
    assert_eq!(cache.len(), 3);
}

#[tokio::test]
async fn a_cache_forgets_what_empty_removed() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = values(&nats, &common::unique_bucket("emptied")).await;
    for (n, key) in (0..).zip(["a", "b", "c"]) {
        fam.put(&key.to_owned(), &n).await.unwrap();
    }
    let cache = fam.cache().await.unwrap();
    tokio::time::timeout(WAIT, cache.initialized())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cache.len(), 3);

    assert_eq!(fam.bucket().empty().await.unwrap(), 3);
    let took = until(&cache, "the emptied bucket", Cache::is_empty).await;
    eprintln!("cache converged to the emptied bucket after {took:?}");

    // Writes after the empty are cached as before; revisions go on.
    let rev = fam.put(&"a".to_owned(), &7).await.unwrap();
    assert_eq!(rev, 4);
    until(&cache, "a write after the empty", |c| c.revision() >= rev).await;
    assert_eq!(cache.snapshot(), map(&[("a", 7)]));
}

/// Writes `count` entries without waiting for each acknowledgement.
async fn fill(nats: &async_nats::Client, bucket: &str, count: u32) {
    let js = async_nats::jetstream::new(nats.clone());
    let mut acks = Vec::new();
    for n in 0..count {
        let value = rmp_serde::to_vec_named(&n).unwrap();
        let ack = js
            .publish(format!("$KV.{bucket}.v.k{n}"), value.into())
            .await;
        acks.push(ack.expect("publish"));
    }
    for ack in acks {
        ack.await.expect("acknowledged");
    }
}

/// A client whose subscriptions hold only `capacity` messages: what does not fit is dropped.
async fn small_buffered_client(url: &str, capacity: usize) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .subscription_capacity(capacity)
        .connect(url)
        .await
        .expect("connect")
}

/// A reader of about one entry per millisecond behind a client that cannot hold a whole pull
/// (async-nats pulls 500 entries at a time). Before the fix, the client dropped what did not
/// fit, async-nats kept counting it as requested and asked for nothing more, and the watch sat
/// idle until the ordered consumer's 35 s pull expiry: one stall of 35 s per pull. The watch
/// now notices a consumer that holds entries back while it idles, restarts after the last
/// revision it delivered, and halves its pull until the client holds it.
#[tokio::test]
async fn a_slow_reader_makes_steady_progress_when_its_client_drops_entries() {
    const COUNT: u32 = 1_500;
    let server = common::server().await;
    let writer = common::connect(&server).await;
    let name = common::unique_bucket("slow");
    values(&writer, &name).await;
    fill(&writer, &name, COUNT).await;

    let nats = small_buffered_client(&server.url(), 64).await;
    let bucket = Bucket::open_name(&nats, &name).await.unwrap();
    let fam: Values = Family::bind(&bucket, "v.{key}").unwrap();
    let mut w = fam
        .watch_with(KeyFilter::any())
        .history()
        .check_every(CHECK)
        .start()
        .await
        .unwrap();
    let start = Instant::now();
    let mut last = Instant::now();
    let mut longest = Duration::ZERO;
    for revision in 1..=u64::from(COUNT) {
        let entry = next(&mut w).await.expect("an item").expect("an entry");
        assert_eq!(entry.revision, revision, "every revision once, in order");
        longest = longest.max(last.elapsed());
        last = Instant::now();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!(
        "{COUNT} entries in {:?}, longest gap between two {longest:?}",
        start.elapsed()
    );
    assert!(
        longest < Duration::from_secs(5),
        "a gap of {longest:?}: the watch stalled"
    );
}
