//! Transactions: money moving between accounts, all or nothing, while readers take consistent
//! snapshots.
//!
//! ```sh
//! cargo run --example bank
//! ```
//!
//! A bucket declared `atomic` takes transactions (ADR-50 atomic batches, nats-server 2.12+):
//! several writes, to any of its families, stored together or not at all. Four tasks move
//! random amounts between accounts with `Transaction::run` (read both balances, write both,
//! retried when another task got there first) and write a ledger entry in the same
//! transaction; a reader sums every balance from snapshots as of one revision the whole time.
//! The total never changes.
//!
//! It connects to `NATS_URL` when that is set; otherwise it starts a local nats-server.
//!
//! It also shows natskv's tracing: `RUST_LOG=natskv=info cargo run --example bank` prints a line
//! per operation span that ends in an event (resent writes, resumed watches, connection events),
//! and `RUST_LOG=natskv=debug` adds the rest.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use natskv::{ErrorKind, Family, KvBucket, KvKey, Single};
use serde::{Deserialize, Serialize};

/// An account number.
#[derive(KvKey, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Account {
    /// The number.
    pub id: u32,
}

/// One movement of money, kept in the ledger under its sequence number.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Movement {
    /// Paid from.
    pub from: u32,
    /// Paid to.
    pub to: u32,
    /// How much.
    pub amount: i64,
}

/// The ledger key: a movement's number.
#[derive(KvKey, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The movement's number.
    pub n: u64,
}

/// Balances, the ledger and the next ledger number, in one bucket that takes transactions.
#[derive(KvBucket, Debug)]
#[kv(bucket = "bank", history = 5, atomic)]
pub struct Bank {
    /// Each account's balance.
    #[kv(key = "balance.{id}")]
    pub balances: Family<Account, i64>,
    /// Every movement.
    #[kv(key = "ledger.{n}")]
    pub ledger: Family<Entry, Movement>,
    /// The next ledger number.
    #[kv(key = "ledger_next")]
    pub next: Single<u64>,
}

const ACCOUNTS: u32 = 5;
const OPENING: i64 = 1_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // A subscriber for natskv's spans and events, filtered by RUST_LOG (nothing when unset).
    // Each operation's span carries bucket, op, key, revision, outcome and retries; with
    // FmtSpan::CLOSE every operation prints one line when it ends.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .init();
    // Keep the local server (if one was started) alive until the end: dropping it stops it.
    let (nats, server) = natskv::server::connect_or_start(std::env::var("NATS_URL").ok()).await?;
    if let Some(s) = &server {
        println!("started nats-server {} at {}", s.version(), s.url());
    }
    Bank::delete(&nats).await.or_else(|e| match e.kind() {
        ErrorKind::BucketNotFound => Ok(()),
        _ => Err(e),
    })?;
    let bank = Arc::new(Bank::create(&nats).await?);

    // Open the accounts and the ledger in one transaction: all of them, or none.
    let mut open = bank.transaction();
    for id in 0..ACCOUNTS {
        open.create(&bank.balances, &Account { id }, &OPENING)?;
    }
    open.create(bank.next.as_family(), &(), &0)?;
    let opened = open.commit().await?;
    println!(
        "opened {ACCOUNTS} accounts of {OPENING} at revisions {:?}",
        opened.revisions()
    );

    // A guard that fails stores nothing: account 0 is written again (same balance), so a
    // transfer guarded on the revision it was opened at is stale.
    let first = Account { id: 0 };
    bank.balances.put(&first, &OPENING).await?;
    let mut stale = bank.transaction();
    stale.update(&bank.balances, &first, &0, opened.revisions()[0])?;
    stale.put(&bank.balances, &Account { id: 1 }, &(2 * OPENING))?;
    match stale.commit().await {
        Err(e) if e.kind() == ErrorKind::WrongRevision => {
            println!("stale transfer refused, nothing stored: {e}");
        }
        other => println!("unexpected: {other:?}"),
    }

    let stop = Arc::new(AtomicBool::new(false));
    let retried = Arc::new(AtomicU64::new(0));
    let movers: Vec<_> = (0..4_u64)
        .map(|task| {
            let (bank, retried) = (bank.clone(), retried.clone());
            tokio::spawn(async move { mover(&bank, task, &retried).await })
        })
        .collect();
    let reader = {
        let (bank, stop) = (bank.clone(), stop.clone());
        tokio::spawn(async move { audit(&bank, &stop).await })
    };
    let mut moved = 0;
    for mover in movers {
        moved += mover.await??;
    }
    stop.store(true, Ordering::Relaxed);
    let audits = reader.await??;

    let view = bank.snapshot().family(&bank.balances).fetch().await?;
    let total: i64 = view
        .values(&bank.balances)
        .map(|b| b.map(|b| b.value))
        .sum::<natskv::Result<i64>>()?;
    let entries = bank.next.value().await?.unwrap_or(0);
    println!(
        "{moved} transfers committed ({} retried after a conflict), {entries} ledger entries; \
         {audits} snapshots all summed to {}; final total {total} as of revision {}",
        retried.load(Ordering::Relaxed),
        OPENING * i64::from(ACCOUNTS),
        view.revision()
    );
    assert_eq!(total, OPENING * i64::from(ACCOUNTS));
    Bank::delete(&nats).await?;
    Ok(())
}

