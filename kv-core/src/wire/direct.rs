//! Reading without a consumer: ADR-31 batch direct get.
//!
//! One request to `<api>.DIRECT.GET.<stream>` (`{"next_by_subj": .., "batch": .., "seq": ..}`)
//! is answered by several messages to the reply inbox, each with a `Nats-Num-Pending` header,
//! and ended by a status-204 EOB message. Nothing is created on the server, so nothing can be
//! left behind, and a read costs one round trip instead of a consumer's create, pull and delete.
//!
//! It needs `allow_direct` on the stream, and nats-server 2.12 or newer: 2.11 already answers
//! batches, but counts `Nats-Num-Pending` with the message itself included (2.12 and later
//! count what comes after it, as a consumer does). Older servers are read through a consumer.
//!
//! The latest entries of many keys come from `multi_last` requests (up to 1,024 subjects, or
//! one wildcard matching at most 1,024, each): the first answer's end-of-batch names the stream
//! sequence it is as of (`Nats-UpTo-Sequence`), and the rest are sent together pinned to it
//! (`up_to_seq`), so the whole read is one snapshot. The server does not page a wildcard
//! `multi_last` (one matching more is refused with status 413): the matching subjects are then
//! listed with a stream-info request and read by name.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use async_nats::{Message, StatusCode, Subscriber};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::bucket::Bucket;
use crate::entry::RawEntry;
use crate::error::{Error, Result};
use crate::wire::admin::DIRECT_GET;
use crate::wire::classify::{Op, classify, settle};
use crate::wire::delivery::{DirectReply, NUM_PENDING};

/// Entries per request: more than a bucket keeps of one key (`history` is at most 64).
const BATCH: usize = 256;
/// How long a read waits for the next message when the client has no request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The status ending a batch.
const END_OF_BATCH: u16 = 204;

/// The request body (ADR-31).
#[derive(Serialize)]
struct BatchRequest<'a> {
    #[serde(skip_serializing_if = "is_zero")]
    seq: u64,
    next_by_subj: &'a str,
    batch: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes fields by reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Whether the bucket can be read with batch direct gets: the stream allows direct gets and
/// the server we are connected to counts pending messages as a consumer does (2.12+).
pub(crate) fn supported(bucket: &Bucket) -> bool {
    bucket.allows_direct() && at_least_2_12(&bucket.js().client().server_info().version)
}

/// Whether the server the bucket's client is connected to is 2.12 or newer.
pub(crate) fn server_at_least_2_12(bucket: &Bucket) -> bool {
    at_least_2_12(&bucket.js().client().server_info().version)
}

/// Whether a server version (`2.12.0`, `v2.14.1`, `2.12.0-beta.1`) is 2.12 or newer.
fn at_least_2_12(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split(['.', '-']);
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
    match (next(), next()) {
        (Some(major), Some(minor)) => (major, minor) >= (2, 12),
        _ => false,
    }
}

/// Every message of `subject` (a full subject, `$KV.<bucket>.` included), oldest first, as it
/// stands when the read starts: entries written after that are not waited for. Each entry's
/// `delta` counts those still to come. The first answer is awaited here, so a missing bucket
/// is reported by the call, not by the stream; after an error item the stream ends.
pub(crate) async fn read(
    bucket: &Bucket,
    subject: String,
) -> Result<BoxStream<'static, Result<RawEntry>>> {
    let stream = bucket.stream_name();
    let started = async {
        let mut reader = Reader::start(bucket, subject).await?;
        let first = reader.next().await?;
        Ok::<_, Error>((reader, first))
    };
    // A request the connection may not send ends at once, not after the timeout.
    let (reader, first) = bucket.guard(&[DIRECT_GET, stream], started).await??;
    let entries = futures::stream::unfold((reader, first), |(mut reader, first)| async move {
        let item = match first {
            Some(entry) => Ok(Some(entry)),
            None => reader.next().await,
        };
        match item {
            Ok(Some(entry)) => Some((Ok(entry), (reader, None))),
            Ok(None) => None,
            Err(error) => {
                reader.done = true;
                Some((Err(error), (reader, None)))
            }
        }
    });
    Ok(entries.boxed())
}

