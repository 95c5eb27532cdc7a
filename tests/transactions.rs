//! Transactions (ADR-50 atomic batches) and consistent snapshots against a real nats-server:
//! all or nothing, serialised conflicts, limits checked before the wire, a dropped transaction,
//! watches and mirrors seeing a batch once and in order, and a money-moving invariant under load.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use natskv::{
    Bucket, BucketSpec, ErrorKind, Family, KeyFilter, KvBucket, KvKey, Operation, Origin, Single,
};
use serde::{Deserialize, Serialize};

#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
struct AccountId {
    id: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Movement {
    from: u32,
    to: u32,
    amount: i64,
}

/// A bank: balances, a ledger of movements and a fee setting, in one atomic bucket.
#[derive(KvBucket, Debug)]
#[kv(bucket = "bank", history = 10, atomic)]
struct Bank {
    #[kv(key = "account.{id}")]
    accounts: Family<AccountId, i64>,
    #[kv(key = "ledger.{id}")]
    ledger: Family<AccountId, Movement>,
    #[kv(key = "fee")]
    fee: Single<i64>,
}

fn acct(id: u32) -> AccountId {
    AccountId { id }
}

async fn bank(server: &natskv::server::NatsServer) -> Bank {
    let nats = common::connect(server).await;
    Bank::ensure_named(&nats, &common::unique_bucket("bank"))
        .await
        .expect("create the bank")
}

/// The bucket's last revision, read from the server.
async fn last_revision(bucket: &Bucket) -> u64 {
    bucket.stream_info().await.unwrap().state.last_sequence
}

/// A number below `n` drawn from `seed`.
fn below(seed: u64, n: u32) -> u32 {
    u32::try_from(seed % u64::from(n)).unwrap_or(0)
}

async fn balance(bank: &Bank, id: u32) -> Option<i64> {
    bank.accounts.get(&acct(id)).await.unwrap().map(|c| c.value)
}

#[tokio::test]
async fn a_commit_stores_every_write_of_every_family_at_consecutive_revisions() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = bank(&server).await;
    let r1 = bank.accounts.put(&acct(1), &100).await.unwrap();
    let r2 = bank.accounts.put(&acct(2), &5).await.unwrap();
    bank.accounts.put(&acct(3), &7).await.unwrap();
    bank.accounts.delete(&acct(4)).await.unwrap();

    let mut tx = bank.transaction();
    tx.update(&bank.accounts, &acct(1), &60, r1).unwrap();
    tx.put(&bank.accounts, &acct(2), &45).unwrap();
    tx.create(&bank.accounts, &acct(4), &1).unwrap(); // over a delete marker
    tx.create(&bank.accounts, &acct(5), &2).unwrap(); // never written
    tx.delete_if(&bank.accounts, &acct(3), r2 + 1).unwrap();
    tx.put(
        &bank.ledger,
        &acct(1),
        &Movement {
            from: 1,
            to: 2,
            amount: 40,
        },
    )
    .unwrap();
    tx.put(bank.fee.as_family(), &(), &3).unwrap();
    assert_eq!(tx.len(), 7);
    let before = last_revision(bank.bucket()).await;
    let committed = tx.commit().await.expect("commit");

    let expected: Vec<u64> = (before + 1..=before + 7).collect();
    assert_eq!(committed.revisions(), expected.as_slice());
    assert_eq!(committed.revision(), before + 7);
    assert_eq!(balance(&bank, 1).await, Some(60));
    assert_eq!(balance(&bank, 2).await, Some(45));
    assert_eq!(balance(&bank, 3).await, None);
    assert_eq!(balance(&bank, 4).await, Some(1));
    assert_eq!(balance(&bank, 5).await, Some(2));
    assert_eq!(bank.fee.value().await.unwrap(), Some(3));
    let one = bank.accounts.get(&acct(1)).await.unwrap().unwrap();
    assert_eq!(one.revision, expected[0]);
    let movement = bank.ledger.get(&acct(1)).await.unwrap().unwrap();
    assert_eq!(
        (movement.value.amount, movement.revision),
        (40, expected[5])
    );

