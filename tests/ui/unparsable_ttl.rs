use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet", ttl = "7 days")]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