/// One read in progress: its reply subscription, and where the next request starts.
struct Reader {
    bucket: Bucket,
    subject: String,
    inbox: String,
    replies: Subscriber,
    /// The sequence the next request starts at (0: the stream's first).
    next: u64,
    /// The sequence of the last message of the current batch (0 before its first): each
    /// reply names its predecessor, so a reply the client dropped is noticed.
    previous: u64,
    timeout: Duration,
    done: bool,
}

impl Reader {
    async fn start(bucket: &Bucket, subject: String) -> Result<Reader> {
        let client = bucket.js().client();
        let inbox = client.new_inbox();
        let replies = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| connection(bucket, OPERATION, e))?;
        let mut reader = Reader {
            bucket: bucket.clone(),
            subject,
            inbox,
            replies,
            next: 0,
            previous: 0,
            timeout: client.timeout().unwrap_or(DEFAULT_TIMEOUT),
            done: false,
        };
        reader.request().await?;
        Ok(reader)
    }

    /// Asks for the next batch, starting at `self.next`.
    async fn request(&mut self) -> Result<()> {
        self.previous = 0;
        let body = BatchRequest {
            seq: self.next,
            next_by_subj: &self.subject,
            batch: BATCH,
        };
        let payload = serde_json::to_vec(&body).map_err(|e| self.failed(e.to_string()))?;
        let stream = &self.bucket.stream().cached_info().config.name;
        let request = async_nats::Request::new()
            .inbox(self.inbox.clone())
            .payload(Bytes::from(payload));
        self.bucket
            .js()
            .send_request(format!("DIRECT.GET.{stream}"), request)
            .await
            .map_err(|e| connection(&self.bucket, OPERATION, e))
    }

    /// The next entry, or `None` once every message that existed at the start was read.
    async fn next(&mut self) -> Result<Option<RawEntry>> {
        while !self.done {
            let message =
                next_reply(&mut self.replies, self.timeout, &self.bucket, OPERATION).await?;
            let reply = message
                .headers
                .as_ref()
                .map(DirectReply::read)
                .unwrap_or_default();
            let pending = reply.pending;
            match message.status {
                None => return self.entry(&reply, message.payload).map(Some),
                Some(status) if status == StatusCode::NOT_FOUND => self.done = true,
                Some(status) if status == END_OF_BATCH => match pending {
                    // Cut short (bytes or count): the rest is asked for after the last one.
                    Some(pending) if pending > 0 => self.request().await?,
                    _ => self.done = true,
                },
                Some(status) if status == StatusCode::NO_RESPONDERS => {
                    return Err(unanswered(&self.bucket, OPERATION).await);
                }
                Some(status) => {
                    let description = message.description.unwrap_or_default();
                    return Err(self.failed(format!("status {status}: {description}")));
                }
            }
        }
        Ok(None)
    }

    fn entry(&mut self, reply: &DirectReply<'_>, payload: Bytes) -> Result<RawEntry> {
        let Some(pending) = reply.pending else {
            return Err(self.failed(format!("a batch reply without {NUM_PENDING}")));
        };
        if reply.previous.is_some_and(|p| p != self.previous) {
            // The client dropped a reply (a slow consumer): say so rather than skip an entry.
            return Err(self.failed(format!(
                "a batch reply after revision {} was lost",
                self.previous
            )));
        }
        let mut entry = reply
            .entry(self.bucket.prefix(), payload)
            .map_err(|e| self.failed(e.to_owned()))?;
        entry.delta = pending;
        self.next = entry.revision + 1;
        self.previous = entry.revision;
        // The last one that existed at the start: what was written since is not waited for
        // (the server's end-of-batch message, still on its way, is left unread).
        self.done = pending == 0;
        Ok(entry)
    }

    fn failed(&self, description: String) -> Error {
        failed(&self.bucket, OPERATION, description)
    }
}

