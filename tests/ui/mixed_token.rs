use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "device-{id}")]
    devices: Family<u32, bool>,
}

fn main() {}
