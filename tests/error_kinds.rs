//! Errors that tell the truth: each kind decided from facts the server gave, against a real
//! nats-server: a deleted bucket, a restarting server, keys too long for the wire, and texts
//! that read well.

mod common;

use std::time::{Duration, Instant};

use natskv::key::KeyErrorReason;
use natskv::{Bucket, BucketSpec, Error, ErrorKind, Family};

type Counters = Family<String, u64>;

async fn counters(nats: &async_nats::Client, name: &str) -> Counters {
    let bucket = Bucket::create(nats, &BucketSpec::new(name))
        .await
        .expect("create bucket");
    Family::bind(&bucket, "n.{id}").expect("bind")
}

#[tokio::test]
async fn a_deleted_bucket_is_not_found_for_reads_and_writes() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = counters(&nats, &common::unique_bucket("gone")).await;
    let key = "a".to_owned();
    fam.put(&key, &1).await.unwrap();
    Bucket::delete(&nats, fam.bucket().name()).await.unwrap();

    // Nobody answers a direct get or a publish on a bucket that is gone; the stream info says
    // why, and that decides the kind (not "JetStream is not enabled").
    let read = fam.get(&key).await.unwrap_err();
    assert_eq!(read.kind(), ErrorKind::BucketNotFound, "{read:?}");
    let pinned = fam.get_revision(&key, 1).await.unwrap_err();
    assert_eq!(pinned.kind(), ErrorKind::BucketNotFound, "{pinned:?}");
    let write = fam.put(&key, &2).await.unwrap_err();
    assert_eq!(write.kind(), ErrorKind::BucketNotFound, "{write:?}");
    assert_eq!(write.bucket(), Some(fam.bucket().name()));
    let status = fam.bucket().status().await.unwrap_err();
    assert_eq!(status.kind(), ErrorKind::BucketNotFound, "{status:?}");
}

#[tokio::test]
async fn a_bucket_whose_server_is_down_is_unavailable_never_missing() {
    let mut cluster = natskv::server::Cluster::start(3).await.unwrap();
    let admin = common::connect_url(&cluster.url(0)).await;
    let name = common::unique_bucket("offline");
    let bucket = Bucket::create(&admin, &BucketSpec::new(&name).replicas(1))
        .await
        .unwrap();
    let fam: Counters = Family::bind(&bucket, "n.{id}").unwrap();
    let key = "a".to_owned();
    fam.put(&key, &1).await.unwrap();

    // The one node that holds the bucket goes down; a client on another node asks for it.
    let js = async_nats::jetstream::new(admin.clone());
    let mut stream = js.get_stream(format!("KV_{name}")).await.unwrap();
    let info = stream.info().await.unwrap();
    let leader = info
        .cluster
        .clone()
        .and_then(|c| c.leader)
        .expect("a leader");
    let host: usize = leader.trim_start_matches("natskv-").parse().unwrap();
    let other = (host + 1) % 3;
    let nats = common::connect_url(&cluster.url(other)).await;
    let mut js = async_nats::jetstream::new(nats.clone());
    js.set_timeout(Duration::from_secs(2));
    let fam: Counters =
        Family::bind(&Bucket::open_name(&js, &name).await.unwrap(), "n.{id}").unwrap();
    cluster.stop_node(host).await.unwrap();

    // Nobody answers; that is not a missing bucket nor a server without JetStream.
    let read = fam.get(&key).await.unwrap_err();
    assert!(
        matches!(read.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
        "{read:?}"
    );
    assert!(read.is_transient(), "{read}");
    eprintln!("a read while the bucket's node is down: {read}");

    // Back up, the same handle reads again.
    cluster.restart_node(host).await.unwrap();
    let value = common::wait_for("the bucket's node to serve it again", || {
        let (fam, key) = (fam.clone(), key.clone());
        async move { fam.value(&key).await.ok() }
    })
    .await;
    assert_eq!(value, Some(1));
}

#[tokio::test]
async fn keys_too_long_for_the_wire_are_refused_before_sending() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = counters(&nats, &common::unique_bucket("long")).await;
    let limit = fam.bucket().max_key_len();
    assert!(limit > 3_000 && limit < 4_096, "{limit}");

    // The longest key works for every operation that sends it.
    let longest = "x".repeat(limit - "n.".len());
    let rev = fam.put(&longest, &7).await.unwrap();
    assert_eq!(fam.get(&longest).await.unwrap().unwrap().revision, rev);
    assert_eq!(fam.update(&longest, &8, rev).await.unwrap(), rev + 1);
    fam.delete(&longest).await.unwrap();

    // One byte more, or a 5,000-byte token, is an InvalidKey at once; nothing is sent, so the
    // connection stays up and the next operation works.
    for too_long in ["x".repeat(limit - 1), "y".repeat(5_000)] {
        let started = Instant::now();
        let err = fam.put(&too_long, &1).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "refused at once"
        );
        let Error::InvalidKey { source, .. } = &err else {
            panic!("expected InvalidKey, got {err:?}");
        };
        assert_eq!(
            source.reason(),
            &KeyErrorReason::TooLong {
                length: too_long.len() + 2,
                limit
            }
        );
        assert!(err.to_string().contains("invalid key"), "{err}");
        let get = fam.get(&too_long).await.unwrap_err();
        assert_eq!(get.kind(), ErrorKind::InvalidKey);
    }
    assert_eq!(
        nats.statistics()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    fam.put(&"short".to_owned(), &1).await.unwrap();
}

#[tokio::test]
async fn error_texts_read_well() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("texts");
    Bucket::create(&nats, &BucketSpec::new(&name).history(2))
        .await
        .unwrap();

    // Durations for people: "none", not "0ns".
    let declared = BucketSpec::new(&name)
        .history(2)
        .ttl(Duration::from_secs(90));
    let err = Bucket::open(&nats, &declared).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigDrift);
    let text = err.to_string();
    assert!(
        text.contains("ttl: declared 1m30s, server has none"),
        "{text}"
    );
    assert!(!text.contains("0ns"), "{text}");

    // An operation on a bucket is named once, not "create bucket on bucket".
    let err = Bucket::ensure(
        &nats,
        &BucketSpec::new(&name).storage(natskv::Storage::Memory),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("update configuration on bucket `{name}` failed")),
        "{text}"
    );
    assert_eq!(text.matches("bucket").count(), 1, "{text}");
}
