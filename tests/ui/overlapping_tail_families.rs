use natskv::{Family, KeyPath, KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "settings")]
struct Settings {
    #[kv(key = "config.{path..}")]
    config: Family<KeyPath, u32>,
    #[kv(key = "config.defaults.limit")]
    default_limit: Single<u32>,
}

fn main() {}