    // A purge in a transaction removes the key's history.
    let mut tx = bank.transaction();
    tx.purge(&bank.accounts, &acct(1)).unwrap();
    tx.put(&bank.accounts, &acct(2), &0).unwrap();
    tx.commit().await.unwrap();
    let history: Vec<_> = bank
        .accounts
        .history(&acct(1))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].operation, Operation::Purge);
}

#[tokio::test]
async fn a_failed_guard_stores_nothing_and_names_the_key() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = bank(&server).await;
    bank.accounts.put(&acct(1), &100).await.unwrap();
    let r2 = bank.accounts.put(&acct(2), &5).await.unwrap();
    let moved = bank.accounts.put(&acct(2), &6).await.unwrap();
    let before = last_revision(bank.bucket()).await;

    let mut tx = bank.transaction();
    tx.put(&bank.accounts, &acct(1), &0).unwrap();
    tx.update(&bank.accounts, &acct(2), &105, r2).unwrap();
    tx.put(
        &bank.ledger,
        &acct(9),
        &Movement {
            from: 1,
            to: 2,
            amount: 100,
        },
    )
    .unwrap();
    let error = tx.commit().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WrongRevision, "{error}");
    assert_eq!(error.key(), Some("account.2"), "{error}");
    assert_eq!(error.revision(), Some(moved), "{error}");

    assert_eq!(last_revision(bank.bucket()).await, before, "nothing stored");
    assert_eq!(balance(&bank, 1).await, Some(100));
    assert_eq!(balance(&bank, 2).await, Some(6));
    assert!(bank.ledger.get(&acct(9)).await.unwrap().is_none());

    // A create over a live value fails before the batch is sent.
    let mut tx = bank.transaction();
    tx.put(&bank.accounts, &acct(7), &1).unwrap();
    tx.create(&bank.accounts, &acct(1), &1).unwrap();
    let error = tx.commit().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WrongRevision, "{error}");
    assert_eq!(error.key(), Some("account.1"));
    assert_eq!(balance(&bank, 7).await, None);
    assert_eq!(last_revision(bank.bucket()).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_conflicting_commits_exactly_one_wins() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = bank(&server).await;
    for round in 0..20 {
        let r1 = bank.accounts.put(&acct(1), &round).await.unwrap();
        let r2 = bank.accounts.put(&acct(2), &round).await.unwrap();
        let mut a = bank.transaction();
        a.update(&bank.accounts, &acct(1), &(round + 100), r1)
            .unwrap();
        a.update(&bank.accounts, &acct(2), &(round + 100), r2)
            .unwrap();
        let mut b = bank.transaction();
        b.update(&bank.accounts, &acct(2), &(round + 200), r2)
            .unwrap();
        b.update(&bank.accounts, &acct(1), &(round + 200), r1)
            .unwrap();
        let (a, b) = tokio::join!(a.commit(), b.commit());
        let wins = [a.is_ok(), b.is_ok()];
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "round {round}: {wins:?}"
        );
        let loser = a.err().or(b.err()).unwrap();
        assert_eq!(loser.kind(), ErrorKind::WrongRevision, "{loser}");
        let winner = if wins[0] { 100 } else { 200 };
        assert_eq!(balance(&bank, 1).await, Some(round + winner));
        assert_eq!(balance(&bank, 2).await, Some(round + winner));
    }
}

