use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "maintenance", ttl = "1h")]
    maintenance: Single<bool>,
}

fn main() {}
