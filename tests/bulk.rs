//! Bulk reads against a real nats-server: `get_many` answers many keys with one request per
//! 1,024, in the order asked, one result per key; `get_matching` reads every key matching a
//! partial key as one snapshot, also past 1,024 matches and without direct gets.

mod common;

use common::{DeviceKey, dev, site};

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use natskv::{Bucket, BucketSpec, ErrorKind, Family, KeyFilter, Raw, Snapshot};

type Counters = Family<String, u64>;

type Devices = Family<DeviceKey, u64>;

fn devices(bucket: &Bucket) -> Devices {
    Family::bind(bucket, "site.{site}.device.{id}").unwrap()
}

/// Writes `value` to every key, 256 writes in flight; returns the last revision.
async fn put_all(fam: &Devices, keys: &[DeviceKey], value: u64) -> u64 {
    use futures::StreamExt;
    let revisions: Vec<u64> = futures::stream::iter(keys)
        .map(|key| async move { fam.put(key, &value).await.unwrap() })
        .buffer_unordered(256)
        .collect()
        .await;
    revisions.into_iter().max().unwrap_or(0)
}

/// A snapshot's entries by key, as (revision, value); every entry must have decoded.
fn by_key(snapshot: &Snapshot<DeviceKey, u64>) -> HashMap<DeviceKey, (u64, u64)> {
    snapshot
        .entries
        .iter()
        .map(|entry| {
            let entry = entry.as_ref().unwrap();
            (entry.key.clone(), (entry.revision, entry.value))
        })
        .collect()
}