#[tokio::test]
async fn limits_and_bad_input_are_refused_before_the_wire() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = bank(&server).await;
    let other = Bank::ensure_named(
        &common::connect(&server).await,
        &common::unique_bucket("other"),
    )
    .await
    .unwrap();
    let before = last_revision(bank.bucket()).await;

    let mut tx = bank.transaction();
    for id in 0..1000 {
        tx.put(&bank.accounts, &acct(id), &1).unwrap();
    }
    let error = tx.put(&bank.accounts, &acct(1000), &1).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidTransaction, "{error}");
    assert!(error.to_string().contains("at most 1000"), "{error}");
    let error = tx.put(&bank.accounts, &acct(0), &2).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidTransaction);
    assert_eq!(tx.len(), 1000);

    let mut small = bank.transaction();
    small.put(&bank.accounts, &acct(1), &1).unwrap();
    let error = small.put(&bank.accounts, &acct(1), &2).unwrap_err();
    assert!(error.to_string().contains("already written"), "{error}");
    let error = small.put(&other.accounts, &acct(2), &2).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidTransaction, "{error}");
    assert_eq!(small.len(), 1);
    assert_eq!(last_revision(bank.bucket()).await, before, "nothing sent");

    // A dropped transaction leaves nothing; the full one commits 1,000 writes.
    drop(small);
    let committed = tx.commit().await.unwrap();
    assert_eq!(committed.revisions().len(), 1000);
    assert_eq!(committed.revision(), before + 1000);
    let keys: Vec<AccountId> = bank
        .accounts
        .keys(KeyFilter::any())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys.len(), 1000);
    // An empty transaction commits without a wire call.
    assert!(
        bank.transaction()
            .commit()
            .await
            .unwrap()
            .revisions()
            .is_empty()
    );
}

#[tokio::test]
async fn a_bucket_without_atomic_batches_is_unsupported() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("plain"));
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    let accounts: Family<AccountId, i64> = Family::bind(&bucket, "account.{id}").unwrap();
    let mut tx = bucket.transaction();
    tx.put(&accounts, &acct(1), &1).unwrap();
    let error = tx.commit().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    assert!(accounts.get(&acct(1)).await.unwrap().is_none());

    // Declared atomic, the same bucket is brought to it by ensure, and reported as drift by
    // open until then.
    let atomic = spec.clone().atomic(true);
    let error = Bucket::open(&nats, &atomic).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigDrift, "{error}");
    let bucket = Bucket::ensure(&nats, &atomic).await.unwrap();
    assert!(bucket.status().await.unwrap().atomic);
    let accounts: Family<AccountId, i64> = Family::bind(&bucket, "account.{id}").unwrap();
    let mut tx = bucket.transaction();
    tx.put(&accounts, &acct(1), &1).unwrap();
    tx.commit().await.unwrap();
    assert_eq!(accounts.get(&acct(1)).await.unwrap().unwrap().value, 1);
}

#[tokio::test]
async fn watches_and_mirrors_see_a_committed_batch_once_in_order() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = bank(&server).await;
    let nats = common::connect(&server).await;
    let mirror_spec = BucketSpec::new(common::unique_bucket("mirror"))
        .history(10)
        .mirror(Origin::bucket(bank.bucket().name()));
    let mirror = Bucket::create(&nats, &mirror_spec).await.unwrap();
    let mirrored: Family<AccountId, i64, natskv::MsgPack, natskv::ReadOnly> =
        Family::bind(&mirror, "account.{id}").unwrap();
    let mut watch = bank.accounts.watch(KeyFilter::any()).await.unwrap();

    let mut tx = bank.transaction();
    for id in 0..50 {
        tx.put(&bank.accounts, &acct(id), &i64::from(id)).unwrap();
    }
    let committed = tx.commit().await.unwrap();

    let mut seen = Vec::new();
    while seen.len() < 50 {
        let entry = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("the watch delivers the batch")
            .unwrap()
            .unwrap();
        seen.push((entry.key.id, entry.revision));
    }
    let expected: Vec<(u32, u64)> = (0..50).zip(committed.revisions().iter().copied()).collect();
    assert_eq!(seen, expected);
    let extra = tokio::time::timeout(Duration::from_millis(300), watch.next()).await;
    assert!(extra.is_err(), "nothing more: {extra:?}");

    let copied = common::wait_for("the mirror holds the batch", || async {
        let keys: Vec<AccountId> = mirrored
            .keys(KeyFilter::any())
            .await
            .ok()?
            .try_collect()
            .await
            .ok()?;
        (keys.len() == 50).then_some(keys)
    })
    .await;
    assert_eq!(copied.len(), 50);
    let last = mirrored.get(&acct(49)).await.unwrap().unwrap();
    assert_eq!(last.value, 49);
}

