use natskv::{Family, KvBucket, MsgPack, ReadOnly};

#[derive(KvBucket)]
#[kv(bucket = "paris", source(bucket = "fleet", keys = ["site.paris.>", "site.>.device"]))]
struct Paris {
    #[kv(key = "site.{site}")]
    sites: Family<String, u32, MsgPack, ReadOnly>,
}

fn main() {}
