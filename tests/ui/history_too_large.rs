use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet", history = 65)]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
