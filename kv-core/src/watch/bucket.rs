//! The untyped watch on a bucket: [`BucketWatch`], its events, and how to start one.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use super::feed::Core;
use super::{WatchBuilder, WatchEvent};
use crate::bucket::Bucket;
use crate::entry::{Entry, Operation, RawEntry};
use crate::error::Result;
// Named only in doc links, which the `natskv` facade resolves against this module as
// compiled: a `#[cfg(doc)]` import would leave them unresolved there.
#[allow(unused_imports)]
use crate::family::Family;

/// An untyped watch on a bucket, over several families or the whole bucket: a [`Stream`] of
/// `Result<Entry<String, Bytes>>` (the key without the bucket prefix, the value's bytes) in
/// revision order. [`Family::try_decode`] types an entry of a family. Made by
/// [`Bucket::watch_all`] and [`Bucket::watch_with`]; otherwise as [`Watch`](crate::Watch).
pub struct BucketWatch {
    pub(super) core: Core,
}

impl fmt::Debug for BucketWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BucketWatch").field(&self.core).finish()
    }
}

impl BucketWatch {
    /// See [`Watch::is_initialized`](crate::Watch::is_initialized).
    pub fn is_initialized(&self) -> bool {
        self.core.initialized
    }

    /// See [`Watch::last_revision`](crate::Watch::last_revision).
    pub fn last_revision(&self) -> u64 {
        self.core.last_revision
    }

    /// See [`Watch::events`](crate::Watch::events).
    pub fn events(self) -> BucketWatchEvents {
        BucketWatchEvents { watch: self }
    }

    /// See [`Watch::stop`](crate::Watch::stop).
    ///
    /// ```no_run
    /// # async fn demo(watch: natskv::BucketWatch) {
    /// watch.stop().await;
    /// # }
    /// ```
    ///
    /// # Cancel safety
    /// As [`Watch::stop`](crate::Watch::stop).
    pub async fn stop(self) {
        self.core.stop().await;
    }

    fn entry(&self, raw: RawEntry) -> Entry<String, Bytes> {
        untyped(
            raw,
            self.core.options.meta_only,
            self.core.bucket.shared_name(),
        )
    }
}

impl Stream for BucketWatch {
    type Item = Result<Entry<String, Bytes>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.core
            .poll_entry(cx)
            .map(|item| item.map(|raw| raw.map(|raw| this.entry(raw))))
    }
}

/// A [`BucketWatch`] as a stream of [`WatchEvent`]s: see [`Watch::events`](crate::Watch::events).
#[derive(Debug)]
pub struct BucketWatchEvents {
    watch: BucketWatch,
}

impl BucketWatchEvents {
    /// See [`Watch::stop`](crate::Watch::stop).
    ///
    /// ```no_run
    /// # async fn demo(events: natskv::BucketWatchEvents) {
    /// events.stop().await;
    /// # }
    /// ```
    ///
    /// # Cancel safety
    /// As [`Watch::stop`](crate::Watch::stop).
    pub async fn stop(self) {
        self.watch.stop().await;
    }
}

impl Stream for BucketWatchEvents {
    type Item = Result<WatchEvent<Entry<String, Bytes>>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let watch = &mut self.watch;
        watch.core.poll_public(cx).map(|item| {
            item.map(|event| {
                event.map(|event| match event {
                    WatchEvent::Entry(raw) => WatchEvent::Entry(watch.entry(raw)),
                    WatchEvent::Initialized => WatchEvent::Initialized,
                })
            })
        })
    }
}

/// An entry as the untyped road gives it: the key as stored, the value's bytes (`None` for
/// markers and meta-only reads).
pub(crate) fn untyped(raw: RawEntry, meta_only: bool, bucket: Arc<str>) -> Entry<String, Bytes> {
    let value = (!meta_only && raw.operation == Operation::Put).then_some(raw.payload);
    Entry {
        key: raw.key,
        value,
        revision: raw.revision,
        created: raw.created,
        delta: raw.delta,
        operation: raw.operation,
        bucket,
    }
}

impl Bucket {
    /// Watches every key of the bucket, untyped: each key's latest entry, then every update.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let mut watch = bucket.watch_all().await?;
    /// while let Some(entry) = watch.try_next().await? {
    ///     println!("{} changed at {}", entry.key, entry.revision);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`WatchBuilder::start`].
    ///
    /// # Cancel safety
    /// As [`WatchBuilder::start`].
    pub async fn watch_all(&self) -> Result<BucketWatch> {
        self.watch_with().start().await
    }

    /// An untyped watch with options, on the whole bucket or on the union of families' partial
    /// keys and key filters: see [`WatchBuilder`].
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// let watch = bucket.watch_with().key_filter("orders.*").meta_only().start().await?;
    /// # Ok(()) }
    /// ```
    pub fn watch_with(&self) -> WatchBuilder<()> {
        WatchBuilder::new((), self.clone())
    }
}
