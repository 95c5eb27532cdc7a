//! Copying a family into another one under a new declaration: [`Migration`], what it reports
//! ([`MigrationProgress`], [`MigrationReport`]) and how it fails ([`MigrationError`]).
//!
//! A migration reads the source through a watch (each key's latest entry, or every entry after
//! a revision when it resumes, then the changes) and writes the target with `put_many`, so the
//! copy is consistent with the changes that follow it and every point it reports is a revision
//! it can resume from.

mod copier;
mod report;

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};

use self::copier::Copier;
pub use self::report::{MigrationError, MigrationProgress, MigrationReport, Undecodable};
use crate::codec::Codec;
use crate::family::Family;
use crate::key::KvKey;
use crate::mode::{Mode, Writable};

/// The key map of a migration that keeps the source's keys.
type SameKey<K> = fn(K) -> Option<K>;
/// The value map of a migration that keeps the source's values.
type SameValue<K, V> = fn(&K, V) -> Option<V>;
/// A progress callback.
type Notify = Box<dyn FnMut(&MigrationProgress) + Send>;
/// The stop of a migration that does not follow.
type NoStop = std::future::Pending<()>;
/// A migration between two families, with its maps.
type Between<K, V, C, M, K2, V2, C2, M2, FK, FV> =
    Migration<Family<K, V, C, M>, Family<K2, V2, C2, M2>, FK, FV>;

/// A typed copy of one family into another: any two families, in the same bucket or in two
/// buckets, with any key and value types and codecs. It is how a bucket moves to an
/// incompatible declaration (a new key pattern, a value type old readers cannot decode) while
/// the old one keeps serving: declare the new bucket, copy the data, follow the changes until
/// the cutover.
///
/// Made by [`Migration::new`]; [`map_keys`](Self::map_keys) and
/// [`map_values`](Self::map_values) turn source keys and values into target ones (both are
/// required when the types differ, and the copy keeps them as they are when they do not);
/// [`run`](Self::run) copies up to the source's current end, and
/// [`follow_until`](Self::follow_until) goes on applying the source's changes until the caller
/// says stop.
///
/// ```no_run
/// # async fn demo(
/// #     old: natskv_core::Family<String, u32>,
/// #     new: natskv_core::Family<u64, String, natskv_core::Json>,
/// # ) -> Result<(), natskv_core::MigrationError> {
/// use natskv_core::{Migration, MigrationProgress};
///
/// // Version 1 keyed devices by a string, version 2 by a number, and writes the level as text.
/// let report = Migration::new(&old, &new)
///     .map_keys(|id: String| id.parse::<u64>().ok()) // `None` leaves the key out
///     .map_values(|_id: &String, level: u32| Some(format!("level {level}")))
///     .progress(|p: &MigrationProgress| println!("{} copied, at {}", p.copied, p.revision))
///     .run()
///     .await?;
/// println!("{} keys copied, consistent with revision {}", report.copied, report.revision);
///
/// // Later, or after a failure: only what changed since, then every change until the cutover.
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let cutover = tokio::spawn(
///     Migration::new(&old, &new)
///         .map_keys(|id: String| id.parse::<u64>().ok())
///         .map_values(|_id: &String, level: u32| Some(format!("level {level}")))
///         .resume_from(report.revision)
///         .follow_until(stopped),
/// );
/// // ... the old service stops writing ...
/// let _ = stop.send(());
/// # let _ = cutover;
/// # Ok(()) }
/// ```
///
/// # What is copied
/// - A run without [`resume_from`](Self::resume_from) starts with each source key's latest
///   entry: every key with a live value is written to the target, once; a key that is deleted
///   or purged is not copied (and nothing is deleted in the target).
/// - After that, and in a run that resumes, every source entry is applied in revision order: a
///   value is written, a delete or purge deletes or purges the mapped target key.
/// - A map that returns `None` leaves the entry out ([`skipped`](MigrationProgress::skipped)):
///   [`map_keys`](Self::map_keys) for a key, whose values and deletes are then never applied,
///   [`map_values`](Self::map_values) for one value. A value left out while changes are
///   applied deletes the target key, so the target never keeps a value the map would not give
///   it: its live keys are always the mapped live keys of the source.
/// - An entry whose value does not decode as `V`, or whose key does not parse into `K`, is
///   counted in [`undecodable`](MigrationProgress::undecodable) and listed with its key and
///   revision in the report; the run goes on, or stops with its error after
///   [`stop_on_undecodable`](Self::stop_on_undecodable).
///
/// The report's [`revision`](MigrationReport::revision) is the last source revision applied:
/// every entry of the source family at or below it is in the target (as the maps made it), and
/// [`resume_from`](Self::resume_from) with it goes on after it without copying anything again.
/// A write that fails stops the run with the error and the report so far
/// ([`MigrationError`]), whose revision is a point to resume from.
///
/// Keys and values have a map each because a delete has no value: the key map turns the key
/// of a delete or purge into the target key it deletes, as it does for the key of a value.
///
/// The type parameters are the source family `S`, the target family `T`, and the key and value
/// maps `FK` and `FV`; they are inferred. The target may be in the same bucket as the source,
/// but not a family the source's pattern matches: a migration that follows would read its own
/// writes. It must take writes: a read-only family (a mirror's) is no target.
///
/// ```compile_fail
/// # async fn demo(
/// #     old: natskv_core::Family<String, u32>,
/// #     mirror: natskv_core::Family<String, u32, natskv_core::MsgPack, natskv_core::ReadOnly>,
/// # ) {
/// // `ReadOnly` is not `Writable`: `run` does not exist for this migration.
/// let _ = natskv_core::Migration::new(&old, &mirror).run().await;
/// # }
/// ```
#[must_use = "a migration does nothing until `run` or `follow_until` is awaited"]
pub struct Migration<S, T, FK, FV> {
    from: S,
    to: T,
    keys: FK,
    values: FV,
    resume: Option<u64>,
    stop_on_undecodable: bool,
    progress: Option<Notify>,
}

impl<S: fmt::Debug, T: fmt::Debug, FK, FV> fmt::Debug for Migration<S, T, FK, FV> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migration")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("resume", &self.resume)
            .field("stop_on_undecodable", &self.stop_on_undecodable)
            .finish_non_exhaustive()
    }
}

