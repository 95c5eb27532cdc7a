// Republishing into `$KV.` would write into a bucket: refused at the subject.
use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet", republish(to = "$KV.other.>"))]
struct Fleet {
    #[kv(key = "device.{id}")]
    devices: Family<u32, String>,
}

fn main() {}
