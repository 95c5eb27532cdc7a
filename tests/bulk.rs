//! Bulk reads against a real nats-server: `get_many` answers many keys with one request per
//! 1,024, in the order asked, one result per key.

mod common;

use std::sync::atomic::Ordering;

use natskv::{Bucket, BucketSpec, ErrorKind, Family, Raw};

type Counters = Family<String, u64>;

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
                assert_eq!(entry.value, Some(n));
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
