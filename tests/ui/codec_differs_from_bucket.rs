use natskv::{Family, Json, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet", codec = Json)]
struct Fleet {
    #[kv(key = "device.{id}")]
    devices: Family<u32, String>,
}

fn main() {}
