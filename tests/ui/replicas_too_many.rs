use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet", replicas = 6)]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
