//! The Key/Value operations on the wire (ADR-8), on rendered keys and encoded values.
//!
//! Every write carries a unique message id and is resent, as the handle's
//! [`WriteRetry`](crate::WriteRetry) allows, when nobody took it or nobody answered: the server's
//! duplicate window makes a resend of a stored write harmless, so the caller gets one answer, with
//! the one revision the write was stored at. Sizes are checked before anything is sent.

use std::time::Duration;

use async_nats::header::HeaderName;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::response::Response;
use async_nats::jetstream::stream::{DirectGetErrorKind, RawMessageErrorKind};
use async_nats::{HeaderMap, RequestErrorKind, StatusCode};
use bytes::Bytes;

use crate::bucket::Bucket;
use crate::entry::{KV_OPERATION, Operation, RawEntry};
use crate::error::{BoxError, Error, Result};
use crate::trace;
use crate::wire::admin::{DIRECT_GET, STREAM_API};
use crate::wire::classify::{
    Op, api_code, classify, classify_api, current_revision, is_wrong_revision, settle,
};

const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
const EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
const MSG_ID: &str = "Nats-Msg-Id";
const ROLLUP: &str = "Nats-Rollup";
const MESSAGE_TTL: &str = "Nats-TTL";
/// A guard on another subject's latest revision: the subject, beside
/// `Nats-Expected-Last-Subject-Sequence`.
const EXPECTED_SUBJECT: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
/// JetStream error code of a message id whose first copy is still being stored (replicated):
/// a clustered stream's answer to a resend that overtook its original.
const DUPLICATE_IN_PROCESS: u64 = 10158;
/// How long a write waits for the bucket's current configuration, read on the rare paths
/// that need it (a refused oversized write, a lost race that may be its own earlier copy).
const INFO_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// A write that lost its compare-and-set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lost {
    /// The key's current revision, when the server's refusal said it.
    pub(crate) current: Option<u64>,
}

/// What a write expects of the key's latest revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Nothing: the write always lands.
    Any,
    /// The key's latest revision is this one (`0`: the key has never been written or was
    /// purged away).
    Revision(u64),
}

/// A write on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Write<'a> {
    pub(crate) operation: Operation,
    pub(crate) expect: Expect,
    /// Per-key TTL (ADR-48), whole seconds, at least one.
    pub(crate) ttl: Option<Duration>,
    pub(crate) name: &'static str,
    pub(crate) key: &'a str,
}

impl<'a> Write<'a> {
    pub(crate) fn new(name: &'static str, key: &'a str, operation: Operation) -> Self {
        Write {
            operation,
            expect: Expect::Any,
            ttl: None,
            name,
            key,
        }
    }

    pub(crate) fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    pub(crate) fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }
}

/// One message ready for the wire: subject, headers (the write's message id among them) and
/// payload. Headers are kept as a list so their size is known before anything is sent.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) subject: String,
    headers: Vec<(&'static str, String)>,
    pub(crate) payload: Bytes,
}

impl Outgoing {
    /// The write's message: ADR-8 headers, its guards and a fresh message id.
    pub(crate) fn new(subject: String, write: Write<'_>, payload: Bytes) -> Self {
        let mut message = Outgoing::batched(subject, write, payload);
        message
            .headers
            .insert(0, (MSG_ID, nuid::next().as_str().to_owned()));
        message
    }

    /// The write's message as one of an atomic batch: the same, without a message id (which
    /// nats-server 2.12.0 refuses in a batch).
    pub(crate) fn batched(subject: String, write: Write<'_>, payload: Bytes) -> Self {
        let mut headers = Vec::new();
        match write.operation {
            Operation::Put => {}
            Operation::Delete => headers.push((KV_OPERATION, "DEL".to_owned())),
            Operation::Purge => {
                headers.push((KV_OPERATION, "PURGE".to_owned()));
                headers.push((ROLLUP, "sub".to_owned()));
            }
        }
        if let Expect::Revision(revision) = write.expect {
            headers.push((EXPECTED_LAST_SUBJECT_SEQUENCE, revision.to_string()));
        }
        if let Some(ttl) = write.ttl {
            headers.push((MESSAGE_TTL, ttl.as_secs().to_string()));
        }
        Outgoing {
            subject,
            headers,
            payload,
        }
    }

