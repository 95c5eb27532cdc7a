//! The live typed cache against a real nats-server: warm-up, reads, removal on delete and
//! purge, restriction to a filter, change notifications, undecodable entries, a server
//! restart, and stopping when the last handle goes.

mod common;

use common::{DeviceKey, dev, site};

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use natskv::{Bucket, BucketSpec, Cache, Family, Single};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct State {
    battery: u32,
}

fn state(battery: u32) -> State {
    State { battery }
}

type Devices = Family<DeviceKey, State>;

async fn devices(nats: &async_nats::Client) -> Devices {
    let spec = BucketSpec::new(common::unique_bucket("cache")).history(5);
    let bucket = Bucket::create(nats, &spec).await.expect("create bucket");
    Family::bind(&bucket, "site.{site}.device.{id}").expect("bind")
}

const WAIT: Duration = Duration::from_secs(10);

async fn initialized<K: Eq + std::hash::Hash + Clone, V: Clone>(cache: &Cache<K, V>) {
    tokio::time::timeout(WAIT, cache.initialized())
        .await
        .expect("initialized in time")
        .expect("initialized");
}

/// Waits, on the cache's change notifications, until `done` holds.
async fn until<K, V>(cache: &Cache<K, V>, what: &str, done: impl Fn(&Cache<K, V>) -> bool)
where
    K: Eq + std::hash::Hash + Clone,
    V: Clone,
{
    let mut changes = cache.changes();
    while !done(cache) {
        let Ok(result) = tokio::time::timeout(WAIT, changes.changed()).await else {
            panic!("timed out waiting for {what}");
        };
        result.expect("the cache is running");
    }
}

#[tokio::test]
async fn a_warm_cache_reads_like_a_map() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    fam.put(&dev("paris", 1), &state(10)).await.unwrap();
    fam.put(&dev("paris", 1), &state(11)).await.unwrap();
    fam.put(&dev("lyon", 2), &state(20)).await.unwrap();
    fam.put(&dev("lyon", 3), &state(30)).await.unwrap();
    let last = fam.delete(&dev("lyon", 3)).await.unwrap();

    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;
    assert!(cache.is_initialized());
    assert_eq!(cache.revision(), last);
    assert_eq!(cache.get(&dev("paris", 1)), Some(state(11)));
    assert_eq!(cache.get(&dev("lyon", 2)), Some(state(20)));
    assert_eq!(
        cache.get(&dev("lyon", 3)),
        None,
        "deleted before the cache started"
    );
    assert!(cache.contains_key(&dev("lyon", 2)));
    assert_eq!((cache.len(), cache.is_empty()), (2, false));
    let expected: HashMap<_, _> = [(dev("paris", 1), state(11)), (dev("lyon", 2), state(20))]
        .into_iter()
        .collect();
    assert_eq!(cache.snapshot(), expected);
    let mut total = 0;
    cache.for_each(|_, s| total += s.battery);
    assert_eq!(total, 31);
}

#[tokio::test]
async fn an_empty_family_is_initialized_at_once() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;
    assert!(cache.is_empty());

    let rev = fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    until(&cache, "the first key", |c| c.len() == 1).await;
    assert_eq!(cache.revision(), rev);
}

#[tokio::test]
async fn deletes_and_purges_remove_keys() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    fam.put(&dev("paris", 2), &state(2)).await.unwrap();
    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;
    assert_eq!(cache.len(), 2);

    let deleted = fam.delete(&dev("paris", 1)).await.unwrap();
    until(&cache, "the delete", |c| c.revision() >= deleted).await;
    assert_eq!(cache.get(&dev("paris", 1)), None);
    let purged = fam.purge(&dev("paris", 2)).await.unwrap();
    until(&cache, "the purge", |c| c.revision() >= purged).await;
    assert!(cache.is_empty());

    let back = fam.put(&dev("paris", 1), &state(3)).await.unwrap();
    until(&cache, "the new value", |c| c.revision() >= back).await;
    assert_eq!(cache.get(&dev("paris", 1)), Some(state(3)));
}

