//! Mirrors and aggregates declared with `#[derive(KvBucket)]`, end to end against a real
//! nats-server: values written to an origin are read through the declarations' typed families.
//! Each test starts its own server, so the fixed bucket names do not collide.

mod common;

use natskv::{Family, KvBucket, KvKey, MsgPack, ReadOnly, Single};

#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct DeviceKey {
    site: String,
    id: u32,
}

fn device(site: &str, id: u32) -> DeviceKey {
    DeviceKey {
        site: site.to_owned(),
        id,
    }
}

/// The origin: devices by site, and a switch.
#[derive(KvBucket)]
#[kv(bucket = "fleet", history = 5)]
struct Fleet {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, u32>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

/// A second origin with the same key layout.
#[derive(KvBucket)]
#[kv(bucket = "depot")]
struct Depot {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, u32>,
}

/// A read-only copy of every key of `fleet`.
#[derive(KvBucket)]
#[kv(bucket = "fleet_copy", history = 5, mirror(bucket = "fleet"))]
struct FleetMirror {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, u32, MsgPack, ReadOnly>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool, MsgPack, ReadOnly>,
}

/// The Paris devices of `fleet`, read-only.
#[derive(KvBucket)]
#[kv(bucket = "paris", source(bucket = "fleet", keys = ["site.paris.>"]))]
struct Paris {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, u32, MsgPack, ReadOnly>,
}

/// The devices of both origins, taking writes of its own.
#[derive(KvBucket)]
#[kv(
    bucket = "all_devices",
    source(bucket = "fleet", keys = ["site.*.device.*"]),
    source(bucket = "depot"),
    writable
)]
struct AllDevices {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, u32>,
}

#[tokio::test]
async fn a_mirror_declaration_reads_the_origin_through_read_only_families() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fleet = Fleet::ensure(&nats).await.unwrap();
    fleet.devices.put(&device("paris", 1), &10).await.unwrap();
    fleet.maintenance.put(&true).await.unwrap();

    let mirror = FleetMirror::ensure(&nats).await.unwrap();
    assert!(!mirror.bucket().is_writable());
    let status = mirror.status().await.unwrap();
    assert_eq!(status.mirror_of.as_deref(), Some("fleet"));

    common::arrives(&mirror.devices, &device("paris", 1), &10).await;
    common::wait_for("the switch to arrive", || {
        let maintenance = mirror.maintenance.clone();
        async move { (maintenance.value().await.ok().flatten() == Some(true)).then_some(()) }
    })
    .await;

    // Later writes to the origin follow.
    fleet.devices.put(&device("lyon", 2), &20).await.unwrap();
    fleet.devices.put(&device("paris", 1), &11).await.unwrap();
    common::arrives(&mirror.devices, &device("lyon", 2), &20).await;
    common::arrives(&mirror.devices, &device("paris", 1), &11).await;
    assert_eq!(
        common::sorted_keys(&mirror.devices).await,
        [device("lyon", 2), device("paris", 1)]
    );

    // The server's mirror is the declared one: no drift, the same schema.
    FleetMirror::open(&nats)
        .await
        .expect("the declared mirror opens");
    FleetMirror::ensure(&nats)
        .await
        .expect("ensure leaves the declared mirror as it is");
}

#[tokio::test]
async fn a_filtered_aggregate_declaration_reads_only_its_keys() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fleet = Fleet::ensure(&nats).await.unwrap();
    for (site, id, value) in [("paris", 1, 1), ("lyon", 2, 2), ("paris", 3, 3)] {
        fleet.devices.put(&device(site, id), &value).await.unwrap();
    }

    let paris = Paris::ensure(&nats).await.unwrap();
    assert!(!paris.bucket().is_writable());
    assert_eq!(paris.status().await.unwrap().sources, ["fleet"]);
    common::arrives(&paris.devices, &device("paris", 1), &1).await;
    common::arrives(&paris.devices, &device("paris", 3), &3).await;
    assert_eq!(
        common::sorted_keys(&paris.devices).await,
        [device("paris", 1), device("paris", 3)]
    );
    assert_eq!(paris.devices.value(&device("lyon", 2)).await.unwrap(), None);
    Paris::open(&nats)
        .await
        .expect("the declared aggregate opens");
}

#[tokio::test]
async fn a_writable_aggregate_declaration_takes_writes() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fleet = Fleet::ensure(&nats).await.unwrap();
    let depot = Depot::ensure(&nats).await.unwrap();
    fleet.devices.put(&device("paris", 1), &1).await.unwrap();
    fleet.maintenance.put(&true).await.unwrap();
    depot.devices.put(&device("depot", 9), &9).await.unwrap();

    let all = AllDevices::ensure(&nats).await.unwrap();
    assert!(all.bucket().is_writable());
    common::arrives(&all.devices, &device("paris", 1), &1).await;
    common::arrives(&all.devices, &device("depot", 9), &9).await;

    // Its own writes land in the aggregate, not in the origins.
    all.devices.put(&device("local", 5), &5).await.unwrap();
    assert_eq!(
        all.devices.value(&device("local", 5)).await.unwrap(),
        Some(5)
    );
    assert_eq!(
        fleet.devices.value(&device("local", 5)).await.unwrap(),
        None
    );
    assert_eq!(
        common::sorted_keys(&all.devices).await,
        [device("depot", 9), device("local", 5), device("paris", 1)]
    );
    AllDevices::open(&nats)
        .await
        .expect("the declared aggregate opens");
}