    /// The question "was this write stored?" as a message: the same write without its
    /// compare-and-set guard, guarded instead by a last message id that no message has. The
    /// server checks message ids before that guard, so it answers with the original revision
    /// when a copy was stored within the duplicate window, and refuses it (wrong last message
    /// id, nothing stored) otherwise.
    ///
    /// Needed on a single-replica stream, which checks the expected revision *before* the
    /// message id: a resent compare-and-set whose first copy landed is refused there as a lost
    /// race. Never sent to a replicated stream: that one checks the message id first (so it
    /// needs no confirmation), and nats-server 2.15.1 stops answering every later write to a
    /// replicated stream after a refused `Nats-Expected-Last-Msg-Id`.
    fn confirmation(&self) -> Outgoing {
        let mut headers: Vec<_> = self
            .headers
            .iter()
            .filter(|(name, _)| *name != EXPECTED_LAST_SUBJECT_SEQUENCE)
            .cloned()
            .collect();
        headers.push((EXPECTED_LAST_MSG_ID, nuid::next().as_str().to_owned()));
        Outgoing {
            subject: self.subject.clone(),
            headers,
            payload: self.payload.clone(),
        }
    }

    /// Guards the batch this message is part of on another key's latest revision (its full
    /// subject): a message may carry one such guard, and only if it has none of its own.
    pub(crate) fn guard_other(&mut self, subject: String, revision: u64) {
        debug_assert!(!self.is_guarded());
        self.headers
            .push((EXPECTED_LAST_SUBJECT_SEQUENCE, revision.to_string()));
        self.headers.push((EXPECTED_SUBJECT, subject));
    }

    /// Guards the message on its key's latest revision being `revision`, replacing any guard
    /// it had.
    pub(crate) fn set_expected(&mut self, revision: u64) {
        self.headers
            .retain(|(name, _)| *name != EXPECTED_LAST_SUBJECT_SEQUENCE);
        self.headers
            .push((EXPECTED_LAST_SUBJECT_SEQUENCE, revision.to_string()));
    }

    /// Guards the message (the first of an atomic batch) on the stream's last sequence being
    /// `sequence`: nothing written since.
    pub(crate) fn expect_last_sequence(&mut self, sequence: u64) {
        self.headers
            .push((EXPECTED_LAST_SEQUENCE, sequence.to_string()));
    }

    /// Whether the message carries a guard already.
    pub(crate) fn is_guarded(&self) -> bool {
        self.headers
            .iter()
            .any(|(name, _)| *name == EXPECTED_LAST_SUBJECT_SEQUENCE)
    }

    pub(crate) fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            // Names known statically: not parsed and checked again per message.
            map.insert(HeaderName::from_static(name), value.clone());
        }
        map
    }

    /// The size the server holds against `max_payload` and a stream's `max_msg_size`: the
    /// header block as sent (`NATS/1.0\r\n`, a `name: value\r\n` line each, `\r\n`) and the
    /// payload.
    pub(crate) fn size(&self) -> usize {
        let lines: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.len() + ": ".len() + value.len() + "\r\n".len())
            .sum();
        let block = if self.headers.is_empty() {
            0
        } else {
            "NATS/1.0\r\n".len() + lines + "\r\n".len()
        };
        block + self.payload.len()
    }
}

/// What the server's answer to one attempt means for the write.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Stored at this revision, by this attempt or by an earlier copy (a duplicate ack).
    Stored(u64),
    /// Not stored: the compare-and-set guard (or a confirmation's guard) failed; with the
    /// key's current revision when the server said it.
    Lost(Option<u64>),
    /// Nobody took the message (no responders): it was not delivered, so not applied.
    NotDelivered(PublishError),
    /// No answer in time, or the connection lost it: the attempt may have been applied.
    Unanswered(PublishError),
    /// The server holds an earlier copy that is still being stored (replicated).
    InFlight(Option<PublishError>),
    /// A definite refusal that a resend would not change.
    Refused(PublishError),
}

