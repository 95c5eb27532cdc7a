//! A local `type Result` (and `Option`, `Ok`) does not change what the generated code means.

#![allow(dead_code)]

type Result<T> = std::result::Result<T, String>;
type Option = ();
struct Ok;
struct Some;
struct Vec;
const index: usize = 7;
const tokens: usize = 3;

use natskv::{Family, KvBucket, KvKey, Single};

#[derive(KvKey)]
pub struct DeviceKey {
    pub site: String,
    pub id: u32,
}

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
pub struct Fleet {
    #[kv(key = "site.{site}.device.{id}")]
    pub devices: Family<DeviceKey, bool>,
    #[kv(key = "maintenance")]
    pub maintenance: Single<bool>,
}

fn main() {
    let _: Result<()> = std::result::Result::Ok(());
    assert_eq!(Fleet::spec().name(), "fleet");
    let key = <DeviceKey as natskv::KvKey>::from_tokens(&["paris", "7"]).unwrap();
    assert_eq!((key.site.as_str(), key.id), ("paris", 7));
}
