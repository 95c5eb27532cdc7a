use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "my.fleet")]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
