use natskv::KvBucket;

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {}

fn main() {}
