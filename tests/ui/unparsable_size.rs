use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet", max_bytes = "1 gigabyte")]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
