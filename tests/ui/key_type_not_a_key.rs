use natskv::{Family, KvBucket};

struct DeviceKey {
    site: String,
}

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "device.{site}")]
    devices: Family<DeviceKey, bool>,
}

fn main() {}
