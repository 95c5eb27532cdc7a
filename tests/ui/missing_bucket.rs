use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(history = 5)]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
