//! Reading a bucket through an ordered consumer: key listings, watches, and histories where
//! the server cannot answer a batch direct get (see [`crate::wire::direct`]).
//!
//! A scan leaves no consumer behind: one that reaches its end deletes its consumer before it
//! yields its final `None`, and one dropped earlier hands its consumer to the bucket's
//! [janitor](crate::wire::janitor), which deletes it in the background; `Drop` needs no runtime.

use std::hash::BuildHasher;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::stream::ConsumerErrorKind;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};

use crate::bucket::Bucket;
use crate::entry::RawEntry;
use crate::error::Result;
use crate::watch::filters::subject_matches;
use crate::wire::classify::{Op, classify, classify_api, settle};
use crate::wire::delivery;
use crate::wire::janitor::{self, Lease};

/// The subject of a consumer create, before the stream's name (a permission violation names it).
const CONSUMER_CREATE: &str = "$JS.API.CONSUMER.CREATE.";

/// Where a scan starts: the consumer deliver policies natskv uses, so that callers outside the
/// wire layer do not name async-nats's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deliver {
    /// Every kept entry.
    All,
    /// Each subject's last entry.
    LastPerSubject,
    /// Only what is stored after the consumer starts.
    New,
    /// Every entry from this revision (stream sequence) on.
    From(u64),
}

impl Deliver {
    fn to_nats(self) -> DeliverPolicy {
        match self {
            Deliver::All => DeliverPolicy::All,
            Deliver::LastPerSubject => DeliverPolicy::LastPerSubject,
            Deliver::New => DeliverPolicy::New,
            Deliver::From(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
        }
    }
}

/// What to read.
#[derive(Debug, Clone)]
pub(crate) struct ScanSpec {
    /// Subject filters (full subjects, `$KV.<bucket>.` included); empty means the whole bucket.
    pub(crate) filters: Vec<String>,
    /// Where to start.
    pub(crate) deliver: Deliver,
    /// Headers only: no value bytes are sent.
    pub(crate) headers_only: bool,
    /// Keep going after the replay (a watch) rather than end there.
    pub(crate) follow: bool,
}

/// Raw entries from an ordered consumer, in revision order. Recreates its consumer after a
/// disconnect and resumes after the last delivered revision (async-nats's ordered consumer);
/// drops any revision at or below the last one delivered, so a resume never duplicates.
///
/// Before the first delivery the floor is where the consumer started (the stream's last
/// sequence for updates only, `n - 1` from revision `n`): async-nats recreates a consumer that
/// has delivered nothing yet from the stream's start, and those older entries must not leak
/// into an updates-only or from-revision scan.
///
/// The consumer is named here (and async-nats names its replacements after it), and held by a
/// [`Lease`] from before it is created, so even a scan dropped while it starts leaves nothing.
pub(crate) struct Scan {
    bucket: Bucket,
    messages: Option<Ordered>,
    follow: bool,
    /// Whether the replay of what existed at the start is over.
    caught_up: bool,
    last_revision: u64,
    /// The server-side consumer delivering now (the ordered consumer renames it on recreate);
    /// released once it is deleted.
    lease: Lease,
    /// The deletion of the consumer at the end of the scan, before the final `None`.
    ending: Option<BoxFuture<'static, bool>>,
    /// Whether the scan is over and its consumer dealt with.
    ended: bool,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("bucket", &self.bucket.name())
            .field("caught_up", &self.caught_up)
            .field("last_revision", &self.last_revision)
            .finish_non_exhaustive()
    }
}

