use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "device.{id}")]
    states: Family<u32, bool>,
    #[kv(key = "device.{id}")]
    names: Family<u32, String>,
}

fn main() {}
