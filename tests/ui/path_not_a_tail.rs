use natskv::{Family, KeyPath, KvBucket, KvKey};

#[derive(KvKey)]
struct TenantPath {
    tenant: String,
    path: KeyPath,
}

#[derive(KvBucket)]
#[kv(bucket = "settings")]
struct Settings {
    #[kv(key = "tenant.{path}.config.{tenant}")]
    config: Family<TenantPath, u32>,
}

fn main() {}
