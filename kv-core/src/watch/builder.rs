//! [`WatchBuilder`]: where a watch starts, what it leaves out, and the union of filters it
//! watches.

use std::fmt;
use std::time::Duration;

use super::Watch;
use super::bucket::BucketWatch;
use super::feed::{CHECK_EVERY, Core, Options, Role};
use super::filters::plan;
use crate::bucket::Bucket;
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::{KeyFilter, KvKey};
use crate::mode::Mode;
use crate::wire::probe;
use crate::wire::scan::{Deliver, Scan, ScanSpec};

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
    fn deliver_policy(self) -> Deliver {
        match self {
            Start::Latest => Deliver::LastPerSubject,
            Start::History | Start::FromRevision(0) => Deliver::All,
            Start::UpdatesOnly => Deliver::New,
            Start::FromRevision(start_sequence) => Deliver::From(start_sequence),
        }
    }
}

/// How to watch: made by [`Family::watch_with`], [`Family::watch_many`] or
/// [`Bucket::watch_with`]; [`start`](WatchBuilder::start) starts the watch.
///
/// The default is each matching key's latest entry (markers included), then every update.
///
/// ```no_run
/// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
/// let watch = devices
///     .watch_with(natskv::KeyFilter::any())
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
    /// A builder whose `start` fails with `error` (the first one kept).
    pub(crate) fn refuse(mut self, error: Error) -> Self {
        self.error.get_or_insert(error);
        self
    }

    pub(crate) fn new(target: T, bucket: Bucket) -> Self {
        WatchBuilder {
            target,
            bucket,
            filters: Vec::new(),
            error: None,
            start: Start::Latest,
            options: Options {
                ignore_deletes: false,
                meta_only: false,
                role: Role::Watch,
                check_every: CHECK_EVERY,
            },
        }
    }

    /// Makes this the watch of a live cache: it starts over when the bucket is recreated and
    /// reports trims.
    pub(crate) fn for_cache(mut self) -> Self {
        self.options.role = Role::Cache;
        self
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

    /// How often the watch checks the bucket on the server (default 5 s): one stream-info
    /// request each time, plus one consumer-info request when the watch has waited that long
    /// while the bucket has newer revisions. It bounds how long a watch can go without noticing
    /// that its bucket was deleted and created again ([`Error::BucketRecreated`]), or that its
    /// consumer stalled (it then restarts after the last revision it delivered). Values below
    /// 100 ms are raised to 100 ms.
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
    /// let watch = devices
    ///     .watch_with(natskv::KeyFilter::any())
    ///     .check_every(std::time::Duration::from_secs(1))
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn check_every(mut self, interval: Duration) -> Self {
        self.options.check_every = interval.max(Duration::from_millis(100));
        self
    }

    async fn start_core(self) -> Result<(T, Core)> {
        if let Some(error) = self.error {
            return Err(error);
        }
        // What the bucket is now, read before the consumer exists: a bucket recreated in
        // between is then reported rather than missed.
        let facts = match Box::pin(probe::read(&self.bucket)).await {
            Ok(facts) => Some(facts),
            Err(error @ (Error::BucketNotFound { .. } | Error::JetStreamNotEnabled { .. })) => {
                return Err(error);
            }
            // The consumer may still be allowed where stream info is not: check later.
            Err(_) => None,
        };
        let (filters, local) = plan(self.filters);
        let spec = ScanSpec {
            filters,
            deliver: self.start.deliver_policy(),
            headers_only: self.options.meta_only,
            follow: true,
        };
        // Boxed: creating a consumer is a large future, and a watch start sits in callers' own.
        let scan = Box::pin(Scan::start(&self.bucket, spec.clone())).await?;
        let prefix_len = self.bucket.prefix().len();
        let local = local.map(|filters| {
            filters
                .into_iter()
                .map(|f| f.get(prefix_len..).unwrap_or_default().to_owned())
                .collect()
        });
        let core = Core::new(self.bucket, spec, scan, self.options, local, facts);
        Ok((self.target, core))
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> WatchBuilder<Family<K, V, C, M>> {
    /// Adds another partial key: the watch delivers the union of its filters, in one stream,
    /// each entry once.
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
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
    /// # async fn demo(devices: natskv::Family<String, u32>) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let mut watch = devices.watch_with(natskv::KeyFilter::any()).updates_only().start().await?;
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
    /// Cancel safe: a consumer created before the cancel is deleted in the background.
    pub async fn start(self) -> Result<Watch<K, V, C, M>> {
        let (family, core) = self.start_core().await?;
        Ok(Watch { core, family })
    }
}

impl WatchBuilder<()> {
    /// Adds a family's partial key to the union this watch delivers.
    ///
    /// ```no_run
    /// # async fn demo(devices: natskv::Family<String, u32>, names: natskv::Family<u32, String>) -> natskv::Result<()> {
    /// use natskv::KeyFilter;
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
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// let watch = bucket.watch_with().key_filter("config.>").start().await?;
    /// # Ok(()) }
    /// ```
    pub fn key_filter(mut self, filter: &str) -> Self {
        let checked = self.bucket.subject_filter(filter);
        self.push(checked);
        self
    }

    /// Starts the watch; without any filter it covers the whole bucket.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
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
    /// Cancel safe: a consumer created before the cancel is deleted in the background.
    pub async fn start(self) -> Result<BucketWatch> {
        let ((), core) = self.start_core().await?;
        Ok(BucketWatch { core })
    }
}
