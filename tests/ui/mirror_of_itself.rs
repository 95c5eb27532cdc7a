use natskv::{Family, KvBucket, MsgPack, ReadOnly};

#[derive(KvBucket)]
#[kv(bucket = "fleet", mirror(bucket = "fleet"))]
struct Fleet {
    #[kv(key = "site.{site}")]
    sites: Family<String, u32, MsgPack, ReadOnly>,
}

fn main() {}
