use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet", history = 0)]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
