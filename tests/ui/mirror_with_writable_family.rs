use natskv::{Family, KvBucket};

// A mirror takes no writes: its families must be ReadOnly.
#[derive(KvBucket)]
#[kv(bucket = "fleet_copy", mirror(bucket = "fleet"))]
struct FleetCopy {
    #[kv(key = "site.{site}")]
    sites: Family<String, u32>,
}

fn main() {}
