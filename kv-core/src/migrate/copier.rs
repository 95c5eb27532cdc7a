//! The engine of a [`Migration`](super::Migration): reads the source through a watch, applies
//! each entry to the target (values in `put_many` batches, deletes and purges one by one), and
//! keeps the revision up to which everything is applied.

use std::future::Future;
use std::pin::Pin;

use futures::{FutureExt, StreamExt};

use super::{Between, MigrationProgress, MigrationReport, Notify, Undecodable};
use crate::codec::Codec;
use crate::entry::{Entry, Operation};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::{KeyFilter, KvKey};
use crate::mode::{Mode, Writable};
use crate::watch::{WatchEvent, WatchEvents};

/// The most values written in one `put_many`.
const BATCH: usize = 1024;
/// The most undecodable entries a report lists (all of them are counted).
const LISTED: usize = 1000;

/// The state of a migration while it runs.
pub(super) struct Copier<K, V, C, M, K2, V2, C2, M2, FK, FV> {
    from: Family<K, V, C, M>,
    to: Family<K2, V2, C2, M2>,
    keys: FK,
    values: FV,
    stop_on_undecodable: bool,
    notify: Option<Notify>,
    progress: MigrationProgress,
    undecodable: Vec<Undecodable>,
    /// Values to write, with their source revisions.
    puts: Vec<(K2, V2, u64)>,
    /// The last source revision taken from the watch: applied once `puts` are written.
    taken: u64,
    /// What was last reported to `notify`.
    notified: Option<MigrationProgress>,
}