/// The name errors of a batch read carry.
const OPERATION: &str = "history";

/// The name errors of a `multi_last` read carry.
const GET_MANY: &str = "get many";

/// The most subjects one `multi_last` request may name, and the most entries it may answer
/// (the server's cap on one batch; a wildcard matching more is refused with [`TOO_MANY`]).
const MULTI_LAST_MAX: usize = 1024;
/// `multi_last` requests in flight at once once the snapshot's sequence is known: their
/// answers fit the reply subscription's buffer (64k messages by default) with room to spare.
const IN_FLIGHT: usize = 8;
/// The status of a `multi_last` request matching more subjects than one batch may answer.
const TOO_MANY: u16 = 413;

/// A `multi_last` request (ADR-31): the last message of each subject, as of `up_to_seq`.
#[derive(Serialize)]
struct MultiLastRequest<'a> {
    /// Leave out messages below this sequence: where an answer cut short goes on.
    #[serde(skip_serializing_if = "is_zero")]
    seq: u64,
    multi_last: &'a [&'a str],
    batch: usize,
    #[serde(skip_serializing_if = "is_zero")]
    up_to_seq: u64,
}

/// How the server ended its answer to one `multi_last` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Every matching subject's last message was sent, as of this stream sequence.
    AsOf(u64),
    /// The server stopped early (it caps the bytes of one answer, 64 MiB by default): the
    /// rest comes with the same request from sequence `from` on.
    CutShort { as_of: u64, from: u64 },
    /// No subject had a message (as of the pinned sequence, if one was given).
    NoResults,
    /// A wildcard matched more subjects than one batch may answer; nothing was sent.
    TooMany,
}

/// The latest entry (markers included) of each of `subjects` (full subjects, no wildcards),
/// as of one stream sequence: the one the first answer gives. One request per 1,024
/// subjects; those after the first are sent together, pinned to its sequence, so the answer
/// is one consistent snapshot. Each entry found goes to `found`, in no particular order;
/// subjects without a message get nothing. Returns the sequence the read is as of (0 when no
/// subject has a message).
pub(crate) async fn last_many(
    bucket: &Bucket,
    subjects: &[&str],
    found: impl FnMut(RawEntry),
) -> Result<u64> {
    let read = async {
        let mut batch = MultiLast::start(bucket).await?;
        batch.latest(subjects, 0, found).await
    };
    let guarded = async {
        bucket
            .guard(&[DIRECT_GET, bucket.stream_name()], read)
            .await?
    };
    crate::trace::traced(bucket.name(), "get many", None, |r| Some(*r), guarded).await
}

/// The latest entry (markers included) of every subject matching `filter` (a full subject
/// filter, wildcards allowed), as one consistent snapshot; each goes to `found`. Returns the
/// stream sequence the snapshot is as of.
///
/// One request when at most 1,024 subjects match. The server refuses a wildcard matching more
/// (it does not page a wildcard `multi_last`), so then the matching subjects are listed (a
/// stream-info request, which states the stream's last sequence before it lists them) and read
/// as named subjects pinned to that sequence. Nothing is created on the server either way.
pub(crate) async fn last_matching(
    bucket: &Bucket,
    filter: &str,
    mut found: impl FnMut(RawEntry),
) -> Result<u64> {
    let read = async {
        let mut batch = MultiLast::start(bucket).await?;
        if let Some(as_of) = batch.matching(filter, &mut found).await? {
            return Ok(as_of);
        }
        let (as_of, subjects) = batch.subjects(filter).await?;
        let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
        batch.latest(&subjects, as_of, found).await
    };
    let guarded = async {
        bucket
            .guard(&[DIRECT_GET, bucket.stream_name()], read)
            .await?
    };
    crate::trace::traced(bucket.name(), "get matching", None, |r| Some(*r), guarded).await
}

