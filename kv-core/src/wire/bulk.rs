//! Many writes in one call (`put_many`): pipelined on the bucket's connection, each write with
//! its own message id and its own result.
//!
//! The writes go out as plain messages whose acknowledgements all come back to one
//! subscription (reply subject `<inbox>.<slot>.<attempt>`), with up to [`WINDOW`] of them
//! unanswered at a time: no request bookkeeping per message, and each acknowledgement names the
//! revision of its own write. A write that is not answered within its acknowledgement wait, or
//! that nobody took, is resent with the same message id as the bucket's
//! [`WriteRetry`](crate::WriteRetry) allows, so a resend of a stored write is answered with the
//! first copy's revision: exactly once, as a single write.
//!
//! Writes of one key go out one after the other, each once the one before it is settled, so
//! their revisions follow the input order even when one of them had to be resent.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::{Duration, Instant};

use crate::bucket::Bucket;
use crate::entry::Operation;
use crate::error::{Error, Result};
use crate::retry::{Resend, WriteRetry};
use crate::wire::classify::{Op, classify, settle};
use crate::wire::raw::{Answer, Outgoing, Unanswered, Write};

/// The most writes awaiting their acknowledgement at once. Far below a stream's ingest queue
/// (10,000 messages in nats-server), and enough to keep the server busy.
const WINDOW: usize = 1024;
/// The operation's name in errors.
const PUT_MANY: &str = "put_many";

/// One write of the call, until it is settled.
struct Item {
    key: String,
    message: Outgoing,
    size: usize,
    /// The write's retry clock, started when it is first sent (`None` until then).
    resend: Option<Resend>,
    /// Whether the current attempt is out and unanswered.
    awaiting: bool,
    may_have_applied: bool,
    /// The next write of the same key, sent once this one is settled.
    next_of_key: Option<usize>,
}

impl Item {
    fn write(&self) -> Write<'_> {
        Write::new(PUT_MANY, &self.key, Operation::Put)
    }

    /// How many attempts were sent.
    fn attempts(&self) -> u32 {
        self.resend.as_ref().map_or(0, Resend::attempts)
    }
}

/// The state of one `put_many`: every write by its position in the input.
struct Batch<'b> {
    bucket: &'b Bucket,
    policy: WriteRetry,
    duplicate_window: Duration,
    items: Vec<Option<Item>>,
    results: Vec<Option<Result<u64>>>,
    /// Writes to send now, in order.
    ready: VecDeque<usize>,
    /// Writes pausing before a resend, by the time they are ready again.
    paused: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The acknowledgement deadline of each attempt sent (stale once answered).
    deadlines: BinaryHeap<Reverse<(Instant, usize, u32)>>,
    outstanding: usize,
    unsettled: usize,
    /// Whether a write nobody took has been checked against the server's facts already.
    facts_checked: bool,
}

impl Bucket {
    /// Puts every `(key, payload)` of `writes` (an `Err` stays that item's result, unsent) and
    /// returns one result per item, in order.
    pub(crate) async fn put_many(
        &self,
        writes: Vec<Result<(String, Bytes)>>,
    ) -> Result<Vec<Result<u64>>> {
        let op = async {
            let mut batch = Batch::new(self, writes);
            if batch.unsettled > 0 {
                // A denied write applied nothing; it ends the call (see `guard`).
                let under = [self.prefix().trim_end_matches('.')];
                self.guard_under(&under, batch.run()).await??;
            }
            Ok(batch.into_results())
        };
        crate::trace::traced(self.name(), "put_many", None, |_| None, op).await
    }
}

impl<'b> Batch<'b> {
    fn new(bucket: &'b Bucket, writes: Vec<Result<(String, Bytes)>>) -> Self {
        let limit = bucket.size_limit();
        let mut results = Vec::with_capacity(writes.len());
        let mut items = Vec::with_capacity(writes.len());
        for write in writes {
            let item = write.and_then(|(key, payload)| {
                let subject = format!("{}{key}", bucket.prefix());
                let message =
                    Outgoing::new(subject, Write::new(PUT_MANY, &key, Operation::Put), payload);
                let size = message.size();
                bucket.check_size_within(
                    Write::new(PUT_MANY, &key, Operation::Put),
                    size,
                    limit,
                )?;
                Ok(Item {
                    key,
                    message,
                    size,
                    resend: None,
                    awaiting: false,
                    may_have_applied: false,
                    next_of_key: None,
                })
            });
            match item {
                Ok(item) => {
                    results.push(None);
                    items.push(Some(item));
                }
                Err(error) => {
                    results.push(Some(Err(error)));
                    items.push(None);
                }
            }
        }
        // Each key's first write is ready; each later one waits for the one before it.
        let mut ready = VecDeque::with_capacity(items.len());
        let mut links = Vec::new();
        let mut last_of_key: HashMap<&str, usize> = HashMap::with_capacity(items.len());
        for (slot, item) in items.iter().enumerate() {
            let Some(item) = item else { continue };
            match last_of_key.insert(item.key.as_str(), slot) {
                Some(previous) => links.push((previous, slot)),
                None => ready.push_back(slot),
            }
        }
        drop(last_of_key);
        for (previous, slot) in links {
            if let Some(item) = items[previous].as_mut() {
                item.next_of_key = Some(slot);
            }
        }
        let unsettled = items.iter().flatten().count();
        Batch {
            bucket,
            policy: bucket.write_retry(),
            duplicate_window: bucket.duplicate_window(),
            items,
            results,
            ready,
            paused: BinaryHeap::new(),
            deadlines: BinaryHeap::new(),
            outstanding: 0,
            unsettled,
            facts_checked: false,
        }
    }