#[tokio::test]
async fn a_snapshot_reads_several_families_as_of_one_revision() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = bank(&server).await;
    for id in 0..5 {
        bank.accounts.put(&acct(id), &10).await.unwrap();
        bank.ledger
            .put(
                &acct(id),
                &Movement {
                    from: id,
                    to: id,
                    amount: 0,
                },
            )
            .await
            .unwrap();
    }
    bank.fee.put(&1).await.unwrap();
    let as_of = last_revision(bank.bucket()).await;
    let view = bank
        .snapshot()
        .keys(&bank.accounts, [&acct(0), &acct(1), &acct(9)])
        .family(&bank.ledger)
        .key(bank.fee.as_family(), &())
        .fetch()
        .await
        .unwrap();
    // Written after the read: not in the view.
    bank.accounts.put(&acct(0), &99).await.unwrap();

    assert_eq!(view.revision(), as_of);
    assert_eq!(
        view.get(&bank.accounts, &acct(0)).unwrap().unwrap().value,
        10
    );
    assert!(view.get(&bank.accounts, &acct(9)).unwrap().is_none());
    let error = view.get(&bank.accounts, &acct(2)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidTransaction, "{error}");
    assert_eq!(
        view.get(bank.fee.as_family(), &()).unwrap().unwrap().value,
        1
    );
    let mut ledger: Vec<u32> = view
        .values(&bank.ledger)
        .map(|c| c.unwrap().key.id)
        .collect();
    ledger.sort_unstable();
    assert_eq!(ledger, vec![0, 1, 2, 3, 4]);
    assert_eq!(view.len(), 2 + 5 + 1);

    let everything = bank.snapshot().all().fetch().await.unwrap();
    assert_eq!(everything.values(&bank.accounts).count(), 5);
    assert_eq!(
        everything
            .get(&bank.accounts, &acct(0))
            .unwrap()
            .unwrap()
            .value,
        99
    );
}

#[tokio::test]
async fn run_guards_keys_read_but_not_written() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = bank(&server).await;
    bank.accounts.put(&acct(1), &100).await.unwrap();
    bank.fee.put(&2).await.unwrap();

    // The fee is read, not written: a change to it between read and commit is a conflict, so
    // the closure runs again and charges the new fee.
    let calls = AtomicU64::new(0);
    let fee = bank.fee.as_family();
    let reads = bank.snapshot().key(&bank.accounts, &acct(1)).key(fee, &());
    let (charged, committed) = bank
        .transaction()
        .run(reads, |view, tx| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let balance = view.get(&bank.accounts, &acct(1))?.unwrap().value;
            let fee = view.get(fee, &())?.unwrap().value;
            if n == 0 {
                // Another writer changes the fee after this attempt's read.
                another_writer(&server, &bank, |other| {
                    Box::pin(async move {
                        other.fee.put(&5).await.unwrap();
                    })
                });
            }
            tx.put(&bank.accounts, &acct(1), &(balance - fee))?;
            Ok(fee)
        })
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(charged, 5);
    assert_eq!(balance(&bank, 1).await, Some(95));
    assert_eq!(committed.revisions().len(), 1);

    // With an unguarded write to carry it, the read-only guard rides on that write.
    let reads = bank.snapshot().key(fee, &());
    let ((), committed) = bank
        .transaction()
        .run(reads, |view, tx| {
            let fee = view.get(fee, &())?.unwrap().value;
            tx.put(
                &bank.ledger,
                &acct(1),
                &Movement {
                    from: 1,
                    to: 0,
                    amount: fee,
                },
            )?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(committed.revisions().len(), 1);
}

/// Runs `write` once on another connection and runtime, as another writer would.
fn another_writer(server: &natskv::server::NatsServer, bank: &Bank, write: fn(Bank) -> BoxWrite) {
    let (url, name) = (server.url(), bank.bucket().name().to_owned());
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let nats = common::connect_url(&url).await;
            write(Bank::open_named(&nats, &name).await.unwrap()).await;
        });
    })
    .join()
    .unwrap();
}

