//! Purging delete markers, emptying buckets, per-key TTL (ADR-48) and limit markers, against a
//! real nats-server.

mod common;

use std::time::Duration;

use futures::TryStreamExt;
use natskv::{Bucket, BucketSpec, ErrorKind, Family, MsgPack, Operation, PerKeyTtl};

type Notes = Family<String, String>;

fn k(s: &str) -> String {
    s.to_owned()
}

async fn notes(nats: &async_nats::Client, spec: BucketSpec) -> Notes {
    Family::bind(&Bucket::create(nats, &spec).await.unwrap(), "note.{id}").unwrap()
}

async fn history_ops(fam: &Notes, key: &str) -> Vec<Operation> {
    let entries: Vec<_> = fam
        .history(&k(key))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    entries.iter().map(|e| e.operation).collect()
}

#[tokio::test]
async fn purge_deletes_removes_markers_and_their_history() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = notes(&nats, BucketSpec::new("tidy").history(10)).await;
    assert_eq!(
        fam.bucket().purge_deletes(None).await.unwrap(),
        0,
        "nothing to do in an empty bucket"
    );

    for key in ["a", "b", "c"] {
        fam.put(&k(key), &"1".to_owned()).await.unwrap();
        fam.put(&k(key), &"2".to_owned()).await.unwrap();
    }
    fam.delete(&k("a")).await.unwrap();
    fam.purge(&k("b")).await.unwrap();
    assert_eq!(fam.bucket().status().await.unwrap().values, 2 + 3 + 1);

    // Markers younger than an hour are kept, the history behind them goes.
    assert_eq!(
        fam.bucket()
            .purge_deletes(Some(Duration::from_secs(3600)))
            .await
            .unwrap(),
        2
    );
    assert_eq!(history_ops(&fam, "a").await, [Operation::Delete]);
    assert_eq!(history_ops(&fam, "b").await, [Operation::Purge]);
    assert_eq!(
        history_ops(&fam, "c").await,
        [Operation::Put, Operation::Put],
        "live keys untouched"
    );

    // The default removes every marker at once.
    assert_eq!(fam.bucket().purge_deletes(None).await.unwrap(), 2);
    assert!(history_ops(&fam, "a").await.is_empty());
    assert!(history_ops(&fam, "b").await.is_empty());
    assert_eq!(fam.bucket().status().await.unwrap().values, 2);
    assert_eq!(fam.value(&k("c")).await.unwrap().as_deref(), Some("2"));
}

#[tokio::test]
async fn empty_removes_everything_but_keeps_the_bucket_and_revisions_going() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = notes(&nats, BucketSpec::new("emptied").history(5)).await;
    let mut last = 0;
    for i in 0..10 {
        last = fam.put(&format!("n{i}"), &i.to_string()).await.unwrap();
    }
    fam.delete(&k("n1")).await.unwrap();
    assert_eq!(fam.bucket().empty().await.unwrap(), 11);
    assert_eq!(fam.bucket().status().await.unwrap().values, 0);
    assert!(fam.get(&k("n2")).await.unwrap().is_none());
    let keys: Vec<String> = fam
        .keys(natskv::KeyFilter::any())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(keys.is_empty());
    let next = fam.put(&k("n2"), &"again".to_owned()).await.unwrap();
    assert!(next > last + 1, "the revision counter is not reset");
}

/// Per-key TTLs need nats-server 2.11; on an older server the test says so and stops.
async fn ttl_server() -> Option<natskv::server::NatsServer> {
    let server = common::server().await;
    common::needs_server(&server, (2, 11, 0), "per-key TTL and limit markers").then_some(server)
}

type Locks = Family<String, String, MsgPack, PerKeyTtl>;

/// Limit markers of one second: the server raises a per-key TTL below the bucket's
/// limit-marker TTL to it, so short TTLs need short markers.
async fn locks(nats: &async_nats::Client, name: &str) -> Locks {
    let spec = BucketSpec::new(name)
        .history(5)
        .limit_markers(Duration::from_secs(1));
    let bucket = Bucket::create(nats, &spec).await.unwrap();
    assert_eq!(
        bucket.status().await.unwrap().limit_markers,
        Some(Duration::from_secs(1))
    );
    Family::bind(&bucket, "lock.{name}").unwrap()
}

