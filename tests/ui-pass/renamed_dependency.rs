//! `#[kv(crate = "...")]`: the generated code reaches natskv through the given path, as a crate
//! that depends on natskv under another name would need.

extern crate natskv as kv;

use kv::{Family, KvBucket, KvKey};

mod reexport {
    pub use ::kv::*;
}

#[derive(KvKey)]
#[kv(crate = "kv")]
pub struct DeviceKey {
    pub site: String,
}

#[derive(KvKey)]
#[kv(crate = "crate::reexport")]
pub struct SessionId(String);

#[derive(KvBucket)]
#[kv(crate = "kv", bucket = "fleet")]
pub struct Fleet {
    #[kv(key = "site.{site}")]
    pub sites: Family<DeviceKey, u32>,
    #[kv(key = "session.{id}")]
    pub sessions: Family<SessionId, u32>,
}

#[derive(KvBucket)]
#[kv(crate = crate::reexport, bucket = "other")]
pub struct Other {
    #[kv(key = "x")]
    pub x: kv::Single<u8>,
}

fn main() {
    assert_eq!(Fleet::spec().name(), "fleet");
    assert_eq!(Other::spec().name(), "other");
}
