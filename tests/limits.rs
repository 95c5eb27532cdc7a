//! Sizes are refused before the wire, with the limit that refuses them: the bucket's largest
//! value (the stream's `max_msg_size`) and the server's `max_payload`, both counting the
//! headers a write carries. What the server itself refuses is reported the same way.

mod common;

use std::sync::atomic::Ordering;

use async_nats::HeaderMap;
use natskv::{Bucket, BucketSpec, Error, ErrorKind, Family, Raw};

/// The header block of a put: `NATS/1.0\r\n`, `Nats-Msg-Id: <22-character NUID>\r\n`, `\r\n`.
const PUT_HEADERS: usize = 10 + 13 + 22 + 2 + 2;

/// How many messages `nats` has sent so far: unchanged across a call means it sent nothing.
fn sent(nats: &async_nats::Client) -> u64 {
    nats.statistics().out_messages.load(Ordering::Relaxed)
}

/// Puts `len` bytes at `blob.big`, which must be refused with `limit` before anything is sent.
async fn refused_before_the_wire(
    nats: &async_nats::Client,
    blobs: &Family<String, Vec<u8>, Raw>,
    len: usize,
    limit: u64,
) -> Error {
    let before = sent(nats);
    let err = blobs
        .put(&"big".to_owned(), &vec![7; len])
        .await
        .unwrap_err();
    assert_eq!(sent(nats), before, "nothing was sent");
    match &err {
        Error::ValueTooLarge {
            key,
            size,
            limit: refused_with,
            ..
        } => {
            assert_eq!(key, "blob.big");
            assert_eq!(*size, len + PUT_HEADERS);
            assert_eq!(*refused_with, Some(limit));
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    err
}

#[tokio::test]
async fn a_value_over_the_bucket_limit_is_refused_before_the_wire_with_the_limit() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("small")).max_value_size(256);
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    let blobs: Family<String, Vec<u8>, Raw> = Family::bind(&bucket, "blob.{id}").unwrap();

    let err = refused_before_the_wire(&nats, &blobs, 1000, 256).await;
    assert!(err.to_string().contains("limit 256"), "{err}");

    // The limit counts the headers, exactly as the server does: the largest value that fits
    // is stored, one byte more is refused before the wire.
    let fits = 256 - PUT_HEADERS;
    let revision = blobs.put(&"edge".to_owned(), &vec![1; fits]).await.unwrap();
    assert_eq!(
        blobs.value(&"edge".to_owned()).await.unwrap(),
        Some(vec![1; fits])
    );
    let before = sent(&nats);
    let err = blobs
        .put(&"edge".to_owned(), &vec![2; fits + 1])
        .await
        .unwrap_err();
    assert_eq!(sent(&nats), before, "nothing was sent");
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err:?}");
    assert!(
        matches!(
            err,
            Error::ValueTooLarge {
                size: 257,
                limit: Some(256),
                ..
            }
        ),
        "{err:?}"
    );
    // A compare-and-set carries one more header, and is held to the same limit.
    let err = blobs
        .update(&"edge".to_owned(), &vec![3; fits], revision)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err:?}");
    assert_eq!(
        bucket.status().await.unwrap().values,
        1,
        "only the fitting value"
    );

    // The server agrees on where the limit is: the same message sent raw is refused there.
    let js = async_nats::jetstream::new(nats.clone());
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "0123456789abcdefghijkl");
    let raw = js
        .publish_with_headers(
            format!("$KV.{}.blob.raw", bucket.name()),
            headers,
            vec![0; fits + 1].into(),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(raw.to_string().contains("10054"), "{raw}");
}

#[tokio::test]
async fn a_limit_lowered_since_the_handle_was_opened_is_reported_by_the_server_with_the_new_limit()
{
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("shrunk");
    let bucket = Bucket::create(&nats, &BucketSpec::new(&name).max_value_size(4096))
        .await
        .unwrap();
    let blobs: Family<String, Vec<u8>, Raw> = Family::bind(&bucket, "blob.{id}").unwrap();
    // Another program lowers the limit; this handle still knows 4096.
    Bucket::ensure(&nats, &BucketSpec::new(&name).max_value_size(512))
        .await
        .unwrap();

    let err = blobs
        .put(&"big".to_owned(), &vec![7; 1000])
        .await
        .unwrap_err();
    match &err {
        Error::ValueTooLarge {
            key,
            size,
            limit,
            source,
            ..
        } => {
            assert_eq!(key, "blob.big");
            assert_eq!(*size, 1000 + PUT_HEADERS);
            assert_eq!(*limit, Some(512), "the limit in force, read fresh");
            assert!(source.is_some(), "the server's answer is the source");
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    assert_eq!(bucket.status().await.unwrap().values, 0);
}

#[tokio::test]
async fn a_write_over_max_payload_is_refused_before_the_wire_with_the_server_limit() {
    let server = natskv::server::NatsServer::builder()
        .max_payload(2048)
        .start()
        .await
        .unwrap();
    let nats = common::connect(&server).await;
    assert_eq!(nats.server_info().max_payload, 2048);
    let bucket = Bucket::create(&nats, &BucketSpec::new(common::unique_bucket("payload")))
        .await
        .unwrap();
    let blobs: Family<String, Vec<u8>, Raw> = Family::bind(&bucket, "blob.{id}").unwrap();

    refused_before_the_wire(&nats, &blobs, 4000, 2048).await;
    // Headers count: a value that fits alone but not with its headers is refused too.
    let err = blobs
        .put(&"edge".to_owned(), &vec![7; 2048 - PUT_HEADERS + 1])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ValueTooLarge {
                limit: Some(2048),
                ..
            }
        ),
        "{err:?}"
    );
    // The connection was never put at risk: the largest value that fits is stored.
    let fits = vec![1; 2048 - PUT_HEADERS];
    blobs.put(&"edge".to_owned(), &fits).await.unwrap();
    assert_eq!(blobs.value(&"edge".to_owned()).await.unwrap(), Some(fits));
}
