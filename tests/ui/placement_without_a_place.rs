// A placement names a cluster, tags, or both.
use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet", placement(tags = []))]
struct Fleet {
    #[kv(key = "device.{id}")]
    devices: Family<u32, String>,
}

fn main() {}