/// Moves 25 random amounts between random accounts, each with its ledger entry, in one
/// transaction per move; returns how many it committed.
async fn mover(bank: &Bank, task: u64, retried: &AtomicU64) -> natskv::Result<u64> {
    let mut seed = 0x2545_F491_4F6C_DD1D_u64.wrapping_mul(task + 1);
    let mut committed = 0;
    for _ in 0..25 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let from = Account {
            id: below(seed, ACCOUNTS),
        };
        // Another account than `from`.
        let to = Account {
            id: (from.id + 1 + below(seed >> 8, ACCOUNTS - 1)) % ACCOUNTS,
        };
        let amount = i64::from(below(seed >> 16, 50));
        let reads = bank
            .snapshot()
            .keys(&bank.balances, [&from, &to])
            .key(bank.next.as_family(), &());
        let mut attempts = 0;
        bank.transaction()
            .run(reads, |view, tx| {
                attempts += 1;
                let balance = |a: &Account| -> natskv::Result<i64> {
                    Ok(view.get(&bank.balances, a)?.map_or(0, |b| b.value))
                };
                let n = view.get(bank.next.as_family(), &())?.map_or(0, |c| c.value);
                tx.put(&bank.balances, &from, &(balance(&from)? - amount))?;
                tx.put(&bank.balances, &to, &(balance(&to)? + amount))?;
                tx.put(
                    &bank.ledger,
                    &Entry { n },
                    &Movement {
                        from: from.id,
                        to: to.id,
                        amount,
                    },
                )?;
                tx.put(bank.next.as_family(), &(), &(n + 1))?;
                Ok(())
            })
            .await?;
        retried.fetch_add(attempts - 1, Ordering::Relaxed);
        committed += 1;
    }
    Ok(committed)
}

/// A number below `n` drawn from `seed`.
fn below(seed: u64, n: u32) -> u32 {
    u32::try_from(seed % u64::from(n)).unwrap_or(0)
}

/// Sums every balance from consistent snapshots until told to stop; returns how many it took.
async fn audit(bank: &Bank, stop: &AtomicBool) -> natskv::Result<u64> {
    let mut audits = 0;
    while !stop.load(Ordering::Relaxed) || audits == 0 {
        let view = bank.snapshot().family(&bank.balances).fetch().await?;
        let total: i64 = view
            .values(&bank.balances)
            .map(|b| b.map(|b| b.value))
            .sum::<natskv::Result<i64>>()?;
        assert_eq!(
            total,
            OPENING * i64::from(ACCOUNTS),
            "as of {}",
            view.revision()
        );
        audits += 1;
    }
    Ok(audits)
}
