//! One bucket on the wire: reads by key and revision, ordered consumers over keys, and writes.
//!
//! Keys are checked by natskv's rules (any valid subject tokens), wider than async-nats's
//! `Store` methods allow, so reads and writes go to the bucket's stream directly, as the Key/Value
//! protocol lays it out: subject `$KV.<bucket>.<key>`, the operation in a `KV-Operation` header.

use std::collections::VecDeque;
use std::fmt;

use async_nats::Client;
use async_nats::header::{self, HeaderMap};
use async_nats::jetstream::consumer::push::{Ordered, OrderedConfig};
use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;

use super::{BucketInfo, errors};
use crate::entry::{Entry, Operation};
use crate::error::{Error, Result};

/// How many writes `write_all` keeps unacknowledged.
const IN_FLIGHT: usize = 256;

/// The header NATS Key/Value writes the operation in.
const KV_OPERATION: &str = "KV-Operation";

/// An open bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    client: Client,
    jetstream: jetstream::Context,
    store: kv::Store,
    info: BucketInfo,
}

/// Where a consumer over a bucket starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// The current entry of each key.
    Current,
    /// Every entry the bucket keeps.
    All,
    /// Only entries written from now on.
    New,
    /// Every entry from this revision on.
    From(u64),
}

impl Bucket {
    pub(super) fn new(
        client: Client,
        jetstream: jetstream::Context,
        store: kv::Store,
    ) -> Result<Self> {
        let info = BucketInfo::of_stream(store.stream.cached_info()).ok_or_else(|| {
            Error::new(
                crate::error::ErrorKind::Server,
                format!("stream `{}` is not a bucket", store.stream_name),
            )
        })?;
        Ok(Self {
            client,
            jetstream,
            store,
            info,
        })
    }

    /// The bucket's configuration and size when it was opened.
    pub(crate) fn info(&self) -> &BucketInfo {
        &self.info
    }

    /// The bucket's name.
    pub(crate) fn name(&self) -> &str {
        &self.info.name
    }

    /// The latest entry of `key` (which may be a delete or purge marker).
    pub(crate) async fn last(&self, key: &str) -> Result<Option<Entry>> {
        check_key(key)?;
        let subject = format!("{}{key}", self.store.prefix);
        match self
            .store
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            Ok(message) => Ok(Some(self.entry_of(message))),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(errors::wire(format!("cannot read `{key}`"), e)),
        }
    }

    /// The entry of `key` at `revision`, when the bucket still keeps it.
    pub(crate) async fn at_revision(&self, key: &str, revision: u64) -> Result<Option<Entry>> {
        check_key(key)?;
        match self.store.stream.get_raw_message(revision).await {
            Ok(message) => {
                let entry = self.entry_of(message);
                Ok((entry.key == key).then_some(entry))
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(errors::wire(
                format!("cannot read `{key}` at revision {revision}"),
                e,
            )),
        }
    }

    /// The entries of the keys `filters` match (all keys when empty), from `start`. The
    /// entries end after the last one the bucket held when they began, unless `start` is
    /// [`Start::New`] or `endless` is set: then they go on with every change.
    pub(crate) async fn entries(
        &self,
        filters: &[String],
        start: Start,
        headers_only: bool,
        endless: bool,
    ) -> Result<Entries> {
        for filter in filters {
            natskv_core::names::validate_filter(filter).map_err(|e| Error::usage(e.to_string()))?;
        }
        let mut subjects: Vec<String> = filters
            .iter()
            .map(|f| format!("{}{f}", self.store.prefix))
            .collect();
        if subjects.is_empty() {
            subjects.push(format!("{}>", self.store.prefix));
        }
        let (filter_subject, filter_subjects) = if subjects.len() == 1 {
            (subjects.remove(0), Vec::new())
        } else {
            (String::new(), subjects)
        };
        let deliver_policy = match start {
            Start::Current => DeliverPolicy::LastPerSubject,
            Start::All => DeliverPolicy::All,
            Start::New => DeliverPolicy::New,
            Start::From(revision) => DeliverPolicy::ByStartSequence {
                start_sequence: revision,
            },
        };
        let consumer = self
            .store
            .stream
            .create_consumer(OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                description: Some("natskv cli".to_owned()),
                filter_subject,
                filter_subjects,
                replay_policy: ReplayPolicy::Instant,
                headers_only,
                deliver_policy,
                ..OrderedConfig::default()
            })
            .await
            .map_err(|e| errors::wire(format!("cannot read bucket `{}`", self.name()), e))?;
        let pending = consumer.cached_info().num_pending;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| errors::wire(format!("cannot read bucket `{}`", self.name()), e))?;
        Ok(Entries {
            messages,
            prefix: self.store.prefix.clone(),
            pending,
            remaining: (!endless && start != Start::New).then_some(pending),
        })
    }

    /// Writes `value` to `key`; returns the new revision.
    pub(crate) async fn put(&self, key: &str, value: Bytes) -> Result<u64> {
        self.publish(key, HeaderMap::new(), value).await
    }

    /// Deletes `key`, leaving a delete marker; returns its revision.
    pub(crate) async fn delete(&self, key: &str) -> Result<u64> {
        self.publish(key, marker(Operation::Delete), Bytes::new())
            .await
    }

    /// Purges `key`: removes its history, leaving a purge marker; returns its revision.
    pub(crate) async fn purge(&self, key: &str) -> Result<u64> {
        self.publish(key, marker(Operation::Purge), Bytes::new())
            .await
    }

    /// Writes each of `writes` in order, keeping up to [`IN_FLIGHT`] unacknowledged, and calls
    /// `written` after each acknowledgement. Stops at the first failure (the writes before it
    /// are stored; the ones in flight may be).
    pub(crate) async fn write_all(
        &self,
        writes: impl IntoIterator<Item = (String, Operation, Bytes)>,
        mut written: impl FnMut(Operation),
    ) -> Result<()> {
        let mut in_flight: VecDeque<(String, Operation, PublishAckFuture)> = VecDeque::new();
        for (key, operation, value) in writes {
            if in_flight.len() == IN_FLIGHT
                && let Some((key, operation, ack)) = in_flight.pop_front()
            {
                acknowledged(&key, ack).await?;
                written(operation);
            }
            let (headers, value) = match operation {
                Operation::Put => (HeaderMap::new(), value),
                Operation::Delete => (marker(Operation::Delete), Bytes::new()),
                Operation::Purge => (marker(Operation::Purge), Bytes::new()),
            };
            let ack = self.send(&key, headers, value).await?;
            in_flight.push_back((key, operation, ack));
        }
        for (key, operation, ack) in in_flight {
            acknowledged(&key, ack).await?;
            written(operation);
        }
        Ok(())
    }

    async fn publish(&self, key: &str, headers: HeaderMap, value: Bytes) -> Result<u64> {
        let ack = self.send(key, headers, value).await?;
        acknowledged(key, ack).await
    }

    /// Sends a write; the returned future waits for its acknowledgement.
    async fn send(&self, key: &str, headers: HeaderMap, value: Bytes) -> Result<PublishAckFuture> {
        check_key(key)?;
        let prefix = self.store.put_prefix.as_ref().unwrap_or(&self.store.prefix);
        self.jetstream
            .publish_with_headers(format!("{prefix}{key}"), headers, value)
            .await
            .map_err(|e| errors::wire(format!("cannot write `{key}`"), e))
    }

    fn entry_of(&self, message: StreamMessage) -> Entry {
        let key = message
            .subject
            .strip_prefix(self.store.prefix.as_str())
            .unwrap_or(&message.subject)
            .to_owned();
        Entry {
            operation: operation(Some(&message.headers)),
            key,
            revision: message.sequence,
            created: message.time,
            value: message.payload,
        }
    }
}

