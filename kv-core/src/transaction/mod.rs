//! Transactions: writes to several keys and families of one bucket, stored all or nothing
//! (ADR-50 atomic batches), and the consistent reads they are built on.
//!
//! This module owns [`Transaction`] (staging and commit), [`Committed`] and the [`Atomic`]
//! marker; `snapshot` owns [`Reads`] and [`View`] (reads of many keys as of one revision), and
//! `run` the read-modify-write loop ([`Transaction::run`]). The wire protocol is in
//! `wire::batch` and `wire::direct`.

mod run;
mod snapshot;

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use crate::bucket::Bucket;
use crate::codec::Codec;
use crate::entry::Operation;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::KvKey;
use crate::mode::Writable;
use crate::retry::RetryPolicy;
use crate::wire::batch::{self, COMMIT, MAX_BATCH, Outcome};
use crate::wire::raw::{Expect, Outgoing, Write};

pub use snapshot::{Reads, View};

/// A bucket whose transactions compile: one declared with atomic batches.
///
/// `#[derive(KvBucket)]` implements it for a bucket declared `#[kv(atomic)]`, whose stream is
/// created with `allow_atomic` (nats-server 2.12 or newer). [`Bucket`] implements it too, for
/// buckets opened at run time: a commit on a bucket without the option fails with
/// [`Error::Unsupported`], nothing stored.
#[diagnostic::on_unimplemented(
    message = "bucket `{Self}` is not declared with atomic batches: its transactions cannot commit",
    label = "this transaction's bucket is `{Self}`",
    note = "add `atomic` to the bucket's #[kv(...)] (and `ensure` it, which turns the option on \
            on the server); atomic batches need nats-server 2.12 or newer"
)]
pub trait Atomic {}

impl Atomic for Bucket {}

/// Writes to several keys of one bucket, any of its families, stored all or nothing.
///
/// Stage writes with [`put`](Self::put), [`create`](Self::create), [`update`](Self::update),
/// [`delete`](Self::delete), [`delete_if`](Self::delete_if), [`purge`](Self::purge) and
/// [`purge_if`](Self::purge_if): each checks its key, encodes its value and checks its size at
/// once, and an error there stages nothing. Nothing is sent before
/// [`commit`](Self::commit), so a transaction dropped before it leaves nothing anywhere.
/// [`commit`](Self::commit) sends the writes as one atomic batch: either every write is stored,
/// at consecutive revisions, or none is. A guard that fails (an `update` or `*_if` whose key
/// moved on, a `create` whose key has a value) aborts the whole transaction with
/// [`Error::WrongRevision`] naming the key and the revision found.
///
/// `B` is the bucket's type: a derived bucket's transactions compile only when it is declared
/// `#[kv(atomic)]` ([`Atomic`]).
///
/// ```no_run
/// # async fn demo(bucket: natskv::Bucket, accounts: natskv::Family<String, i64>) -> natskv::Result<()> {
/// let mut tx = bucket.transaction();
/// tx.put(&accounts, &"alice".to_owned(), &90)?;
/// tx.put(&accounts, &"bob".to_owned(), &110)?;
/// let committed = tx.commit().await?;
/// assert_eq!(committed.revisions().len(), 2);
/// # Ok(()) }
/// ```
pub struct Transaction<'a, B: ?Sized = Bucket> {
    bucket: &'a Bucket,
    writes: Vec<Staged>,
    /// Where each key is in `writes`.
    index: HashMap<String, usize>,
    retry: RetryPolicy,
    bucket_type: PhantomData<fn(&B)>,
}

/// One staged write.
#[derive(Debug, Clone)]
struct Staged {
    key: String,
    /// What the key's latest revision must be; `Create` until a read resolves it.
    guard: Guard,
    message: Outgoing,
}

/// A staged write's guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    None,
    Revision(u64),
    /// No live value: resolved to the revision of the key's marker, or 0, before commit.
    Create,
}

