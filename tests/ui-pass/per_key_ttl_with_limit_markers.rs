//! A per-key TTL family compiles in a bucket declared with limit markers.

use std::time::Duration;

use natskv::{Family, KvBucket, MsgPack, PerKeyTtl, Single};

#[derive(KvBucket)]
#[kv(bucket = "locks", limit_markers = "1s")]
pub struct Locks {
    #[kv(key = "lock.{name}")]
    pub locks: Family<String, String, MsgPack, PerKeyTtl>,
    #[kv(key = "leader")]
    pub leader: Single<String, MsgPack, PerKeyTtl>,
}

fn main() {
    assert_eq!(
        Locks::spec().limit_markers_value(),
        Some(Duration::from_secs(1))
    );
}