#[tokio::test]
async fn a_cache_can_be_restricted_to_a_filter() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    fam.put(&dev("lyon", 2), &state(2)).await.unwrap();

    let paris = fam.cache_with(site("paris")).await.unwrap();
    initialized(&paris).await;
    assert_eq!(
        paris.snapshot().into_keys().collect::<Vec<_>>(),
        [dev("paris", 1)]
    );

    fam.put(&dev("lyon", 3), &state(3)).await.unwrap();
    let rev = fam.put(&dev("paris", 4), &state(4)).await.unwrap();
    until(&paris, "paris 4", |c| c.contains_key(&dev("paris", 4))).await;
    assert_eq!(paris.revision(), rev);
    assert_eq!(paris.len(), 2, "lyon keys stay out: {:?}", paris.snapshot());

    let one = fam.cache_with(&dev("lyon", 2)).await.unwrap();
    initialized(&one).await;
    assert_eq!(
        one.snapshot().into_iter().collect::<Vec<_>>(),
        [(dev("lyon", 2), state(2))]
    );
}

#[tokio::test]
async fn changes_are_notified_with_their_revision() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;

    let mut changes = cache.changes();
    let rev = fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    let seen = tokio::time::timeout(WAIT, changes.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, rev);
    assert_eq!(changes.revision(), rev);
    assert_eq!(
        cache.get(&dev("paris", 1)),
        Some(state(1)),
        "applied before the notification"
    );

    // The one-shot form waits for the next change after the call. The spawned task may only
    // start waiting after a first put: keep writing until it has seen one.
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.changed().await })
    };
    let key = dev("paris", 2);
    let value = state(2);
    common::wait_for("the one-shot notification", || {
        let finished = waiter.is_finished();
        let (fam, key, value) = (&fam, &key, &value);
        async move {
            fam.put(key, value).await.unwrap();
            finished.then_some(())
        }
    })
    .await;
    let seen = waiter.await.unwrap().unwrap();
    assert!(seen > rev, "a change after the call: {seen} > {rev}");
}

#[tokio::test]
async fn undecodable_values_remove_their_key_and_the_cache_goes_on() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;

    let js = async_nats::jetstream::new(nats.clone());
    let prefix = format!("$KV.{}.", fam.bucket().name());
    for (key, payload) in [
        ("site.paris.device.1", &b"\xc1"[..]),
        ("site.paris.device.x", &b""[..]),
    ] {
        js.publish(format!("{prefix}{key}"), Bytes::from_static(payload))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let rev = fam.put(&dev("paris", 2), &state(2)).await.unwrap();
    until(&cache, "the entry after the bad ones", |c| {
        c.revision() >= rev
    })
    .await;
    assert_eq!(
        cache.get(&dev("paris", 1)),
        None,
        "no stale value for a key that no longer decodes"
    );
    assert_eq!(
        cache.snapshot().into_iter().collect::<Vec<_>>(),
        [(dev("paris", 2), state(2))]
    );
}

