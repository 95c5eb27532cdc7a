use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "config.{name}")]
    config: Single<String>,
}

fn main() {}
