use natskv::{Family, KvBucket, MsgPack, ReadOnly};

#[derive(KvBucket)]
#[kv(bucket = "fleet_copy", mirror(bucket = "hub.fleet"))]
struct FleetCopy {
    #[kv(key = "site.{site}")]
    sites: Family<String, u32, MsgPack, ReadOnly>,
}

fn main() {}