/// The latest entry (markers included) of each of `subjects` (full subjects) and of every
/// subject matching each of `filters` (full subject filters), all as of one stream sequence:
/// one consistent snapshot, however many families it spans. Each entry goes to `found` (an
/// entry named twice may come twice). Returns the sequence the snapshot is as of: the first
/// answer's, or the stream's last sequence when nothing matched.
pub(crate) async fn snapshot(
    bucket: &Bucket,
    subjects: &[&str],
    filters: &[&str],
    mut found: impl FnMut(RawEntry),
) -> Result<u64> {
    let read = async {
        let mut batch = MultiLast::start(bucket).await?;
        let mut as_of = 0;
        let mut listed = Vec::new();
        for filter in filters {
            let matched = batch.matching_as_of(filter, as_of, &mut found).await?;
            let pinned = if let Some(sequence) = matched {
                sequence
            } else {
                let (sequence, subjects) = batch.subjects(filter).await?;
                listed.extend(subjects);
                sequence
            };
            if as_of == 0 {
                as_of = pinned;
            }
        }
        let mut named: Vec<&str> = subjects.to_vec();
        named.extend(listed.iter().map(String::as_str));
        match batch.latest(&named, as_of, found).await? {
            0 => last_revision(bucket, GET_MANY).await,
            sequence => Ok(sequence),
        }
    };
    bucket
        .guard(&[DIRECT_GET, bucket.stream_name()], read)
        .await?
}

/// `multi_last` requests in progress on one reply subscription. Each request has a reply
/// subject of its own (`<inbox>.<n>`): on a replicated stream every replica answers direct
/// gets, so the answers to requests in flight together may interleave.
struct MultiLast {
    bucket: Bucket,
    inbox: String,
    replies: Subscriber,
    /// Requests sent so far: the next one's number.
    sent: u64,
    /// Replies to later requests that arrived while an earlier one's answer was read.
    early: HashMap<u64, VecDeque<Message>>,
    timeout: Duration,
    /// The sequence of the last message of the answer being read (0 before its first): each
    /// reply names its predecessor, so a reply the client dropped is noticed.
    previous: u64,
}

impl MultiLast {
    async fn start(bucket: &Bucket) -> Result<MultiLast> {
        let client = bucket.js().client();
        let inbox = client.new_inbox();
        let replies = client
            .subscribe(format!("{inbox}.*"))
            .await
            .map_err(|e| connection(bucket, GET_MANY, e))?;
        Ok(MultiLast {
            bucket: bucket.clone(),
            inbox,
            replies,
            sent: 0,
            early: HashMap::new(),
            timeout: client.timeout().unwrap_or(DEFAULT_TIMEOUT),
            previous: 0,
        })
    }

    /// Reads the latest entries of the subjects matching `filter` with one wildcard request:
    /// the sequence they are as of, or `None` when more subjects match than one batch may
    /// answer (the server then sends nothing).
    async fn matching(
        &mut self,
        filter: &str,
        found: &mut impl FnMut(RawEntry),
    ) -> Result<Option<u64>> {
        self.matching_as_of(filter, 0, found).await
    }

    /// As [`matching`](Self::matching), pinned to `as_of` when it is not 0.
    async fn matching_as_of(
        &mut self,
        filter: &str,
        mut as_of: u64,
        found: &mut impl FnMut(RawEntry),
    ) -> Result<Option<u64>> {
        let mut from = 0;
        loop {
            let number = self.send(&[filter], from, as_of).await?;
            match self.end(number, found).await? {
                End::AsOf(sequence) => return Ok(Some(sequence)),
                End::CutShort {
                    as_of: sequence,
                    from: next,
                } => (as_of, from) = (sequence, next),
                End::NoResults if as_of > 0 => return Ok(Some(as_of)),
                // Nothing matches now; pinned to the stream's last sequence, the empty answer
                // (or what was written meanwhile) has a sequence it is as of.
                End::NoResults => match last_revision(&self.bucket, GET_MANY).await? {
                    0 => return Ok(Some(0)),
                    last => as_of = last,
                },
                End::TooMany => return Ok(None),
            }
        }
    }

