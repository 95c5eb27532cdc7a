//! A live typed cache: a `HashMap<K, V>` kept current by a watch in a background task.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{oneshot, watch};

use crate::codec::Codec;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::{KeyFilter, KvKey};
use crate::mode::Mode;
use crate::single::Single;
use crate::watch::{WatchEvent, WatchEvents};

/// How long a stopping cache waits for the server to remove its consumer.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

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
/// Cheap to clone: clones share the map. Dropping the last clone stops the task, which removes
/// its server-side consumer (no runtime is needed in `Drop`: the task sees its stop channel
/// close). Reads take a lock for a moment and clone what they return.
pub struct Cache<K, V> {
    inner: Arc<Inner<K, V>>,
}

struct Inner<K, V> {
    map: Arc<RwLock<HashMap<K, V>>>,
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
    fn read(&self) -> RwLockReadGuard<'_, HashMap<K, V>> {
        self.inner
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the cache holds every key that existed when it started (at once for a range
    /// with no keys).
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
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
    /// # fn demo(cache: kv_core::Cache<String, u32>) {
    /// let value: Option<u32> = cache.get(&"sensor-1".to_owned());
    /// # }
    /// ```
    pub fn get(&self, key: &K) -> Option<V> {
        self.read().get(key).cloned()
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
    /// # fn demo(cache: kv_core::Cache<String, u32>) {
    /// for (key, value) in cache.snapshot() {
    ///     println!("{key} = {value}");
    /// }
    /// # }
    /// ```
    pub fn snapshot(&self) -> HashMap<K, V> {
        self.read().clone()
    }

    /// Calls `f` on every key and value, without copying them. The map is read-locked
    /// meanwhile, which holds back the cache's updates: keep `f` short and do not block in it.
    ///
    /// ```no_run
    /// # fn demo(cache: kv_core::Cache<String, u32>) {
    /// let mut total = 0;
    /// cache.for_each(|_, value| total += value);
    /// # }
    /// ```
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for (key, value) in self.read().iter() {
            f(key, value);
        }
    }

    /// A change notification: [`Changes::changed`] returns after the cache has applied
    /// something new since the last call.
    ///
    /// ```no_run
    /// # async fn demo(cache: kv_core::Cache<String, u32>) -> kv_core::Result<()> {
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
    /// # async fn demo(cache: kv_core::Cache<String, u32>) -> kv_core::Result<()> {
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
    /// # async fn demo(mut changes: kv_core::Changes) -> kv_core::Result<()> {
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

impl<K, V, C, M> Family<K, V, C, M>
where
    K: KvKey + Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
    M: Mode,
{
    /// A live cache of every key of the family: see [`Cache`].
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// let cache = devices.cache().await?;
    /// cache.initialized().await?;
    /// let battery = cache.get(&"sensor-1".to_owned());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`WatchBuilder::start`](crate::WatchBuilder::start).
    ///
    /// # Cancel safety
    /// As [`WatchBuilder::start`](crate::WatchBuilder::start).
    pub async fn cache(&self) -> Result<Cache<K, V>> {
        self.cache_with(KeyFilter::any()).await
    }

    /// A live cache of the keys matching a partial key: see [`Cache`].
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// let one = devices.cache_with(&"sensor-1".to_owned()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`WatchBuilder::start`](crate::WatchBuilder::start).
    ///
    /// # Cancel safety
    /// As [`WatchBuilder::start`](crate::WatchBuilder::start).
    pub async fn cache_with(&self, filter: impl Into<KeyFilter<K>>) -> Result<Cache<K, V>> {
        let events = self.watch_with(filter).start().await?.events();
        let map = Arc::new(RwLock::new(HashMap::new()));
        let (status_tx, status) = watch::channel(Status::default());
        let (stop, stop_rx) = oneshot::channel();
        let task = Task {
            family: self.clone(),
            map: map.clone(),
            status: status_tx,
        };
        tokio::spawn(task.run(events, stop_rx));
        let bucket = self.bucket().name().to_owned();
        Ok(Cache {
            inner: Arc::new(Inner {
                map,
                status,
                bucket,
                _stop: stop,
            }),
        })
    }
}

impl<V, C, M> Single<V, C, M>
where
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
    M: Mode,
{
    /// A live cache of the key's value: `get(&())`. See [`Cache`].
    ///
    /// ```no_run
    /// # async fn demo(maintenance: kv_core::Single<bool>) -> kv_core::Result<()> {
    /// let live = maintenance.cache().await?;
    /// live.initialized().await?;
    /// let on = live.get(&()).unwrap_or(false);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`WatchBuilder::start`](crate::WatchBuilder::start).
    ///
    /// # Cancel safety
    /// As [`WatchBuilder::start`](crate::WatchBuilder::start).
    pub async fn cache(&self) -> Result<Cache<(), V>> {
        self.as_family().cache().await
    }
}

/// The background task that applies a watch to the map.
struct Task<K, V, C, M> {
    family: Family<K, V, C, M>,
    map: Arc<RwLock<HashMap<K, V>>>,
    status: watch::Sender<Status>,
}

impl<K, V, C, M> Task<K, V, C, M>
where
    K: KvKey + Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
    M: Mode,
{
    async fn run(self, mut events: WatchEvents<K, V, C, M>, mut stop: oneshot::Receiver<()>) {
        loop {
            let event = tokio::select! {
                biased;
                _ = &mut stop => break,
                event = events.next() => event,
            };
            match event {
                None => return,
                Some(Ok(WatchEvent::Entry(entry))) => self.apply(entry),
                Some(Ok(WatchEvent::Initialized)) => {
                    self.status.send_modify(|s| s.initialized = true);
                }
                Some(Err(error)) => self.failed(&error),
            }
        }
        let _ = tokio::time::timeout(STOP_TIMEOUT, events.stop()).await;
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<K, V>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, entry: Entry<K, V>) {
        let revision = entry.revision;
        match entry.value {
            Some(value) => {
                self.write().insert(entry.key, value);
            }
            None => {
                self.write().remove(&entry.key);
            }
        }
        self.status.send_modify(|s| s.revision = revision);
    }

    fn failed(&self, error: &Error) {
        tracing::warn!(bucket = self.family.bucket().name(), %error, "live cache skipped an entry");
        if let Error::Codec { key, revision, .. } = error {
            if let Ok(key) = self.family.parse_key(key) {
                self.write().remove(&key);
            }
            if let Some(revision) = revision {
                let revision = *revision;
                self.status
                    .send_modify(|s| s.revision = s.revision.max(revision));
            }
        }
    }
}
