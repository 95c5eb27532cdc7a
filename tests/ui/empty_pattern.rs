use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "")]
    maintenance: Single<bool>,
}

fn main() {}