    /// Reads the latest entries of `subjects` as of `as_of` (0: as of the first answer).
    /// Until the sequence is known one request is sent at a time; then the rest go together,
    /// and a request answered "no results" before it was known is asked again pinned. An
    /// answer cut short is asked for again from where it stopped.
    async fn latest(
        &mut self,
        subjects: &[&str],
        mut as_of: u64,
        mut found: impl FnMut(RawEntry),
    ) -> Result<u64> {
        let mut chunks = subjects.chunks(MULTI_LAST_MAX);
        // Requests to send: their subjects, and the sequence they start from.
        let mut to_send = VecDeque::new();
        while as_of == 0 {
            let Some(chunk) = chunks.next() else {
                return Ok(0);
            };
            let number = self.send(chunk, 0, 0).await?;
            match self.end(number, &mut found).await? {
                End::AsOf(sequence) => as_of = sequence,
                End::CutShort {
                    as_of: sequence,
                    from,
                } => {
                    as_of = sequence;
                    to_send.push_back((chunk, from));
                }
                End::NoResults => to_send.push_back((chunk, 0)),
                End::TooMany => return Err(self.too_many()),
            }
        }
        to_send.extend(chunks.map(|chunk| (chunk, 0)));
        let mut in_flight = VecDeque::with_capacity(IN_FLIGHT);
        loop {
            while in_flight.len() < IN_FLIGHT {
                let Some((chunk, from)) = to_send.pop_front() else {
                    break;
                };
                let number = self.send(chunk, from, as_of).await?;
                in_flight.push_back((chunk, number));
            }
            let Some((chunk, number)) = in_flight.pop_front() else {
                return Ok(as_of);
            };
            match self.end(number, &mut found).await? {
                End::AsOf(_) | End::NoResults => {}
                End::CutShort { from, .. } => to_send.push_front((chunk, from)),
                End::TooMany => return Err(self.too_many()),
            }
        }
    }

    /// A refusal a request naming at most 1,024 subjects never gets.
    fn too_many(&self) -> Error {
        self.failed("too many results for named subjects")
    }

    /// Sends one `multi_last` request for `subjects` (at most 1,024) leaving out messages
    /// below `from`, pinned to `as_of` when it is not 0; returns its number.
    async fn send(&mut self, subjects: &[&str], from: u64, as_of: u64) -> Result<u64> {
        let body = MultiLastRequest {
            seq: from,
            multi_last: subjects,
            batch: MULTI_LAST_MAX,
            up_to_seq: as_of,
        };
        let payload = serde_json::to_vec(&body).map_err(|e| self.failed(e.to_string()))?;
        let request = async_nats::Request::new()
            .inbox(format!("{}.{}", self.inbox, self.sent))
            .payload(Bytes::from(payload));
        let number = self.sent;
        self.sent += 1;
        let subject = format!("DIRECT.GET.{}", self.bucket.stream_name());
        self.bucket
            .js()
            .send_request(subject, request)
            .await
            .map_err(|e| connection(&self.bucket, GET_MANY, e))?;
        Ok(number)
    }

