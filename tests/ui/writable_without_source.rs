use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet", writable)]
struct Fleet {
    #[kv(key = "site.{site}")]
    sites: Family<String, u32>,
}

fn main() {}