#[tokio::test]
async fn get_many_answers_every_key_in_order() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new(common::unique_bucket("many")))
        .await
        .unwrap();
    let fam: Counters = Family::bind(&bucket, "n.{id}").unwrap();
    let raw: Family<String, Vec<u8>, Raw> = Family::bind(&bucket, "n.{id}").unwrap();

    // 2,500 keys: three requests' worth. Every third is never written, one is deleted, one
    // holds a value that does not decode.
    let written: Vec<u64> = (0..2_500).filter(|i| i % 3 != 0).collect();
    for &i in &written {
        fam.put(&format!("k{i}"), &i).await.unwrap();
    }
    fam.delete(&"k1".to_owned()).await.unwrap();
    let bad = raw.put(&"k2".to_owned(), &vec![0xc1]).await.unwrap();

    // Asked in reverse, with a repeated key and a key that cannot be rendered.
    let mut keys: Vec<String> = (0..2_500).rev().map(|i| format!("k{i}")).collect();
    keys.push("k4".to_owned());
    keys.push("not.one.token".to_owned());

    let sent = nats.statistics().out_messages.load(Ordering::Relaxed);
    let results = fam.get_many(&keys).await.unwrap();
    let requests = nats.statistics().out_messages.load(Ordering::Relaxed) - sent;
    assert_eq!(requests, 3, "one request per 1,024 keys");
    assert_eq!(results.len(), keys.len());

    for (key, result) in keys.iter().zip(&results) {
        let Some(n) = key.strip_prefix('k').and_then(|n| n.parse::<u64>().ok()) else {
            let err = result.as_ref().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{key}");
            continue;
        };
        match n {
            1 => assert!(
                result.as_ref().unwrap().is_none(),
                "a deleted key has no value"
            ),
            2 => {
                let err = result.as_ref().unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Codec);
                assert_eq!(err.revision(), Some(bad));
            }
            n if n % 3 == 0 => assert!(result.as_ref().unwrap().is_none(), "{key}"),
            n => {
                let entry = result.as_ref().unwrap().as_ref().expect(key);
                assert_eq!(entry.key, *key);
                assert_eq!(entry.value, n);
            }
        }
    }
    // The same answers as one get at a time.
    for (key, result) in keys.iter().zip(&results).step_by(97) {
        let one = fam.get(key).await;
        match (one, result) {
            (Ok(one), Ok(many)) => assert_eq!(
                one.map(|e| (e.revision, e.value)),
                many.as_ref().map(|e| (e.revision, e.value))
            ),
            (Err(one), Err(many)) => assert_eq!(one.kind(), many.kind()),
            (one, many) => panic!("{key}: get {one:?}, get_many {many:?}"),
        }
    }
    assert_eq!(common::consumer_count(&nats, bucket.name()).await, 0);

    // Nothing asked, nothing sent.
    assert!(fam.get_many(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn get_many_on_a_deleted_bucket_says_so() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("many_gone");
    let bucket = Bucket::create(&nats, &BucketSpec::new(&name))
        .await
        .unwrap();
    let fam: Counters = Family::bind(&bucket, "n.{id}").unwrap();
    fam.put(&"a".to_owned(), &1).await.unwrap();
    Bucket::delete(&nats, &name).await.unwrap();
    let err = fam.get_many(&["a".to_owned()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketNotFound, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_many_is_one_snapshot_while_keys_change() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("snapshot")).history(5);
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    let fam: Counters = Family::bind(&bucket, "n.{id}").unwrap();
    let keys: Vec<String> = (0..2_500).map(|i| format!("k{i:04}")).collect();
    for key in &keys {
        fam.put(key, &0).await.unwrap();
    }

    // A writer goes round every key while the reads run, alternating between the first keys
    // and the last (which different requests read), recording each acknowledged write.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let order: Vec<String> = (0..keys.len() / 2)
        .flat_map(|i| [keys[i].clone(), keys[keys.len() - 1 - i].clone()])
        .collect();
    let writer = tokio::spawn({
        let (fam, order, stop) = (fam.clone(), order, stop.clone());
        async move {
            let mut acked = Vec::new();
            for (n, key) in order.iter().cycle().enumerate() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let revision = fam.put(key, &(n as u64)).await.unwrap();
                acked.push((key.clone(), revision));
            }
            acked
        }
    });
    let mut snapshots = Vec::new();
    for _ in 0..5 {
        snapshots.push(fam.get_many(&keys).await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await.unwrap();
    assert!(acked.len() > 10, "the writer wrote during the reads");

    // Each snapshot is as of one revision R (its newest entry): every write at or below R is
    // in it, none above.
    for snapshot in snapshots {
        let revisions: std::collections::HashMap<&str, u64> = keys
            .iter()
            .zip(&snapshot)
            .map(|(key, entry)| {
                let entry = entry.as_ref().unwrap().as_ref().unwrap();
                (key.as_str(), entry.revision)
            })
            .collect();
        let as_of = revisions.values().copied().max().unwrap();
        for (key, revision) in acked.iter().filter(|(_, r)| *r <= as_of) {
            assert!(
                revisions[key.as_str()] >= *revision,
                "{key}: write at {revision} is missing from a snapshot as of {as_of}"
            );
        }
    }
}

#[tokio::test]
async fn get_matching_reads_the_live_keys_of_a_partial_key() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("matching")).history(5);
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    let fam = devices(&bucket);
    let raw: Family<DeviceKey, Vec<u8>, Raw> =
        Family::bind(&bucket, "site.{site}.device.{id}").unwrap();
    for id in 0..6 {
        fam.put(&dev("paris", id), &u64::from(id)).await.unwrap();
    }
    let newer = fam.put(&dev("paris", 0), &100).await.unwrap();
    fam.put(&dev("lyon", 0), &7).await.unwrap();
    fam.delete(&dev("paris", 1)).await.unwrap();
    fam.purge(&dev("paris", 2)).await.unwrap();
    let bad = raw.put(&dev("paris", 3), &vec![0xc1]).await.unwrap();
    // Written by someone else: the pattern's shape, but not a u32 id.
    let foreign: Family<String, u64> = Family::bind(&bucket, "site.paris.device.{id}").unwrap();
    let last = foreign.put(&"x".to_owned(), &1).await.unwrap();

    let snapshot = fam.get_matching(site("paris")).await.unwrap();
    assert_eq!(snapshot.revision, last, "as of the bucket's last revision");
    let revisions: Vec<u64> = snapshot
        .entries
        .iter()
        .map(|e| match e {
            Ok(e) => e.revision,
            Err(e) => e.revision().unwrap(),
        })
        .collect();
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "revision order: {revisions:?}"
    );
    let mut values = HashMap::new();
    let mut kinds = Vec::new();
    for entry in &snapshot.entries {
        match entry {
            Ok(entry) => {
                values.insert(entry.key.id, (entry.revision, entry.value));
            }
            Err(error) => kinds.push((error.kind(), error.revision())),
        }
    }
    assert_eq!(values.len(), 3, "{values:?}");
    assert_eq!(values[&0], (newer, 100));
    assert_eq!(values[&4].1, 4);
    assert_eq!(values[&5].1, 5);
    assert_eq!(
        kinds,
        [
            (ErrorKind::Codec, Some(bad)),
            (ErrorKind::InvalidKey, Some(last))
        ]
    );

    // A filter nothing matches: empty, as of the bucket's last revision.
    let none = fam.get_matching(site("nowhere")).await.unwrap();
    assert!(none.entries.is_empty());
    assert_eq!(none.revision, last);
    assert_eq!(common::consumer_count(&nats, bucket.name()).await, 0);

    // An invalid fixed parameter is refused before anything is sent.
    let err = fam.get_matching(site("a.b")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
}

#[tokio::test]
async fn get_matching_an_empty_bucket_is_empty_as_of_revision_0() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new(common::unique_bucket("empty")))
        .await
        .unwrap();
    let snapshot = devices(&bucket)
        .get_matching(KeyFilter::any())
        .await
        .unwrap();
    assert!(snapshot.entries.is_empty());
    assert_eq!(snapshot.revision, 0);
}

