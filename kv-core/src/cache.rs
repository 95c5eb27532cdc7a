//! A live typed cache: a `HashMap<K, V>` kept current by a watch in a background task.
//!
//! This module owns [`Cache`], its [`Changes`] and the task; a family starts one with
//! [`Family::cache`] (in `family/streams.rs`) through [`Cache::spawn`].

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::codec::Codec;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::KvKey;
use crate::mode::Mode;
use crate::watch::{Event, Watch};

/// How long a stopping cache waits for the server to remove its consumer.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A cached value and the revision it was written at.
struct Slot<V> {
    value: V,
    revision: u64,
}

type Map<K, V> = HashMap<K, Slot<V>>;

/// Where a cache stands: the last revision it applied, and whether its replay is over.
#[derive(Debug, Clone, Copy, Default)]
struct Status {
    revision: u64,
    initialized: bool,
}

/// A live map of a family's keys to their latest values, kept current by a watch in a
/// background tokio task. Made by [`Family::cache`] and [`Family::cache_with`].
///
/// Warm once [`initialized`](Self::initialized) returns. Deleted and purged keys are removed; a
/// value that no longer decodes removes its key (the cache never serves a stale value for it),
/// and a key that does not parse into `K` is left out; both are logged with `tracing`. The
/// watch survives disconnects and server restarts and resumes without gap or duplicate.
///
/// The cache follows the bucket through what delivers no entries. It checks the bucket every
/// 5 s (one stream-info request), so within about that time: a bucket emptied
/// ([`Bucket::empty`](crate::Bucket::empty)) or trimmed from the front (its oldest entries
/// expired or were purged) loses from the cache every key whose value is older than the
/// bucket's first revision; a bucket deleted and created again is loaded afresh, and the new
/// map replaces the old one at once when its replay is over (the cache's
/// [`revision`](Self::revision) then starts over with the new bucket's). A bucket deleted
/// and not created again is logged, and the cache keeps what it had.
///
/// Cheap to clone: clones share the map. Dropping the last clone stops the task, which removes
/// its server-side consumer (no runtime is needed in `Drop`: the task sees its stop channel
/// close). Reads take a lock for a moment and clone what they return.
pub struct Cache<K, V> {
    inner: Arc<Inner<K, V>>,
}

struct Inner<K, V> {
    map: Arc<RwLock<Map<K, V>>>,
    status: watch::Receiver<Status>,
    bucket: String,
    /// Dropped with the last handle: the task then stops.
    _stop: oneshot::Sender<()>,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V> fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = *self.inner.status.borrow();
        f.debug_struct("Cache")
            .field("bucket", &self.inner.bucket)
            .field("revision", &status.revision)
            .field("initialized", &status.initialized)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    fn read(&self) -> RwLockReadGuard<'_, Map<K, V>> {
        self.inner
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the cache holds every key that existed when it started (at once for a range
    /// with no keys).
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
    /// let cache = devices.cache().await?;
    /// cache.initialized().await?;
    /// println!("{} devices", cache.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Connection`] when the cache's watch ended first (its connection was closed).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn initialized(&self) -> Result<()> {
        let mut status = self.inner.status.clone();
        match status.wait_for(|s| s.initialized).await {
            Ok(_) => Ok(()),
            Err(_) => Err(self.ended()),
        }
    }

