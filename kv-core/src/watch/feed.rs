//! [`Core`], the part every watch shares: the scan it restarts and resumes after failures.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::time::{Interval, MissedTickBehavior, Sleep};

use super::WatchEvent;
use super::filters::subject_matches;
use crate::bucket::Bucket;
use crate::entry::RawEntry;
use crate::error::{Error, Result};
use crate::scan::{Scan, ScanSpec};

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
pub(super) struct Core {
    bucket: Bucket,
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
}

/// What a watch leaves out.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub(super) ignore_deletes: bool,
    pub(super) meta_only: bool,
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
    pub(super) fn new(
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

    pub(super) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<WatchEvent<RawEntry>>>> {
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
    pub(super) fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<RawEntry>>> {
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