/// The entries an ordered consumer delivers.
pub(crate) struct Entries {
    messages: Ordered,
    prefix: String,
    pending: u64,
    /// How many entries are left to the end; `None` for an endless watch.
    remaining: Option<u64>,
}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entries")
            .field("prefix", &self.prefix)
            .field("pending", &self.pending)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl Entries {
    /// How many entries there were to deliver when the consumer began.
    pub(crate) fn pending(&self) -> u64 {
        self.pending
    }

    /// The next entry; `None` at the end.
    ///
    /// # Cancel safety
    /// Cancel safe: a message is taken from the consumer only when this returns.
    pub(crate) async fn next(&mut self) -> Option<Result<Entry>> {
        if self.remaining == Some(0) {
            return None;
        }
        let message = match self.messages.next().await? {
            Ok(message) => message,
            Err(e) => return Some(Err(errors::wire("the consumer failed", e))),
        };
        let info = match message.info() {
            Ok(info) => (info.stream_sequence, info.pending, info.published),
            Err(e) => return Some(Err(errors::wire("a message without metadata", e))),
        };
        let (revision, pending, created) = info;
        if self.remaining.is_some() {
            self.remaining = Some(pending);
        }
        let key = message
            .subject
            .strip_prefix(self.prefix.as_str())
            .unwrap_or(&message.subject)
            .to_owned();
        Some(Ok(Entry {
            operation: operation(message.headers.as_ref()),
            key,
            revision,
            created,
            value: message.payload.clone(),
        }))
    }
}

/// The operation the headers record, as async-nats reads it: `KV-Operation`, or a server
/// marker's reason.
fn operation(headers: Option<&HeaderMap>) -> Operation {
    let Some(headers) = headers else {
        return Operation::Put;
    };
    if let Some(name) = headers.get(KV_OPERATION) {
        return Operation::parse(name.as_str()).unwrap_or(Operation::Put);
    }
    match headers
        .get(header::NATS_MARKER_REASON)
        .map(async_nats::HeaderValue::as_str)
    {
        Some("MaxAge" | "Purge") => Operation::Purge,
        Some("Remove") => Operation::Delete,
        _ => Operation::Put,
    }
}

/// The headers of a delete or purge marker (a purge also rolls up the key's history).
fn marker(operation: Operation) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(KV_OPERATION, operation.as_str());
    if operation == Operation::Purge {
        headers.insert(header::NATS_ROLLUP, "sub");
    }
    headers
}

/// The revision of a write, once the server acknowledges it.
async fn acknowledged(key: &str, ack: PublishAckFuture) -> Result<u64> {
    ack.await
        .map(|ack| ack.sequence)
        .map_err(|e| errors::wire(format!("cannot write `{key}`"), e))
}

fn check_key(key: &str) -> Result<()> {
    natskv_core::names::validate_key(key).map_err(|e| Error::usage(e.to_string()))
}
