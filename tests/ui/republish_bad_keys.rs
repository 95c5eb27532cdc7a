// The keys republished are a key filter: `>` only as the last token.
use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet", republish(to = "changes.>", keys = "device.>.x"))]
struct Fleet {
    #[kv(key = "device.{id}")]
    devices: Family<u32, String>,
}

fn main() {}
