use natskv::{KvBucket, Single};

#[derive(KvBucket)]
#[kv(bucket = "fleet")]
struct Fleet(Single<bool>);

fn main() {}
