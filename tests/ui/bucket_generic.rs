use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet<V> {
    #[kv(key = "device.{id}")]
    devices: Family<u32, V>,
}

fn main() {}
