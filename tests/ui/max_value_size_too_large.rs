use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet", max_value_size = "8GiB")]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

fn main() {}
