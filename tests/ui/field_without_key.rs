use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    maintenance: Single<bool>,
}

fn main() {}
