//! Migration: move a bucket to a declaration its old readers cannot read (a new key pattern, a
//! new value type, another codec) while the old service keeps writing, then cut over.
//!
//! ```sh
//! cargo run --example migrate --features server
//! ```
//!
//! It connects to `NATS_URL` when that is set; otherwise it starts a local nats-server
//! (JetStream on, a free port, a temporary store) and stops it at the end. The two buckets it
//! makes (`migrate_example_v1`, `migrate_example_v2`) are deleted at the end.

use std::error::Error;
use std::time::Duration;

use natskv::{Family, Json, KeyFilter, KvBucket, KvKey, Migration, MigrationProgress};
use serde::{Deserialize, Serialize};

/// Version 1's key: `site.{site}.device.{id}`.
#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceKey {
    /// The site it is installed at.
    pub site: String,
    /// Its number within the site.
    pub id: u32,
}

/// What version 1 stores per device.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StateV1 {
    /// Whether it is connected.
    pub online: bool,
    /// Battery level, in percent.
    pub battery: u8,
}

/// Version 2's key, `device.{id}.at.{site}`: the same parameters, in another order.
#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceRef {
    /// Its number within the site.
    pub id: u32,
    /// The site it is installed at.
    pub site: String,
}

impl From<DeviceKey> for DeviceRef {
    fn from(key: DeviceKey) -> Self {
        DeviceRef {
            id: key.id,
            site: key.site,
        }
    }
}

/// How a device is connected, in version 2.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum Link {
    /// Connected.
    Up,
    /// Not connected.
    Down,
}

/// What version 2 stores per device: a shape version 1 cannot decode, in JSON.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StateV2 {
    /// How it is connected.
    pub link: Link,
    /// Battery level, in per mille.
    pub battery_permille: u16,
}

impl From<StateV1> for StateV2 {
    fn from(state: StateV1) -> Self {
        StateV2 {
            link: if state.online { Link::Up } else { Link::Down },
            battery_permille: u16::from(state.battery) * 10,
        }
    }
}

/// The bucket as version 1 declares it.
#[derive(KvBucket, Debug)]
#[kv(bucket = "migrate_example_v1", history = 5)]
pub struct FleetV1 {
    /// Latest reported state of each device.
    #[kv(key = "site.{site}.device.{id}")]
    pub devices: Family<DeviceKey, StateV1>,
}

/// The bucket as version 2 declares it: a new bucket, since version 1 keeps serving the old one.
#[derive(KvBucket, Debug)]
#[kv(bucket = "migrate_example_v2", codec = natskv::Json)]
pub struct FleetV2 {
    /// Latest reported state of each device.
    #[kv(key = "device.{id}.at.{site}")]
    pub devices: Family<DeviceRef, StateV2, Json>,
}

/// Version 2's key of a version 1 key (`None` would leave the key out of the new bucket).
#[allow(clippy::unnecessary_wraps)] // the shape `map_keys` takes
fn to_v2_key(key: DeviceKey) -> Option<DeviceRef> {
    Some(DeviceRef::from(key))
}

/// Version 2's value of a version 1 value (`None` would leave the value out).
#[allow(clippy::unnecessary_wraps)] // the shape `map_values` takes
fn to_v2_state(_key: &DeviceKey, state: StateV1) -> Option<StateV2> {
    Some(StateV2::from(state))
}

/// Prints where a migration stands.
fn print_progress(p: &MigrationProgress) {
    println!(
        "  progress: {} copied, {} deleted, {} left out, at revision {}{}",
        p.copied,
        p.deleted,
        p.skipped,
        p.revision,
        if p.caught_up { " (caught up)" } else { "" }
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (nats, server) = natskv::server::connect_or_start(std::env::var("NATS_URL").ok()).await?;
    if let Some(s) = &server {
        println!("started nats-server {} at {}", s.version(), s.url());
    }

    // Version 1 is in service, with data.
    let v1 = FleetV1::ensure(&nats).await?;
    for (site, id, battery) in [("paris", 1, 90), ("paris", 2, 40), ("lyon", 7, 75)] {
        let key = DeviceKey {
            site: site.into(),
            id,
        };
        let online = battery > 50;
        v1.devices.put(&key, &StateV1 { online, battery }).await?;
    }
    v1.devices
        .delete(&DeviceKey {
            site: "paris".into(),
            id: 2,
        })
        .await?;

    // 1. Version 2's bucket, and a first copy of what version 1 holds now (deleted keys are
    //    not copied).
    let v2 = FleetV2::ensure(&nats).await?;
    println!("copying {} to {}", v1.bucket().name(), v2.bucket().name());
    let report = Migration::new(&v1.devices, &v2.devices)
        .map_keys(to_v2_key)
        .map_values(to_v2_state)
        .progress(print_progress)
        .run()
        .await?;
    println!(
        "copied {} keys, consistent with revision {}",
        report.copied, report.revision
    );

    // 2. Version 1 keeps writing; the migration goes on from the report's revision and
    //    follows every change until the cutover.
    let writer = {
        let devices = v1.devices.clone();
        tokio::spawn(async move {
            for battery in (80..=95).step_by(5) {
                let key = DeviceKey {
                    site: "lyon".into(),
                    id: 7,
                };
                let state = StateV1 {
                    online: true,
                    battery,
                };
                devices.put(&key, &state).await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok::<(), natskv::Error>(())
        })
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    println!(
        "following version 1's writes from revision {}",
        report.revision
    );
    let following = tokio::spawn(
        Migration::new(&v1.devices, &v2.devices)
            .map_keys(to_v2_key)
            .map_values(to_v2_state)
            .progress(print_progress)
            .resume_from(report.revision)
            .follow_until(stopped),
    );

    // 3. The cutover: version 1 stops writing, then the migration stops. It applies what the
    //    source holds at that moment before it returns, so nothing written is left behind.
    writer.await??;
    let _ = stop.send(());
    let report = following.await??;
    println!(
        "cutover at revision {}: {} values and {} deletes applied while following",
        report.revision, report.copied, report.deleted
    );

    // Version 2 now reads its own declaration.
    let snapshot = v2.devices.get_matching(KeyFilter::any()).await?;
    for entry in snapshot.entries {
        let entry = entry?;
        println!("v2 {} = {:?}", v2.devices.key(&entry.key)?, entry.value);
    }

    FleetV1::delete(&nats).await?;
    FleetV2::delete(&nats).await?;
    Ok(())
}
