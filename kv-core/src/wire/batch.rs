//! Atomic batches (ADR-50): up to 1,000 writes to one bucket, stored all or nothing.
//!
//! Every message of a batch carries `Nats-Batch-Id` and `Nats-Batch-Sequence`. The first is
//! sent as a request, and its empty answer says the server took the batch on (or its error
//! says why not: the stream does not allow atomic batches, the server is older than 2.12). The
//! middle ones are published without an answer. The last carries `Nats-Batch-Commit: 1` and is
//! answered with the batch's acknowledgement: the last message's sequence and the count, the
//! messages being stored at consecutive sequences. The server checks every message's guards
//! under one lock at commit, so one failed guard stores nothing.
//!
//! A batch the server received with a message missing (one lost on the way) is refused as
//! incomplete, and a batch sent to nobody was not received: nothing was stored either way, so
//! it is sent again under a new id as the bucket's `WriteRetry` allows; so is one whose first
//! message went unanswered (its commit was never sent). A commit that was not answered may have
//! been stored: it is never resent. The server keeps the batch id on what it stores, so the
//! latest message of the commit's key is read (a few times over a second: a server slow to
//! answer may still be storing it): when it carries the id the batch was stored, and its
//! revisions are returned; otherwise it is reported as a timeout that may have applied.
//! A batch abandoned midway (the caller dropped the commit) is dropped by the server after 10
//! seconds without a message, storing none of it.
//!
//! The guards a batch takes (the project's `tests/batch_headers.rs` finds them on the server):
//! a key's last revision (`Nats-Expected-Last-Subject-Sequence`, also on another key with
//! `...-Subject`) on any message, the stream's last sequence (`Nats-Expected-Last-Sequence`)
//! only on the first, and no guard on a message id (refused as an unsupported header).
//! Messages carry no message id: the batch id already tells a resend from the original.

use std::time::Duration;

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::{HeaderMap, RequestErrorKind};

use crate::bucket::Bucket;
use crate::error::{BoxError, Error, Result};
use crate::wire::classify::{Op, api_code, current_revision, settle};
use crate::wire::raw::{Outgoing, ack_of};

/// The most messages nats-server takes in one atomic batch (its default `max_batch_size`).
pub(crate) const MAX_BATCH: usize = 1000;

const BATCH_ID: &str = "Nats-Batch-Id";
const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT: &str = "Nats-Batch-Commit";

/// The stream does not allow atomic batches.
const NOT_ENABLED: u64 = 10174;
/// The batch was missing a message; nothing was stored.
const INCOMPLETE: u64 = 10176;
/// A guard on a subject an earlier message of the batch writes.
const GUARD_AFTER_WRITE: u64 = 10164;
/// The operation name errors of a commit carry.
pub(crate) const COMMIT: &str = "commit";

/// How a batch ended on the server.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Stored: the first and the last message's sequences.
    Stored { first: u64, last: u64 },
    /// A guard failed, nothing stored; with the revision the server found, when it said it.
    Lost(Option<u64>),
}

/// Sends `messages` (at most [`MAX_BATCH`], at least one) as one atomic batch and waits for
/// its commit. The messages' subjects and headers are the writes' own; the batch headers are
/// added here.
pub(crate) async fn commit(bucket: &Bucket, messages: &[Outgoing]) -> Result<Outcome> {
    debug_assert!(!messages.is_empty() && messages.len() <= MAX_BATCH);
    let mut resend = bucket.write_retry().start(bucket.duplicate_window());
    let mut settled = false;
    loop {
        let id = nuid::next();
        let attempt = send(bucket, messages, id.as_str(), resend.next_ack_wait());
        let answer = bucket.guard(&[bucket.prefix()], attempt).await?;
        let error = match answer {
            Sent::Committed(ack) => return Ok(ack),
            Sent::Refused(error) => return Err(refused(bucket, error)),
            Sent::NotStored(error) => {
                if !settled {
                    settled = true;
                    let op = Op::write(bucket.name(), COMMIT);
                    let decided = settle(bucket.js(), op, unavailable(bucket, None)).await;
                    if !matches!(decided, Error::Unavailable { .. }) {
                        return Err(decided);
                    }
                }
                error
            }
            Sent::Unanswered(error) => {
                if let Some(outcome) = stored(bucket, messages, id.as_str()).await {
                    tracing::info!(
                        target: "natskv",
                        bucket = bucket.name(),
                        revision = outcome_revision(&outcome),
                        "unanswered commit found stored"
                    );
                    return Ok(outcome);
                }
                return Err(Error::Timeout {
                    bucket: bucket.name().to_owned(),
                    operation: COMMIT,
                    may_have_applied: true,
                    source: Some(Box::new(error)),
                });
            }
        };
        tracing::debug!(
            bucket = bucket.name(),
            attempt = resend.attempts(),
            reason = %error,
            "atomic batch not stored; sending it again"
        );
        if !resend.pause().await {
            return Err(unavailable(bucket, Some(Box::new(error))));
        }
    }
}

/// What one attempt at a batch came to.
#[derive(Debug)]
enum Sent {
    Committed(Outcome),
    /// Certainly not stored (incomplete, or nobody took it): may be sent again.
    NotStored(PublishError),
    /// The commit went unanswered: it may have been stored.
    Unanswered(PublishError),
    /// A definite refusal a resend would not change.
    Refused(PublishError),
}