    /// Waits until the cache is initialized and has applied `revision` or a later one, and
    /// returns the revision it is then at: read your own writes. Returns at once when that is
    /// already so, unlike [`changed`](Self::changed), which waits for the next change.
    ///
    /// The revision must be one the cache sees: a write to a key it holds (of its family and
    /// within its filter). A revision of another key is never applied here; bound such a wait
    /// with a timeout.
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>, cache: natskv::Cache<String, u32>) -> natskv::Result<()> {
    /// let key = "sensor-1".to_owned();
    /// let revision = devices.put(&key, &42).await?;
    /// cache.wait_for_revision(revision).await?;
    /// assert_eq!(cache.get(&key), Some(42));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Connection`] when the cache's watch ended first (its connection was closed).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn wait_for_revision(&self, revision: u64) -> Result<u64> {
        let mut status = self.inner.status.clone();
        match status
            .wait_for(|s| s.initialized && s.revision >= revision)
            .await
        {
            Ok(status) => Ok(status.revision),
            Err(_) => Err(self.ended()),
        }
    }

    /// Whether the cache holds every key that existed when it started.
    pub fn is_initialized(&self) -> bool {
        self.inner.status.borrow().initialized
    }

    /// The last revision the cache applied (0 before the first).
    pub fn revision(&self) -> u64 {
        self.inner.status.borrow().revision
    }

    /// The key's value, if it has one.
    ///
    /// ```no_run
    /// # fn demo(cache: natskv::Cache<String, u32>) {
    /// let value: Option<u32> = cache.get(&"sensor-1".to_owned());
    /// # }
    /// ```
    pub fn get(&self, key: &K) -> Option<V> {
        self.read().get(key).map(|slot| slot.value.clone())
    }

    /// Whether the key has a value.
    pub fn contains_key(&self, key: &K) -> bool {
        self.read().contains_key(key)
    }

    /// How many keys have a value.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A copy of the whole map.
    ///
    /// ```no_run
    /// # fn demo(cache: natskv::Cache<String, u32>) {
    /// for (key, value) in cache.snapshot() {
    ///     println!("{key} = {value}");
    /// }
    /// # }
    /// ```
    pub fn snapshot(&self) -> HashMap<K, V> {
        self.read()
            .iter()
            .map(|(key, slot)| (key.clone(), slot.value.clone()))
            .collect()
    }

    /// Calls `f` on every key and value, without copying them. The map is read-locked
    /// meanwhile, which holds back the cache's updates: keep `f` short and do not block in it.
    ///
    /// ```no_run
    /// # fn demo(cache: natskv::Cache<String, u32>) {
    /// let mut total = 0;
    /// cache.for_each(|_, value| total += value);
    /// # }
    /// ```
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for (key, slot) in self.read().iter() {
            f(key, &slot.value);
        }
    }

    /// A change notification: [`Changes::changed`] returns after the cache has applied
    /// something new since the last call. The first load counts as one change, notified when
    /// the cache is initialized.
    ///
    /// ```no_run
    /// # async fn demo(cache: natskv::Cache<String, u32>) -> natskv::Result<()> {
    /// let mut changes = cache.changes();
    /// loop {
    ///     let revision = changes.changed().await?;
    ///     println!("now at revision {revision}: {} keys", cache.len());
    /// }
    /// # }
    /// ```
    pub fn changes(&self) -> Changes {
        let mut status = self.inner.status.clone();
        status.mark_unchanged();
        Changes {
            status,
            bucket: self.inner.bucket.clone(),
        }
    }

    /// Waits for the next change after this call, and returns the revision the cache is then
    /// at. Changes made between two calls are not seen: [`changes`](Self::changes) keeps track.
    ///
    /// ```no_run
    /// # async fn demo(cache: natskv::Cache<String, u32>) -> natskv::Result<()> {
    /// let revision = cache.changed().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Connection`] when the cache's watch ended (its connection was closed).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn changed(&self) -> Result<u64> {
        self.changes().changed().await
    }

    fn ended(&self) -> Error {
        ended(&self.inner.bucket)
    }
}

fn ended(bucket: &str) -> Error {
    Error::Connection {
        bucket: bucket.to_owned(),
        operation: "cache",
        source: Box::new(std::io::Error::other("the cache's watch ended")),
    }
}

/// Change notifications of a [`Cache`]: see [`Cache::changes`]. Changes coalesce: one call
/// to [`changed`](Self::changed) may stand for many entries.
pub struct Changes {
    status: watch::Receiver<Status>,
    bucket: String,
}

impl fmt::Debug for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Changes")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl Changes {
    /// Waits until the cache has applied something since the last call (or since
    /// [`Cache::changes`]), and returns the revision it is at.
    ///
    /// ```no_run
    /// # async fn demo(mut changes: natskv::Changes) -> natskv::Result<()> {
    /// let revision = changes.changed().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Connection`] when the cache's watch ended (its connection was closed).
    ///
    /// # Cancel safety
    /// Cancel safe: a change that arrives meanwhile is reported by the next call.
    pub async fn changed(&mut self) -> Result<u64> {
        match self.status.changed().await {
            Ok(()) => Ok(self.status.borrow_and_update().revision),
            Err(_) => Err(ended(&self.bucket)),
        }
    }

    /// The revision the cache is at now.
    pub fn revision(&self) -> u64 {
        self.status.borrow().revision
    }
}

