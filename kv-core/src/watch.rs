//! Typed watches: a family's (or a whole bucket's) entries as they are written, after an
//! optional replay of what is already there.
//!
//! A watch is an async-nats ordered pull consumer underneath ([`Scan`]): it only pulls when it is
//! polled (at most one batch of a few hundred entries waits in memory), it recreates its consumer
//! after a disconnect or a server restart and resumes right after the last revision it delivered,
//! and it drops anything at or below that revision, so a resume has no gap and no duplicate.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use tokio::time::{Interval, MissedTickBehavior, Sleep};

use crate::bucket::Bucket;
use crate::codec::{Codec, MsgPack};
use crate::entry::{Entry, Operation, RawEntry};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::{KeyFilter, KvKey};
use crate::mode::{Mode, ReadWrite};
use crate::pattern::validate_filter;
use crate::scan::{Scan, ScanSpec};
use crate::single::Single;

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Each key's latest entry, then updates.
    Latest,
    /// Every kept revision, then updates.
    History,
    /// Only what is written after the watch starts.
    UpdatesOnly,
    /// Every entry from this revision on, then updates.
    FromRevision(u64),
}

impl Start {
    fn deliver_policy(self) -> DeliverPolicy {
        match self {
            Start::Latest => DeliverPolicy::LastPerSubject,
            Start::History | Start::FromRevision(0) => DeliverPolicy::All,
            Start::UpdatesOnly => DeliverPolicy::New,
            Start::FromRevision(start_sequence) => {
                DeliverPolicy::ByStartSequence { start_sequence }
            }
        }
    }
}

/// How to watch: made by [`Family::watch_with`], [`Family::watch_many`] or
/// [`Bucket::watch_with`]; [`start`](WatchBuilder::start) starts the watch.
///
/// The default is each matching key's latest entry (markers included), then every update.
///
/// ```no_run
/// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
/// let watch = devices
///     .watch_with(kv_core::KeyFilter::any())
///     .history()
///     .ignore_deletes()
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a watch builder does nothing until `start` is awaited"]
pub struct WatchBuilder<T> {
    target: T,
    bucket: Bucket,
    /// Full subject filters; empty means the whole bucket.
    filters: Vec<String>,
    /// The first filter that could not be built, reported by `start`.
    error: Option<Error>,
    start: Start,
    options: Options,
}