/// One attempt: the messages under batch id `id`, fresh for each attempt.
async fn send(bucket: &Bucket, messages: &[Outgoing], id: &str, ack_wait: Duration) -> Sent {
    let client = bucket.js().client();
    let last = messages.len();
    for (n, message) in messages.iter().enumerate() {
        let sequence = n + 1;
        let mut headers = message.header_map();
        headers.insert(BATCH_ID, id);
        headers.insert(BATCH_SEQUENCE, sequence.to_string());
        if sequence == last {
            headers.insert(BATCH_COMMIT, "1");
        }
        if sequence == 1 || sequence == last {
            match request(&client, message, headers, ack_wait).await {
                Ok(reply) if sequence < last && reply.payload.is_empty() => {}
                Ok(reply) => return answer(&reply, last),
                // Before the commit was sent, nothing can have been stored: the server drops
                // a batch left without its commit.
                Err(Sent::Unanswered(error)) if sequence < last => return Sent::NotStored(error),
                Err(error) => return error,
            }
        } else if let Err(error) = client
            .publish_with_headers(message.subject.clone(), headers, message.payload.clone())
            .await
        {
            return Sent::NotStored(PublishError::with_source(
                PublishErrorKind::BrokenPipe,
                error,
            ));
        }
    }
    unreachable!("a batch has at least one message")
}

/// Sends one message of the batch as a request.
async fn request(
    client: &async_nats::Client,
    message: &Outgoing,
    headers: HeaderMap,
    ack_wait: Duration,
) -> std::result::Result<async_nats::Message, Sent> {
    let request = async_nats::Request::new()
        .headers(headers)
        .payload(message.payload.clone())
        .timeout(Some(ack_wait));
    client
        .send_request(message.subject.clone(), request)
        .await
        .map_err(|error| {
            let kind = error.kind();
            let publish = |kind| PublishError::with_source(kind, error);
            match kind {
                RequestErrorKind::NoResponders => {
                    Sent::NotStored(publish(PublishErrorKind::StreamNotFound))
                }
                RequestErrorKind::MaxPayloadExceeded => {
                    Sent::Refused(publish(PublishErrorKind::MaxPayloadExceeded))
                }
                // Only the commit's answer says whether the batch was stored.
                _ => Sent::Unanswered(publish(PublishErrorKind::TimedOut)),
            }
        })
}

/// Reads the server's answer to a batch (an error may come at any message; the commit's
/// acknowledgement at the last).
fn answer(reply: &async_nats::Message, count: usize) -> Sent {
    match ack_of(reply) {
        Ok(ack) if ack.sequence > 0 => {
            let stored = ack.batch_size.unwrap_or(count as u64);
            Sent::Committed(Outcome::Stored {
                first: ack.sequence + 1 - stored.min(ack.sequence),
                last: ack.sequence,
            })
        }
        Ok(_) => Sent::Refused(PublishError::new(PublishErrorKind::Other)),
        Err(error) => match error.kind() {
            PublishErrorKind::StreamNotFound => Sent::NotStored(error),
            PublishErrorKind::WrongLastSequence => {
                Sent::Committed(Outcome::Lost(current_revision(&error)))
            }
            _ if api_code(&error) == Some(INCOMPLETE) => Sent::NotStored(error),
            _ if api_code(&error) == Some(GUARD_AFTER_WRITE) => {
                Sent::Committed(Outcome::Lost(None))
            }
            _ => Sent::Refused(error),
        },
    }
}

/// Whether batch `id`, whose commit went unanswered, was stored after all: the server keeps
/// the batch id on the messages it stores, so the latest message of the commit's key tells.
/// A server that was slow to answer may still be storing it, so the key is read a few times
/// over a second. `None` when that cannot be told: a read failed, or the key's latest
/// message stayed another (the batch was not stored, is not yet, or a later write followed).
async fn stored(bucket: &Bucket, messages: &[Outgoing], id: &str) -> Option<Outcome> {
    let commit = messages.last()?;
    let key = commit.subject.strip_prefix(bucket.prefix())?;
    let count = messages.len() as u64;
    for pause in STORED_PAUSES {
        let message = bucket.last_message(key, COMMIT).await.ok()?;
        let ours = message.as_ref().filter(|m| {
            m.headers
                .get(BATCH_ID)
                .is_some_and(|value| value.as_str() == id)
                && m.sequence >= count
        });
        if let Some(message) = ours {
            return Some(Outcome::Stored {
                first: message.sequence + 1 - count,
                last: message.sequence,
            });
        }
        tokio::time::sleep(pause).await;
    }
    None
}

/// The pauses between the reads of [`stored`].
const STORED_PAUSES: [Duration; 6] = [
    Duration::from_millis(5),
    Duration::from_millis(20),
    Duration::from_millis(50),
    Duration::from_millis(125),
    Duration::from_millis(300),
    Duration::from_millis(500),
];

fn outcome_revision(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Stored { last, .. } => *last,
        Outcome::Lost(_) => 0,
    }
}

/// The error of a batch the server refused for good.
fn refused(bucket: &Bucket, error: PublishError) -> Error {
    if api_code(&error) == Some(NOT_ENABLED) {
        return Error::Unsupported {
            feature: "atomic batches on this bucket (declare it `atomic`, then `ensure` it)",
            needs: "2.12",
        };
    }
    crate::wire::classify::classify(Op::write(bucket.name(), COMMIT), error)
}

fn unavailable(bucket: &Bucket, source: Option<BoxError>) -> Error {
    Error::Unavailable {
        bucket: bucket.name().to_owned(),
        operation: COMMIT,
        may_have_applied: false,
        source,
    }
}
