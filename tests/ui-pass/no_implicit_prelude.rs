//! The generated code names everything by its full path: it compiles without the prelude.
#![no_implicit_prelude]

extern crate natskv;
extern crate serde;

#[derive(::serde::Serialize, ::serde::Deserialize)]
pub struct DeviceState {
    pub online: bool,
}

#[derive(natskv::KvKey)]
pub struct DeviceKey {
    pub site: ::std::string::String,
    pub id: u32,
}

#[derive(natskv::KvKey)]
pub struct SessionId(::std::string::String);

#[derive(natskv::KvBucket)]
#[kv(
    bucket = "fleet",
    history = 5,
    ttl = "7d",
    limit_markers = "1s",
    metadata(owner = "ops")
)]
pub struct Fleet {
    #[kv(key = "site.{site}.device.{id}")]
    pub devices: natskv::Family<DeviceKey, DeviceState>,
    #[kv(key = "session.{id}")]
    pub sessions: natskv::Family<SessionId, u64, natskv::MsgPack, natskv::PerKeyTtl>,
    #[kv(key = "maintenance")]
    pub maintenance: natskv::Single<bool>,
}

#[derive(natskv::KvBucket)]
#[kv(
    bucket = "fleet_copy",
    mirror(bucket = "fleet", keys = ["site.>"], api_prefix = "$JS.hub.API")
)]
pub struct FleetCopy {
    #[kv(key = "site.{site}.device.{id}")]
    pub devices: natskv::Family<DeviceKey, DeviceState, natskv::MsgPack, natskv::ReadOnly>,
}

#[derive(natskv::KvBucket)]
#[kv(
    bucket = "all_sites",
    source(bucket = "fleet", keys = ["site.*.device.*"]),
    source(bucket = "depot"),
    writable
)]
pub struct AllSites {
    #[kv(key = "site.{site}.device.{id}")]
    pub devices: natskv::Family<DeviceKey, DeviceState>,
}

fn main() {
    ::std::assert!(!FleetCopy::spec().is_writable());
    ::std::assert!(AllSites::spec().is_writable());
    let spec = Fleet::spec();
    ::std::assert_eq!(spec.name(), "fleet");
    let filter = <natskv::KeyFilter<DeviceKey> as ::core::convert::From<_>>::from(
        DeviceKey::filter().site("paris").id(7_u32),
    );
    ::std::assert!(!filter.is_any());
}
