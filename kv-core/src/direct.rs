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

use std::time::Duration;

use async_nats::{HeaderMap, StatusCode, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Serialize;

use crate::bucket::Bucket;
use crate::classify::{Op, settle};
use crate::delivery::{DirectReply, NUM_PENDING};
use crate::entry::RawEntry;
use crate::error::{Error, Result};

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
    bucket.stream().cached_info().config.allow_direct
        && at_least_2_12(&bucket.js().client().server_info().version)
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

/// The subject of a direct get, before the stream's name (a permission violation names it).
const DIRECT_GET: &str = "$JS.API.DIRECT.GET.";

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
            let message = match tokio::time::timeout(self.timeout, self.replies.next()).await {
                Ok(Some(message)) => message,
                Ok(None) => {
                    return Err(connection(
                        &self.bucket,
                        OPERATION,
                        "the reply subscription closed",
                    ));
                }
                Err(_elapsed) => return Err(timed_out(&self.bucket, OPERATION)),
            };
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

/// The most subjects one `multi_last` request may name (the server's cap on one batch).
const MULTI_LAST_MAX: usize = 1024;
/// The header giving the stream sequence a `multi_last` answer is as of.
const UP_TO_SEQUENCE: &str = "Nats-UpTo-Sequence";

/// A `multi_last` request (ADR-31): the last message of each subject, as of `up_to_seq`.
#[derive(Serialize)]
struct MultiLastRequest<'a> {
    multi_last: &'a [&'a str],
    batch: usize,
    #[serde(skip_serializing_if = "is_zero")]
    up_to_seq: u64,
}

/// The latest entry (markers included) of each of `subjects` (full subjects, no wildcards),
/// as of one stream sequence: one request per 1,024 subjects, the later ones pinned to the
/// sequence the first was answered as of, so the answer is one consistent snapshot. Keyed by
/// key (the subject without `$KV.<bucket>.`); subjects without a message are absent.
pub(crate) async fn last_many(
    bucket: &Bucket,
    subjects: &[&str],
) -> Result<std::collections::HashMap<String, RawEntry>> {
    let stream = bucket.stream_name();
    let read = async {
        let client = bucket.js().client();
        let inbox = client.new_inbox();
        let mut replies = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| connection(bucket, GET_MANY, e))?;
        let timeout = client.timeout().unwrap_or(DEFAULT_TIMEOUT);
        let mut found = std::collections::HashMap::with_capacity(subjects.len());
        let mut up_to_seq = 0;
        for chunk in subjects.chunks(MULTI_LAST_MAX) {
            let body = MultiLastRequest {
                multi_last: chunk,
                batch: chunk.len(),
                up_to_seq,
            };
            let payload =
                serde_json::to_vec(&body).map_err(|e| failed(bucket, GET_MANY, e.to_string()))?;
            let request = async_nats::Request::new()
                .inbox(inbox.clone())
                .payload(Bytes::from(payload));
            bucket
                .js()
                .send_request(format!("DIRECT.GET.{stream}"), request)
                .await
                .map_err(|e| connection(bucket, GET_MANY, e))?;
            loop {
                let message = match tokio::time::timeout(timeout, replies.next()).await {
                    Ok(Some(message)) => message,
                    Ok(None) => {
                        return Err(connection(
                            bucket,
                            GET_MANY,
                            "the reply subscription closed",
                        ));
                    }
                    Err(_elapsed) => return Err(timed_out(bucket, GET_MANY)),
                };
                if up_to_seq == 0 {
                    if let Some(seq) = message.headers.as_ref().and_then(up_to_sequence) {
                        up_to_seq = seq;
                    }
                }
                match message.status {
                    None => {
                        let message =
                            async_nats::jetstream::message::StreamMessage::try_from(message)
                                .map_err(|e| failed(bucket, GET_MANY, e.to_string()))?;
                        let entry = bucket.raw_entry(message);
                        found.insert(entry.key.clone(), entry);
                    }
                    // None of the subjects has a message, or the batch is complete.
                    Some(status) if status == StatusCode::NOT_FOUND => break,
                    Some(status) if status == END_OF_BATCH => break,
                    Some(status) if status == StatusCode::NO_RESPONDERS => {
                        return Err(unanswered(bucket, GET_MANY).await);
                    }
                    Some(status) => {
                        let description = message.description.unwrap_or_default();
                        return Err(failed(
                            bucket,
                            GET_MANY,
                            format!("status {status}: {description}"),
                        ));
                    }
                }
            }
        }
        Ok(found)
    };
    bucket.guard(&[DIRECT_GET, stream], read).await?
}

fn up_to_sequence(headers: &HeaderMap) -> Option<u64> {
    headers.get(UP_TO_SEQUENCE)?.as_str().parse().ok()
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
}
