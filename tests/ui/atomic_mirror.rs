use natskv::{Family, KvBucket, MsgPack, ReadOnly};

#[derive(KvBucket)]
#[kv(bucket = "bank_copy", mirror(bucket = "bank"), atomic)]
struct BankCopy {
    #[kv(key = "account.{id}")]
    accounts: Family<u32, i64, MsgPack, ReadOnly>,
}

fn main() {}