    /// The next reply to request `number`, keeping replies to later requests for later.
    async fn reply(&mut self, number: u64) -> Result<Message> {
        if let Some(message) = self.early.get_mut(&number).and_then(VecDeque::pop_front) {
            return Ok(message);
        }
        loop {
            let message =
                next_reply(&mut self.replies, self.timeout, &self.bucket, GET_MANY).await?;
            let Some(to) = message
                .subject
                .rsplit_once('.')
                .and_then(|(_, n)| n.parse::<u64>().ok())
            else {
                continue;
            };
            if to == number {
                return Ok(message);
            }
            // A late reply to a request already answered (a timed-out one) is dropped.
            if to > number {
                self.early.entry(to).or_default().push_back(message);
            }
        }
    }

    /// Reads the answer to request `number`, handing its entries to `found`, up to how the
    /// server ended it.
    async fn end(&mut self, number: u64, found: &mut impl FnMut(RawEntry)) -> Result<End> {
        self.previous = 0;
        loop {
            let message = self.reply(number).await?;
            let reply = message
                .headers
                .as_ref()
                .map(DirectReply::read)
                .unwrap_or_default();
            self.follows(reply.previous)?;
            match message.status {
                None => {
                    let entry = reply
                        .entry(self.bucket.prefix(), message.payload)
                        .map_err(|e| self.failed(e))?;
                    self.previous = entry.revision;
                    found(entry);
                }
                Some(status) if status == END_OF_BATCH => {
                    let Some(as_of) = reply.up_to else {
                        return Err(self.failed("an end of batch without Nats-UpTo-Sequence"));
                    };
                    return Ok(match reply.pending {
                        Some(pending) if pending > 0 => End::CutShort {
                            as_of,
                            from: self.previous + 1,
                        },
                        _ => End::AsOf(as_of),
                    });
                }
                Some(status) if status == StatusCode::NOT_FOUND => return Ok(End::NoResults),
                Some(status) if status == TOO_MANY => return Ok(End::TooMany),
                Some(status) if status == StatusCode::NO_RESPONDERS => {
                    return Err(unanswered(&self.bucket, GET_MANY).await);
                }
                status => {
                    let description = message.description.unwrap_or_default();
                    return Err(self.failed(format!("status {status:?}: {description}")));
                }
            }
        }
    }

    /// Checks that a reply names the previous one of its answer as its predecessor: otherwise
    /// the client dropped a reply (a slow consumer), and a key would be missed.
    fn follows(&self, previous: Option<u64>) -> Result<()> {
        match previous {
            Some(previous) if previous != self.previous => Err(self.failed(format!(
                "a batch reply after revision {} was lost",
                self.previous
            ))),
            _ => Ok(()),
        }
    }

    /// The subjects matching `filter` that hold a message, and the stream's last sequence
    /// as the server stated it before listing them (so each listed subject had its message by
    /// then). Listed 100,000 to a page; a listing of several pages reads each page as of its
    /// own request.
    async fn subjects(&self, filter: &str) -> Result<(u64, Vec<String>)> {
        let op = Op::read(self.bucket.name(), GET_MANY);
        let fail = |e| classify(op, e);
        let listing = match self.bucket.stream().info_with_subjects(filter).await {
            Ok(listing) => listing,
            Err(e) => return Err(settle(self.bucket.js(), op, classify(op, e)).await),
        };
        let as_of = listing.info.state.last_sequence;
        let subjects: Vec<String> = listing
            .map(|item| item.map(|(subject, _count)| subject))
            .try_collect()
            .await
            .map_err(fail)?;
        Ok((as_of, subjects))
    }

    fn failed(&self, description: impl Into<String>) -> Error {
        failed(&self.bucket, GET_MANY, description.into())
    }
}

/// The bucket's last revision now (a stream-info request).
pub(crate) async fn last_revision(bucket: &Bucket, operation: &'static str) -> Result<u64> {
    let op = Op::read(bucket.name(), operation);
    match bucket.stream().get_info().await {
        Ok(info) => Ok(info.state.last_sequence),
        Err(e) => Err(settle(bucket.js(), op, classify(op, e)).await),
    }
}

