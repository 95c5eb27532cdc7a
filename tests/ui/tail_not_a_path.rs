use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "settings")]
struct Settings {
    #[kv(key = "config.{path..}")]
    config: Family<String, u32>,
}

fn main() {}
