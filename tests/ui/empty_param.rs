use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "site.{}")]
    sites: Family<String, u32>,
}

fn main() {}