/// A batch answer that does not follow ADR-31.
fn failed(bucket: &Bucket, operation: &'static str, description: String) -> Error {
    Error::Server {
        bucket: bucket.name().to_owned(),
        operation,
        code: 0,
        source: Some(Box::new(std::io::Error::other(description.clone()))),
        description,
    }
}

/// The next message on a batch read's reply subscription, if it comes within `timeout`.
async fn next_reply(
    replies: &mut Subscriber,
    timeout: Duration,
    bucket: &Bucket,
    operation: &'static str,
) -> Result<Message> {
    match tokio::time::timeout(timeout, replies.next()).await {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(connection(
            bucket,
            operation,
            "the reply subscription closed",
        )),
        Err(_elapsed) => Err(timed_out(bucket, operation)),
    }
}

/// No answer, or no next reply, in time.
fn timed_out(bucket: &Bucket, operation: &'static str) -> Error {
    Error::Timeout {
        bucket: bucket.name().to_owned(),
        operation,
        may_have_applied: false,
        source: Some(Box::new(std::io::Error::other(
            "no answer to a batch direct get",
        ))),
    }
}

/// Nobody took the request: settled from facts (a missing bucket, or unavailable).
async fn unanswered(bucket: &Bucket, operation: &'static str) -> Error {
    let op = Op::read(bucket.name(), operation);
    let unanswered = Error::Unavailable {
        bucket: bucket.name().to_owned(),
        operation,
        may_have_applied: false,
        source: Some(Box::new(std::io::Error::other(
            "no responders for a batch direct get",
        ))),
    };
    settle(bucket.js(), op, unanswered).await
}

fn connection(bucket: &Bucket, operation: &'static str, error: impl std::fmt::Display) -> Error {
    Error::Connection {
        bucket: bucket.name().to_owned(),
        operation,
        source: Box::new(std::io::Error::other(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_reads_need_2_12() {
        assert!(at_least_2_12("2.12.0"));
        assert!(at_least_2_12("v2.15.1"));
        assert!(at_least_2_12("2.12.0-beta.3"));
        assert!(at_least_2_12("3.0.0"));
        assert!(!at_least_2_12("2.11.9"));
        assert!(!at_least_2_12("2.9.25"));
        assert!(!at_least_2_12(""));
        assert!(!at_least_2_12("garbage"));
    }

    #[test]
    fn the_request_leaves_out_a_zero_start() {
        let first = BatchRequest {
            seq: 0,
            next_by_subj: "$KV.b.k",
            batch: 7,
        };
        let text = serde_json::to_string(&first).unwrap_or_default();
        assert_eq!(text, r#"{"next_by_subj":"$KV.b.k","batch":7}"#);
        let later = BatchRequest { seq: 9, ..first };
        let text = serde_json::to_string(&later).unwrap_or_default();
        assert_eq!(text, r#"{"seq":9,"next_by_subj":"$KV.b.k","batch":7}"#);
    }

    #[test]
    fn a_multi_last_request_is_pinned_only_once_its_sequence_is_known() {
        let first = MultiLastRequest {
            seq: 0,
            multi_last: &["$KV.b.a", "$KV.b.c"],
            batch: MULTI_LAST_MAX,
            up_to_seq: 0,
        };
        let text = serde_json::to_string(&first).unwrap_or_default();
        assert_eq!(text, r#"{"multi_last":["$KV.b.a","$KV.b.c"],"batch":1024}"#);
        let later = MultiLastRequest {
            up_to_seq: 42,
            ..first
        };
        let text = serde_json::to_string(&later).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"multi_last":["$KV.b.a","$KV.b.c"],"batch":1024,"up_to_seq":42}"#
        );
        let rest = MultiLastRequest { seq: 7, ..later };
        let text = serde_json::to_string(&rest).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"seq":7,"multi_last":["$KV.b.a","$KV.b.c"],"batch":1024,"up_to_seq":42}"#
        );
    }
}