    async fn run(&mut self) -> Result<()> {
        let client = self.bucket.js().client();
        let inbox = client.new_inbox();
        let op = Op::write(self.bucket.name(), PUT_MANY);
        let mut replies = client
            .subscribe(format!("{inbox}.>"))
            .await
            .map_err(|e| classify(op, e))?;
        while self.unsettled > 0 {
            self.wake(Instant::now());
            self.send(&client, &inbox).await;
            match tokio::time::timeout_at(self.next_event(), replies.next()).await {
                Ok(Some(reply)) => self.answer(&reply).await?,
                // The connection is closed: nothing more will be answered.
                Ok(None) => {
                    self.give_up();
                    break;
                }
                Err(_elapsed) => self.expire(Instant::now()),
            }
        }
        Ok(())
    }

    /// Sends ready writes while the window has room.
    async fn send(&mut self, client: &async_nats::Client, inbox: &str) {
        while self.outstanding < WINDOW {
            let Some(slot) = self.ready.pop_front() else {
                return;
            };
            let Some(item) = self.items[slot].as_mut() else {
                continue;
            };
            // The clock starts with the first copy: the server's duplicate window is counted
            // from when it stored that.
            let (policy, window) = (self.policy, self.duplicate_window);
            let resend = item.resend.get_or_insert_with(|| policy.start(window));
            let wait = resend.next_ack_wait();
            let attempt = resend.attempts();
            let message = &item.message;
            let sent = client
                .publish_with_reply_and_headers(
                    message.subject.clone(),
                    format!("{inbox}.{slot}.{attempt}"),
                    message.header_map(),
                    message.payload.clone(),
                )
                .await;
            if let Err(error) = sent {
                // Not answered, so it times out and is resent like any unanswered write.
                tracing::debug!(bucket = self.bucket.name(), %error, "put_many: send failed");
            }
            item.awaiting = true;
            self.outstanding += 1;
            self.deadlines
                .push(Reverse((Instant::now() + wait, slot, attempt)));
        }
    }