impl<B: ?Sized> Clone for Transaction<'_, B> {
    fn clone(&self) -> Self {
        Transaction {
            bucket: self.bucket,
            writes: self.writes.clone(),
            index: self.index.clone(),
            retry: self.retry,
            bucket_type: PhantomData,
        }
    }
}

impl<B: ?Sized> fmt::Debug for Transaction<'_, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("bucket", &self.bucket.name())
            .field("writes", &self.writes.len())
            .finish_non_exhaustive()
    }
}

/// What a committed transaction stored: each write's revision, in the order staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    revisions: Vec<u64>,
}

impl Committed {
    /// Each write's revision, in the order the writes were staged (consecutive revisions).
    pub fn revisions(&self) -> &[u64] {
        &self.revisions
    }

    /// The revision of the transaction's last write (0 for an empty transaction): the bucket
    /// revision at which every write is visible.
    pub fn revision(&self) -> u64 {
        self.revisions.last().copied().unwrap_or(0)
    }
}

impl<'a, B: ?Sized> Transaction<'a, B> {
    /// A transaction on `bucket`. A derived bucket's `transaction()` calls this with its own
    /// type as `B`.
    pub fn new(bucket: &'a Bucket) -> Self {
        Transaction {
            bucket,
            writes: Vec::new(),
            index: HashMap::new(),
            retry: RetryPolicy::default(),
            bucket_type: PhantomData,
        }
    }

    /// How [`run`](Self::run) retries when another writer changed what it read (32 attempts
    /// by default, with a growing pause). [`commit`](Self::commit) never retries a lost guard.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The number of staged writes.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether no write is staged.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The bucket the transaction writes to.
    pub fn bucket(&self) -> &'a Bucket {
        self.bucket
    }

    /// Stages a write after checking it can be part of the transaction.
    fn stage<K: KvKey, V, C: Codec<V>, M: Writable>(
        &mut self,
        family: &Family<K, V, C, M>,
        key: &K,
        operation: Operation,
        value: Option<&V>,
        guard: Guard,
    ) -> Result<&mut Self> {
        let name = match (operation, guard) {
            (Operation::Put, Guard::None) => "put",
            (Operation::Put, Guard::Create) => "create",
            (Operation::Put, Guard::Revision(_)) => "update",
            (Operation::Delete, _) => "delete",
            (Operation::Purge, _) => "purge",
        };
        if family.bucket().stream_name() != self.bucket.stream_name() {
            return Err(self.invalid(format!(
                "{name} on a family of bucket `{}`: a transaction writes to one bucket",
                family.bucket().name()
            )));
        }
        if self.writes.len() >= MAX_BATCH {
            return Err(self.invalid(format!(
                "{name} would be write {} and a transaction holds at most {MAX_BATCH}; \
                 commit and start another",
                MAX_BATCH + 1
            )));
        }
        let (rendered, payload) = match value {
            Some(value) => family.rendered(key, value)?,
            None => (family.key(key)?, bytes::Bytes::new()),
        };
        if self.index.contains_key(&rendered) {
            return Err(self.invalid(format!(
                "key `{rendered}` is already written by this transaction; \
                 write each key once"
            )));
        }
        let expect = match guard {
            Guard::Revision(revision) => Expect::Revision(revision),
            // Resolved at commit; sized here as the largest guard.
            Guard::Create => Expect::Revision(u64::MAX),
            Guard::None => Expect::Any,
        };
        let write = Write::new(name, &rendered, operation).expect(expect);
        let subject = format!("{}{rendered}", self.bucket.prefix());
        let message = Outgoing::batched(subject, write, payload);
        self.bucket.check_size(write, message.size())?;
        self.index.insert(rendered.clone(), self.writes.len());
        self.writes.push(Staged {
            key: rendered,
            guard,
            message,
        });
        Ok(self)
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidTransaction {
            bucket: self.bucket.name().to_owned(),
            reason,
        }
    }
}

