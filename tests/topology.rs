//! Mirrors and aggregates (ADR-8 topologies) read through typed read-only handles, against a
//! real nats-server.

mod common;

use futures::TryStreamExt;
use natskv::{Bucket, BucketSpec, ErrorKind, Family, KeyFilter, MsgPack, Origin, ReadOnly};

type Orders = Family<String, u32>;
type OrdersRo = Family<String, u32, MsgPack, ReadOnly>;

const ORDERS: &str = "order.{id}";

fn k(s: &str) -> String {
    s.to_owned()
}

async fn origin(nats: &async_nats::Client, name: &str, keys: &[(&str, u32)]) -> Orders {
    let bucket = Bucket::create(nats, &BucketSpec::new(name).history(5))
        .await
        .unwrap();
    let fam: Orders = Family::bind(&bucket, ORDERS).unwrap();
    for (key, value) in keys {
        fam.put(&k(key), value).await.unwrap();
    }
    fam
}

/// Waits until `fam` reads `value` at `key`.
async fn arrives(fam: &OrdersRo, key: &str, value: u32) {
    common::arrives(fam, &k(key), &value).await;
}

#[tokio::test]
async fn a_mirror_serves_reads_and_refuses_writable_handles() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let orders = origin(&nats, "orders", &[("a", 1), ("b", 2)]).await;

    let spec = BucketSpec::new("orders_copy")
        .history(5)
        .mirror(Origin::bucket("orders"));
    let mirror = Bucket::create(&nats, &spec).await.unwrap();
    assert!(!mirror.is_writable());
    let status = mirror.status().await.unwrap();
    assert_eq!(status.mirror_of.as_deref(), Some("orders"));
    assert_eq!(status.mirror, Some(Origin::bucket("orders")));
    // The backing stream, as the server states it.
    let info = mirror.stream_info().await.unwrap();
    assert_eq!(info.config.name, "KV_orders_copy");
    assert_eq!(
        info.config.mirror.as_ref().map(|m| m.name.as_str()),
        Some("KV_orders")
    );

    let ro: OrdersRo = Family::bind(&mirror, ORDERS).unwrap();
    arrives(&ro, "b", 2).await;
    assert_eq!(common::sorted_keys(&ro).await, ["a", "b"]);

    orders.put(&k("a"), &10).await.unwrap();
    orders.delete(&k("b")).await.unwrap();
    arrives(&ro, "a", 10).await;
    common::wait_for("the delete to arrive", || {
        let ro = ro.clone();
        async move { ro.get(&k("b")).await.unwrap().is_none().then_some(()) }
    })
    .await;
    let history: Vec<_> = ro
        .history(&k("a"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|e| e.value).collect::<Vec<_>>(),
        [Some(1), Some(10)]
    );

    // A read-write handle on a mirror is refused at bind time (and a write on a ReadOnly handle
    // does not compile: see tests/ui).
    let err = Family::<String, u32>::bind(&mirror, ORDERS).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert_eq!(
        mirror.empty().await.unwrap_err().kind(),
        ErrorKind::InvalidConfig
    );
    Bucket::open(&nats, &spec)
        .await
        .expect("the declared mirror has no drift");
}

#[tokio::test]
async fn a_filtered_mirror_holds_only_its_keys() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    origin(&nats, "src", &[("eu1", 1), ("eu2", 2), ("us1", 3)]).await;
    let spec =
        BucketSpec::new("src_eu").mirror(Origin::bucket("src").keys(["order.eu1", "order.eu2"]));
    let ro: OrdersRo = Family::bind(&Bucket::create(&nats, &spec).await.unwrap(), ORDERS).unwrap();
    arrives(&ro, "eu2", 2).await;
    assert_eq!(common::sorted_keys(&ro).await, ["eu1", "eu2"]);
    assert!(ro.get(&k("us1")).await.unwrap().is_none());
}

#[tokio::test]
async fn an_aggregate_collects_several_buckets_under_its_own_name() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let eu = origin(&nats, "eu", &[("e1", 1), ("e2", 2)]).await;
    origin(&nats, "us", &[("u1", 3), ("x9", 9)]).await;

    let spec = BucketSpec::new("world")
        .history(5)
        .source(Origin::bucket("eu"))
        .source(Origin::bucket("us").keys(["order.u1"]));
    let world = Bucket::create(&nats, &spec).await.unwrap();
    assert!(
        !world.is_writable(),
        "aggregates are read-only unless declared writable"
    );
    let ro: OrdersRo = Family::bind(&world, ORDERS).unwrap();
    arrives(&ro, "e2", 2).await;
    eu.put(&k("e3"), &33).await.unwrap();
    arrives(&ro, "e3", 33).await;
    arrives(&ro, "u1", 3).await;
    assert!(ro.get(&k("x9")).await.unwrap().is_none(), "filtered out");
    let status = world.status().await.unwrap();
    assert_eq!(status.sources, ["eu", "us"]);
    assert_eq!(
        status.origins,
        [
            Origin::bucket("eu"),
            Origin::bucket("us").keys(["order.u1"])
        ],
        "each origin with its key filters"
    );
    assert_eq!(status.mirror, None);
    Bucket::open(&nats, &spec).await.expect("no drift");
    let other = BucketSpec::new("world")
        .history(5)
        .source(Origin::bucket("eu"));
    assert_eq!(
        Bucket::open(&nats, &other).await.unwrap_err().kind(),
        ErrorKind::ConfigDrift
    );
}