impl Scan {
    /// Starts a scan. Boxed: creating an async-nats ordered consumer and its message stream is
    /// a future of some 16 KiB, which every caller's future would otherwise carry.
    pub(crate) fn start(bucket: &Bucket, spec: ScanSpec) -> BoxFuture<'_, Result<Scan>> {
        Self::start_batched(bucket, spec, 0)
    }

    /// As [`start`](Self::start), pulling at most `max_batch` entries at a time (0: the
    /// client's default) for a watch whose client dropped what it could not hold.
    pub(crate) fn start_batched(
        bucket: &Bucket,
        spec: ScanSpec,
        max_batch: i64,
    ) -> BoxFuture<'_, Result<Scan>> {
        Box::pin(Self::start_inner(bucket, spec, max_batch))
    }

    async fn start_inner(bucket: &Bucket, spec: ScanSpec, max_batch: i64) -> Result<Scan> {
        let name = if spec.follow { "watch" } else { "scan" };
        let start = Self::start_untraced(bucket, spec, max_batch);
        crate::trace::traced(bucket.name(), name, None, |_| None, start).await
    }

    async fn start_untraced(bucket: &Bucket, spec: ScanSpec, max_batch: i64) -> Result<Scan> {
        let op = Op::read(bucket.name(), if spec.follow { "watch" } else { "scan" });
        let mut filters = spec.filters;
        if filters.is_empty() {
            filters.push(format!("{}>", bucket.prefix()));
        }
        let (filter_subject, filter_subjects) = if filters.len() == 1 {
            (filters.remove(0), Vec::new())
        } else {
            (String::new(), filters)
        };
        let updates_only = matches!(spec.deliver, Deliver::New);
        let mut lease = bucket.janitor().lease(consumer_name(bucket));
        let created = bucket.stream().create_consumer(OrderedConfig {
            name: lease.name().map(str::to_owned),
            filter_subject,
            filter_subjects,
            deliver_policy: spec.deliver.to_nats(),
            headers_only: spec.headers_only,
            max_batch,
            ..OrderedConfig::default()
        });
        // Boxed here and below: async-nats's futures are large, and every watch's would hold them.
        let subject = [CONSUMER_CREATE, bucket.stream_name()];
        let created = match Box::pin(bucket.guard_under(&subject, created)).await {
            Ok(created) => created,
            Err(denied) => {
                // Denied: the server created nothing.
                lease.release();
                return Err(denied);
            }
        };
        let consumer = match created {
            Ok(consumer) => consumer,
            Err(e) => {
                if matches!(e.kind(), ConsumerErrorKind::JetStream(_)) {
                    // The server answered with a refusal: it created nothing.
                    lease.release();
                }
                return Err(settle(bucket.js(), op, classify_api(op, e)).await);
            }
        };
        let info = consumer.cached_info();
        let caught_up = updates_only || info.num_pending == 0;
        let floor = info.delivered.stream_sequence;
        lease.rename(&info.name);
        let messages = if caught_up && !spec.follow {
            None
        } else {
            Some(
                Box::pin(consumer.messages())
                    .await
                    .map_err(|e| classify(op, e))?,
            )
        };
        Ok(Scan {
            bucket: bucket.clone(),
            messages,
            follow: spec.follow,
            caught_up,
            last_revision: floor,
            lease,
            ending: None,
            ended: false,
        })
    }

    /// Ends the scan and deletes its server-side consumer now. Best effort: when the server
    /// does not answer, the janitor tries again, and the server's inactivity threshold is the
    /// last resort. Cancelled, it leaves the deletion to the janitor.
    pub(crate) async fn stop(mut self) {
        // Dropping the ordered consumer first stops its pulls and any recreate in flight.
        self.messages = None;
        if let Some(name) = self.lease.name().map(str::to_owned)
            && janitor::delete(self.bucket.stream(), name).await
        {
            self.lease.release();
        }
    }

    /// Drives the deletion of the consumer once the scan is over; ready when it is done (or
    /// there was nothing to delete, or the server did not answer: the janitor then tries
    /// again when the scan is dropped).
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ended {
            return Poll::Ready(());
        }
        if self.ending.is_none()
            && let Some(name) = self.lease.name().map(str::to_owned)
        {
            let bucket = self.bucket.clone();
            self.ending = Some(Box::pin(async move {
                janitor::delete(bucket.stream(), name).await
            }));
        }
        if let Some(ending) = self.ending.as_mut() {
            let answered = std::task::ready!(ending.poll_unpin(cx));
            self.ending = None;
            if answered {
                self.lease.release();
            }
        }
        self.ended = true;
        Poll::Ready(())
    }

    /// Whether every entry that existed when the scan started has been delivered.
    pub(crate) fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// The server-side consumer delivering now (empty once it is deleted).
    pub(crate) fn consumer(&self) -> &str {
        self.lease.name().unwrap_or_default()
    }

    /// The revision of the last entry delivered (0 before the first).
    pub(crate) fn last_revision(&self) -> u64 {
        self.last_revision
    }
}

