use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "device.{id}", breaking = "yes")]
    devices: Family<u32, bool>,
}

fn main() {}
