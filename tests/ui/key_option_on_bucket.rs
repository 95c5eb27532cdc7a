use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet", key = "maintenance")]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
