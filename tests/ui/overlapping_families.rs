use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet {
    #[kv(key = "device.{id}.state")]
    states: Family<u32, bool>,
    #[kv(key = "device.{name}.{field}")]
    fields: Family<FieldKey, String>,
}

#[derive(natskv::KvKey)]
struct FieldKey {
    name: String,
    field: String,
}

fn main() {}