#[tokio::test]
async fn per_key_ttl_expires_the_value_and_leaves_a_purge_marker() {
    let Some(server) = ttl_server().await else {
        return;
    };
    let nats = common::connect(&server).await;
    let fam = locks(&nats, "ttl").await;
    let rev = fam
        .create_with_ttl(&k("leader"), &"me".to_owned(), Duration::from_secs(1))
        .await
        .unwrap();
    let other = fam.put(&k("forever"), &"x".to_owned()).await.unwrap();
    assert_eq!(fam.get(&k("leader")).await.unwrap().unwrap().revision, rev);

    // The expired value is replaced by a limit marker, which itself lives one second.
    let history = common::wait_for("the value to expire into a limit marker", || {
        let fam = fam.clone();
        async move {
            let h: Vec<_> = fam
                .history(&k("leader"))
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            h.iter().any(natskv::Entry::is_marker).then_some(h)
        }
    })
    .await;
    assert_eq!(
        history.len(),
        1,
        "the expired value is gone, its limit marker stays"
    );
    assert_eq!(
        history[0].operation,
        Operation::Purge,
        "Nats-Marker-Reason MaxAge reads as a purge"
    );
    assert!(history[0].revision > other);
    assert!(fam.get(&k("leader")).await.unwrap().is_none());
    assert_eq!(
        fam.value(&k("forever")).await.unwrap().as_deref(),
        Some("x"),
        "no TTL, no expiry"
    );
}

#[tokio::test]
async fn create_over_a_delete_marker_keeps_its_ttl() {
    let Some(server) = ttl_server().await else {
        return;
    };
    let nats = common::connect(&server).await;
    let fam = locks(&nats, "ttl_over").await;
    fam.put(&k("job"), &"old".to_owned()).await.unwrap();
    let marker = fam.delete(&k("job")).await.unwrap();
    let rev = fam
        .create_with_ttl(&k("job"), &"new".to_owned(), Duration::from_secs(1))
        .await
        .unwrap();
    assert!(rev > marker);
    assert_eq!(fam.value(&k("job")).await.unwrap().as_deref(), Some("new"));
    common::wait_for("the value created over the marker to expire", || {
        let fam = fam.clone();
        async move { fam.get(&k("job")).await.unwrap().is_none().then_some(()) }
    })
    .await;
    // And the first writer still wins against a live value.
    fam.create_with_ttl(&k("job2"), &"a".to_owned(), Duration::from_secs(30))
        .await
        .unwrap();
    let err = fam
        .create_with_ttl(&k("job2"), &"b".to_owned(), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongRevision);
}

#[tokio::test]
async fn sub_second_ttls_are_refused_not_truncated() {
    let Some(server) = ttl_server().await else {
        return;
    };
    let nats = common::connect(&server).await;
    let fam = locks(&nats, "ttl_short").await;
    for ttl in [
        Duration::from_millis(500),
        Duration::ZERO,
        Duration::from_millis(1500),
    ] {
        let err = fam
            .create_with_ttl(&k("x"), &"v".to_owned(), ttl)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{ttl:?}");
        assert_eq!(
            fam.purge_with_ttl(&k("x"), ttl).await.unwrap_err().kind(),
            ErrorKind::InvalidConfig
        );
    }
    assert_eq!(
        fam.bucket().status().await.unwrap().values,
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn purge_markers_can_expire_on_their_own() {
    let Some(server) = ttl_server().await else {
        return;
    };
    let nats = common::connect(&server).await;
    let fam = locks(&nats, "ttl_purge").await;
    fam.put(&k("gone"), &"v".to_owned()).await.unwrap();
    fam.purge_with_ttl(&k("gone"), Duration::from_secs(1))
        .await
        .unwrap();
    let entries: Vec<_> = fam
        .history(&k("gone"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        entries.iter().map(|e| e.operation).collect::<Vec<_>>(),
        [Operation::Purge]
    );
    common::wait_for("the purge marker to expire", || {
        let fam = fam.clone();
        async move {
            let left: Vec<_> = fam
                .history(&k("gone"))
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            left.is_empty().then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn bucket_ttl_leaves_limit_markers_when_declared() {
    let Some(server) = ttl_server().await else {
        return;
    };
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new("aging")
        .ttl(Duration::from_secs(1))
        .limit_markers(Duration::from_secs(60));
    let fam: Notes =
        Family::bind(&Bucket::create(&nats, &spec).await.unwrap(), "note.{id}").unwrap();
    fam.put(&k("old"), &"v".to_owned()).await.unwrap();
    let marker = common::wait_for("the bucket TTL to expire the value", || {
        let fam = fam.clone();
        async move {
            let h: Vec<_> = fam
                .history(&k("old"))
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            h.into_iter().find(natskv::Entry::is_marker)
        }
    })
    .await;
    assert_eq!(marker.operation, Operation::Purge);
    assert_eq!(marker.value, None);
}
