use natskv::{Family, KeyPath, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "settings")]
struct Settings {
    #[kv(key = "config.{path..}.value")]
    config: Family<KeyPath, u32>,
}

fn main() {}