impl<T> fmt::Debug for WatchBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchBuilder")
            .field("bucket", &self.bucket.name())
            .field("filters", &self.filters)
            .field("start", &self.start)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<T> WatchBuilder<T> {
    fn new(target: T, bucket: Bucket) -> Self {
        WatchBuilder {
            target,
            bucket,
            filters: Vec::new(),
            error: None,
            start: Start::Latest,
            options: Options {
                ignore_deletes: false,
                meta_only: false,
            },
        }
    }

    fn push(&mut self, filter: Result<String>) {
        match filter {
            Ok(filter) => self.filters.push(filter),
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
    }

    /// Starts with each matching key's latest entry (a delete or purge marker when that is the
    /// latest), then delivers every update. The default.
    pub fn latest(mut self) -> Self {
        self.start = Start::Latest;
        self
    }

    /// Starts with every kept revision of every matching key, oldest first, then delivers every
    /// update.
    pub fn history(mut self) -> Self {
        self.start = Start::History;
        self
    }

    /// Delivers only what is written after the watch starts; initialized at once.
    pub fn updates_only(mut self) -> Self {
        self.start = Start::UpdatesOnly;
        self
    }

    /// Starts with every kept matching entry at or after `revision`, then delivers every update.
    pub fn from_revision(mut self, revision: u64) -> Self {
        self.start = Start::FromRevision(revision);
        self
    }

    /// Leaves out delete and purge markers (they still move the watch on).
    pub fn ignore_deletes(mut self) -> Self {
        self.options.ignore_deletes = true;
        self
    }

    /// Keys, revisions and operations only: the server sends no value bytes (a headers-only
    /// consumer) and every entry's `value` is `None`.
    pub fn meta_only(mut self) -> Self {
        self.options.meta_only = true;
        self
    }

    async fn start_core(self) -> Result<(T, Core)> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let (filters, local) = plan(self.filters);
        let spec = ScanSpec {
            filters,
            deliver: self.start.deliver_policy(),
            headers_only: self.options.meta_only,
            follow: true,
        };
        let scan = Scan::start(&self.bucket, spec.clone()).await?;
        let prefix_len = self.bucket.prefix().len();
        let local = local.map(|filters| {
            filters
                .into_iter()
                .map(|f| f.get(prefix_len..).unwrap_or_default().to_owned())
                .collect()
        });
        let core = Core::new(self.bucket, spec, scan, self.options, local);
        Ok((self.target, core))
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> WatchBuilder<Family<K, V, C, M>> {
    /// Adds another partial key: the watch delivers the union of its filters, in one stream,
    /// each entry once.
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// let watch = devices.watch_with(&"a".to_owned()).or(&"b".to_owned()).start().await?;
    /// # Ok(()) }
    /// ```
    pub fn or(mut self, filter: impl Into<KeyFilter<K>>) -> Self {
        let filter = self.target.subject_filter(&filter.into());
        self.push(filter);
        self
    }

    /// Starts the watch.
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// use futures::TryStreamExt;
    /// let mut watch = devices.watch_with(kv_core::KeyFilter::any()).updates_only().start().await?;
    /// while let Some(entry) = watch.try_next().await? {
    ///     println!("{} = {:?}", entry.key, entry.value);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when a fixed parameter of a filter is not a valid token (before any
    /// wire call); [`Error::BucketNotFound`] and the server's errors when the consumer cannot be
    /// created.
    ///
    /// # Cancel safety
    /// Cancel safe: a consumer created before the cancel is removed by the server after its
    /// inactivity threshold.
    pub async fn start(self) -> Result<Watch<K, V, C, M>> {
        let (family, core) = self.start_core().await?;
        Ok(Watch { core, family })
    }
}

impl WatchBuilder<()> {
    /// Adds a family's partial key to the union this watch delivers.
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>, names: kv_core::Family<u32, String>) -> kv_core::Result<()> {
    /// use kv_core::KeyFilter;
    /// let watch = devices
    ///     .bucket()
    ///     .watch_with()
    ///     .family(&devices, KeyFilter::any())
    ///     .family(&names, &7)
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn family<K: KvKey, V, C: Codec<V>, M: Mode>(
        mut self,
        family: &Family<K, V, C, M>,
        filter: impl Into<KeyFilter<K>>,
    ) -> Self {
        let filter = family.subject_filter(&filter.into());
        self.push(filter);
        self
    }

    /// Adds a NATS-style key filter (`orders.*`, `config.>`) to the union this watch delivers.
    ///
    /// ```no_run
    /// # async fn demo(bucket: kv_core::Bucket) -> kv_core::Result<()> {
    /// let watch = bucket.watch_with().key_filter("config.>").start().await?;
    /// # Ok(()) }
    /// ```
    pub fn key_filter(mut self, filter: &str) -> Self {
        let checked = validate_filter(filter)
            .map(|()| format!("{}{filter}", self.bucket.prefix()))
            .map_err(|cause| Error::InvalidKey {
                bucket: self.bucket.name().to_owned(),
                source: crate::key::KeyError::new(crate::key::KeyErrorReason::InvalidKey {
                    key: filter.to_owned(),
                    cause,
                }),
            });
        self.push(checked);
        self
    }

    /// Starts the watch; without any filter it covers the whole bucket.
    ///
    /// ```no_run
    /// # async fn demo(bucket: kv_core::Bucket) -> kv_core::Result<()> {
    /// use futures::TryStreamExt;
    /// let mut watch = bucket.watch_with().history().start().await?;
    /// while let Some(entry) = watch.try_next().await? {
    ///     println!("{} at {}", entry.key, entry.revision);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when a filter is not valid (before any wire call);
    /// [`Error::BucketNotFound`] and the server's errors when the consumer cannot be created.
    ///
    /// # Cancel safety
    /// Cancel safe: a consumer created before the cancel is removed by the server after its
    /// inactivity threshold.
    pub async fn start(self) -> Result<BucketWatch> {
        let ((), core) = self.start_core().await?;
        Ok(BucketWatch { core })
    }
}

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

/// The part every watch shares: a scan kept alive across failures, the client-side options,
/// and the initialized signal.
///
/// async-nats's ordered consumer recreates itself after most failures, but after a server
/// restart it only notices that its consumer is gone some fifteen seconds after reconnecting,
/// and then reports an error. So the watch also restarts its scan itself, right after the last
/// revision it delivered: when the client has reconnected (checked every second while the
/// watch waits), and when the scan reports an error. A failure that heals by itself (the
/// connection, a timeout, a server still starting) is retried quietly with backoff, as the
/// client retries its connection; one that needs someone to act (the bucket is gone, a
/// permission is missing, another server error) is also an error item, and the watch keeps
/// trying.
struct Core {
    bucket: Bucket,
    /// What the first scan was started with.
    spec: ScanSpec,
    feed: Feed,
    /// Connections the client has made, as of the current scan's start.
    connects: u64,
    watchdog: Interval,
    /// Failures since the last delivered entry.
    failures: u32,
    last_revision: u64,
    options: Options,
    /// Key filters to check here, when the server-side filter had to be wider (overlapping
    /// filters cannot be given to one consumer).
    local: Option<Vec<String>>,
    initialized: bool,
    /// `Initialized` is due before the next entry.
    announce: bool,
}

/// What a watch leaves out.
#[derive(Debug, Clone, Copy)]
struct Options {
    ignore_deletes: bool,
    meta_only: bool,
}

/// Where the entries come from now.
enum Feed {
    Live(Box<Scan>),
    Starting(BoxFuture<'static, Result<Scan>>),
    Waiting(Pin<Box<Sleep>>),
}

/// How often a waiting watch checks whether its client has reconnected.
const WATCHDOG: Duration = Duration::from_secs(1);
/// How long a restarting watch waits for the server to remove the consumer it replaces.
const STOP_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest wait between two attempts to restart a scan.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Core {
    fn new(
        bucket: Bucket,
        spec: ScanSpec,
        scan: Scan,
        options: Options,
        local: Option<Vec<String>>,
    ) -> Self {
        let initialized = scan.caught_up();
        let mut watchdog = tokio::time::interval(WATCHDOG);
        watchdog.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Core {
            connects: connects(&bucket),
            bucket,
            spec,
            last_revision: scan.last_revision(),
            feed: Feed::Live(Box::new(scan)),
            watchdog,
            failures: 0,
            options,
            local,
            initialized,
            announce: initialized,
        }
    }

    fn wanted(&self, raw: &RawEntry) -> bool {
        if self.options.ignore_deletes && raw.operation.is_marker() {
            return false;
        }
        self.local
            .as_ref()
            .is_none_or(|filters| filters.iter().any(|f| subject_matches(f, &raw.key)))
    }

    /// Replaces the scan with one that starts right after the last delivered revision (or,
    /// during the replay of the latest values, with that replay again: what it already
    /// delivered is dropped).
    fn restart(&mut self) {
        let deliver = if !self.initialized && self.spec.deliver == DeliverPolicy::LastPerSubject {
            DeliverPolicy::LastPerSubject
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: self.last_revision + 1,
            }
        };
        let spec = ScanSpec {
            deliver,
            ..self.spec.clone()
        };
        let bucket = self.bucket.clone();
        let old = match std::mem::replace(
            &mut self.feed,
            Feed::Waiting(Box::pin(tokio::time::sleep(Duration::ZERO))),
        ) {
            Feed::Live(scan) => Some(*scan),
            Feed::Starting(_) | Feed::Waiting(_) => None,
        };
        self.connects = connects(&bucket);
        self.feed = Feed::Starting(Box::pin(async move {
            if let Some(old) = old {
                let _ = tokio::time::timeout(STOP_TIMEOUT, old.stop()).await;
            }
            Scan::start(&bucket, spec).await
        }));
    }

    /// Handles a failure: restarts at once the first time, later after a growing wait.
    /// Returns the error when it is worth an item.
    fn failed(&mut self, error: Error) -> Option<Error> {
        self.failures += 1;
        if self.failures == 1 {
            self.restart();
        } else {
            let backoff =
                Duration::from_millis(50).saturating_mul(1 << (self.failures - 2).min(10));
            self.feed = Feed::Waiting(Box::pin(tokio::time::sleep(backoff.min(MAX_BACKOFF))));
        }
        let lasting = matches!(
            error,
            Error::BucketNotFound { .. } | Error::PermissionDenied { .. }
        ) || error.server_code().is_some_and(|code| code != 0);
        if lasting {
            Some(error)
        } else {
            tracing::debug!(bucket = self.bucket.name(), %error, "watch restarting");
            None
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<WatchEvent<RawEntry>>>> {
        loop {
            if self.announce {
                self.announce = false;
                return Poll::Ready(Some(Ok(WatchEvent::Initialized)));
            }
            let scan = match &mut self.feed {
                Feed::Live(scan) => scan,
                Feed::Starting(starting) => {
                    match starting.poll_unpin(cx) {
                        Poll::Ready(Ok(scan)) => {
                            if !self.initialized && scan.caught_up() {
                                self.initialized = true;
                                self.announce = true;
                            }
                            self.feed = Feed::Live(Box::new(scan));
                        }
                        Poll::Ready(Err(error)) => {
                            if let Some(error) = self.failed(error) {
                                return Poll::Ready(Some(Err(error)));
                            }
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                    continue;
                }
                Feed::Waiting(sleep) => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.restart();
                    continue;
                }
            };
            let raw = match scan.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(raw))) => raw,
                Poll::Ready(Some(Err(error))) => match self.failed(error) {
                    Some(error) => return Poll::Ready(Some(Err(error))),
                    None => continue,
                },
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    // Polling the interval until it is pending also schedules the next check.
                    let mut reconnected = false;
                    while self.watchdog.poll_tick(cx).is_ready() {
                        reconnected |= connects(&self.bucket) != self.connects;
                    }
                    if reconnected {
                        self.restart();
                        continue;
                    }
                    return Poll::Pending;
                }
            };
            let caught_up = scan.caught_up();
            if raw.revision <= self.last_revision {
                continue;
            }
            self.last_revision = raw.revision;
            self.failures = 0;
            if !self.initialized && caught_up {
                self.initialized = true;
                self.announce = true;
            }
            if self.wanted(&raw) {
                return Poll::Ready(Some(Ok(WatchEvent::Entry(raw))));
            }
        }
    }

    /// The next entry, skipping the `Initialized` event.
    fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<RawEntry>>> {
        loop {
            return match self.poll_event(cx) {
                Poll::Ready(Some(Ok(WatchEvent::Initialized))) => continue,
                Poll::Ready(Some(Ok(WatchEvent::Entry(raw)))) => Poll::Ready(Some(Ok(raw))),
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    async fn stop(self) {
        if let Feed::Live(scan) = self.feed {
            scan.stop().await;
        }
    }
}

/// How many times the bucket's client has connected.
fn connects(bucket: &Bucket) -> u64 {
    bucket
        .js()
        .client()
        .statistics()
        .connects
        .load(Ordering::Relaxed)
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let feed = match &self.feed {
            Feed::Live(scan) => format!("{scan:?}"),
            Feed::Starting(_) => "starting".to_owned(),
            Feed::Waiting(_) => "waiting to restart".to_owned(),
        };
        f.debug_struct("Watch")
            .field("bucket", &self.bucket.name())
            .field("feed", &feed)
            .field("last_revision", &self.last_revision)
            .field("options", &self.options)
            .field("initialized", &self.initialized)
            .finish_non_exhaustive()
    }
}

/// A typed watch on a family: a [`Stream`] of `Result<Entry<K, V>>` in revision order that never
/// ends on its own. Made by [`Family::watch`] and [`WatchBuilder::start`].
///
/// A value that does not decode ([`Error::Codec`]) or a key that does not parse into `K`
/// ([`Error::InvalidKey`], a key someone else wrote) is one `Err` item, and the watch goes on.
///
/// It pulls only while polled: a slow reader holds the server back rather than growing memory.
/// It survives disconnects and server restarts, resuming right after the last revision it
/// delivered. Dropping it stops its pulls at once; its server-side consumer is then removed by
/// the server after 30 s without pulls. [`stop`](Self::stop) removes it now.
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
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// use futures::TryStreamExt;
    /// use kv_core::WatchEvent;
    /// let mut events = devices.watch(kv_core::KeyFilter::any()).await?.events();
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

    /// Ends the watch and removes its server-side consumer now rather than after the server's
    /// inactivity threshold. Best effort: if the server cannot be reached, the threshold does it.
    ///
    /// ```no_run
    /// # async fn demo(watch: kv_core::Watch<String, u32>) {
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
    /// # async fn demo(events: kv_core::WatchEvents<String, u32>) {
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
        watch.core.poll_event(cx).map(|item| {
            item.map(|event| match event? {
                WatchEvent::Entry(raw) => watch.decode(&raw).map(WatchEvent::Entry),
                WatchEvent::Initialized => Ok(WatchEvent::Initialized),
            })
        })
    }
}

/// An untyped watch on a bucket, over several families or the whole bucket: a [`Stream`] of
/// `Result<Entry<String, Bytes>>` (the key without the bucket prefix, the value's bytes) in
/// revision order. [`Family::try_decode`] types an entry of a family. Made by
/// [`Bucket::watch_all`] and [`Bucket::watch_with`]; otherwise as [`Watch`].
pub struct BucketWatch {
    core: Core,
}

impl fmt::Debug for BucketWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BucketWatch").field(&self.core).finish()
    }
}

