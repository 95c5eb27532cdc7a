use natskv::{Family, KvBucket, MsgPack, PerKeyTtl};

#[derive(KvBucket)]
#[kv(bucket = "locks", ttl = "1h")]
struct Locks {
    #[kv(key = "lock.{name}")]
    locks: Family<String, String, MsgPack, PerKeyTtl>,
}

fn main() {}
