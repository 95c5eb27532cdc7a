use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<String, u32>,
}

fn main() {}