    /// Handles one acknowledgement.
    async fn answer(&mut self, reply: &async_nats::Message) -> Result<()> {
        let Some((slot, attempt)) = parse_reply(reply.subject.as_str()) else {
            return Ok(());
        };
        let Some(item) = self.items.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(());
        };
        let answer = Answer::of_reply(reply);
        let current = item.awaiting && attempt == item.attempts();
        // An earlier attempt's late answer counts only when it says the write is stored.
        if !current && !matches!(answer, Answer::Stored(_)) {
            return Ok(());
        }
        if current {
            item.awaiting = false;
            self.outstanding -= 1;
        }
        match answer {
            Answer::Stored(revision) => self.settle(slot, Ok(revision)),
            Answer::Lost(current) => {
                let error = self.bucket.wrong_revision(item.write(), current);
                self.settle(slot, Err(error));
            }
            Answer::Refused(error) => {
                let error = self.bucket.refused(item.write(), item.size, error).await;
                self.settle(slot, Err(error));
            }
            Answer::NotDelivered(error) => {
                // The first time, find out whether the bucket is there at all.
                if !self.facts_checked {
                    self.facts_checked = true;
                    let op = Op::write(self.bucket.name(), PUT_MANY);
                    let unavailable = self.bucket.unavailable(item.write(), false, None);
                    let decided = settle(self.bucket.js(), op, unavailable).await;
                    if !matches!(decided, Error::Unavailable { .. }) {
                        return Err(decided);
                    }
                }
                self.retry(slot, Unanswered::NotDelivered(error));
            }
            Answer::Unanswered(error) => {
                item.may_have_applied = true;
                self.retry(slot, Unanswered::NoAnswer(Some(error)));
            }
            Answer::InFlight(error) => {
                item.may_have_applied = true;
                self.retry(slot, Unanswered::NoAnswer(error));
            }
        }
        Ok(())
    }

    /// Attempts whose acknowledgement wait is over by `now` may have landed: resend them.
    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((at, slot, attempt))) = self.deadlines.peek() {
            if at > now {
                return;
            }
            self.deadlines.pop();
            let Some(item) = self.items[slot].as_mut() else {
                continue;
            };
            if !item.awaiting || item.attempts() != attempt {
                continue;
            }
            item.awaiting = false;
            item.may_have_applied = true;
            self.outstanding -= 1;
            let timed_out = PublishError::new(PublishErrorKind::TimedOut);
            self.retry(slot, Unanswered::NoAnswer(Some(timed_out)));
        }
    }

    /// Pauses the write before its next attempt, or settles it with its last reason when the
    /// bucket's retry horizon leaves no room for one.
    fn retry(&mut self, slot: usize, why: Unanswered) {
        let Some(item) = self.items[slot].as_ref() else {
            return;
        };
        if let Some(pause) = item.resend.as_ref().and_then(Resend::next_pause) {
            tracing::debug!(
                bucket = self.bucket.name(),
                key = item.key,
                attempt = item.attempts(),
                reason = ?why,
                "put_many: write not answered; resending"
            );
            self.paused.push(Reverse((Instant::now() + pause, slot)));
        } else {
            let error = self
                .bucket
                .exhausted(item.write(), why, item.may_have_applied);
            self.settle(slot, Err(error));
        }
    }

    /// Makes paused writes whose pause is over by `now` ready.
    fn wake(&mut self, now: Instant) {
        while let Some(&Reverse((at, slot))) = self.paused.peek() {
            if at > now {
                return;
            }
            self.paused.pop();
            self.ready.push_back(slot);
        }
    }

    /// When the next deadline runs out or the next pause ends.
    fn next_event(&self) -> Instant {
        let deadline = self.deadlines.peek().map(|Reverse((at, ..))| *at);
        let pause = self.paused.peek().map(|Reverse((at, _))| *at);
        match (deadline, pause) {
            (Some(a), Some(b)) => a.min(b),
            (Some(at), None) | (None, Some(at)) => at,
            // Unreachable while writes are unsettled: each is ready, out, paused or behind
            // another write of its key. Wake up anyway rather than wait forever.
            (None, None) => Instant::now() + Duration::from_millis(10),
        }
    }

    fn settle(&mut self, slot: usize, result: Result<u64>) {
        let Some(item) = self.items[slot].take() else {
            return;
        };
        if item.awaiting {
            self.outstanding -= 1;
        }
        self.results[slot] = Some(result);
        self.unsettled -= 1;
        if let Some(next) = item.next_of_key {
            self.ready.push_back(next);
        }
    }

    /// The connection closed: every write still open gets its error now. One that was sent
    /// may have been applied.
    fn give_up(&mut self) {
        for slot in 0..self.items.len() {
            let Some(item) = self.items[slot].as_ref() else {
                continue;
            };
            let error = if item.attempts() > 0 {
                let why = Unanswered::NoAnswer(None);
                self.bucket.exhausted(item.write(), why, true)
            } else {
                self.bucket.unavailable(item.write(), false, None)
            };
            self.settle(slot, Err(error));
        }
    }

    fn into_results(self) -> Vec<Result<u64>> {
        let bucket = self.bucket;
        self.results
            .into_iter()
            .map(|result| {
                // Every write is settled before the call returns; should one not be, say so
                // rather than drop it.
                result.unwrap_or_else(|| {
                    Err(Error::Unavailable {
                        bucket: bucket.name().to_owned(),
                        operation: PUT_MANY,
                        may_have_applied: true,
                        source: None,
                    })
                })
            })
            .collect()
    }
}

/// The slot and attempt named by an acknowledgement's subject (`<inbox>.<slot>.<attempt>`).
fn parse_reply(subject: &str) -> Option<(usize, u32)> {
    let (rest, attempt) = subject.rsplit_once('.')?;
    let (_, slot) = rest.rsplit_once('.')?;
    Some((slot.parse().ok()?, attempt.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::parse_reply;

    #[test]
    fn a_reply_names_its_slot_and_attempt() {
        assert_eq!(parse_reply("_INBOX.abc.12.3"), Some((12, 3)));
        assert_eq!(parse_reply("_INBOX.abc.x.3"), None);
        assert_eq!(parse_reply("3"), None);
    }
}
