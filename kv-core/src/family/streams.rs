//! A family's streams: a key's history ([`History`]) and the family's live keys ([`Keys`]),
//! read to their end, and the entry points of what follows the family as it is written:
//! watches ([`Watch`], [`WatchBuilder`]), the typing of an untyped watch's entries
//! ([`Family::try_decode`]) and live caches ([`Cache`]).

use std::fmt;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

use super::Family;
use crate::cache::Cache;
use crate::codec::{Codec, MsgPack};
use crate::entry::{Entry, RawEntry};
use crate::error::Result;
use crate::key::{KeyErrorReason, KeyFilter, KvKey};
use crate::mode::{Mode, ReadWrite};
use crate::watch::{Watch, WatchBuilder};
use crate::wire::direct;
use crate::wire::scan::{Deliver, Scan, ScanSpec};
// Named only in doc links, which the `natskv` facade resolves against this module as
// compiled: a `#[cfg(doc)]` import would leave them unresolved there.
#[allow(unused_imports)]
use crate::{error::Error, watch::BucketWatch};

impl<K: KvKey, V, C: Codec<V>, M: Mode> Family<K, V, C, M> {
    /// Every kept revision of the key, oldest first, markers included, as a stream that ends
    /// after the latest. Each entry's `delta` counts the newer entries still to come.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let all: Vec<_> = sessions.history(&"abc".to_owned()).await?.try_collect().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] before any wire call; each undecodable value is one
    /// [`Error::Codec`] item and the stream goes on.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn history(&self, key: &K) -> Result<History<K, V, C, M>> {
        let subject = format!("{}{}", self.bucket.prefix(), self.key(key)?);
        let entries = if direct::supported(&self.bucket) {
            direct::read(&self.bucket, subject).await?
        } else {
            let spec = ScanSpec {
                filters: vec![subject],
                deliver: Deliver::All,
                headers_only: false,
                follow: false,
            };
            Scan::start(&self.bucket, spec).await?.boxed()
        };
        Ok(History {
            entries,
            family: self.clone(),
        })
    }

    /// The keys of this family that have a live value, filtered on the server by a partial key
    /// (`KeyFilter::any()` for all), streamed. A key in the bucket that has the pattern's shape
    /// but does not parse into `K` (written by someone else) is one [`Error::ForeignKey`] item
    /// (of kind `InvalidKey`).
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let ids: Vec<String> = sessions.keys(natskv::KeyFilter::any()).await?.try_collect().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when a fixed parameter is not a valid token.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn keys(&self, filter: impl Into<KeyFilter<K>>) -> Result<Keys<K, V, C, M>> {
        let spec = ScanSpec {
            filters: vec![self.subject_filter(&filter.into())?],
            deliver: Deliver::LastPerSubject,
            headers_only: true,
            follow: false,
        };
        Ok(Keys {
            scan: Scan::start(&self.bucket, spec).await?,
            family: self.clone(),
        })
    }

    /// Watches the keys matching a partial key (`KeyFilter::any()` for the whole family, a `&K`
    /// for one key): each one's latest entry, then every update. See [`Watch`].
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let mut watch = devices.watch(natskv::KeyFilter::any()).await?;
    /// while let Some(entry) = watch.try_next().await? {
    ///     println!("{} = {:?} at {}", entry.key, entry.value, entry.revision);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`WatchBuilder::start`].
    ///
    /// # Cancel safety
    /// As [`WatchBuilder::start`].
    pub async fn watch(&self, filter: impl Into<KeyFilter<K>>) -> Result<Watch<K, V, C, M>> {
        self.watch_with(filter).start().await
    }

    /// A watch on the keys matching a partial key, with options: see [`WatchBuilder`].
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
    /// let watch = devices.watch_with(natskv::KeyFilter::any()).updates_only().start().await?;
    /// # Ok(()) }
    /// ```
    pub fn watch_with(&self, filter: impl Into<KeyFilter<K>>) -> WatchBuilder<Family<K, V, C, M>> {
        WatchBuilder::new(self.clone(), self.bucket().clone()).or(filter)
    }

    /// A watch on the union of several partial keys, in one stream, each entry once: see
    /// [`WatchBuilder`]. An empty set of partial keys watches nothing, so it is refused: its
    /// `start` fails with [`Error::InvalidKey`] ([`KeyErrorReason::NoFilters`]).
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
    /// let watch = devices.watch_many([&"a".to_owned(), &"b".to_owned()]).start().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [`KeyErrorReason::NoFilters`]: crate::KeyErrorReason::NoFilters
    pub fn watch_many<F: Into<KeyFilter<K>>>(
        &self,
        filters: impl IntoIterator<Item = F>,
    ) -> WatchBuilder<Family<K, V, C, M>> {
        let mut filters = filters.into_iter().peekable();
        let builder = WatchBuilder::new(self.clone(), self.bucket().clone());
        if filters.peek().is_none() {
            return builder.refuse(self.bucket().invalid_key(KeyErrorReason::NoFilters));
        }
        filters.fold(builder, WatchBuilder::or)
    }

    /// Types an entry of an untyped [`BucketWatch`]: `None` when its key is not of this
    /// family's pattern, otherwise the typed entry or the error decoding it.
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let mut watch = devices.bucket().watch_all().await?;
    /// while let Some(entry) = watch.try_next().await? {
    ///     if let Some(device) = devices.try_decode(&entry).transpose()? {
    ///         println!("device {} = {:?}", device.key, device.value);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::ForeignKey`] (of kind `InvalidKey`) when the key has the pattern's shape but
    /// does not parse into `K`;
    /// [`Error::Codec`] with key and revision when the value does not decode.
    pub fn try_decode(&self, entry: &Entry<String, Bytes>) -> Option<Result<Entry<K, V>>> {
        self.pattern().match_key(&entry.key)?;
        let raw = RawEntry {
            key: entry.key.clone(),
            payload: entry.value.clone().unwrap_or_default(),
            revision: entry.revision,
            created: entry.created,
            delta: entry.delta,
            operation: entry.operation,
        };
        Some(self.decode(&raw, entry.value.is_some()))
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
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
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
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
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
        let watch = self.watch_with(filter).for_cache().start().await?;
        Ok(Cache::spawn(self.clone(), watch))
    }
}