impl<K, V> Cache<K, V>
where
    K: KvKey + Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Starts the background task that keeps a new map current with `watch`, a watch made for
    /// a cache: the cache of [`Family::cache_with`].
    pub(crate) fn spawn<C: Codec<V>, M: Mode>(
        family: Family<K, V, C, M>,
        watch: Watch<K, V, C, M>,
    ) -> Self {
        let map = Arc::new(RwLock::new(HashMap::new()));
        let (status_tx, status) = watch::channel(Status::default());
        let (stop, stop_rx) = oneshot::channel();
        let bucket = family.bucket().name().to_owned();
        let task = Task {
            family,
            map: map.clone(),
            status: status_tx,
            staging: None,
            floor: 0,
        };
        tokio::spawn(task.run(watch, stop_rx));
        Cache {
            inner: Arc::new(Inner {
                map,
                status,
                bucket,
                _stop: stop,
            }),
        }
    }
}

/// The background task that applies a watch to the map.
struct Task<K, V, C, M> {
    family: Family<K, V, C, M>,
    map: Arc<RwLock<Map<K, V>>>,
    status: watch::Sender<Status>,
    /// The new bucket's map while its replay runs, after the bucket was recreated.
    staging: Option<(Map<K, V>, u64)>,
    /// Revisions below this one are gone from the bucket: a late entry below it is not applied.
    floor: u64,
}

impl<K, V, C, M> Task<K, V, C, M>
where
    K: KvKey + Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
    M: Mode,
{
    async fn run(mut self, mut watch: Watch<K, V, C, M>, mut stop: oneshot::Receiver<()>) {
        loop {
            let event = tokio::select! {
                biased;
                _ = &mut stop => break,
                event = std::future::poll_fn(|cx| watch.poll_change(cx)) => event,
            };
            match event {
                None => return,
                Some(Ok(Event::Entry(entry))) => self.apply(entry),
                Some(Ok(Event::Initialized)) => self.initialized(),
                Some(Ok(Event::Trimmed(first))) => self.trim(first),
                Some(Ok(Event::Reset)) => {
                    tracing::warn!(
                        bucket = self.family.bucket().name(),
                        "bucket recreated under a live cache; reloading it"
                    );
                    self.floor = 0;
                    self.staging = Some((HashMap::new(), 0));
                }
                Some(Err(error)) => self.failed(&error),
            }
        }
        let _ = tokio::time::timeout(STOP_TIMEOUT, watch.stop()).await;
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Map<K, V>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `f` to the map being built: the staged one during a reload, else the live one.
    fn edit(&mut self, revision: u64, f: impl FnOnce(&mut Map<K, V>)) {
        if let Some((staged, at)) = &mut self.staging {
            f(staged);
            *at = (*at).max(revision);
        } else {
            f(&mut self.write());
            // Until the first load is complete nobody waits on single changes: waiters are
            // woken once, when it is, rather than once per entry (on a multi-thread runtime
            // each wake-up is a thread hand-off).
            self.status.send_if_modified(|s| {
                s.revision = s.revision.max(revision);
                s.initialized
            });
        }
    }

    fn apply(&mut self, entry: Entry<K, V>) {
        let revision = entry.revision;
        let (key, value) = (entry.key, entry.value);
        let floor = self.floor;
        self.edit(revision, |map| match value {
            Some(value) if revision >= floor => {
                map.insert(key, Slot { value, revision });
            }
            _ => {
                map.remove(&key);
            }
        });
    }

    fn initialized(&mut self) {
        if let Some((staged, revision)) = self.staging.take() {
            *self.write() = staged;
            self.status.send_modify(|s| {
                s.revision = revision;
                s.initialized = true;
            });
        } else {
            self.status.send_modify(|s| s.initialized = true);
        }
    }

    /// The bucket holds nothing below `first` any more: drops every value older than that.
    fn trim(&mut self, first: u64) {
        self.floor = self.floor.max(first);
        let mut removed = 0;
        let mut retain = |map: &mut Map<K, V>| {
            let before = map.len();
            map.retain(|_, slot| slot.revision >= first);
            removed += before - map.len();
        };
        if let Some((staged, _)) = &mut self.staging {
            retain(staged);
            return;
        }
        retain(&mut self.write());
        if removed > 0 {
            tracing::info!(
                bucket = self.family.bucket().name(),
                removed,
                first,
                "bucket emptied or trimmed under a live cache"
            );
            // Readers waiting on `changed` learn that the map changed.
            self.status.send_modify(|_| {});
        }
    }

    fn failed(&mut self, error: &Error) {
        tracing::warn!(bucket = self.family.bucket().name(), %error, "live cache skipped an entry");
        if let Error::Codec { key, revision, .. } = error {
            let revision = revision.unwrap_or(0);
            if let Ok(key) = self.family.parse_key(key) {
                self.edit(revision, |map| {
                    map.remove(&key);
                });
            }
        }
    }
}
