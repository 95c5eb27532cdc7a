//! One key type in two families, the key patterns in different orders.

use natskv::{Family, KeyFilter, KvBucket, KvKey};

#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceKey {
    pub site: String,
    pub id: u32,
}

/// A family behind a type alias: the derive checks it through the type system, not its name.
pub type Configs = Family<DeviceKey, String>;

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
pub struct Fleet {
    #[kv(key = "site.{site}.device.{id}")]
    pub devices: Family<DeviceKey, bool>,
    #[kv(key = "config.{id}.at.{site}")]
    pub configs: Configs,
}

fn main() {
    assert_eq!(DeviceKey::PARAMS, ["site", "id"]);
    let filter: KeyFilter<DeviceKey> = DeviceKey::filter().id(3_u32).into();
    let pattern = natskv::KeyPattern::parse("config.{id}.at.{site}").unwrap();
    let map = natskv::key::bind_params::<DeviceKey>(&pattern).unwrap();
    assert_eq!(
        filter.to_subject_filter(&pattern, &map).unwrap(),
        "config.3.at.*"
    );
}