#[tokio::test]
async fn get_matching_reads_past_1024_matches() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new(common::unique_bucket("wide")))
        .await
        .unwrap();
    let fam = devices(&bucket);
    let paris: Vec<DeviceKey> = (0..2_500).map(|id| dev("paris", id)).collect();
    put_all(&fam, &paris, 1).await;
    let lyon: Vec<DeviceKey> = (0..10).map(|id| dev("lyon", id)).collect();
    let last = put_all(&fam, &lyon, 2).await;
    fam.delete(&dev("paris", 17)).await.unwrap();
    let last = last.max(fam.put(&dev("paris", 18), &3).await.unwrap());

    let snapshot = fam.get_matching(site("paris")).await.unwrap();
    assert_eq!(snapshot.revision, last);
    let got = by_key(&snapshot);
    assert_eq!(got.len(), 2_499, "every live key once");
    assert!(!got.contains_key(&dev("paris", 17)), "deleted");
    assert_eq!(got[&dev("paris", 18)], (last, 3));
    assert!(
        paris
            .iter()
            .filter(|k| k.id != 17 && k.id != 18)
            .all(|k| got[k].1 == 1)
    );

    let all = fam.get_matching(KeyFilter::any()).await.unwrap();
    assert_eq!(all.entries.len(), 2_509);
    assert_eq!(common::consumer_count(&nats, bucket.name()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_matching_is_one_snapshot_while_keys_change() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("matching_snapshot")).history(5);
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    let fam = devices(&bucket);
    // 2,500 keys: read as named keys, 1,024 to a request, after one listing.
    let keys: Vec<DeviceKey> = (0..2_500).map(|id| dev("paris", id)).collect();
    put_all(&fam, &keys, 0).await;

    // A writer goes round the first keys and the last (which different requests read), and
    // adds new keys, recording each acknowledged write.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let (fam, stop) = (fam.clone(), stop.clone());
        async move {
            let mut acked = Vec::new();
            for n in 0u32.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let key = match n % 3 {
                    0 => dev("paris", n % 100),
                    1 => dev("paris", 2_499 - n % 100),
                    _ => dev("paris", 10_000 + n),
                };
                let revision = fam.put(&key, &u64::from(n)).await.unwrap();
                acked.push((key, revision));
            }
            acked
        }
    });
    let mut snapshots = Vec::new();
    for _ in 0..4 {
        snapshots.push(fam.get_matching(site("paris")).await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await.unwrap();
    assert!(acked.len() > 10, "the writer wrote during the reads");

    // As of its revision R: every write at or below R is in it, none above.
    for snapshot in &snapshots {
        let got = by_key(snapshot);
        assert!(
            got.values()
                .all(|(revision, _)| *revision <= snapshot.revision)
        );
        for (key, revision) in acked.iter().filter(|(_, r)| *r <= snapshot.revision) {
            let seen = got.get(key).map(|(r, _)| *r);
            assert!(
                seen.is_some_and(|seen| seen >= *revision),
                "{key:?}: write at {revision} missing from a snapshot as of {}",
                snapshot.revision
            );
        }
    }
}

#[tokio::test]
async fn without_direct_gets_get_matching_reads_through_a_consumer_it_deletes() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("nodirect");
    let js = async_nats::jetstream::new(nats.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 5,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let bucket = Bucket::open_name(&nats, &name).await.unwrap();
    let fam = devices(&bucket);
    for id in 0..5 {
        fam.put(&dev("paris", id), &u64::from(id)).await.unwrap();
    }
    fam.put(&dev("paris", 0), &10).await.unwrap();
    fam.delete(&dev("paris", 1)).await.unwrap();
    let last = fam.put(&dev("lyon", 0), &20).await.unwrap();

    let snapshot = fam.get_matching(site("paris")).await.unwrap();
    assert_eq!(snapshot.revision, last);
    let got = by_key(&snapshot);
    let values: HashMap<u32, u64> = got.iter().map(|(k, (_, v))| (k.id, *v)).collect();
    assert_eq!(values, HashMap::from([(0, 10), (2, 2), (3, 3), (4, 4)]));
    assert_eq!(common::consumer_count(&nats, bucket.name()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_reads_go_on_after_an_answer_cut_short() {
    use futures::StreamExt;
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new(common::unique_bucket("big")))
        .await
        .unwrap();
    let fam: Family<String, Vec<u8>, Raw> = Family::bind(&bucket, "big.{id}").unwrap();
    // 700 values of 100 kB: 70 MB, more than the server sends in one answer (64 MiB).
    let value = |i: usize| {
        let mut v = vec![0u8; 100_000];
        v[..8].copy_from_slice(&(i as u64).to_be_bytes());
        v
    };
    let keys: Vec<String> = (0..700).map(|i| format!("k{i}")).collect();
    futures::stream::iter(keys.iter().enumerate())
        .map(|(i, key)| {
            let fam = fam.clone();
            async move { fam.put(key, &value(i)).await.unwrap() }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;

    let sent = nats.statistics().out_messages.load(Ordering::Relaxed);
    let many = fam.get_many(&keys).await.unwrap();
    let requests = nats.statistics().out_messages.load(Ordering::Relaxed) - sent;
    assert!(
        requests >= 2,
        "the answer was cut short and asked for again"
    );
    for (i, entry) in many.iter().enumerate() {
        let entry = entry.as_ref().unwrap().as_ref().expect("every key");
        assert_eq!(entry.value, value(i));
    }

    let matching = fam.get_matching(KeyFilter::any()).await.unwrap();
    assert_eq!(matching.entries.len(), 700);
    for entry in &matching.entries {
        let entry = entry.as_ref().unwrap();
        let i: usize = entry.key[1..].parse().unwrap();
        assert_eq!(entry.value, value(i));
    }
}

/// On a replicated bucket every replica answers direct gets, so the answers to the requests
/// `get_many` keeps in flight together come from different servers and interleave: each is
/// still read whole, and every key is found at its revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_many_on_a_replicated_bucket_reads_every_key() {
    let cluster = natskv::server::Cluster::start(3).await.unwrap();
    let addrs: Vec<async_nats::ServerAddr> =
        cluster.urls().iter().map(|u| u.parse().unwrap()).collect();
    let nats = async_nats::connect(addrs).await.unwrap();
    let name = common::unique_bucket("gm_replicated");
    let bucket = common::create_on_new_cluster(&nats, &BucketSpec::new(&name).replicas(3)).await;
    let fam = devices(&bucket);
    let keys: Vec<DeviceKey> = (0..10_000)
        .map(|i| dev(&format!("s{}", i % 7), i))
        .collect();
    let last = put_all(&fam, &keys, 7).await;
    for _ in 0..3 {
        let entries = fam.get_many(&keys).await.unwrap();
        assert_eq!(entries.len(), keys.len());
        let mut revisions: Vec<u64> = entries
            .into_iter()
            .map(|e| {
                let entry = e.unwrap().expect("every key was written");
                assert_eq!(entry.value, 7);
                entry.revision
            })
            .collect();
        revisions.sort_unstable();
        revisions.dedup();
        assert_eq!(revisions.len(), keys.len(), "one revision per key");
        assert_eq!(revisions.last(), Some(&last));
    }
}