#[tokio::test]
async fn a_writable_filtered_aggregate_keeps_key_tokens_and_takes_writes() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let src = Bucket::create(&nats, &BucketSpec::new("fleet").history(3))
        .await
        .unwrap();
    let devices: Family<String, u32> = Family::bind(&src, "site.{site}.device.7").unwrap();
    devices.put(&k("paris"), &1).await.unwrap();
    devices.put(&k("lyon"), &2).await.unwrap();

    let spec = BucketSpec::new("fleet_local")
        .history(3)
        .writable(true)
        .source(Origin::bucket("fleet").keys(["site.*.device.>"]));
    let local = Bucket::create(&nats, &spec).await.unwrap();
    assert!(local.is_writable());
    let copy: Family<String, u32> = Family::bind(&local, "site.{site}.device.7").unwrap();
    common::wait_for("both keys to arrive", || {
        let copy = copy.clone();
        async move {
            let keys: Vec<String> = copy
                .keys(KeyFilter::any())
                .await
                .ok()?
                .try_collect()
                .await
                .ok()?;
            (keys.len() == 2).then_some(())
        }
    })
    .await;
    assert_eq!(copy.value(&k("lyon")).await.unwrap(), Some(2));
    copy.put(&k("local"), &5)
        .await
        .expect("a writable aggregate takes writes");
    assert_eq!(copy.value(&k("local")).await.unwrap(), Some(5));
    assert!(
        devices.get(&k("local")).await.unwrap().is_none(),
        "writes stay in the aggregate"
    );
}

#[tokio::test]
async fn an_origin_in_another_domain_is_declared_through_its_api_prefix() {
    let server = natskv::server::NatsServer::builder()
        .domain("hub")
        .start()
        .await
        .unwrap();
    let nats = common::connect(&server).await;
    origin(&nats, "hub_orders", &[("a", 1)]).await;
    let spec = BucketSpec::new("leaf_orders").source(
        Origin::bucket("hub_orders")
            .api_prefix("$JS.hub.API")
            .deliver_prefix("deliver.hub"),
    );
    let agg = Bucket::create(&nats, &spec).await.unwrap();
    let js = async_nats::jetstream::new(nats.clone());
    let config = js
        .get_stream("KV_leaf_orders")
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    let source = &config.sources.as_ref().unwrap()[0];
    let external = source.external.as_ref().unwrap();
    assert_eq!(
        (
            external.api_prefix.as_str(),
            external.delivery_prefix.as_deref()
        ),
        ("$JS.hub.API", Some("deliver.hub"))
    );
    assert_eq!(
        source.subject_transforms[0].destination,
        "$KV.leaf_orders.>"
    );
    let status = agg.status().await.unwrap();
    assert_eq!(status.sources, ["hub_orders"]);
    let origin = &status.origins[0];
    assert_eq!(
        (
            origin.bucket_name(),
            origin.api_prefix_value(),
            origin.deliver_prefix_value()
        ),
        ("hub_orders", Some("$JS.hub.API"), Some("deliver.hub"))
    );
    Bucket::open(&nats, &spec)
        .await
        .expect("the external origin reads back without drift");
}

#[tokio::test]
async fn a_leaf_aggregate_sources_a_hub_bucket_across_domains() {
    let hub = natskv::server::NatsServer::builder()
        .domain("hub")
        .accept_leafnodes()
        .start()
        .await
        .unwrap();
    let leaf = natskv::server::NatsServer::builder()
        .domain("leaf")
        .leaf_of(&hub)
        .start()
        .await
        .unwrap();
    let hub_nats = common::connect(&hub).await;
    let leaf_nats = common::connect(&leaf).await;
    let orders = origin(&hub_nats, "hub_orders", &[("new1", 1), ("old1", 2)]).await;
    common::wait_for("the leaf to reach the hub's JetStream", || {
        let nats = leaf_nats.clone();
        async move { nats.request("$JS.hub.API.INFO", "".into()).await.ok() }
    })
    .await;

    // The Tcl client's example: a writable aggregate of some keys of a bucket in the hub domain.
    let spec = BucketSpec::new("leaf_orders")
        .history(5)
        .writable(true)
        .source(
            Origin::bucket("hub_orders")
                .keys(["order.new1", "order.new2"])
                .api_prefix("$JS.hub.API"),
        );
    let local = Bucket::create(&leaf_nats, &spec).await.unwrap();
    let ro: OrdersRo = Family::bind(&local, ORDERS).unwrap();
    arrives(&ro, "new1", 1).await;
    orders.put(&k("new2"), &3).await.unwrap();
    arrives(&ro, "new2", 3).await;
    assert!(ro.get(&k("old1")).await.unwrap().is_none(), "filtered out");
    assert!(
        Bucket::list_names(&hub_nats).await.unwrap() == ["hub_orders"],
        "each domain keeps its own buckets"
    );
}

#[tokio::test]
async fn topology_specs_are_validated_before_any_wire_call() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    for spec in [
        BucketSpec::new("m")
            .mirror(Origin::bucket("a"))
            .source(Origin::bucket("b")),
        BucketSpec::new("m").mirror(Origin::bucket("m")),
        BucketSpec::new("m").mirror(Origin::bucket("bad.name")),
        BucketSpec::new("m").source(Origin::bucket("a").keys(["x..y"])),
        BucketSpec::new("m").source(Origin::bucket("a").keys(["order.u*"])),
    ] {
        assert_eq!(
            Bucket::create(&nats, &spec).await.unwrap_err().kind(),
            ErrorKind::InvalidConfig
        );
    }
    assert!(Bucket::list_names(&nats).await.unwrap().is_empty());
}
