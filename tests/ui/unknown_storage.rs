use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet", storage = "disk")]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
