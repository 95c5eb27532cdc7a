//! [`Core`], the part every watch shares: the scan it restarts and resumes after failures, and
//! the checks that keep it from going silent.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::time::{Interval, MissedTickBehavior, Sleep};

use super::filters::subject_matches;
use crate::bucket::Bucket;
use crate::entry::RawEntry;
use crate::error::{Error, Result};
use crate::wire::probe::{self, Facts, Held};
use crate::wire::scan::{Deliver, Scan, ScanSpec};

/// The part every watch shares: a scan kept alive across failures, the client-side options,
/// the initialized signal, and a periodic check of what the server says about the bucket.
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
///
/// Some faults deliver nothing at all, so the watch asks the server every `check_every` (one
/// stream-info request; while it has been idle that long with newer revisions in the bucket,
/// also one consumer-info request):
/// - a bucket deleted and created again is another stream (another creation time, or fewer
///   revisions than the watch has seen): a watch reports [`Error::BucketRecreated`] and ends; a
///   cache's watch starts over on the new bucket and says so ([`Event::Reset`]). The same check
///   runs before every restart, and before the first entry of a consumer that async-nats
///   recreated on its own (it may have recreated it on the new stream);
/// - a bucket emptied or trimmed from the front holds no revision below its first one: a
///   cache's watch reports the new first revision ([`Event::Trimmed`]);
/// - a consumer that holds entries back while the watch idles is stalled: async-nats counts
///   what it asked for until it is read, so entries its subscription buffer dropped (a buffer
///   smaller than a pull) are never asked for again, and only its 35 s pull expiry wakes it.
///   The watch restarts its scan after the last revision it delivered, with half the pull
///   size when entries were dropped.
pub(super) struct Core {
    pub(super) bucket: Bucket,
    /// What the first scan was started with.
    spec: ScanSpec,
    feed: Feed,
    /// Connections the client has made, as of the current scan's start.
    connects: u64,
    watchdog: Interval,
    /// Failures since the last delivered entry.
    failures: u32,
    pub(super) last_revision: u64,
    pub(super) options: Options,
    /// Key filters to check here, when the server-side filter had to be wider (overlapping
    /// filters cannot be given to one consumer).
    local: Option<Vec<String>>,
    pub(super) initialized: bool,
    /// `Initialized` is due before the next entry.
    announce: bool,
    /// What a deleted and recreated bucket does to this watch.
    role: Role,
    /// The bucket's stream as last checked; `None` until a check succeeds.
    facts: Option<Facts>,
    /// The first revision the bucket held at the last check (reported to a cache when it grows).
    first: u64,
    check_every: Duration,
    next_check: Instant,
    check: Option<BoxFuture<'static, Check>>,
    /// The consumer the entries come from; another one means async-nats recreated it.
    consumer: String,
    /// An entry held back until a check says it comes from the same bucket.
    unverified: Option<(RawEntry, bool)>,
    /// Since when the scan has had nothing to deliver.
    idle_since: Option<Instant>,
    /// Entries received from scans so far.
    received: u64,
    /// The largest pull the scan asks for (0: the client's default).
    max_batch: i64,
}

/// What a deleted and recreated bucket does to a watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The watch reports [`Error::BucketRecreated`] and ends.
    Watch,
    /// The watch starts over on the new bucket ([`Event::Reset`]), and reports trims
    /// ([`Event::Trimmed`]): what a live cache needs.
    Cache,
}

/// What a watch's core delivers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event<T> {
    /// An entry.
    Entry(T),
    /// The replay of what existed at the start is over (again after a `Reset`).
    Initialized,
    /// The bucket holds no revision below this one any more (it was emptied, or trimmed from
    /// the front): entries below it are gone. Only for [`Role::Cache`].
    Trimmed(u64),
    /// The bucket was deleted and created again: what came before is void, and the replay of
    /// the new bucket follows. Only for [`Role::Cache`].
    Reset,
}

/// What a check found.
struct Check {
    facts: Result<Facts>,
    held: Held,
    /// `Core::received` when the check started.
    received: u64,
}

