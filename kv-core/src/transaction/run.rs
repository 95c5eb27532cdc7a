//! Read-modify-write across keys: read a consistent snapshot, let a closure stage writes from
//! it, commit guarded on everything read, and start over when another writer came first.

use crate::error::{Error, Result};
use crate::transaction::snapshot::{Reads, View};
use crate::transaction::{Atomic, Committed, Guard, Transaction};

impl<'a, B: ?Sized> Transaction<'a, B> {
    /// Reads `reads` as of one revision, calls `write` with what it found and this
    /// transaction, and commits what `write` staged, guarded on every key read: a key read and
    /// written is written only if it is still at the revision read (a `create` only if it
    /// still has no value), and a key read but not written makes the commit fail if it moved
    /// on. When another writer changed a key read, the whole thing runs again from a fresh
    /// read, as the [`retry`](Self::retry) policy allows (32 attempts by default). Returns what
    /// `write` returned and the commit.
    ///
    /// `write` is called once per attempt with a copy of this transaction (writes staged
    /// before `run` are kept in each). A key read but not written is guarded by a write that
    /// has no guard of its own; when there are not enough of those, the commit is guarded on
    /// nothing in the bucket having changed since the read (correct, but it conflicts with any
    /// write to the bucket). A filter read ([`Reads::matching`], [`Reads::family`],
    /// [`Reads::all`]) is guarded as a whole, by one guard: a key written, deleted, purged or
    /// created under it since the read is a conflict.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket, accounts: natskv::Family<String, i64>) -> natskv::Result<()> {
    /// let (from, to) = ("alice".to_owned(), "bob".to_owned());
    /// let reads = bucket.snapshot().keys(&accounts, [&from, &to]);
    /// let (moved, committed) = bucket
    ///     .transaction()
    ///     .run(reads, |view, tx| {
    ///         let balance = |k| Ok::<_, natskv::Error>(view.get(&accounts, k)?.map_or(0, |c| c.value));
    ///         let (a, b) = (balance(&from)?, balance(&to)?);
    ///         let amount = a.min(10);
    ///         tx.put(&accounts, &from, &(a - amount))?;
    ///         tx.put(&accounts, &to, &(b + amount))?;
    ///         Ok(amount)
    ///     })
    ///     .await?;
    /// println!("moved {moved} at revision {}", committed.revision());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// What `write` returns (nothing is committed then); [`Error::WrongRevision`] when the
    /// attempts ran out, or at once when `write` creates a key the read found with a value;
    /// otherwise as [`Reads::fetch`] and [`commit`](Self::commit).
    pub async fn run<T, F>(self, reads: Reads<'_>, write: F) -> Result<(T, Committed)>
    where
        B: Atomic,
        F: FnMut(&View, &mut Transaction<'a, B>) -> Result<T>,
    {
        let bucket = self.bucket.name();
        let op = self.run_untraced(reads, write);
        crate::trace::traced(bucket, "transaction", None, |(_, c)| Some(c.revision()), op).await
    }

    async fn run_untraced<T, F>(self, reads: Reads<'_>, mut write: F) -> Result<(T, Committed)>
    where
        B: Atomic,
        F: FnMut(&View, &mut Transaction<'a, B>) -> Result<T>,
    {
        let reads = reads.checked()?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let view = reads.read().await?;
            let mut tx = self.clone();
            let out = write(&view, &mut tx)?;
            let unwritten = tx.guard_reads(&view)?;
            tx.resolve_creates().await?;
            match tx.send(&unwritten, Some(&view)).await {
                Ok(committed) => return Ok((out, committed)),
                Err(Error::WrongRevision { .. }) if attempts < self.retry.max_attempts() => {
                    tracing::debug!(
                        bucket = self.bucket.name(),
                        attempt = attempts,
                        "transaction lost a race; reading again"
                    );
                    crate::trace::retries(attempts);
                    tokio::time::sleep(self.retry.delay(attempts)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Guards each staged write of a key the view covers on the revision read (0: it had
    /// none), and returns the guards of the rest of what was read: keys named and not
    /// written, and filters read ([`View::read_guards`]).
    fn guard_reads(&mut self, view: &View) -> Result<Vec<(String, u64)>> {
        for staged in &mut self.writes {
            if !view.covers(&staged.key) {
                continue;
            }
            let revision = view.latest_revision(&staged.key);
            match staged.guard {
                Guard::Revision(_) => {}
                Guard::Create if view.has_value(&staged.key) => {
                    return Err(Error::WrongRevision {
                        bucket: self.bucket.name().to_owned(),
                        key: staged.key.clone(),
                        expected: 0,
                        current: Some(revision),
                    });
                }
                Guard::Create | Guard::None => {
                    staged.guard = Guard::Revision(revision);
                    staged.message.set_expected(revision);
                }
            }
        }
        let mut reads = view.read_guards();
        reads.retain(|(key, _)| !self.index.contains_key(key));
        Ok(reads)
    }
}