type BoxWrite = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Writes the total of every account to the ledger (`ledger.0`), reading the whole accounts
/// family; `meanwhile` runs as another writer between the first attempt's read and its commit.
/// Returns the total written, the commit and the number of attempts.
async fn ledger_total(
    server: &natskv::server::NatsServer,
    bank: &Bank,
    retry: natskv::RetryPolicy,
    meanwhile: fn(Bank) -> BoxWrite,
) -> natskv::Result<(i64, natskv::Committed, u64)> {
    let calls = AtomicU64::new(0);
    let reads = bank.snapshot().family(&bank.accounts);
    let (total, committed) = bank
        .transaction()
        .retry(retry)
        .run(reads, |view, tx| {
            let total: i64 = view
                .values(&bank.accounts)
                .map(|c| c.map(|c| c.value))
                .sum::<natskv::Result<i64>>()?;
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                another_writer(server, bank, meanwhile);
            }
            let movement = Movement {
                from: 0,
                to: 0,
                amount: total,
            };
            tx.put(&bank.ledger, &acct(0), &movement)?;
            Ok(total)
        })
        .await?;
    Ok((total, committed, calls.load(Ordering::SeqCst)))
}

#[tokio::test]
async fn run_guards_a_filter_read_against_keys_created_under_it() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = bank(&server).await;
    for id in 1..=3 {
        bank.accounts.put(&acct(id), &100).await.unwrap();
    }
    let ledger = |bank: &Bank| {
        let ledger = bank.ledger.clone();
        async move { ledger.get(&acct(0)).await.unwrap().map(|c| c.value.amount) }
    };
    let retry = natskv::RetryPolicy::default();

    // A write outside the family read (the fee) is no conflict: one attempt.
    let (total, committed, calls) = ledger_total(&server, &bank, retry, |other| {
        Box::pin(async move {
            other.fee.put(&2).await.unwrap();
        })
    })
    .await
    .unwrap();
    assert_eq!((total, calls), (300, 1));
    assert_eq!(ledger(&bank).await, Some(300));
    assert_eq!(committed.revisions().len(), 1);

    // An account opened after the read is: the closure runs again and counts it.
    let (total, _, calls) = ledger_total(&server, &bank, retry, |other| {
        Box::pin(async move {
            other.accounts.create(&acct(4), &50).await.unwrap();
        })
    })
    .await
    .unwrap();
    assert_eq!((total, calls), (350, 2));
    assert_eq!(ledger(&bank).await, Some(350));

    // So is one deleted.
    let (total, _, calls) = ledger_total(&server, &bank, retry, |other| {
        Box::pin(async move {
            other.accounts.delete(&acct(1)).await.unwrap();
        })
    })
    .await
    .unwrap();
    assert_eq!((total, calls), (250, 2));

    // With one attempt, the conflict is the error, naming the key created under the filter
    // and the revision it was created at; nothing is stored.
    let before = last_revision(bank.bucket()).await;
    let error = ledger_total(&server, &bank, retry.attempts(1), |other| {
        Box::pin(async move {
            other.accounts.create(&acct(5), &7).await.unwrap();
        })
    })
    .await
    .unwrap_err();
    let created = bank.accounts.get(&acct(5)).await.unwrap().unwrap().revision;
    assert_eq!(created, before + 1);
    match error {
        natskv::Error::WrongRevision {
            key,
            expected,
            current,
            ..
        } => {
            assert_eq!(key, "account.5");
            assert_eq!((expected, current), (0, Some(created)));
        }
        other => panic!("expected WrongRevision, got {other}"),
    }
    assert_eq!(last_revision(bank.bucket()).await, created);
    assert_eq!(ledger(&bank).await, Some(250));
}