/// What a restart found.
enum Started {
    /// A scan on the same bucket (and its facts, when they could be read).
    Scan(Box<Scan>, Option<Facts>),
    /// The bucket is another one now.
    Replaced(Facts),
}

/// What a watch leaves out, and how it follows its bucket.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub(super) ignore_deletes: bool,
    pub(super) meta_only: bool,
    /// What a deleted and recreated bucket does to the watch.
    pub(super) role: Role,
    /// How often the watch checks its bucket.
    pub(super) check_every: Duration,
}

/// Where the entries come from now.
enum Feed {
    Live(Box<Scan>),
    Starting(BoxFuture<'static, Result<Started>>),
    Waiting(Pin<Box<Sleep>>),
    /// Removing the consumer of a watch that has ended.
    Ending(BoxFuture<'static, ()>),
    Ended,
}

/// How often a waiting watch checks whether its client has reconnected.
const WATCHDOG: Duration = Duration::from_secs(1);
/// How long a restarting watch waits for the server to remove the consumer it replaces.
const STOP_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest wait between two attempts to restart a scan.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The smallest pull a watch shrinks to after its client dropped entries.
const MIN_BATCH: i64 = 8;
/// The pull async-nats's ordered consumer asks for by default.
const DEFAULT_BATCH: i64 = 500;
/// How often a watch checks the bucket by default.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(5);

impl Core {
    pub(super) fn new(
        bucket: Bucket,
        spec: ScanSpec,
        scan: Scan,
        options: Options,
        local: Option<Vec<String>>,
        facts: Option<Facts>,
    ) -> Self {
        let check_every = options.check_every;
        let initialized = scan.caught_up();
        // It also wakes a waiting watch for its checks.
        let mut watchdog = tokio::time::interval(WATCHDOG.min(check_every));
        watchdog.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Core {
            connects: connects(&bucket),
            bucket,
            spec,
            last_revision: scan.last_revision(),
            consumer: scan.consumer().to_owned(),
            feed: Feed::Live(Box::new(scan)),
            watchdog,
            failures: 0,
            options,
            local,
            initialized,
            announce: initialized,
            role: options.role,
            first: facts.as_ref().map_or(0, |f| f.first),
            facts,
            check_every,
            next_check: Instant::now() + check_every,
            check: None,
            unverified: None,
            idle_since: None,
            received: 0,
            max_batch: 0,
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
    /// delivered is dropped), after checking that the bucket is still the same one.
    fn restart(&mut self) {
        let deliver = if !self.initialized && self.spec.deliver == Deliver::LastPerSubject {
            Deliver::LastPerSubject
        } else {
            Deliver::From(self.last_revision + 1)
        };
        let spec = ScanSpec {
            deliver,
            ..self.spec.clone()
        };
        let bucket = self.bucket.clone();
        let old = self.take_scan();
        let before = self.facts.clone();
        let (revision, max_batch) = (self.last_revision, self.max_batch);
        self.connects = connects(&bucket);
        self.check = None;
        self.unverified = None;
        self.idle_since = None;
        self.feed = Feed::Starting(Box::pin(async move {
            if let Some(old) = old {
                let _ = tokio::time::timeout(STOP_TIMEOUT, old.stop()).await;
            }
            let facts = match probe::read(&bucket).await {
                Ok(facts) if facts.replaces(before.as_ref(), revision) => {
                    return Ok(Started::Replaced(facts));
                }
                Ok(facts) => Some(facts),
                Err(error @ Error::BucketNotFound { .. }) => return Err(error),
                // Not known now: the scan's own error, if any, says more.
                Err(_) => None,
            };
            let scan = Scan::start_batched(&bucket, spec, max_batch).await?;
            Ok(Started::Scan(Box::new(scan), facts))
        }));
    }

    /// Takes the live scan out of the feed, if there is one.
    fn take_scan(&mut self) -> Option<Scan> {
        match std::mem::replace(&mut self.feed, Feed::Ended) {
            Feed::Live(scan) => Some(*scan),
            Feed::Starting(_) | Feed::Waiting(_) | Feed::Ending(_) | Feed::Ended => None,
        }
    }

    /// The bucket was deleted and created again: a watch ends with an error item, a cache's
    /// watch starts over on the new bucket.
    fn replaced(&mut self, facts: Facts) -> Result<Event<RawEntry>> {
        self.unverified = None;
        tracing::info!(
            bucket = self.bucket.name(),
            revision = self.last_revision,
            "watched bucket was recreated"
        );
        match self.role {
            Role::Watch => {
                let old = self.take_scan();
                self.feed = Feed::Ending(Box::pin(async move {
                    if let Some(old) = old {
                        let _ = tokio::time::timeout(STOP_TIMEOUT, old.stop()).await;
                    }
                }));
                Err(Error::BucketRecreated {
                    bucket: self.bucket.name().to_owned(),
                    revision: self.last_revision,
                })
            }
            Role::Cache => {
                self.first = facts.first;
                self.facts = Some(facts);
                self.last_revision = 0;
                self.initialized = false;
                self.announce = false;
                self.failures = 0;
                self.restart();
                Ok(Event::Reset)
            }
        }
    }

    /// Starts a check of the bucket now.
    fn start_check(&mut self) {
        let Feed::Live(scan) = &self.feed else {
            return;
        };
        let idle = self
            .idle_since
            .is_some_and(|since| since.elapsed() >= self.check_every);
        let bucket = self.bucket.clone();
        let consumer = scan.consumer().to_owned();
        let (revision, received) = (self.last_revision, self.received);
        self.check = Some(Box::pin(async move {
            let facts = probe::read(&bucket).await;
            let held = match &facts {
                Ok(facts) if idle && facts.last > revision => {
                    probe::held(&bucket, &consumer, revision).await
                }
                _ => Held::Nothing,
            };
            Check {
                facts,
                held,
                received,
            }
        }));
    }

    /// Acts on what a check found; returns an item when there is one to deliver.
    fn checked(&mut self, check: Check) -> Option<Result<Event<RawEntry>>> {
        self.next_check = Instant::now() + self.check_every;
        let facts = match check.facts {
            Ok(facts) => facts,
            Err(error @ Error::BucketNotFound { .. }) => return self.failed(error).map(Err),
            Err(error) => {
                tracing::debug!(bucket = self.bucket.name(), %error, "could not check a watched bucket");
                return None;
            }
        };
        if facts.replaces(self.facts.as_ref(), self.last_revision) {
            return Some(self.replaced(facts));
        }
        let first = facts.first;
        if self.facts.is_none() {
            self.facts = Some(facts);
        }
        if check.held != Held::Nothing && check.received == self.received {
            if check.held == Held::Dropped {
                let batch = if self.max_batch == 0 {
                    DEFAULT_BATCH
                } else {
                    self.max_batch
                };
                self.max_batch = (batch / 2).max(MIN_BATCH);
            }
            tracing::warn!(
                bucket = self.bucket.name(),
                revision = self.last_revision,
                held = ?check.held,
                max_batch = self.max_batch,
                "watch stalled; restarting its scan"
            );
            self.restart();
        }
        if self.role == Role::Cache && first > self.first {
            self.first = first;
            return Some(Ok(Event::Trimmed(first)));
        }
        None
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
            tracing::info!(
                bucket = self.bucket.name(),
                revision = self.last_revision,
                %error,
                "watch resumed after the last revision delivered"
            );
            None
        }
    }

    pub(super) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Event<RawEntry>>>> {
        loop {
            if self.announce {
                self.announce = false;
                return Poll::Ready(Some(Ok(Event::Initialized)));
            }
            if let Some(check) = &mut self.check {
                match check.poll_unpin(cx) {
                    Poll::Ready(check) => {
                        self.check = None;
                        if let Some(item) = self.checked(check) {
                            return Poll::Ready(Some(item));
                        }
                        continue;
                    }
                    // An entry waiting for this check waits with it.
                    Poll::Pending if self.unverified.is_some() => return Poll::Pending,
                    Poll::Pending => {}
                }
            } else if let Some((raw, caught_up)) = self.unverified.take() {
                // The check it waited for found the same bucket.
                if let Some(event) = self.accept(raw, caught_up) {
                    return Poll::Ready(Some(Ok(event)));
                }
                continue;
            } else if matches!(self.feed, Feed::Live(_)) && Instant::now() >= self.next_check {
                self.start_check();
                continue;
            }
            let scan = match &mut self.feed {
                Feed::Live(scan) => scan,
                Feed::Starting(starting) => {
                    let Poll::Ready(started) = starting.poll_unpin(cx) else {
                        return Poll::Pending;
                    };
                    if let Some(item) = self.started(started) {
                        return Poll::Ready(Some(item));
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
                Feed::Ending(stopping) => {
                    if stopping.poll_unpin(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.feed = Feed::Ended;
                    return Poll::Ready(None);
                }
                Feed::Ended => return Poll::Ready(None),
            };
            let raw = match scan.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(raw))) => raw,
                Poll::Ready(Some(Err(error))) => match self.failed(error) {
                    Some(error) => return Poll::Ready(Some(Err(error))),
                    None => continue,
                },
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    self.idle_since.get_or_insert_with(Instant::now);
                    // Polling the interval until it is pending also schedules the next check.
                    let mut reconnected = false;
                    while self.watchdog.poll_tick(cx).is_ready() {
                        reconnected |= connects(&self.bucket) != self.connects;
                    }
                    if reconnected {
                        self.restart();
                        continue;
                    }
                    if self.check.is_none() && Instant::now() >= self.next_check {
                        continue;
                    }
                    return Poll::Pending;
                }
            };
            self.idle_since = None;
            self.received += 1;
            let caught_up = scan.caught_up();
            if scan.consumer() != self.consumer {
                // async-nats recreated its consumer, maybe on a new bucket of the same name.
                scan.consumer().clone_into(&mut self.consumer);
                self.unverified = Some((raw, caught_up));
                self.start_check();
                continue;
            }
            if let Some(event) = self.accept(raw, caught_up) {
                return Poll::Ready(Some(Ok(event)));
            }
        }
    }

    /// Takes the result of a restart; returns an item when there is one to deliver.
    fn started(&mut self, started: Result<Started>) -> Option<Result<Event<RawEntry>>> {
        match started {
            Ok(Started::Scan(scan, facts)) => {
                if self.facts.is_none() {
                    self.facts = facts;
                }
                if !self.initialized && scan.caught_up() {
                    self.initialized = true;
                    self.announce = true;
                }
                scan.consumer().clone_into(&mut self.consumer);
                self.feed = Feed::Live(scan);
                None
            }
            Ok(Started::Replaced(facts)) => Some(self.replaced(facts)),
            Err(error) => self.failed(error).map(Err),
        }
    }

    /// Takes an entry from the scan: the event to deliver, if any.
    fn accept(&mut self, raw: RawEntry, caught_up: bool) -> Option<Event<RawEntry>> {
        if raw.revision <= self.last_revision {
            return None;
        }
        self.last_revision = raw.revision;
        self.failures = 0;
        if !self.initialized && caught_up {
            self.initialized = true;
            self.announce = true;
        }
        self.wanted(&raw).then_some(Event::Entry(raw))
    }

    /// The next entry, skipping the other events.
    pub(super) fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<RawEntry>>> {
        loop {
            return match self.poll_event(cx) {
                Poll::Ready(Some(Ok(Event::Entry(raw)))) => Poll::Ready(Some(Ok(raw))),
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    /// The next event a public [`WatchEvents`](super::WatchEvents) shows: entries and
    /// `Initialized`.
    pub(super) fn poll_public(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<super::WatchEvent<RawEntry>>>> {
        loop {
            return match self.poll_event(cx) {
                Poll::Ready(Some(Ok(Event::Entry(raw)))) => {
                    Poll::Ready(Some(Ok(super::WatchEvent::Entry(raw))))
                }
                Poll::Ready(Some(Ok(Event::Initialized))) => {
                    Poll::Ready(Some(Ok(super::WatchEvent::Initialized)))
                }
                Poll::Ready(Some(Ok(Event::Trimmed(_) | Event::Reset))) => continue,
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    pub(super) async fn stop(self) {
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
            Feed::Ending(_) | Feed::Ended => "ended".to_owned(),
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
