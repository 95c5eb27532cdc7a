use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet", removed = ["legacy.{id}", "device.{serial}"])]
struct Fleet {
    #[kv(key = "device.{id}")]
    devices: Family<u32, bool>,
}

fn main() {}