impl BucketWatch {
    /// See [`Watch::is_initialized`].
    pub fn is_initialized(&self) -> bool {
        self.core.initialized
    }

    /// See [`Watch::last_revision`].
    pub fn last_revision(&self) -> u64 {
        self.core.last_revision
    }

    /// See [`Watch::events`].
    pub fn events(self) -> BucketWatchEvents {
        BucketWatchEvents { watch: self }
    }

    /// See [`Watch::stop`].
    ///
    /// ```no_run
    /// # async fn demo(watch: kv_core::BucketWatch) {
    /// watch.stop().await;
    /// # }
    /// ```
    ///
    /// # Cancel safety
    /// As [`Watch::stop`].
    pub async fn stop(self) {
        self.core.stop().await;
    }

    fn entry(&self, raw: RawEntry) -> Entry<String, Bytes> {
        untyped(raw, self.core.options.meta_only)
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

/// A [`BucketWatch`] as a stream of [`WatchEvent`]s: see [`Watch::events`].
#[derive(Debug)]
pub struct BucketWatchEvents {
    watch: BucketWatch,
}

impl BucketWatchEvents {
    /// See [`Watch::stop`].
    ///
    /// ```no_run
    /// # async fn demo(events: kv_core::BucketWatchEvents) {
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

impl Stream for BucketWatchEvents {
    type Item = Result<WatchEvent<Entry<String, Bytes>>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let watch = &mut self.watch;
        watch.core.poll_event(cx).map(|item| {
            item.map(|event| {
                event.map(|event| match event {
                    WatchEvent::Entry(raw) => WatchEvent::Entry(watch.entry(raw)),
                    WatchEvent::Initialized => WatchEvent::Initialized,
                })
            })
        })
    }
}

fn untyped(raw: RawEntry, meta_only: bool) -> Entry<String, Bytes> {
    let value = (!meta_only && raw.operation == Operation::Put).then_some(raw.payload);
    Entry {
        key: raw.key,
        value,
        revision: raw.revision,
        created: raw.created,
        delta: raw.delta,
        operation: raw.operation,
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Family<K, V, C, M> {
    /// Watches the keys matching a partial key (`KeyFilter::any()` for the whole family, a `&K`
    /// for one key): each one's latest entry, then every update. See [`Watch`].
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// use futures::TryStreamExt;
    /// let mut watch = devices.watch(kv_core::KeyFilter::any()).await?;
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
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// let watch = devices.watch_with(kv_core::KeyFilter::any()).updates_only().start().await?;
    /// # Ok(()) }
    /// ```
    pub fn watch_with(&self, filter: impl Into<KeyFilter<K>>) -> WatchBuilder<Family<K, V, C, M>> {
        WatchBuilder::new(self.clone(), self.bucket().clone()).or(filter)
    }

    /// A watch on the union of several partial keys, in one stream, each entry once: see
    /// [`WatchBuilder`].
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// let watch = devices.watch_many([&"a".to_owned(), &"b".to_owned()]).start().await?;
    /// # Ok(()) }
    /// ```
    pub fn watch_many<F: Into<KeyFilter<K>>>(
        &self,
        filters: impl IntoIterator<Item = F>,
    ) -> WatchBuilder<Family<K, V, C, M>> {
        filters.into_iter().fold(
            WatchBuilder::new(self.clone(), self.bucket().clone()),
            WatchBuilder::or,
        )
    }

    /// Types an entry of an untyped [`BucketWatch`]: `None` when its key is not of this
    /// family's pattern, otherwise the typed entry or the error decoding it.
    ///
    /// ```no_run
    /// # async fn demo(devices: kv_core::Family<String, u32>) -> kv_core::Result<()> {
    /// use futures::TryStreamExt;
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
    /// [`Error::InvalidKey`] when the key has the pattern's shape but does not parse into `K`;
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

impl<V, C: Codec<V>, M: Mode> Single<V, C, M> {
    /// Watches the key: its latest entry, then every update. See [`Family::watch`].
    ///
    /// ```no_run
    /// # async fn demo(maintenance: kv_core::Single<bool>) -> kv_core::Result<()> {
    /// use futures::TryStreamExt;
    /// let mut watch = maintenance.watch().await?;
    /// while let Some(entry) = watch.try_next().await? {
    ///     println!("maintenance: {:?}", entry.value);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`WatchBuilder::start`].
    ///
    /// # Cancel safety
    /// As [`WatchBuilder::start`].
    pub async fn watch(&self) -> Result<Watch<(), V, C, M>> {
        self.as_family().watch(&()).await
    }

    /// A watch on the key, with options: see [`WatchBuilder`].
    ///
    /// ```no_run
    /// # async fn demo(maintenance: kv_core::Single<bool>) -> kv_core::Result<()> {
    /// let watch = maintenance.watch_with().history().start().await?;
    /// # Ok(()) }
    /// ```
    pub fn watch_with(&self) -> WatchBuilder<Family<(), V, C, M>> {
        self.as_family().watch_with(&())
    }
}

impl Bucket {
    /// Watches every key of the bucket, untyped: each key's latest entry, then every update.
    ///
    /// ```no_run
    /// # async fn demo(bucket: kv_core::Bucket) -> kv_core::Result<()> {
    /// use futures::TryStreamExt;
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
    /// # async fn demo(bucket: kv_core::Bucket) -> kv_core::Result<()> {
    /// let watch = bucket.watch_with().key_filter("orders.*").meta_only().start().await?;
    /// # Ok(()) }
    /// ```
    pub fn watch_with(&self) -> WatchBuilder<()> {
        WatchBuilder::new((), self.clone())
    }
}

/// Splits the requested subject filters into what the consumer filters on and what is checked
/// here. JetStream refuses overlapping filters on one consumer: filters covered by another are
/// dropped, and when some still overlap the consumer gets one filter covering them all and the
/// exact union is checked on each entry.
fn plan(filters: Vec<String>) -> (Vec<String>, Option<Vec<String>>) {
    let mut kept: Vec<String> = Vec::with_capacity(filters.len());
    for filter in filters {
        if kept.iter().any(|k| covers(k, &filter)) {
            continue;
        }
        kept.retain(|k| !covers(&filter, k));
        kept.push(filter);
    }
    let overlapping = kept
        .iter()
        .enumerate()
        .any(|(i, a)| kept.iter().skip(i + 1).any(|b| overlaps(a, b)));
    if !overlapping {
        return (kept, None);
    }
    let wide = kept
        .iter()
        .skip(1)
        .fold(kept[0].clone(), |wide, f| widen(&wide, f));
    (vec![wide], Some(kept))
}

/// Whether every subject `b` matches is matched by `a`.
fn covers(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (None, None) | (Some(">"), Some(_)) => return true,
            (Some(x), Some(y)) if y != ">" && (x == "*" || x == y) => {}
            _ => return false,
        }
    }
}

/// Whether some subject matches both `a` and `b`.
fn overlaps(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (None, None) | (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(x), Some(y)) if x == "*" || y == "*" || x == y => {}
            _ => return false,
        }
    }
}

/// The narrowest single filter (of this simple kind) that covers both `a` and `b`.
fn widen(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    let mut out: Vec<&str> = Vec::with_capacity(a.len().max(b.len()));
    for (x, y) in a.iter().zip(&b) {
        if *x == ">" || *y == ">" {
            out.push(">");
            return out.join(".");
        }
        out.push(if x == y { x } else { "*" });
    }
    if a.len() != b.len() {
        // `>` stands for one token or more, so it replaces the last common one.
        out.pop();
        out.push(">");
    }
    out.join(".")
}

/// Whether the key `subject` matches the filter `filter` (`*` one token, `>` the rest).
fn subject_matches(filter: &str, subject: &str) -> bool {
    covers(filter, subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn covering_and_overlapping() {
        assert!(covers("a.*", "a.b"));
        assert!(covers("a.>", "a.b.c"));
        assert!(!covers("a.>", "a"));
        assert!(!covers("a.b", "a.*"));
        assert!(!covers("a.*", "a.b.c"));
        assert!(overlaps("a.*", "*.b"));
        assert!(overlaps("a.>", "*.b"));
        assert!(!overlaps("a.*", "b.*"));
        assert!(!overlaps("a.*", "a.b.c"));
    }

    #[test]
    fn plans() {
        assert_eq!(
            plan(strings(&["a.*", "a.b", "a.*"])),
            (strings(&["a.*"]), None)
        );
        assert_eq!(
            plan(strings(&["a.b", "a.c"])),
            (strings(&["a.b", "a.c"]), None)
        );
        let (server, local) = plan(strings(&["s.paris.d.*", "s.*.d.7"]));
        assert_eq!(server, strings(&["s.*.d.*"]));
        assert_eq!(local, Some(strings(&["s.paris.d.*", "s.*.d.7"])));
        let (server, _) = plan(strings(&["a.>", "*.b.c"]));
        assert_eq!(server, strings(&["*.>"]));
    }

    #[test]
    fn widening() {
        assert_eq!(widen("a.b.c", "a.x.c"), "a.*.c");
        assert_eq!(widen("a.b", "a.b.c"), "a.>");
        assert!(covers(&widen("a.b", "a.b.c"), "a.b"));
        assert_eq!(widen("a.>", "a.b"), "a.>");
    }
}