impl<K, V, C, M, K2, V2, C2, M2>
    Migration<Family<K, V, C, M>, Family<K2, V2, C2, M2>, SameKey<K>, SameValue<K, V>>
{
    /// A migration from the family `from` into the family `to`, which copies keys and values
    /// as they are: give it [`map_keys`](Self::map_keys) when the key types differ, and
    /// [`map_values`](Self::map_values) when the value types do (or to change them anyway).
    ///
    /// ```no_run
    /// # async fn demo(
    /// #     old: natskv_core::Family<String, u32>,
    /// #     new: natskv_core::Family<String, u32, natskv_core::Json>,
    /// # ) -> Result<(), natskv_core::MigrationError> {
    /// // Same key and value types, another codec: no map needed.
    /// let report = natskv_core::Migration::new(&old, &new).run().await?;
    /// # Ok(()) }
    /// ```
    pub fn new(from: &Family<K, V, C, M>, to: &Family<K2, V2, C2, M2>) -> Self {
        Migration {
            from: from.clone(),
            to: to.clone(),
            keys: Some,
            values: |_, value| Some(value),
            resume: None,
            stop_on_undecodable: false,
            progress: None,
        }
    }
}

impl<K, V, C, M, K2, V2, C2, M2, FK, FV>
    Migration<Family<K, V, C, M>, Family<K2, V2, C2, M2>, FK, FV>
{
    /// Turns each source key into a target key; `None` leaves the key out (its values and its
    /// deletes are never applied). Called with the key of every value and every delete or
    /// purge, after [`map_values`](Self::map_values) for a value. Without it, the target's key
    /// type must be the source's, and keys are copied as they are.
    ///
    /// ```no_run
    /// # async fn demo(
    /// #     old: natskv_core::Family<String, u32>,
    /// #     new: natskv_core::Family<u64, u32>,
    /// # ) -> Result<(), natskv_core::MigrationError> {
    /// // Keys that were numbers written as strings become numbers; others are left out.
    /// natskv_core::Migration::new(&old, &new)
    ///     .map_keys(|key: String| key.parse().ok())
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn map_keys<F>(self, map: F) -> Between<K, V, C, M, K2, V2, C2, M2, F, FV>
    where
        F: FnMut(K) -> Option<K2>,
    {
        Migration {
            from: self.from,
            to: self.to,
            keys: map,
            values: self.values,
            resume: self.resume,
            stop_on_undecodable: self.stop_on_undecodable,
            progress: self.progress,
        }
    }

    /// Turns each source value into a target value, given its source key; `None` leaves the
    /// value out (see [`Migration`] for what that does to the target key). Called once for
    /// each value applied, in revision order, before [`map_keys`](Self::map_keys). Without it,
    /// the target's value type must be the source's, and values are copied as they are (encoded
    /// again with the target's codec).
    ///
    /// ```no_run
    /// # async fn demo(
    /// #     old: natskv_core::Family<String, u32>,
    /// #     new: natskv_core::Family<String, String>,
    /// # ) -> Result<(), natskv_core::MigrationError> {
    /// // Numbers become text; zeros are left out.
    /// natskv_core::Migration::new(&old, &new)
    ///     .map_values(|_key: &String, n: u32| (n != 0).then(|| n.to_string()))
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn map_values<F>(self, map: F) -> Between<K, V, C, M, K2, V2, C2, M2, FK, F>
    where
        F: FnMut(&K, V) -> Option<V2>,
    {
        Migration {
            from: self.from,
            to: self.to,
            keys: self.keys,
            values: map,
            resume: self.resume,
            stop_on_undecodable: self.stop_on_undecodable,
            progress: self.progress,
        }
    }

    /// Calls `report` after each batch of writes, and when the copy catches up with the
    /// source, with the counts so far and the source revision applied: every revision it
    /// reports is one to [`resume_from`](Self::resume_from).
    ///
    /// ```no_run
    /// # async fn demo(old: natskv_core::Family<String, u32>, new: natskv_core::Family<String, u32>)
    /// # -> Result<(), natskv_core::MigrationError> {
    /// natskv_core::Migration::new(&old, &new)
    ///     .progress(|p: &natskv_core::MigrationProgress| println!("{} copied", p.copied))
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn progress(mut self, report: impl FnMut(&MigrationProgress) + Send + 'static) -> Self {
        self.progress = Some(Box::new(report));
        self
    }

    /// Goes on from where an earlier run stopped: applies every source entry after `revision`
    /// (values, deletes and purges, in revision order), and nothing at or below it. Give it the
    /// [`revision`](MigrationReport::revision) of the earlier run's report, of its
    /// [`MigrationError`], or the last one its progress reported.
    ///
    /// ```no_run
    /// # async fn demo(old: natskv_core::Family<String, u32>, new: natskv_core::Family<String, u32>)
    /// # -> Result<(), natskv_core::MigrationError> {
    /// let first = natskv_core::Migration::new(&old, &new).run().await?;
    /// let changes = natskv_core::Migration::new(&old, &new)
    ///     .resume_from(first.revision)
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn resume_from(mut self, revision: u64) -> Self {
        self.resume = Some(revision);
        self
    }

    /// Ends the run at the first entry that does not decode (a value that is not a `V`, a key that
    /// is not a `K`), with that entry's error ([`Error::Codec`](crate::Error::Codec) or
    /// [`Error::ForeignKey`](crate::Error::ForeignKey), naming its key and revision). By default
    /// such an entry is counted and listed in the report, and the run goes on: one bad value does
    /// not hold back the migration of the others, and the report says which ones to look at.
    ///
    /// When the run stops so, the report counts the entry and its revision is past it: resume
    /// from that revision to go on without it, or from the one before to read it again.
    ///
    /// ```no_run
    /// # async fn demo(old: natskv_core::Family<String, u32>, new: natskv_core::Family<String, u32>) {
    /// match natskv_core::Migration::new(&old, &new).stop_on_undecodable().run().await {
    ///     Ok(report) => println!("all {} values decoded", report.copied),
    ///     Err(e) => println!("{}: {:?} at {:?}", e, e.error().key(), e.error().revision()),
    /// }
    /// # }
    /// ```
    pub fn stop_on_undecodable(mut self) -> Self {
        self.stop_on_undecodable = true;
        self
    }
}

