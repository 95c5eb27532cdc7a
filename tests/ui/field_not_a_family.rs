use natskv::KvBucket;

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "maintenance")]
    maintenance: bool,
}

fn main() {}
