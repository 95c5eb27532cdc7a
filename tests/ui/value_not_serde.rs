use natskv::{Family, KvBucket};

struct DeviceState {
    online: bool,
}

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "device.{id}")]
    devices: Family<u32, DeviceState>,
}

fn main() {}
