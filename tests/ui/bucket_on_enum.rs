use natskv::KvBucket;

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
enum Fleet {
    Devices,
}

fn main() {}