impl<B: ?Sized> Transaction<'_, B> {
    /// Stages a write of `value` to `key` in `family` (a family of this transaction's bucket).
    ///
    /// # Errors
    /// Before anything is staged: [`Error::InvalidKey`], [`Error::Codec`],
    /// [`Error::ValueTooLarge`], or [`Error::InvalidTransaction`] for a family of another
    /// bucket, a key already written by this transaction, or a 1,001st write.
    pub fn put<K: KvKey, V, C: Codec<V>, M: Writable>(
        &mut self,
        family: &Family<K, V, C, M>,
        key: &K,
        value: &V,
    ) -> Result<&mut Self>
    where
        B: Atomic,
    {
        self.stage(family, key, Operation::Put, Some(value), Guard::None)
    }

    /// Stages a write of `value` to `key` only if the key has no live value (never written,
    /// deleted or purged) when the transaction commits.
    ///
    /// # Errors
    /// As [`put`](Self::put); at commit, [`Error::WrongRevision`] when the key has a value.
    pub fn create<K: KvKey, V, C: Codec<V>, M: Writable>(
        &mut self,
        family: &Family<K, V, C, M>,
        key: &K,
        value: &V,
    ) -> Result<&mut Self>
    where
        B: Atomic,
    {
        self.stage(family, key, Operation::Put, Some(value), Guard::Create)
    }

    /// Stages a write of `value` to `key` only if the key's latest revision is `revision`
    /// when the transaction commits.
    ///
    /// # Errors
    /// As [`put`](Self::put); at commit, [`Error::WrongRevision`] when the key moved on.
    pub fn update<K: KvKey, V, C: Codec<V>, M: Writable>(
        &mut self,
        family: &Family<K, V, C, M>,
        key: &K,
        value: &V,
        revision: u64,
    ) -> Result<&mut Self>
    where
        B: Atomic,
    {
        let guard = Guard::Revision(revision);
        self.stage(family, key, Operation::Put, Some(value), guard)
    }

    /// Stages a delete of `key` (a delete marker; earlier revisions stay).
    ///
    /// # Errors
    /// As [`put`](Self::put), less the value's errors.
    pub fn delete<K: KvKey, V, C: Codec<V>, M: Writable>(
        &mut self,
        family: &Family<K, V, C, M>,
        key: &K,
    ) -> Result<&mut Self>
    where
        B: Atomic,
    {
        self.stage(family, key, Operation::Delete, None, Guard::None)
    }

    /// Stages a delete of `key` only if its latest revision is `revision` at commit.
    ///
    /// # Errors
    /// As [`delete`](Self::delete); at commit, [`Error::WrongRevision`] when the key moved on.
    pub fn delete_if<K: KvKey, V, C: Codec<V>, M: Writable>(
        &mut self,
        family: &Family<K, V, C, M>,
        key: &K,
        revision: u64,
    ) -> Result<&mut Self>
    where
        B: Atomic,
    {
        let guard = Guard::Revision(revision);
        self.stage(family, key, Operation::Delete, None, guard)
    }

    /// Stages a purge of `key`: a purge marker that removes the key's earlier revisions.
    ///
    /// # Errors
    /// As [`delete`](Self::delete).
    pub fn purge<K: KvKey, V, C: Codec<V>, M: Writable>(
        &mut self,
        family: &Family<K, V, C, M>,
        key: &K,
    ) -> Result<&mut Self>
    where
        B: Atomic,
    {
        self.stage(family, key, Operation::Purge, None, Guard::None)
    }

    /// Stages a purge of `key` only if its latest revision is `revision` at commit.
    ///
    /// # Errors
    /// As [`delete`](Self::delete); at commit, [`Error::WrongRevision`] when the key moved on.
    pub fn purge_if<K: KvKey, V, C: Codec<V>, M: Writable>(
        &mut self,
        family: &Family<K, V, C, M>,
        key: &K,
        revision: u64,
    ) -> Result<&mut Self>
    where
        B: Atomic,
    {
        let guard = Guard::Revision(revision);
        self.stage(family, key, Operation::Purge, None, guard)
    }

    /// Stores every staged write, or none: one atomic batch. An empty transaction commits
    /// without a wire call.
    ///
    /// A `create` first reads its key (one request for all of them): a key with a value fails
    /// here, one with a delete or purge marker is guarded on that marker's revision. Writes
    /// nobody took are sent again as the bucket's [`WriteRetry`](crate::WriteRetry) allows
    /// (the server stored nothing of them); a lost guard is never retried here (see
    /// [`run`](Self::run)).
    ///
    /// # Errors
    /// - [`Error::WrongRevision`] when a guard failed: nothing was stored; the error names the
    ///   key and the revision found.
    /// - [`Error::Unsupported`] when the bucket does not allow atomic batches or the server is
    ///   older than 2.12.
    /// - [`Error::Timeout`] (`may_have_applied`) when the commit went unanswered and its
    ///   writes could not be found stored (a commit whose answer was lost but whose writes
    ///   are found, by their batch id, succeeds); [`Error::Unavailable`] when nobody took it;
    ///   [`Error::PermissionDenied`], [`Error::BucketNotFound`] as for a single write.
    ///
    /// # Cancel safety
    /// Not cancel safe: the transaction may be stored even if the future is dropped; when it is
    /// dropped before its last message is sent, the server drops the batch after 10 seconds.
    pub async fn commit(mut self) -> Result<Committed>
    where
        B: Atomic,
    {
        let bucket = self.bucket.name();
        let op = async {
            self.resolve_creates().await?;
            self.send(&[], None).await
        };
        crate::trace::traced(
            bucket,
            "commit",
            None,
            |c: &Committed| Some(c.revision()),
            op,
        )
        .await
    }

    /// Sends the staged writes, with `reads` (keys and filters read and not written, with the
    /// revisions read in `view`) guarded on the writes that carry no guard of their own; when
    /// those run out, on the bucket's last revision still being the view's.
    async fn send(&self, reads: &[(String, u64)], view: Option<&View>) -> Result<Committed> {
        if self.writes.is_empty() {
            return Ok(Committed {
                revisions: Vec::new(),
            });
        }
        if !crate::wire::direct::server_at_least_2_12(self.bucket) {
            return Err(unsupported());
        }
        let mut messages: Vec<Outgoing> = self.writes.iter().map(|w| w.message.clone()).collect();
        let mut unguarded = messages.iter().filter(|m| !m.is_guarded()).count();
        let mut whole_bucket = false;
        for (key, revision) in reads {
            if unguarded == 0 {
                whole_bucket = true;
                break;
            }
            if let Some(carrier) = messages.iter_mut().find(|m| !m.is_guarded()) {
                carrier.guard_other(format!("{}{key}", self.bucket.prefix()), *revision);
                unguarded -= 1;
            }
        }
        if let Some(view) = view.filter(|_| whole_bucket) {
            messages[0].expect_last_sequence(view.revision());
        }
        match batch::commit(self.bucket, &messages).await? {
            Outcome::Stored { first, last } => {
                let revisions: Vec<u64> = (first..=last).collect();
                if revisions.len() != self.writes.len() {
                    return Err(Error::Server {
                        bucket: self.bucket.name().to_owned(),
                        operation: COMMIT,
                        code: 0,
                        description: format!(
                            "the server acknowledged {} writes of {}",
                            revisions.len(),
                            self.writes.len()
                        ),
                        source: None,
                    });
                }
                Ok(Committed { revisions })
            }
            Outcome::Lost(found) => Err(self.lost(reads, found, view).await),
        }
    }

    /// Turns each `create` guard into the revision it stands for: the key's marker, or 0.
    async fn resolve_creates(&mut self) -> Result<()> {
        let creates: Vec<String> = self
            .writes
            .iter()
            .filter(|w| w.guard == Guard::Create)
            .map(|w| w.key.clone())
            .collect();
        if creates.is_empty() {
            return Ok(());
        }
        let latest = self.latest(&creates).await?;
        for key in creates {
            match latest.get(&key).copied() {
                Some((revision, false)) => {
                    return Err(Error::WrongRevision {
                        bucket: self.bucket.name().to_owned(),
                        key,
                        expected: 0,
                        current: Some(revision),
                    });
                }
                at => self.set_guard(&key, at.map_or(0, |(revision, _)| revision)),
            }
        }
        Ok(())
    }

    /// Sets the guard of the staged write of `key` to `revision`.
    fn set_guard(&mut self, key: &str, revision: u64) {
        if let Some(&at) = self.index.get(key) {
            let staged = &mut self.writes[at];
            staged.guard = Guard::Revision(revision);
            staged.message.set_expected(revision);
        }
    }

    /// The latest revision of each of `keys` that has one, and whether it is a marker: one
    /// consistent read.
    async fn latest(&self, keys: &[String]) -> Result<HashMap<String, (u64, bool)>> {
        let view = Reads::named(self.bucket, keys.to_vec()).read().await?;
        Ok(keys
            .iter()
            .filter_map(|k| view.latest(k).map(|(r, marker)| (k.clone(), (r, marker))))
            .collect())
    }

    /// The error of a commit whose guard failed: which key, read after the refusal (the
    /// server's refusal gives the revision it found, not the key). A filter's guard names
    /// the newest key under it, with the revision `view` read it at (0: created since).
    async fn lost(
        &self,
        reads: &[(String, u64)],
        found: Option<u64>,
        view: Option<&View>,
    ) -> Error {
        let guards: Vec<(String, u64)> = self
            .writes
            .iter()
            .filter_map(|w| match w.guard {
                Guard::Revision(revision) => Some((w.key.clone(), revision)),
                Guard::None | Guard::Create => None,
            })
            .chain(reads.iter().cloned())
            .collect();
        let (filters, keys): (Vec<String>, Vec<String>) = guards
            .iter()
            .map(|(k, _)| k.clone())
            .partition(|k| is_filter(k));
        let now = Reads::of(self.bucket, keys, filters).read().await.ok();
        let known = now.is_some();
        // What a guard's key or filter is at now: the key (for a filter, its newest key) and
        // its revision.
        let current = |guarded: &str| -> (String, u64) {
            let newest = now.as_ref().and_then(|now| {
                if is_filter(guarded) {
                    now.newest_under(guarded).map(|(k, r)| (k.to_owned(), r))
                } else {
                    Some((guarded.to_owned(), now.latest_revision(guarded)))
                }
            });
            newest.unwrap_or_else(|| (guarded.to_owned(), 0))
        };
        let moved: Vec<(&String, u64, (String, u64))> = guards
            .iter()
            .map(|(guarded, expected)| (guarded, *expected, current(guarded)))
            .collect();
        // The guard whose revision the server named, else the first that moved.
        let culprit = moved
            .iter()
            .find(|(_, expected, (_, now))| found == Some(*now) && now != expected)
            .or_else(|| moved.iter().find(|(_, expected, (_, now))| now != expected))
            .or(moved.first());
        match culprit {
            Some((guarded, expected, (key, now))) => Error::WrongRevision {
                bucket: self.bucket.name().to_owned(),
                expected: match view {
                    Some(view) if is_filter(guarded) => view.latest_revision(key),
                    _ => *expected,
                },
                key: key.clone(),
                current: if known { Some(*now) } else { found },
            },
            None => Error::Server {
                bucket: self.bucket.name().to_owned(),
                operation: COMMIT,
                code: 0,
                description: "a guard failed but the transaction has none".to_owned(),
                source: None,
            },
        }
    }
}

/// Whether a read guard is on a filter (a key has no wildcard token).
fn is_filter(guarded: &str) -> bool {
    guarded.split('.').any(|token| token == "*" || token == ">")
}

fn unsupported() -> Error {
    Error::Unsupported {
        feature: "transactions (atomic batches)",
        needs: "2.12",
    }
}

impl Bucket {
    /// A transaction on this bucket: see [`Transaction`]. The bucket must allow atomic
    /// batches (`BucketSpec::atomic`), or its commits fail with [`Error::Unsupported`].
    pub fn transaction(&self) -> Transaction<'_, Bucket> {
        Transaction::new(self)
    }

    /// Reads many keys, of any families, as of one revision: see [`Reads`].
    pub fn snapshot(&self) -> Reads<'_> {
        Reads::new(self)
    }
}