#[tokio::test]
async fn a_cache_survives_a_server_restart() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;

    server.restart().await.unwrap();
    let rev = common::wait_for("a put after the restart", || async {
        tokio::time::timeout(Duration::from_secs(2), fam.put(&dev("paris", 1), &state(2)))
            .await
            .ok()
            .and_then(Result::ok)
    })
    .await;
    until(&cache, "the write after the restart", |c| {
        c.revision() >= rev
    })
    .await;
    assert_eq!(cache.get(&dev("paris", 1)), Some(state(2)));
    let deleted = fam.delete(&dev("paris", 1)).await.unwrap();
    until(&cache, "the delete after the restart", |c| {
        c.revision() >= deleted
    })
    .await;
    assert!(cache.is_empty());
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_cache_and_its_consumer() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    let consumers = || common::consumer_count(&nats, fam.bucket().name());

    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;
    let clone = cache.clone();
    drop(cache);
    assert_eq!(consumers().await, 1, "a clone keeps it running");
    let rev = fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    until(&clone, "an update through the clone", |c| {
        c.revision() >= rev
    })
    .await;

    drop(clone);
    common::wait_for("the consumer to be removed", || async {
        (consumers().await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_single_key_has_a_cache_too() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new("single"))
        .await
        .unwrap();
    let maintenance: Single<bool> = Single::bind(&bucket, "maintenance").unwrap();
    let live = maintenance.cache().await.unwrap();
    initialized(&live).await;
    assert_eq!(live.get(&()), None);
    maintenance.put(&true).await.unwrap();
    until(&live, "the switch", |c| c.get(&()) == Some(true)).await;
}

#[tokio::test]
async fn a_cache_of_more_keys_than_one_batch_holds_every_key() {
    use futures::StreamExt;
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    // 2,500 keys: more than a batch direct get or one pull delivers.
    let keys: Vec<DeviceKey> = (0..2_500).map(|id| dev("paris", id)).collect();
    futures::stream::iter(&keys)
        .map(|key| {
            let fam = fam.clone();
            async move { fam.put(key, &state(key.id)).await.unwrap() }
        })
        .buffer_unordered(256)
        .collect::<Vec<_>>()
        .await;
    fam.put(&dev("paris", 0), &state(10_000)).await.unwrap();
    fam.delete(&dev("paris", 1)).await.unwrap();
    let last = fam.put(&dev("lyon", 1), &state(7)).await.unwrap();

    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;
    assert_eq!(cache.len(), 2_500, "2,499 in paris, one in lyon");
    assert_eq!(cache.revision(), last);
    assert_eq!(cache.get(&dev("paris", 0)), Some(state(10_000)));
    assert_eq!(cache.get(&dev("paris", 1)), None);
    assert!(
        keys[2..]
            .iter()
            .all(|key| cache.get(key) == Some(state(key.id)))
    );
    assert_eq!(cache.get(&dev("lyon", 1)), Some(state(7)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_right_after_warm_up_arrive_once_each_in_order() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    for id in 0..50 {
        fam.put(&dev("paris", id), &state(0)).await.unwrap();
    }
    let cache = fam.cache().await.unwrap();
    initialized(&cache).await;
    let counter = dev("paris", 7);

    // Written as soon as the cache is warm: each value once, one after the other.
    let writer = tokio::spawn({
        let (fam, counter) = (fam.clone(), counter.clone());
        async move {
            let mut last = 0;
            for n in 1..=200 {
                last = fam.put(&counter, &state(n)).await.unwrap();
            }
            last
        }
    });
    // The value never goes back (an entry applied twice, or out of order, would take it back)
    // and neither does the revision.
    let mut changes = cache.changes();
    let (mut seen, mut revision) = (0, 0);
    while seen < 200 {
        let Ok(next) = tokio::time::timeout(WAIT, changes.changed()).await else {
            panic!("timed out at value {seen}");
        };
        let now = next.expect("the cache is running");
        assert!(
            now >= revision,
            "revision went back from {revision} to {now}"
        );
        revision = now;
        let value = cache.get(&counter).expect("the key has a value").battery;
        assert!(value >= seen, "value went back from {seen} to {value}");
        seen = value;
    }
    let last = writer.await.unwrap();
    until(&cache, "the last write", |c| c.revision() == last).await;
    assert_eq!(cache.get(&counter), Some(state(200)));
    assert_eq!(cache.len(), 50);
}

/// Read your own writes: `wait_for_revision` returns once the cache holds the write, at once
/// when it already does (where `changed` would wait for a change that is not coming), and a
/// revision the cache never sees (another site's key) keeps it waiting.
#[tokio::test]
async fn a_write_is_read_back_from_the_cache_by_its_revision() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats).await;
    let paris = fam.cache_with(site("paris")).await.unwrap();

    let rev = fam.put(&dev("paris", 1), &state(1)).await.unwrap();
    let at = tokio::time::timeout(WAIT, paris.wait_for_revision(rev))
        .await
        .expect("the write reaches the cache")
        .unwrap();
    assert!(at >= rev, "at {at}, wrote {rev}");
    assert_eq!(paris.get(&dev("paris", 1)), Some(state(1)));

    // Already there: no new change is needed to return.
    let again = tokio::time::timeout(Duration::from_millis(500), paris.wait_for_revision(rev))
        .await
        .expect("returns at once")
        .unwrap();
    assert_eq!(again, at);
    let pending = tokio::time::timeout(Duration::from_millis(300), paris.changed()).await;
    assert!(pending.is_err(), "changed() waits for a next change");

    // Another site's write is not applied here, so its revision is never reached.
    let lyon = fam.put(&dev("lyon", 2), &state(2)).await.unwrap();
    let never =
        tokio::time::timeout(Duration::from_millis(500), paris.wait_for_revision(lyon)).await;
    assert!(
        never.is_err(),
        "a revision outside the filter is not reached"
    );
}