impl<K, V, C, M, K2, V2, C2, M2, FK, FV> Copier<K, V, C, M, K2, V2, C2, M2, FK, FV>
where
    K: KvKey,
    C: Codec<V>,
    M: Mode,
    K2: KvKey,
    C2: Codec<V2>,
    M2: Writable,
    FK: FnMut(K) -> Option<K2>,
    FV: FnMut(&K, V) -> Option<V2>,
{
    pub(super) fn new(migration: Between<K, V, C, M, K2, V2, C2, M2, FK, FV>) -> Self {
        let start = MigrationProgress {
            revision: migration.resume.unwrap_or(0),
            ..MigrationProgress::default()
        };
        Copier {
            from: migration.from,
            to: migration.to,
            keys: migration.keys,
            values: migration.values,
            stop_on_undecodable: migration.stop_on_undecodable,
            notify: migration.progress,
            progress: start,
            undecodable: Vec::new(),
            puts: Vec::new(),
            taken: start.revision,
            notified: Some(start),
        }
    }

    /// Reads the source from `resume` (each key's latest entry when `None`), applying what it
    /// reads, until it has caught up (without `stop`) or until `stop` completes once it has.
    pub(super) async fn pass<F: Future>(
        &mut self,
        resume: Option<u64>,
        stop: Option<Pin<&mut F>>,
    ) -> Result<()> {
        let watch = self.from.watch_with(KeyFilter::any());
        let watch = match resume {
            Some(revision) => watch.from_revision(revision.saturating_add(1)),
            None => watch.latest(),
        };
        let mut events = watch.start().await?.events();
        let outcome = self.follow(&mut events, resume.is_none(), stop).await;
        events.stop().await;
        outcome
    }

    async fn follow<F: Future>(
        &mut self,
        events: &mut WatchEvents<K, V, C, M>,
        fresh: bool,
        mut stop: Option<Pin<&mut F>>,
    ) -> Result<()> {
        // The replay of a fresh copy: markers there are keys with nothing to copy.
        let mut replay = fresh;
        let mut caught_up = false;
        loop {
            let next = if self.pending() {
                // Take what is ready now; write it all once nothing more is.
                let Some(next) = events.next().now_or_never() else {
                    self.flush().await?;
                    continue;
                };
                next
            } else if let (true, Some(stop)) = (caught_up, stop.as_mut()) {
                tokio::select! {
                    biased;
                    _ = stop => return Ok(()),
                    next = events.next() => next,
                }
            } else {
                events.next().await
            };
            match next {
                Some(Ok(WatchEvent::Entry(entry))) => self.take(entry, replay).await?,
                Some(Ok(WatchEvent::Initialized)) => {
                    replay = false;
                    caught_up = true;
                    self.write_puts().await?;
                    self.progress.caught_up = true;
                    self.flush().await?;
                    if stop.is_none() {
                        return Ok(());
                    }
                }
                Some(Err(error)) => self.undecodable(error).await?,
                None => {
                    // A watch ends only after an error item, which ended the run already.
                    self.flush().await?;
                    return Err(Error::Unavailable {
                        bucket: self.from.bucket().name().to_owned(),
                        operation: "migration",
                        may_have_applied: false,
                        source: None,
                    });
                }
            }
        }
    }

    /// The last source revision applied.
    pub(super) fn revision(&self) -> u64 {
        self.progress.revision
    }

    /// Whether something was taken that is not written or reported yet.
    fn pending(&self) -> bool {
        !self.puts.is_empty()
            || self.taken != self.progress.revision
            || self.notified != Some(self.progress)
    }

    /// Applies one source entry (a value is only queued); `replay` says it is a key's latest
    /// entry in a fresh copy.
    async fn take(&mut self, entry: Entry<K, V>, replay: bool) -> Result<()> {
        let Entry {
            key,
            value,
            revision,
            operation,
            ..
        } = entry;
        match value {
            Some(value) => {
                let value = (self.values)(&key, value);
                match ((self.keys)(key), value) {
                    (Some(key), Some(value)) => self.puts.push((key, value, revision)),
                    (Some(key), None) if !replay => {
                        // The target must not keep a value the map no longer gives it.
                        self.write_puts().await?;
                        self.to.delete(&key).await?;
                        self.progress.skipped += 1;
                    }
                    _ => self.progress.skipped += 1,
                }
            }
            // A key deleted before the copy: nothing to copy.
            None if replay => {}
            None => match (self.keys)(key) {
                Some(key) => {
                    self.write_puts().await?;
                    if operation == Operation::Purge {
                        self.to.purge(&key).await?;
                    } else {
                        self.to.delete(&key).await?;
                    }
                    self.progress.deleted += 1;
                }
                None => self.progress.skipped += 1,
            },
        }
        self.taken = revision;
        if self.puts.is_empty() {
            self.progress.revision = revision;
        } else if self.puts.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Counts and lists an entry that does not decode; any other error ends the run.
    async fn undecodable(&mut self, error: Error) -> Result<()> {
        let (key, revision) = match &error {
            Error::Codec {
                key,
                revision: Some(revision),
                ..
            }
            | Error::ForeignKey { key, revision, .. } => (key.clone(), *revision),
            _ => {
                self.flush().await?;
                return Err(error);
            }
        };
        self.progress.undecodable += 1;
        self.taken = revision;
        if self.stop_on_undecodable {
            self.flush().await?;
            return Err(error);
        }
        if self.undecodable.len() < LISTED {
            self.undecodable.push(Undecodable {
                key,
                revision,
                error,
            });
        }
        Ok(())
    }

    /// Writes the queued values, reports progress when there is news.
    async fn flush(&mut self) -> Result<()> {
        self.write_puts().await?;
        self.progress.revision = self.taken;
        if self.notified != Some(self.progress) {
            self.notified = Some(self.progress);
            if let Some(notify) = self.notify.as_mut() {
                notify(&self.progress);
            }
        }
        Ok(())
    }

    /// Writes the queued values. On a failure, the revision applied is the one before the
    /// first value that was not written.
    async fn write_puts(&mut self) -> Result<()> {
        if self.puts.is_empty() {
            return Ok(());
        }
        let puts = std::mem::take(&mut self.puts);
        let results = self
            .to
            .put_many(puts.iter().map(|(key, value, _)| (key, value)))
            .await?;
        let mut failed = None;
        for ((_, _, revision), result) in puts.iter().zip(results) {
            match result {
                Ok(_) => self.progress.copied += 1,
                Err(error) => {
                    failed.get_or_insert((*revision, error));
                }
            }
        }
        match failed {
            None => {
                self.progress.revision = self.taken;
                Ok(())
            }
            Some((revision, error)) => {
                self.progress.revision = revision.saturating_sub(1);
                self.taken = self.progress.revision;
                Err(error)
            }
        }
    }

    pub(super) fn into_report(self) -> MigrationReport {
        let MigrationProgress {
            copied,
            deleted,
            skipped,
            undecodable,
            revision,
            caught_up,
        } = self.progress;
        MigrationReport {
            copied,
            deleted,
            skipped,
            undecodable,
            revision,
            caught_up,
            undecodable_entries: self.undecodable,
        }
    }
}
