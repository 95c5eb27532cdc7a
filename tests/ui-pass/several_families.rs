//! Several families in one bucket, every bucket option, and the generated spec.

use std::time::Duration;

use natskv::{Family, Json, KvBucket, KvKey, Single, Storage};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct DeviceState {
    pub online: bool,
}

#[derive(Serialize, Deserialize)]
pub struct DeviceConfig {
    pub interval: u32,
}

#[derive(KvKey)]
pub struct DeviceKey {
    pub site: String,
    pub id: u32,
}

#[derive(KvBucket)]
#[kv(bucket = "fleet", description = "devices", history = 5, ttl = "7d")]
#[kv(
    max_value_size = "1MiB",
    max_bytes = 1073741824,
    storage = "memory",
    replicas = 1
)]
#[kv(compression, metadata(owner = "ops", r#type = "fleet"), codec = Json)]
pub struct Fleet {
    /// Latest state.
    #[kv(key = "site.{site}.device.{id}")]
    pub devices: Family<DeviceKey, DeviceState, Json>,
    /// Desired configuration.
    #[kv(key = "config.{site}.{id}")]
    pub configs: Family<DeviceKey, DeviceConfig, Json>,
    /// Sessions by id.
    #[kv(key = "session.{id}")]
    pub sessions: Family<String, Vec<u8>, natskv::Json>,
    /// Maintenance switch.
    #[kv(key = "maintenance")]
    pub maintenance: Single<bool, Json>,
}

fn main() {
    let spec = Fleet::spec();
    assert_eq!(spec.name(), "fleet");
    assert_eq!(spec.history_depth(), 5);
    assert_eq!(spec.ttl_value(), Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(spec.max_value_size_value(), Some(1 << 20));
    assert_eq!(spec.storage_value(), Storage::Memory);
    assert_eq!(
        spec.metadata_map().get("owner").map(String::as_str),
        Some("ops")
    );
    assert_eq!(
        spec.metadata_map().get("type").map(String::as_str),
        Some("fleet")
    );
    // One entry per family, by key pattern.
    let schema = spec.schema_value().expect("a derived spec has a schema");
    let patterns: Vec<&str> = schema.families().iter().map(|f| f.pattern()).collect();
    assert_eq!(
        patterns,
        ["config.{site}.{id}", "maintenance", "session.{id}", "site.{site}.device.{id}"],
        "sorted by pattern"
    );
    assert!(spec.validate().is_ok());
}
