//! The generated items are documented and `Debug`: a crate that denies `missing_docs`,
//! `missing_debug_implementations` and `unreachable_pub` accepts them.
#![deny(missing_docs, missing_debug_implementations, unreachable_pub, unused)]

mod fleet {
    use natskv::{Family, KvBucket, KvKey};

    /// A device key.
    #[derive(KvKey, Debug)]
    pub struct DeviceKey {
        /// The site.
        pub site: String,
        /// The id.
        pub id: u32,
    }

    /// A session id.
    #[derive(KvKey, Debug)]
    pub struct SessionId(pub String);

    /// The fleet.
    #[derive(KvBucket, Debug)]
    #[kv(bucket = "fleet")]
    pub struct Fleet {
        /// The devices.
        #[kv(key = "site.{site}.device.{id}")]
        pub devices: Family<DeviceKey, bool>,
        /// The sessions.
        #[kv(key = "session.{id}")]
        pub sessions: Family<SessionId, bool>,
    }

    /// A crate-visible key type: its filter type and setters are crate-visible too.
    #[derive(KvKey, Debug)]
    pub(crate) struct Internal {
        /// The name.
        pub(crate) name: String,
    }

    /// A private bucket: its generated functions are private too.
    #[derive(KvBucket, Debug)]
    #[kv(bucket = "private")]
    struct Private {
        #[kv(key = "x")]
        x: natskv::Single<u8>,
    }
}

pub use fleet::{DeviceKey, DeviceKeyFilter, Fleet, SessionId, SessionIdFilter};

fn main() {
    let _ = SessionId::filter();
    let _ = Fleet::spec();
    let _ = DeviceKey::filter().site("a");
    let _ = fleet::Internal::filter().name("b");
}