impl Answer {
    pub(crate) fn of(result: Result<PublishAck, PublishError>) -> Answer {
        let error = match result {
            Ok(ack) if ack.sequence > 0 => return Answer::Stored(ack.sequence),
            // A duplicate of a copy not stored yet, as a clustered stream may say.
            Ok(_) => return Answer::InFlight(None),
            Err(error) => error,
        };
        match error.kind() {
            // async-nats reports a publish nobody took as "no stream found"; that alone says
            // nothing about the bucket (see `settle`).
            PublishErrorKind::StreamNotFound => Answer::NotDelivered(error),
            PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => Answer::Unanswered(error),
            PublishErrorKind::WrongLastSequence | PublishErrorKind::WrongLastMessageId => {
                Answer::Lost(current_revision(&error))
            }
            _ if is_wrong_revision(&error) => Answer::Lost(current_revision(&error)),
            _ if api_code(&error) == Some(DUPLICATE_IN_PROCESS) => Answer::InFlight(Some(error)),
            _ => Answer::Refused(error),
        }
    }

    /// The answer in a reply to a write published with a reply subject of the caller's own
    /// (many writes sharing one subscription). A plain acknowledgement (`{"stream":..,"seq":..}`)
    /// is read without a JSON parser, as the common case; anything else as a JetStream publish
    /// reads its acknowledgement.
    pub(crate) fn of_reply(reply: &async_nats::Message) -> Answer {
        match stored_sequence(&reply.payload) {
            Some(revision) if reply.status.is_none() => Answer::Stored(revision),
            _ => Answer::of(ack_of(reply)),
        }
    }
}

