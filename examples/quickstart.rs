//! Quickstart: declare a bucket as a Rust type, then read and write it with typed keys and values.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It connects to `NATS_URL` when that is set; otherwise it starts a local nats-server
//! (JetStream on, a free port, a temporary store) and stops it at the end.

use std::error::Error;

use futures::TryStreamExt;
use natskv::{ErrorKind, Family, KvBucket, KvKey, Single, WatchEvent};
use serde::{Deserialize, Serialize};

/// What a device last reported.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DeviceState {
    /// Whether it is connected.
    pub online: bool,
    /// The firmware version it runs.
    pub firmware: String,
    /// Battery level, in percent.
    pub battery: u8,
}

/// What a device should do.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DeviceConfig {
    /// How often it reports, in seconds.
    pub report_every_s: u32,
}

/// The parameters of a device key: a plain struct of your own, usable as a map key.
#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceKey {
    /// The site it is installed at.
    pub site: String,
    /// Its number within the site.
    pub id: u32,
}

/// One bucket, several typed key families.
#[derive(KvBucket, Debug)]
#[kv(
    bucket = "fleet",
    history = 5,
    ttl = "7d",
    storage = "file",
    replicas = 1
)]
pub struct Fleet {
    /// Latest reported state of each device.
    #[kv(key = "site.{site}.device.{id}")]
    pub devices: Family<DeviceKey, DeviceState>,
    /// Desired configuration of each device: same key type, another family.
    #[kv(key = "site.{site}.device.{id}.config")]
    pub configs: Family<DeviceKey, DeviceConfig>,
    /// Global maintenance switch.
    #[kv(key = "maintenance")]
    pub maintenance: Single<bool>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (nats, server) = natskv::server::connect_or_start(std::env::var("NATS_URL").ok()).await?;
    if let Some(s) = &server {
        println!("started nats-server {} at {}", s.version(), s.url());
    }

    // Create the bucket, or bring the server's configuration to the declared one.
    let fleet = Fleet::ensure(&nats).await?;
    let status = fleet.status().await?;
    println!(
        "bucket `{}`: history {}, ttl {:?}, {:?} storage, families {}",
        status.name,
        status.history,
        status.ttl,
        status.storage,
        families(&Fleet::spec()),
    );

    // Typed writes and reads: the key renders to `site.paris.device.7`.
    let key = DeviceKey {
        site: "paris".into(),
        id: 7,
    };
    let state = DeviceState {
        online: true,
        firmware: "1.4.2".into(),
        battery: 91,
    };
    let rev = fleet.devices.put(&key, &state).await?;
    println!("put {} -> revision {rev}", fleet.devices.key(&key)?);
    if let Some(current) = fleet.devices.get(&key).await? {
        println!(
            "get {:?} -> {:?} (revision {})",
            current.key, current.value, current.revision
        );
    }

    // Compare-and-set: an update against a stale revision loses, with a typed error.
    let next = DeviceState {
        battery: 90,
        ..state.clone()
    };
    let rev2 = fleet.devices.update(&key, &next, rev).await?;
    println!("update at revision {rev} -> revision {rev2}");
    match fleet.devices.update(&key, &next, rev).await {
        Err(e) if e.kind() == ErrorKind::WrongRevision => println!("stale update refused: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // A compare-and-set loop: read, change, write back, retried when another writer wins.
    if let Some(updated) = fleet.devices.update_with(&key, |s| s.battery -= 1).await? {
        println!(
            "update_with -> battery {} at revision {}",
            updated.value.battery, updated.revision
        );
    }

    // A parameter value can never change the shape of a key.
    let bad = DeviceKey {
        site: "paris.*".into(),
        id: 1,
    };
    if let Err(e) = fleet.devices.put(&bad, &state).await {
        let cause = e.source().map(ToString::to_string).unwrap_or_default();
        println!("refused before any wire call: {e}: {cause}");
    }

    // More devices, a configuration and the maintenance switch, all in the same bucket.
    for (site, id) in [("paris", 8), ("lyon", 3)] {
        fleet
            .devices
            .put(
                &DeviceKey {
                    site: site.into(),
                    id,
                },
                &state,
            )
            .await?;
    }
    let config = DeviceConfig { report_every_s: 30 };
    fleet.configs.put(&key, &config).await?;
    fleet.maintenance.put(&false).await?;
    println!("maintenance: {:?}", fleet.maintenance.value().await?);

    // Keys come back parsed into the key type; the filter becomes `site.paris.device.*`.
    let paris: Vec<DeviceKey> = fleet
        .devices
        .keys(DeviceKey::filter().site("paris"))
        .await?
        .try_collect()
        .await?;
    println!("devices in paris: {paris:?}");

    // A watch replays what matches, then follows changes; `events` marks the end of the replay.
    let mut events = fleet
        .devices
        .watch(DeviceKey::filter().site("paris"))
        .await?
        .events();
    while let Some(event) = events.try_next().await? {
        match event {
            WatchEvent::Entry(e) => println!("watch: device {} -> {:?}", e.key.id, e.value),
            WatchEvent::Initialized => break,
        }
    }

    // A live cache: a map of every device to its latest state, kept current in the background.
    let live = fleet.devices.cache().await?;
    live.initialized().await?;
    let battery = live.get(&key).map(|s| s.battery);
    println!("cache: {} devices, paris/7 battery {battery:?}", live.len());

    fleet.devices.delete(&key).await?;
    println!(
        "deleted {key:?}: get -> {:?}",
        fleet.devices.get(&key).await?
    );
    Ok(())
}

/// The declared families with their codecs, as the bucket's stored schema names them.
fn families(spec: &natskv::BucketSpec) -> String {
    let Some(schema) = spec.schema_value() else {
        return "-".to_owned();
    };
    let family = |f: &natskv::FamilySchema| format!("{} ({})", f.pattern(), f.codec());
    schema
        .families()
        .iter()
        .map(family)
        .collect::<Vec<_>>()
        .join(", ")
}
