use natskv::{Family, KvBucket};

#[derive(KvBucket)]
#[kv(bucket = "bank")]
struct Bank {
    #[kv(key = "account.{id}")]
    accounts: Family<u32, i64>,
}

fn transfer(bank: &Bank) -> natskv::Result<()> {
    let mut tx = bank.transaction();
    tx.put(&bank.accounts, &1, &10)?;
    Ok(())
}

fn main() {}
