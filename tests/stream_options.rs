//! Republish and placement, the bucket options about where writes go besides the bucket and
//! where the bucket lives, against real nats-servers: declared, applied, read back in the status,
//! and checked for drift.

mod common;

use std::time::Duration;

use futures::StreamExt;
use natskv::{Bucket, BucketSpec, ErrorKind, Family, Placement, Republish};

#[tokio::test]
async fn writes_are_republished_to_the_declared_subject() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("repub");
    let spec = BucketSpec::new(&name).republish(Republish::to("changes.>").keys("eu.>"));
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    let mut changes = nats.subscribe("changes.>").await.unwrap();
    nats.flush().await.unwrap();

    let fam: Family<String, u32> = Family::bind(&bucket, "eu.{city}").unwrap();
    let other: Family<String, u32> = Family::bind(&bucket, "us.{city}").unwrap();
    other.put(&"nyc".to_owned(), &1).await.unwrap();
    let revision = fam.put(&"paris".to_owned(), &7).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("republished")
        .expect("a message");
    assert!(
        message.subject.as_str().starts_with("changes.")
            && message.subject.as_str().ends_with("paris"),
        "{}",
        message.subject
    );
    assert_eq!(rmp_serde::from_slice::<u32>(&message.payload).unwrap(), 7);
    let sequence = message
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Sequence"))
        .map(|v| v.as_str().to_owned());
    assert_eq!(
        sequence,
        Some(revision.to_string()),
        "the revision travels along"
    );
    // The write to another key was not republished.
    let more = tokio::time::timeout(Duration::from_millis(300), changes.next()).await;
    assert!(more.is_err(), "us.nyc is outside the filter");

    let status = bucket.status().await.unwrap();
    assert_eq!(
        status.republish,
        Some(Republish::to("changes.>").keys("eu.>"))
    );
    Bucket::open(&nats, &spec).await.expect("no drift");
    let other = BucketSpec::new(&name).republish(Republish::to("changes.>").headers_only());
    let err = Bucket::open(&nats, &other).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigDrift);
    assert!(err.to_string().contains("republish"), "{err}");
}

#[tokio::test]
async fn bad_stream_options_fail_before_any_wire_call() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    for spec in [
        BucketSpec::new("b").republish(Republish::to("a..b")),
        BucketSpec::new("b").republish(Republish::to("$KV.other.>")),
        BucketSpec::new("b").republish(Republish::to("x.>").keys("a.>.b")),
        BucketSpec::new("b").placement(Placement::default()),
        BucketSpec::new("b").placement(Placement::cluster("")),
    ] {
        assert_eq!(
            spec.validate().unwrap_err().kind(),
            ErrorKind::InvalidConfig
        );
        let err = Bucket::create(&nats, &spec).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    }
    assert!(Bucket::list_names(&nats).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_bucket_is_placed_on_the_named_cluster() {
    let cluster = natskv::server::Cluster::start(3).await.unwrap();
    let addrs: Vec<async_nats::ServerAddr> =
        cluster.urls().iter().map(|u| u.parse().unwrap()).collect();
    let nats = async_nats::connect(addrs).await.unwrap();
    let cluster_name = nats.server_info().cluster.expect("a clustered server");

    let name = common::unique_bucket("placed");
    let spec = BucketSpec::new(&name)
        .replicas(3)
        .placement(Placement::cluster(&cluster_name));
    let bucket = common::create_on_new_cluster(&nats, &spec).await;
    let status = bucket.status().await.unwrap();
    assert_eq!(status.placement, Some(Placement::cluster(&cluster_name)));
    Bucket::open(&nats, &spec).await.expect("no drift");

    // A cluster that does not exist: the server refuses, nothing is created.
    let nowhere =
        BucketSpec::new(common::unique_bucket("nowhere")).placement(Placement::cluster("nowhere"));
    assert!(Bucket::create(&nats, &nowhere).await.is_err());
    assert!(
        !Bucket::list_names(&nats)
            .await
            .unwrap()
            .contains(&nowhere.name().to_owned())
    );
}