/// The sequence of a plain acknowledgement of a stored message: an object starting with its
/// stream's name, with no error, whose `seq` is not zero. `None` for anything else.
fn stored_sequence(payload: &[u8]) -> Option<u64> {
    const SEQ: &[u8] = b"\"seq\":";
    if !payload.starts_with(b"{\"stream\":") || contains(payload, b"\"error\"") {
        return None;
    }
    let at = payload.windows(SEQ.len()).position(|w| w == SEQ)? + SEQ.len();
    let digits = &payload[at..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let sequence: u64 = std::str::from_utf8(&digits[..end]).ok()?.parse().ok()?;
    (sequence > 0).then_some(sequence)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A reply read as a JetStream publish reads its acknowledgement: a no-responders status is a
/// message nobody took.
pub(crate) fn ack_of(reply: &async_nats::Message) -> Result<PublishAck, PublishError> {
    if reply.status == Some(StatusCode::NO_RESPONDERS) {
        return Err(PublishError::new(PublishErrorKind::StreamNotFound));
    }
    let response = serde_json::from_slice(&reply.payload)
        .map_err(|e| PublishError::with_source(PublishErrorKind::Other, e))?;
    match response {
        Response::Ok(ack) => Ok(ack),
        Response::Err { error } => {
            let kind = match error.error_code() {
                ErrorCode::STREAM_WRONG_LAST_MESSAGE_ID => PublishErrorKind::WrongLastMessageId,
                ErrorCode::STREAM_WRONG_LAST_SEQUENCE => PublishErrorKind::WrongLastSequence,
                _ => PublishErrorKind::Other,
            };
            Err(PublishError::with_source(kind, error))
        }
    }
}

/// The revision of an entry a read found, for its span.
#[allow(clippy::ref_option)] // the shape `trace::traced` hands results in
fn found_revision(entry: &Option<RawEntry>) -> Option<u64> {
    entry.as_ref().map(|e| e.revision)
}

/// Why the last attempt of a write that ran out of time did not get through.
#[derive(Debug)]
pub(crate) enum Unanswered {
    NotDelivered(PublishError),
    NoAnswer(Option<PublishError>),
}

impl Bucket {
    /// Publishes a put, delete or purge and returns its revision.
    /// A lost compare-and-set costs no further request when the server's refusal names the
    /// key's current revision (it does for a wrong last sequence, code 10071); otherwise the
    /// key is read once to fill it in.
    pub(crate) async fn write(&self, write: Write<'_>, payload: Bytes) -> Result<u64> {
        let op = self.write_untraced(write, payload);
        trace::traced(self.name(), write.name, Some(write.key), |r| Some(*r), op).await
    }

    async fn write_untraced(&self, write: Write<'_>, payload: Bytes) -> Result<u64> {
        let lost = match self.publish(write, payload).await? {
            Ok(revision) => return Ok(revision),
            Err(lost) => lost,
        };
        let current = match lost.current {
            Some(current) => Some(current),
            None => self
                .last(write.key)
                .await
                .ok()
                .flatten()
                .map(|e| e.revision),
        };
        Err(self.wrong_revision(write, current))
    }

    /// Writes a value only if the key has no live value: first writer wins, also over a delete
    /// or purge marker (whose revision becomes the expected one, keeping any per-key TTL).
    pub(crate) async fn write_create(&self, write: Write<'_>, payload: Bytes) -> Result<u64> {
        let op = self.create_untraced(write, payload);
        trace::traced(self.name(), write.name, Some(write.key), |r| Some(*r), op).await
    }

    async fn create_untraced(&self, write: Write<'_>, payload: Bytes) -> Result<u64> {
        let first = write.expect(Expect::Revision(0));
        if let Ok(revision) = self.publish(first, payload.clone()).await? {
            return Ok(revision);
        }
        match self.last(write.key).await? {
            Some(last) if last.operation.is_marker() => {
                let write = write.expect(Expect::Revision(last.revision));
                self.write_untraced(write, payload).await
            }
            last => Err(self.wrong_revision(first, last.map(|l| l.revision))),
        }
    }

    /// Publishes one write exactly once in effect: the new revision, or [`Lost`] when its expected
    /// revision was not the key's. Checks its size first, then sends it with one message id,
    /// resending it as the handle's [`WriteRetry`](crate::WriteRetry) allows while nobody takes or
    /// answers it; a resend the server recognises answers with the first copy's revision.
    async fn publish(&self, write: Write<'_>, payload: Bytes) -> Result<Result<u64, Lost>> {
        let subject = format!("{}{}", self.prefix(), write.key);
        let message = Outgoing::new(subject, write, payload);
        let size = message.size();
        self.check_size(write, size)?;
        let mut resend = self.write_retry().start(self.duplicate_window());
        // Once a lost race may be our own earlier copy, ask the server which it is.
        let mut confirmation: Option<Outgoing> = None;
        // The key's revision, as the refusal that called for the confirmation gave it.
        let mut refused_at = None;
        let mut may_have_applied = false;
        let mut settled = false;
        loop {
            let attempt = confirmation.as_ref().unwrap_or(&message);
            // A denied write applied nothing and ends here: never resent.
            let once = self.publish_once(attempt, resend.next_ack_wait());
            let answer = self.guard(&[self.prefix(), write.key], once).await?;
            let unanswered = match answer {
                Answer::Stored(revision) => return Ok(Ok(revision)),
                // A lost race after an attempt that may have landed: on a stream that checks
                // the guard before the id, the winner may be that attempt.
                Answer::Lost(current)
                    if may_have_applied
                        && confirmation.is_none()
                        && !self.checks_ids_first().await =>
                {
                    confirmation = Some(message.confirmation());
                    refused_at = current;
                    continue;
                }
                // A confirmation's refusal does not name the revision; the first refusal did.
                Answer::Lost(current) => {
                    return Ok(Err(Lost {
                        current: current.or(refused_at),
                    }));
                }
                Answer::Refused(error) => return Err(self.refused(write, size, error).await),
                Answer::NotDelivered(error) => {
                    // The first time, find out whether the bucket is there at all.
                    if !settled {
                        settled = true;
                        let op = Op::write(self.name(), write.name);
                        let unavailable = self.unavailable(write, may_have_applied, None);
                        let decided = settle(self.js(), op, unavailable).await;
                        if !matches!(decided, Error::Unavailable { .. }) {
                            return Err(decided);
                        }
                    }
                    Unanswered::NotDelivered(error)
                }
                Answer::Unanswered(error) => {
                    may_have_applied = true;
                    Unanswered::NoAnswer(Some(error))
                }
                Answer::InFlight(error) => {
                    may_have_applied = true;
                    Unanswered::NoAnswer(error)
                }
            };
            tracing::info!(
                bucket = self.name(),
                key = write.key,
                attempt = resend.attempts(),
                reason = ?unanswered,
                "write resent"
            );
            trace::retries(resend.attempts());
            if !resend.pause().await {
                tracing::debug!(
                    bucket = self.name(),
                    key = write.key,
                    attempts = resend.attempts(),
                    elapsed = ?resend.elapsed(),
                    "write retries exhausted"
                );
                return Err(self.exhausted(write, unanswered, may_have_applied));
            }
        }
    }

    /// The error of a write whose retries ran out: [`Error::Unavailable`] when its last attempt
    /// was taken by nobody, [`Error::Timeout`] when it went unanswered (so it may have landed).
    pub(crate) fn exhausted(
        &self,
        write: Write<'_>,
        last: Unanswered,
        may_have_applied: bool,
    ) -> Error {
        match last {
            Unanswered::NotDelivered(error) => {
                self.unavailable(write, may_have_applied, Some(Box::new(error)))
            }
            Unanswered::NoAnswer(error) => Error::Timeout {
                bucket: self.name().to_owned(),
                operation: write.name,
                may_have_applied: true,
                source: error.map(|e| Box::new(e) as BoxError),
            },
        }
    }

    /// Sends one copy of `message` and waits up to `ack_wait` for the server's answer: a
    /// single attempt, never resent here. Sent as a core request on the client's shared reply
    /// subscription, and its acknowledgement read as [`Answer::of_reply`] reads it (a plain one
    /// without a JSON parser), which is what a JetStream publish costs less the parsing.
    async fn publish_once(&self, message: &Outgoing, ack_wait: Duration) -> Answer {
        let request = async_nats::Request::new()
            .headers(message.header_map())
            .payload(message.payload.clone())
            .timeout(Some(ack_wait));
        let reply = self
            .js()
            .client()
            .send_request(message.subject.clone(), request)
            .await;
        match reply {
            Ok(reply) => Answer::of_reply(&reply),
            Err(error) => {
                let kind = match error.kind() {
                    // As a JetStream publish reports a message nobody took.
                    RequestErrorKind::NoResponders => PublishErrorKind::StreamNotFound,
                    RequestErrorKind::TimedOut => PublishErrorKind::TimedOut,
                    RequestErrorKind::MaxPayloadExceeded => PublishErrorKind::MaxPayloadExceeded,
                    // The reply channel closed: the connection lost the request.
                    _ => PublishErrorKind::BrokenPipe,
                };
                Answer::of(Err(PublishError::with_source(kind, error)))
            }
        }
    }

    /// Whether the bucket's stream checks a message id before a compare-and-set guard, so a
    /// resent write whose first copy landed is answered as a duplicate, never as a lost race.
    /// A replicated stream does (it deduplicates before proposing the message to its peers); a
    /// single-replica one, standalone or in a cluster, checks the guard first. Read fresh, since
    /// the bucket may have been scaled since this handle was opened; from the handle's cache
    /// when the server does not answer in time.
    async fn checks_ids_first(&self) -> bool {
        let fresh = tokio::time::timeout(INFO_READ_TIMEOUT, self.stream().get_info()).await;
        let replicas = match fresh {
            Ok(Ok(info)) => info.config.num_replicas,
            _ => self.stream().cached_info().config.num_replicas,
        };
        replicas > 1
    }

    /// How long the server remembers message ids for this bucket: the horizon within which a
    /// resent write is recognised.
    pub(crate) fn duplicate_window(&self) -> Duration {
        self.stream().cached_info().config.duplicate_window
    }

    /// [`Error::ValueTooLarge`] before any wire call when the message is larger than the
    /// server's `max_payload` or the bucket's largest value (the stream's `max_msg_size`),
    /// whichever is smaller. Both count the headers.
    pub(crate) fn check_size(&self, write: Write<'_>, size: usize) -> Result<()> {
        self.check_size_within(write, size, self.size_limit())
    }

    /// The largest message a write may send: the smaller of the server's `max_payload` and the
    /// bucket's largest value (`None`: no limit known).
    pub(crate) fn size_limit(&self) -> Option<u64> {
        let max_payload = u64::try_from(self.js().client().max_payload()).ok();
        [max_payload, self.max_value_size()]
            .into_iter()
            .flatten()
            .filter(|limit| *limit > 0)
            .min()
    }

    /// [`check_size`](Self::check_size) against a limit read once for many writes.
    pub(crate) fn check_size_within(
        &self,
        write: Write<'_>,
        size: usize,
        limit: Option<u64>,
    ) -> Result<()> {
        match limit {
            Some(limit) if u64::try_from(size).unwrap_or(u64::MAX) > limit => {
                Err(self.too_large(write, size, Some(limit), None))
            }
            _ => Ok(()),
        }
    }

    /// The bucket's largest message as the handle knows it (`None`: unlimited).
    fn max_value_size(&self) -> Option<u64> {
        u64::try_from(self.stream().cached_info().config.max_message_size)
            .ok()
            .filter(|limit| *limit > 0)
    }

    /// The error of a write the server refused outright.
    pub(crate) async fn refused(
        &self,
        write: Write<'_>,
        size: usize,
        error: PublishError,
    ) -> Error {
        if error.kind() == PublishErrorKind::MaxPayloadExceeded {
            // Another server (after a reconnect) may have a smaller limit than the one checked.
            let limit = u64::try_from(self.js().client().max_payload()).ok();
            return self.too_large(write, size, limit, Some(Box::new(error)));
        }
        let op = Op::write(self.name(), write.name);
        match settle(self.js(), op, classify(op, error)).await {
            // The bucket's limit may have changed since this handle was opened: read it.
            Error::ValueTooLarge { source, .. } => {
                let fresh = tokio::time::timeout(INFO_READ_TIMEOUT, self.stream().get_info());
                let limit = match fresh.await {
                    Ok(Ok(info)) => u64::try_from(info.config.max_message_size)
                        .ok()
                        .filter(|limit| *limit > 0),
                    _ => self.max_value_size(),
                };
                self.too_large(write, size, limit, source)
            }
            other => other,
        }
    }

    fn too_large(
        &self,
        write: Write<'_>,
        size: usize,
        limit: Option<u64>,
        source: Option<BoxError>,
    ) -> Error {
        Error::ValueTooLarge {
            bucket: self.name().to_owned(),
            key: write.key.to_owned(),
            size,
            limit,
            source,
        }
    }

    pub(crate) fn unavailable(
        &self,
        write: Write<'_>,
        may_have_applied: bool,
        source: Option<BoxError>,
    ) -> Error {
        Error::Unavailable {
            bucket: self.name().to_owned(),
            operation: write.name,
            may_have_applied,
            source,
        }
    }

    pub(crate) fn wrong_revision(&self, write: Write<'_>, current: Option<u64>) -> Error {
        let expected = match write.expect {
            Expect::Revision(r) => r,
            Expect::Any => 0,
        };
        Error::WrongRevision {
            bucket: self.name().to_owned(),
            key: write.key.to_owned(),
            expected,
            current,
        }
    }

    /// The key's latest entry, markers included.
    pub(crate) async fn last(&self, key: &str) -> Result<Option<RawEntry>> {
        let op = self.read_one(Wanted::Last(key), "get");
        trace::traced(self.name(), "get", Some(key), found_revision, op).await
    }

    /// The entry at `revision`, if it exists and belongs to `key`.
    pub(crate) async fn at(&self, key: &str, revision: u64) -> Result<Option<RawEntry>> {
        if revision == 0 {
            return Ok(None);
        }
        let op = async {
            let entry = self.read_one(Wanted::At(revision), "get revision").await?;
            Ok(entry.filter(|e| e.key == key))
        };
        trace::traced(self.name(), "get revision", Some(key), found_revision, op).await
    }

    /// One message of the bucket's stream: by a direct get where the stream allows them (any
    /// replica answers), by the stream's message-get API (its leader answers) where it does
    /// not, as on buckets other clients created without direct gets (nats-py's default).
    /// Decided from the handle's stream info, at no cost per read.
    async fn read_one(
        &self,
        wanted: Wanted<'_>,
        operation: &'static str,
    ) -> Result<Option<RawEntry>> {
        let message = self.read_message(wanted, operation).await?;
        Ok(message.map(|m| self.raw_entry(m)))
    }

    /// The latest message of `key`, headers and all.
    pub(crate) async fn last_message(
        &self,
        key: &str,
        operation: &'static str,
    ) -> Result<Option<StreamMessage>> {
        self.read_message(Wanted::Last(key), operation).await
    }

    /// One message of the bucket's stream, as [`read_one`](Self::read_one) reads it.
    async fn read_message(
        &self,
        wanted: Wanted<'_>,
        operation: &'static str,
    ) -> Result<Option<StreamMessage>> {
        let op = Op::read(self.name(), operation);
        let got = if self.allows_direct() {
            let get = self.stream().direct_get_builder();
            let (last, at);
            let (get, subject): (_, &[&str]) = match wanted {
                Wanted::Last(key) => {
                    let subject = format!("{}{key}", self.prefix());
                    last = [DIRECT_GET, self.stream_name(), ".", self.prefix(), key];
                    (get.last_by_subject(subject), &last)
                }
                Wanted::At(revision) => {
                    at = [DIRECT_GET, self.stream_name()];
                    (get.sequence(revision), &at)
                }
            };
            match self.guard(subject, get.send()).await? {
                Ok(message) => Ok(Some(message)),
                Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
                Err(e) => Err(classify(op, e)),
            }
        } else {
            let get = self.stream().raw_message_builder();
            let get = match wanted {
                Wanted::Last(key) => get.last_by_subject(format!("{}{key}", self.prefix())),
                Wanted::At(revision) => get.sequence(revision),
            };
            let subject = [STREAM_API, "MSG.GET.", self.stream_name()];
            match self.guard(&subject, get.send()).await? {
                Ok(message) => Ok(Some(message)),
                Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
                Err(e) => Err(classify_api(op, e)),
            }
        };
        match got {
            Ok(message) => Ok(message),
            Err(e) => Err(settle(self.js(), op, e).await),
        }
    }

    /// Turns a stored message into an entry (`delta` 0).
    fn raw_entry(&self, message: StreamMessage) -> RawEntry {
        crate::wire::delivery::stream_message_entry(self.prefix(), message)
    }
}

/// What a single read asks the bucket's stream for.
#[derive(Debug, Clone, Copy)]
enum Wanted<'a> {
    /// The latest message of a key.
    Last(&'a str),
    /// The message at a revision (a stream sequence).
    At(u64),
}

#[cfg(test)]
mod tests {
    use super::stored_sequence;

    #[test]
    fn a_plain_acknowledgement_is_read_without_a_parser() {
        assert_eq!(stored_sequence(br#"{"stream":"KV_a", "seq":42}"#), Some(42));
        assert_eq!(
            stored_sequence(br#"{"stream":"KV_a", "domain":"hub", "seq":7,"duplicate":true}"#),
            Some(7)
        );
        // Everything else goes to the full reading.
        assert_eq!(stored_sequence(br#"{"stream":"KV_a", "seq":0}"#), None);
        assert_eq!(
            stored_sequence(br#"{"error":{"code":503,"err_code":10077,"description":"x"}}"#),
            None
        );
        assert_eq!(
            stored_sequence(br#"{"stream":"KV_a", "seq":3, "error":{"code":400}}"#),
            None
        );
        assert_eq!(stored_sequence(br#"{"stream":"KV_a", "seq":x}"#), None);
        assert_eq!(stored_sequence(b""), None);
    }
}
