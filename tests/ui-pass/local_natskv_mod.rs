//! A local `mod natskv` does not capture the generated paths (they are `::natskv`).

mod natskv {
    pub struct Family;
    pub mod __private {}
}

#[derive(::natskv::KvKey)]
pub struct DeviceKey {
    pub site: String,
}

#[derive(::natskv::KvBucket)]
#[kv(bucket = "fleet")]
pub struct Fleet {
    #[kv(key = "site.{site}")]
    pub sites: ::natskv::Family<DeviceKey, u32>,
}

fn main() {
    let _ = natskv::Family;
    assert_eq!(Fleet::spec().name(), "fleet");
}