/// The revisions of one key, oldest first: see [`Family::history`].
///
/// Read with batch direct gets where the server allows them (nats-server 2.12+), which leave
/// nothing on the server; otherwise through a consumer, which is deleted when the history
/// ends, or in the background when it is dropped before (no runtime is needed in `Drop`).
pub struct History<K, V, C = MsgPack, M = ReadWrite> {
    entries: BoxStream<'static, Result<RawEntry>>,
    family: Family<K, V, C, M>,
}

impl<K, V, C, M> fmt::Debug for History<K, V, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History")
            .field("bucket", &self.family.bucket.name())
            .finish_non_exhaustive()
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Stream for History<K, V, C, M> {
    type Item = Result<Entry<K, V>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.entries
            .poll_next_unpin(cx)
            .map(|item| item.map(|raw| raw.and_then(|raw| this.family.decode(&raw, true))))
    }
}

/// The live keys of a family: see [`Family::keys`].
///
/// Read through a headers-only consumer (no value bytes are sent), which is deleted before the
/// stream's final `None`, or in the background when the stream is dropped before its end (no
/// runtime is needed in `Drop`).
pub struct Keys<K, V, C = MsgPack, M = ReadWrite> {
    scan: Scan,
    family: Family<K, V, C, M>,
}

impl<K, V, C, M> fmt::Debug for Keys<K, V, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("scan", &self.scan)
            .finish_non_exhaustive()
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Stream for Keys<K, V, C, M> {
    type Item = Result<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            return match this.scan.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(raw))) if raw.operation.is_marker() => continue,
                Poll::Ready(Some(Ok(raw))) => Poll::Ready(Some(this.family.parse_stored(&raw))),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