impl Stream for Scan {
    type Item = Result<RawEntry>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let Some(messages) = self.messages.as_mut() else {
                // The end: the consumer goes before the stream says so. Unanswered, the
                // deletion is left to the janitor when the scan is dropped.
                std::task::ready!(self.poll_end(cx));
                return Poll::Ready(None);
            };
            let message = match messages.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.messages = None;
                    continue;
                }
                Poll::Ready(Some(Err(e))) => {
                    let op = Op::read(self.bucket.name(), "watch");
                    return Poll::Ready(Some(Err(classify(op, e))));
                }
                Poll::Ready(Some(Ok(message))) => message,
            };
            let expected = delivery::Expected {
                stream: self.bucket.stream_name(),
                consumer: self.lease.name().unwrap_or_default(),
            };
            let Some((entry, renamed)) =
                delivery::consumer_entry(self.bucket.prefix(), message, &expected)
            else {
                let op = Op::read(self.bucket.name(), "watch");
                let e = std::io::Error::other("a consumer message without a JetStream reply");
                return Poll::Ready(Some(Err(classify(op, e))));
            };
            if let Some(consumer) = renamed {
                tracing::info!(
                    bucket = self.bucket.name(),
                    %consumer,
                    revision = self.last_revision,
                    "consumer recreated; delivery resumes after the last revision delivered"
                );
                self.lease.rename(&consumer);
            }
            if entry.revision <= self.last_revision {
                continue;
            }
            self.last_revision = entry.revision;
            if entry.delta == 0 && !self.caught_up {
                self.caught_up = true;
                if !self.follow {
                    self.messages = None;
                }
            }
            return Poll::Ready(Some(Ok(entry)));
        }
    }
}

/// A consumer name no other reader uses: `kv_` and 64 bits of a new inbox's unique part
/// (a nuid), hashed down to 11 base-62 digits. Short on purpose: the name is in the reply
/// subject of every message the consumer delivers, and the client reads each character of it.
fn consumer_name(bucket: &Bucket) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let inbox = bucket.js().client().new_inbox();
    let unique = inbox.rsplit('.').next().unwrap_or(&inbox);
    let mut bits = std::hash::RandomState::new().hash_one(unique);
    let mut name = String::with_capacity(14);
    name.push_str("kv_");
    for _ in 0..11 {
        let digit = usize::try_from(bits % 62).unwrap_or_default();
        name.push(char::from(DIGITS[digit]));
        bits /= 62;
    }
    name
}

/// The latest entry (markers included) of every subject matching `filters` (full subject
/// filters; at least one), through an ordered consumer, for buckets without batch direct gets.
/// The consumer delivers each subject's latest entry as of its creation, then what was written
/// since, in revision order: `found` gets them in that order (a later entry of a key replaces
/// an earlier one), and the state they leave is the bucket's as of the returned revision. The
/// consumer is deleted before this returns.
pub(crate) async fn latest(
    bucket: &Bucket,
    filters: Vec<String>,
    mut found: impl FnMut(RawEntry),
) -> Result<u64> {
    debug_assert!(!filters.is_empty());
    // A consumer refuses overlapping filters: give it what covers them, check the rest here.
    let (filters, exact) = crate::watch::filters::plan(filters);
    let mut revision = crate::wire::direct::last_revision(bucket, "get matching").await?;
    let spec = ScanSpec {
        filters,
        deliver: Deliver::LastPerSubject,
        headers_only: false,
        follow: false,
    };
    let mut scan = Scan::start(bucket, spec).await?;
    while let Some(raw) = scan.next().await {
        let raw = raw?;
        revision = revision.max(raw.revision);
        let wanted = exact.as_ref().is_none_or(|union| {
            let subject = format!("{}{}", bucket.prefix(), raw.key);
            union.iter().any(|f| subject_matches(f, &subject))
        });
        if wanted {
            found(raw);
        }
    }
    Ok(revision)
}
