use natskv::{Family, KvBucket, KvKey};

#[derive(KvKey)]
struct DeviceKey {
    site: String,
    id: u32,
}

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "site.{site}.device.{serial}")]
    devices: Family<DeviceKey, u32>,
}

fn main() {}
