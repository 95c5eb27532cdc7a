//! The Key/Value operations on the wire (ADR-8), on rendered keys and encoded values.

use std::time::{Duration, SystemTime};

use async_nats::HeaderMap;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{DirectGetError, DirectGetErrorKind};
use bytes::Bytes;

use crate::bucket::Bucket;
use crate::classify::{Op, classify, is_wrong_revision, settle};
use crate::entry::{KV_OPERATION, Operation, RawEntry};
use crate::error::{Error, Result};

const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
const ROLLUP: &str = "Nats-Rollup";
const MESSAGE_TTL: &str = "Nats-TTL";

/// A write that lost its compare-and-set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lost;

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

impl Bucket {
    /// Publishes a put, delete or purge and returns its revision.
    pub(crate) async fn write(&self, write: Write<'_>, payload: Bytes) -> Result<u64> {
        if let Ok(revision) = self.publish(write, payload).await? {
            return Ok(revision);
        }
        let current = self
            .last(write.key)
            .await
            .ok()
            .flatten()
            .map(|e| e.revision);
        Err(self.wrong_revision(write, current))
    }

    /// Writes a value only if the key has no live value: first writer wins, also over a delete
    /// or purge marker (whose revision becomes the expected one, keeping any per-key TTL).
    pub(crate) async fn write_create(&self, write: Write<'_>, payload: Bytes) -> Result<u64> {
        let first = write.expect(Expect::Revision(0));
        if let Ok(revision) = self.publish(first, payload.clone()).await? {
            return Ok(revision);
        }
        match self.last(write.key).await? {
            Some(last) if last.operation.is_marker() => {
                self.write(write.expect(Expect::Revision(last.revision)), payload)
                    .await
            }
            last => Err(self.wrong_revision(first, last.map(|l| l.revision))),
        }
    }

    /// Publishes one write: the new revision, or [`Lost`] when its expected revision was not
    /// the key's.
    async fn publish(&self, write: Write<'_>, payload: Bytes) -> Result<Result<u64, Lost>> {
        let mut headers = HeaderMap::new();
        match write.operation {
            Operation::Put => {}
            Operation::Delete => headers.insert(KV_OPERATION, "DEL"),
            Operation::Purge => {
                headers.insert(KV_OPERATION, "PURGE");
                headers.insert(ROLLUP, "sub");
            }
        }
        if let Expect::Revision(revision) = write.expect {
            headers.insert(
                EXPECTED_LAST_SUBJECT_SEQUENCE,
                revision.to_string().as_str(),
            );
        }
        if let Some(ttl) = write.ttl {
            headers.insert(MESSAGE_TTL, ttl.as_secs().to_string().as_str());
        }
        let subject = format!("{}{}", self.prefix(), write.key);
        let size = payload.len();
        let published = self
            .js()
            .publish_with_headers(subject, headers, payload)
            .await;
        let error = match published {
            Ok(ack) => match ack.await {
                Ok(ack) => return Ok(Ok(ack.sequence)),
                Err(e) => e,
            },
            Err(e) => e,
        };
        if is_wrong_revision(&error) {
            return Ok(Err(Lost));
        }
        let op = Op::write(self.name(), write.name);
        let error = settle(self.js(), op, classify(op, error)).await;
        Err(match error {
            Error::ValueTooLarge {
                bucket,
                limit,
                source,
                ..
            } => Error::ValueTooLarge {
                bucket,
                key: write.key.to_owned(),
                size,
                limit,
                source,
            },
            other => other,
        })
    }

    fn wrong_revision(&self, write: Write<'_>, current: Option<u64>) -> Error {
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
        let subject = format!("{}{key}", self.prefix());
        let got = self.stream().direct_get_last_for_subject(subject).await;
        self.found(got, "get").await
    }

    /// The entry at `revision`, if it exists and belongs to `key`.
    pub(crate) async fn at(&self, key: &str, revision: u64) -> Result<Option<RawEntry>> {
        if revision == 0 {
            return Ok(None);
        }
        let got = self.stream().direct_get(revision).await;
        let entry = self.found(got, "get revision").await?;
        Ok(entry.filter(|e| e.key == key))
    }

    async fn found(
        &self,
        got: std::result::Result<StreamMessage, DirectGetError>,
        operation: &'static str,
    ) -> Result<Option<RawEntry>> {
        match got {
            Ok(message) => Ok(Some(self.raw_entry(message))),
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
            Err(e) => {
                let op = Op::read(self.name(), operation);
                Err(settle(self.js(), op, classify(op, e)).await)
            }
        }
    }

    /// Turns a direct get's answer into an entry (`delta` 0).
    pub(crate) fn raw_entry(&self, message: StreamMessage) -> RawEntry {
        let key = message.subject.as_str();
        RawEntry {
            key: key.strip_prefix(self.prefix()).unwrap_or(key).to_owned(),
            operation: Operation::from_headers(Some(&message.headers)),
            payload: message.payload,
            revision: message.sequence,
            created: SystemTime::from(message.time),
            delta: 0,
        }
    }

    /// Turns a consumer's message into an entry.
    pub(crate) fn message_entry(
        &self,
        message: &async_nats::jetstream::Message,
    ) -> Result<RawEntry> {
        let info = message.info().map_err(|e| {
            classify(
                Op::read(self.name(), "watch"),
                std::io::Error::other(e.to_string()),
            )
        })?;
        let subject = message.subject.as_str();
        Ok(RawEntry {
            key: subject
                .strip_prefix(self.prefix())
                .unwrap_or(subject)
                .to_owned(),
            operation: Operation::from_headers(message.headers.as_ref()),
            payload: message.payload.clone(),
            revision: info.stream_sequence,
            created: SystemTime::from(info.published),
            delta: info.pending,
        })
    }
}
