//! Typed watches: a family's (or a whole bucket's) entries as they are written, after an
//! optional replay of what is already there.
//!
//! A watch is an async-nats ordered pull consumer underneath ([`Scan`](crate::wire::scan::Scan)):
//! it only pulls when it is polled (at most one batch of a few hundred entries waits in memory), it
//! recreates its consumer after a disconnect or a server restart and resumes right after the last
//! revision it delivered, and it drops anything at or below that revision, so a resume has no gap
//! and no duplicate. A periodic check of the bucket on the server catches what delivers nothing: a
//! bucket recreated or emptied under the watch, and a consumer that stalled.
//!
//! This module owns the watches and their builder. A family's entry points ([`Family::watch`]
//! and the like) are in `family/streams.rs`; a bucket's, with the untyped watch, in `bucket.rs`.

pub(crate) mod bucket;
mod builder;
mod feed;
pub(crate) mod filters;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

pub use self::bucket::{BucketWatch, BucketWatchEvents};
pub use self::builder::WatchBuilder;
use self::feed::Core;
pub(crate) use self::feed::Event;
use crate::codec::{Codec, MsgPack};
use crate::entry::{Entry, RawEntry};
use crate::error::Result;
use crate::family::Family;
use crate::key::KvKey;
use crate::mode::{Mode, ReadWrite};

/// What a live cache's watch delivers: an entry or another event, or an error item.
pub(crate) type Change<K, V> = Result<Event<Entry<K, V>>>;

/// What a watch's [`events`](Watch::events) stream delivers: entries, and once, the moment the
/// replay of what existed at the start is over.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent<T> {
    /// An entry.
    Entry(T),
    /// Every entry that existed when the watch started has been delivered (or left out by
    /// `ignore_deletes`). Comes exactly once: first for an updates-only watch or an empty
    /// range, right after the last replayed entry otherwise.
    Initialized,
}

/// A typed watch on a family: a [`Stream`] of `Result<Entry<K, V>>` in revision order that never
/// ends on its own. Made by [`Family::watch`] and [`WatchBuilder::start`].
///
/// A value that does not decode ([`Error::Codec`](crate::Error::Codec)) or a key that does not
/// parse into `K` ([`Error::ForeignKey`](crate::Error::ForeignKey), a key someone else wrote) is
/// one `Err` item, and the watch goes on.
///
/// It pulls only while polled: a slow reader holds the server back rather than growing memory. It
/// survives disconnects and server restarts, resuming right after the last revision it delivered.
/// It never goes silent: it checks the bucket on the server every few seconds
/// ([`WatchBuilder::check_every`]), restarts a stalled consumer after the last revision it
/// delivered, reports a deleted bucket ([`Error::BucketNotFound`](crate::Error::BucketNotFound)
/// items while it keeps trying), and when the bucket was deleted and created again (its revisions
/// started over) delivers one [`Error::BucketRecreated`](crate::Error::BucketRecreated) item and
/// ends. Dropping it stops its pulls at once, and its server-side consumer is deleted in the
/// background right away (no runtime is needed where it is dropped); [`stop`](Self::stop) deletes
/// it before it returns.
pub struct Watch<K, V, C = MsgPack, M = ReadWrite> {
    core: Core,
    family: Family<K, V, C, M>,
}

impl<K, V, C, M> fmt::Debug for Watch<K, V, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("family", &self.family)
            .field("core", &self.core)
            .finish()
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Watch<K, V, C, M> {
    /// Whether every entry that existed when the watch started has been delivered: true from
    /// the start for an updates-only watch or an empty range, and true right after the last
    /// replayed entry comes out. [`events`](Self::events) turns this into an item.
    pub fn is_initialized(&self) -> bool {
        self.core.initialized
    }

    /// The revision the watch has reached: the last one delivered (or left out), or where it
    /// started before that.
    pub fn last_revision(&self) -> u64 {
        self.core.last_revision
    }

    /// The same watch as a stream of [`WatchEvent`]s, which marks the end of the replay with
    /// [`WatchEvent::Initialized`], also when the replay is empty or its last entry was left
    /// out.
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// use natskv::WatchEvent;
    /// let mut events = devices.watch(natskv::KeyFilter::any()).await?.events();
    /// while let Some(event) = events.try_next().await? {
    ///     match event {
    ///         WatchEvent::Entry(entry) => println!("{} = {:?}", entry.key, entry.value),
    ///         WatchEvent::Initialized => println!("up to date"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events(self) -> WatchEvents<K, V, C, M> {
        WatchEvents { watch: self }
    }

    /// Ends the watch and deletes its server-side consumer before it returns (dropping the watch
    /// deletes it in the background). Best effort: if the server cannot be reached, its
    /// inactivity threshold does it.
    ///
    /// ```no_run
    /// # async fn demo(watch: natskv::Watch<String, u32>) {
    /// watch.stop().await;
    /// # }
    /// ```
    ///
    /// # Cancel safety
    /// Cancel safe: the watch is stopped either way, and the server removes the consumer later.
    pub async fn stop(self) {
        self.core.stop().await;
    }

    fn decode(&self, raw: &RawEntry) -> Result<Entry<K, V>> {
        self.family.decode(raw, !self.core.options.meta_only)
    }

    /// Every event of the watch's core, entries decoded: what a live cache applies.
    pub(crate) fn poll_change(&mut self, cx: &mut Context<'_>) -> Poll<Option<Change<K, V>>> {
        self.core.poll_event(cx).map(|item| {
            item.map(|event| match event? {
                Event::Entry(raw) => self.decode(&raw).map(Event::Entry),
                Event::Initialized => Ok(Event::Initialized),
                Event::Trimmed(first) => Ok(Event::Trimmed(first)),
                Event::Reset => Ok(Event::Reset),
            })
        })
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Stream for Watch<K, V, C, M> {
    type Item = Result<Entry<K, V>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.core
            .poll_entry(cx)
            .map(|item| item.map(|raw| raw.and_then(|raw| this.decode(&raw))))
    }
}

/// A [`Watch`] as a stream of [`WatchEvent`]s: see [`Watch::events`].
pub struct WatchEvents<K, V, C = MsgPack, M = ReadWrite> {
    watch: Watch<K, V, C, M>,
}

impl<K, V, C, M> fmt::Debug for WatchEvents<K, V, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WatchEvents").field(&self.watch).finish()
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> WatchEvents<K, V, C, M> {
    /// See [`Watch::is_initialized`].
    pub fn is_initialized(&self) -> bool {
        self.watch.is_initialized()
    }

    /// See [`Watch::last_revision`].
    pub fn last_revision(&self) -> u64 {
        self.watch.last_revision()
    }

    /// See [`Watch::stop`].
    ///
    /// ```no_run
    /// # async fn demo(events: natskv::WatchEvents<String, u32>) {
    /// events.stop().await;
    /// # }
    /// ```
    ///
    /// # Cancel safety
    /// As [`Watch::stop`].
    pub async fn stop(self) {
        self.watch.stop().await;
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Stream for WatchEvents<K, V, C, M> {
    type Item = Result<WatchEvent<Entry<K, V>>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let watch = &mut self.watch;
        watch.core.poll_public(cx).map(|item| {
            item.map(|event| match event? {
                WatchEvent::Entry(raw) => watch.decode(&raw).map(WatchEvent::Entry),
                WatchEvent::Initialized => Ok(WatchEvent::Initialized),
            })
        })
    }
}