/// N accounts, several tasks moving random amounts between random accounts by transaction,
/// several readers taking snapshots all along: every snapshot and the final state add up to
/// the starting total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_is_never_created_or_lost_under_load() {
    const ACCOUNTS: u32 = 8;
    const START: i64 = 1_000;
    const MOVERS: usize = 4;
    const MOVES: usize = 40;
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let bank = Arc::new(bank(&server).await);
    let ids: Vec<AccountId> = (0..ACCOUNTS).map(acct).collect();
    let mut tx = bank.transaction();
    for id in &ids {
        tx.put(&bank.accounts, id, &START).unwrap();
    }
    tx.commit().await.unwrap();
    let total = START * i64::from(ACCOUNTS);

    let done = Arc::new(AtomicBool::new(false));
    let retries = Arc::new(AtomicU64::new(0));
    let commits = Arc::new(AtomicU64::new(0));
    let movers: Vec<_> = (0..MOVERS)
        .map(|m| {
            let (bank, retries, commits) = (bank.clone(), retries.clone(), commits.clone());
            tokio::spawn(async move {
                let mut seed = 0x9E37_79B9_u64.wrapping_mul(m as u64 + 1);
                for _ in 0..MOVES {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let from = acct(below(seed, ACCOUNTS));
                    let to = acct(below(seed >> 8, ACCOUNTS));
                    if from == to {
                        continue;
                    }
                    let amount = i64::from(below(seed >> 16, 100));
                    let reads = bank.snapshot().keys(&bank.accounts, [&from, &to]);
                    let calls = AtomicU64::new(0);
                    bank.transaction()
                        .run(reads, |view, tx| {
                            calls.fetch_add(1, Ordering::Relaxed);
                            let a = view.get(&bank.accounts, &from)?.unwrap().value;
                            let b = view.get(&bank.accounts, &to)?.unwrap().value;
                            tx.put(&bank.accounts, &from, &(a - amount))?;
                            tx.put(&bank.accounts, &to, &(b + amount))?;
                            Ok(())
                        })
                        .await
                        .expect("a move commits");
                    retries.fetch_add(calls.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
                    commits.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (bank, done, ids) = (bank.clone(), done.clone(), ids.clone());
            tokio::spawn(async move { audit(&bank, &done, &ids, total).await })
        })
        .collect();
    for mover in movers {
        tokio::time::timeout(Duration::from_secs(120), mover)
            .await
            .expect("movers finish")
            .unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let mut snapshots = 0;
    for reader in readers {
        snapshots += reader.await.unwrap();
    }
    let mut final_total = 0;
    for id in &ids {
        final_total += bank.accounts.get(id).await.unwrap().unwrap().value;
    }
    assert_eq!(final_total, total);
    let commits = commits.load(Ordering::Relaxed);
    println!(
        "transactions committed: {commits}, conflicts retried: {}, snapshots checked: {snapshots}",
        retries.load(Ordering::Relaxed)
    );
    // Each move wrote two keys in one batch, after the opening batch of the accounts.
    let last = last_revision(bank.bucket()).await;
    assert_eq!(last, u64::from(ACCOUNTS) + 2 * commits);
}

/// Sums the accounts from snapshots (named keys, then the whole family) until `done`; returns
/// how many snapshots it checked.
async fn audit(bank: &Bank, done: &AtomicBool, ids: &[AccountId], total: i64) -> u64 {
    let mut checked = 0_u64;
    while !done.load(Ordering::Relaxed) || checked == 0 {
        let view = bank
            .snapshot()
            .keys(&bank.accounts, ids)
            .fetch()
            .await
            .unwrap();
        let sum: i64 = ids
            .iter()
            .map(|id| view.get(&bank.accounts, id).unwrap().unwrap().value)
            .sum();
        assert_eq!(sum, total, "snapshot as of {}", view.revision());
        let whole = bank
            .snapshot()
            .family(&bank.accounts)
            .fetch()
            .await
            .unwrap();
        let sum: i64 = whole.values(&bank.accounts).map(|c| c.unwrap().value).sum();
        assert_eq!(sum, total, "family snapshot as of {}", whole.revision());
        checked += 2;
    }
    checked
}

/// On a server older than 2.12 a bucket declared atomic cannot be made (the server would
/// ignore the option), and a transaction on a bucket made there is `Unsupported` before any
/// wire call. Needs the older server `scripts/install-nats-server` puts in `tools/bin` (named by
/// `NATSKV_OLD_SERVER_BIN`, as `scripts/test` does); skipped, saying so, without it.
#[tokio::test]
async fn an_older_server_gives_unsupported() {
    let Some(binary) = std::env::var_os("NATSKV_OLD_SERVER_BIN") else {
        eprintln!("skipped: NATSKV_OLD_SERVER_BIN names no older nats-server");
        return;
    };
    let server = natskv::server::NatsServer::builder()
        .binary(binary)
        .start()
        .await
        .expect("the older nats-server starts");
    assert!(!server.version().at_least(2, 12, 0), "{}", server.version());
    let nats = common::connect(&server).await;

    let error = Bank::ensure_named(&nats, &common::unique_bucket("old"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    assert!(error.to_string().contains("2.12"), "{error}");

    let bucket = Bucket::create(&nats, &BucketSpec::new(common::unique_bucket("old")))
        .await
        .unwrap();
    let accounts: Family<AccountId, i64> = Family::bind(&bucket, "account.{id}").unwrap();
    let mut tx = bucket.transaction();
    tx.put(&accounts, &acct(1), &1).unwrap();
    let error = tx.commit().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    assert_eq!(bucket.stream_info().await.unwrap().state.last_sequence, 0);
}

/// A bucket made without direct gets (as nats-py makes them) is read through an ordered
/// consumer: snapshots and the reads a commit needs work the same, and leave no consumer.
#[tokio::test]
async fn snapshots_and_creates_work_without_direct_gets() {
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("nodirect");
    let js = async_nats::jetstream::new(nats.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 5,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: false,
        allow_atomic_publish: true,
        discard: async_nats::jetstream::stream::DiscardPolicy::New,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .unwrap();
    let bucket = Bucket::open_name(&nats, &name).await.unwrap();
    let accounts: Family<AccountId, i64> = Family::bind(&bucket, "account.{id}").unwrap();
    accounts.put(&acct(1), &10).await.unwrap();
    accounts.put(&acct(2), &20).await.unwrap();
    accounts.delete(&acct(2)).await.unwrap();

    let mut tx = bucket.transaction();
    tx.create(&accounts, &acct(2), &2).unwrap(); // over the delete marker
    tx.create(&accounts, &acct(3), &3).unwrap();
    tx.commit().await.unwrap();
    let view = bucket
        .snapshot()
        .keys(&accounts, [&acct(1), &acct(4)])
        .family(&accounts)
        .fetch()
        .await
        .unwrap();
    assert_eq!(view.revision(), 5);
    let mut values: Vec<(u32, i64)> = view
        .values(&accounts)
        .map(|c| c.map(|c| (c.key.id, c.value)))
        .collect::<natskv::Result<_>>()
        .unwrap();
    values.sort_unstable();
    assert_eq!(values, vec![(1, 10), (2, 2), (3, 3)]);
    assert!(view.get(&accounts, &acct(4)).unwrap().is_none());
    assert_eq!(common::consumer_count(&nats, &name).await, 0);
}
