//! The bucket-wide, untyped road against a real nats-server: keys and histories over plain key
//! filters (several at once, overlapping ones included), and the latest entry of any key with
//! its marker, for keys no family declares.

mod common;

use bytes::Bytes;
use futures::TryStreamExt;
use natskv::{Bucket, BucketSpec, Error, ErrorKind, KeyErrorReason, Operation};

/// Writes `value` raw to `key` of the bucket, as another client would.
async fn put(
    js: &async_nats::jetstream::Context,
    bucket: &str,
    key: &str,
    value: &'static str,
) -> u64 {
    js.publish(
        format!("$KV.{bucket}.{key}"),
        Bytes::from_static(value.as_bytes()),
    )
    .await
    .unwrap()
    .await
    .unwrap()
    .sequence
}

async fn sorted_keys(bucket: &Bucket, filters: &[&str]) -> Vec<String> {
    common::sorted(bucket.keys(filters.iter().copied()).await.unwrap()).await
}

async fn consumer_count(js: &async_nats::jetstream::Context, bucket: &str) -> usize {
    let mut stream = js.get_stream(format!("KV_{bucket}")).await.unwrap();
    stream.info().await.unwrap().state.consumer_count
}

#[tokio::test]
async fn keys_history_and_latest_entries_by_key_filters() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let js = async_nats::jetstream::new(nats.clone());
    let name = common::unique_bucket("untyped");
    let bucket = Bucket::create(&nats, &BucketSpec::new(&name).history(5))
        .await
        .unwrap();
    let a1 = put(&js, &name, "user.a.name", "ann").await;
    let a2 = put(&js, &name, "user.a.name", "anne").await;
    let b = put(&js, &name, "user.b.name", "bob").await;
    put(&js, &name, "user.c", "deleted soon").await;
    put(&js, &name, "admin.root", "yes").await;
    put(&js, &name, "config.eu.limits", "10").await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("KV-Operation", "DEL");
    let del = js
        .publish_with_headers(format!("$KV.{name}.user.c"), headers, Bytes::new())
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence;

    // Keys with a live value, over one filter, several, overlapping ones, and all.
    assert_eq!(
        sorted_keys(&bucket, &["user.>"]).await,
        ["user.a.name", "user.b.name"]
    );
    assert_eq!(
        sorted_keys(&bucket, &["user.*.name", "admin.*"]).await,
        ["admin.root", "user.a.name", "user.b.name"]
    );
    assert_eq!(
        sorted_keys(&bucket, &["user.a.*", "*.a.name", "config.>"]).await,
        ["config.eu.limits", "user.a.name"],
        "overlapping filters: each key once"
    );
    assert_eq!(sorted_keys(&bucket, &[">"]).await.len(), 4);
    assert!(sorted_keys(&bucket, &["nobody.>"]).await.is_empty());

    // Every revision of the matching keys, markers included, in revision order.
    let history: Vec<_> = bucket
        .history(["user.>"])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let seen: Vec<(String, u64, Operation)> = history
        .iter()
        .map(|e| (e.key.clone(), e.revision, e.operation))
        .collect();
    assert_eq!(
        seen,
        [
            ("user.a.name".to_owned(), a1, Operation::Put),
            ("user.a.name".to_owned(), a2, Operation::Put),
            ("user.b.name".to_owned(), b, Operation::Put),
            ("user.c".to_owned(), del - 3, Operation::Put),
            ("user.c".to_owned(), del, Operation::Delete),
        ]
    );
    assert_eq!(history[1].value.as_deref(), Some(&b"anne"[..]));
    // Overlapping filters: each revision once, and only of the keys they match.
    let overlapping: Vec<(String, u64)> = bucket
        .history(["user.a.*", "*.a.name", "admin.>"])
        .await
        .unwrap()
        .map_ok(|e| (e.key, e.revision))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        overlapping,
        [
            ("user.a.name".to_owned(), a1),
            ("user.a.name".to_owned(), a2),
            ("admin.root".to_owned(), del - 2),
        ]
    );
    assert_eq!(history[4].value, None);

    // The latest entry of any key, with its marker.
    let latest = bucket.entry("user.a.name").await.unwrap().unwrap();
    assert_eq!(
        (latest.revision, latest.value.as_deref()),
        (a2, Some(&b"anne"[..]))
    );
    assert_eq!(&*latest.bucket, name.as_str());
    assert!(history.iter().all(|e| *e.bucket == *name));
    let marker = bucket.entry("user.c").await.unwrap().unwrap();
    assert_eq!(
        (marker.revision, marker.operation, marker.value),
        (del, Operation::Delete, None)
    );
    assert!(bucket.entry("user.z").await.unwrap().is_none());

    // Nothing left on the server once the listings ended.
    assert_eq!(consumer_count(&js, &name).await, 0);
}

#[tokio::test]
async fn bad_filters_and_keys_are_refused_before_any_wire_call() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("untyped_bad");
    let bucket = Bucket::create(&nats, &BucketSpec::new(&name))
        .await
        .unwrap();
    let before = nats
        .statistics()
        .out_messages
        .load(std::sync::atomic::Ordering::Relaxed);

    for filter in ["a.>.b", "", "a..b", "a b"] {
        let err = bucket.keys([filter]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{filter:?}: {err}");
    }
    let none: [&str; 0] = [];
    let err = bucket.history(none).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidKey { source, .. } if *source.reason() == KeyErrorReason::NoFilters),
        "{err:?}"
    );
    for key in ["a.*", "a.>", "_kv.x", "a..b"] {
        let err = bucket.entry(key).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{key:?}: {err}");
    }
    let long = "k".repeat(bucket.max_key_len() + 1);
    let err = bucket.entry(&long).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidKey { source, .. } if matches!(source.reason(), KeyErrorReason::TooLong { .. })),
        "{err:?}"
    );
    assert_eq!(
        nats.statistics()
            .out_messages
            .load(std::sync::atomic::Ordering::Relaxed),
        before,
        "nothing was sent"
    );
}