impl<K, V, C, M, K2, V2, C2, M2, FK, FV>
    Migration<Family<K, V, C, M>, Family<K2, V2, C2, M2>, FK, FV>
where
    K: KvKey,
    C: Codec<V>,
    M: Mode,
    K2: KvKey,
    C2: Codec<V2>,
    M2: Writable,
{
    /// Copies the source up to its end as of the start, and returns what it did. See
    /// [`Migration`] for what is copied.
    ///
    /// ```no_run
    /// # async fn demo(old: natskv_core::Family<String, u32>, new: natskv_core::Family<String, u32>)
    /// # -> Result<(), natskv_core::MigrationError> {
    /// let report = natskv_core::Migration::new(&old, &new).run().await?;
    /// assert!(report.caught_up);
    /// println!(
    ///     "{} copied, {} left out, {} undecodable, as of revision {}",
    ///     report.copied, report.skipped, report.undecodable, report.revision
    /// );
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`MigrationError`] holding the error that stopped the run and the report so far, whose
    /// revision is a point to [`resume_from`](Self::resume_from): a write the target refused or did
    /// not answer ([`Error::ValueTooLarge`](crate::Error::ValueTooLarge),
    /// [`Error::Codec`](crate::Error::Codec) for a value that does not encode,
    /// [`Error::InvalidKey`](crate::Error::InvalidKey) for a mapped key that does not render,
    /// [`Error::Timeout`](crate::Error::Timeout),
    /// [`Error::Unavailable`](crate::Error::Unavailable),
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied) ...), a source the watch cannot
    /// read ([`Error::BucketNotFound`](crate::Error::BucketNotFound),
    /// [`Error::BucketRecreated`](crate::Error::BucketRecreated)), or an undecodable entry after
    /// [`stop_on_undecodable`](Self::stop_on_undecodable).
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future stops the migration at once, and writes in flight
    /// may have been applied. Everything up to the last revision the
    /// [`progress`](Self::progress) callback reported is applied: resume from it.
    pub async fn run(self) -> Result<MigrationReport, MigrationError>
    where
        FK: FnMut(K) -> Option<K2>,
        FV: FnMut(&K, V) -> Option<V2>,
    {
        self.copy(None::<NoStop>).await
    }

    /// Copies the source as [`run`](Self::run) does, then keeps applying its changes as they
    /// come, until `stop` completes (its output is ignored). Then it applies what the source
    /// holds at that moment, and returns: for a cutover, stop the old writers, then complete
    /// `stop`, and the returned report covers every write they made.
    ///
    /// ```no_run
    /// # async fn demo(old: natskv_core::Family<String, u32>, new: natskv_core::Family<String, u32>)
    /// # -> Result<(), natskv_core::MigrationError> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let migration = tokio::spawn(natskv_core::Migration::new(&old, &new).follow_until(stopped));
    /// // ... the old service stops writing ...
    /// let _ = stop.send(());
    /// # let _ = migration;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`run`](Self::run).
    ///
    /// # Cancel safety
    /// As [`run`](Self::run).
    pub async fn follow_until<F: Future>(self, stop: F) -> Result<MigrationReport, MigrationError>
    where
        FK: FnMut(K) -> Option<K2>,
        FV: FnMut(&K, V) -> Option<V2>,
    {
        self.copy(Some(stop)).await
    }

    async fn copy<F: Future>(self, stop: Option<F>) -> Result<MigrationReport, MigrationError>
    where
        FK: FnMut(K) -> Option<K2>,
        FV: FnMut(&K, V) -> Option<V2>,
    {
        let resume = self.resume;
        let mut copier = Copier::new(self);
        let outcome = match stop {
            None => copier.pass(resume, None::<Pin<&mut NoStop>>).await,
            Some(stop) => {
                let stop = pin!(stop);
                match copier.pass(resume, Some(stop)).await {
                    // What the source holds now, written before the stop, may still be on its
                    // way to the watch: one more pass reads up to the end as of now.
                    Ok(()) => {
                        let revision = copier.revision();
                        copier.pass(Some(revision), None::<Pin<&mut NoStop>>).await
                    }
                    Err(error) => Err(error),
                }
            }
        };
        let report = copier.into_report();
        match outcome {
            Ok(()) => Ok(report),
            Err(error) => Err(MigrationError::new(error, report)),
        }
    }
}
