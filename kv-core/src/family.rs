//! Typed key families: every key of one pattern, with one key type and one value type.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

use crate::bucket::Bucket;
use crate::codec::{Codec, MsgPack};
use crate::direct;
use crate::entry::{Current, Entry, Operation, RawEntry};
use crate::error::{Error, Result};
use crate::key::{KeyError, KeyFilter, KvKey, bind_params, parse_key, render_key};
use crate::mode::{Mode, PerKeyTtl, ReadWrite, Writable};
use crate::pattern::KeyPattern;
use crate::raw::{Expect, Write};
use crate::scan::{Scan, ScanSpec};

/// Every key of one pattern (`site.{site}.device.{id}`) in a bucket, typed: keys are `K`,
/// values are `V` encoded with the codec `C`, and the mode `M` says whether it can be written.
///
/// Cheap to clone. Usually a field of a `#[derive(KvBucket)]` struct; [`Family::bind`] makes
/// one by hand.
///
/// Every write (put, create, update, delete, purge, revert, the TTL variants, and the writes of
/// `update_with`) is applied exactly once or not at all, also across a leader election or a
/// node restart: it carries a unique message id, and a copy nobody took or answered is resent
/// within the bucket's duplicate window, which the server answers with the first copy's
/// revision. The caller gets one answer, with the one revision the write was stored at; a
/// compare-and-set whose own earlier copy landed is a success, not a lost race. How long and how
/// often is the bucket handle's [`WriteRetry`](crate::WriteRetry). Sizes are checked before
/// anything is sent.
pub struct Family<K, V, C = MsgPack, M = ReadWrite> {
    bucket: Bucket,
    binding: Arc<Binding>,
    types: Types<K, V, C, M>,
}

/// The family's type parameters, held without owning values of them.
type Types<K, V, C, M> = PhantomData<fn() -> (K, V, C, M)>;

/// A pattern bound to a key type.
#[derive(Debug)]
struct Binding {
    pattern: KeyPattern,
    /// For each pattern parameter, the index of the key type's parameter.
    map: Vec<usize>,
}

impl<K, V, C, M> Clone for Family<K, V, C, M> {
    fn clone(&self) -> Self {
        Family {
            bucket: self.bucket.clone(),
            binding: self.binding.clone(),
            types: PhantomData,
        }
    }
}

impl<K, V, C, M> fmt::Debug for Family<K, V, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("bucket", &self.bucket.name())
            .field("pattern", &self.binding.pattern.as_str())
            .finish_non_exhaustive()
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Family<K, V, C, M> {
    /// Binds the key pattern `pattern` of `bucket` to the key type `K`.
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// use natskv::{Bucket, BucketSpec, Family};
    /// let bucket = Bucket::ensure(&nats, &BucketSpec::new("sessions")).await?;
    /// let sessions: Family<String, Vec<u8>> = Family::bind(&bucket, "session.{id}")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidPattern`] when the pattern is not valid or does not fit `K`;
    /// [`Error::InvalidConfig`] for a writable mode on a read-only bucket (a mirror): bind it
    /// with [`ReadOnly`](crate::ReadOnly).
    pub fn bind(bucket: &Bucket, pattern: &str) -> Result<Self> {
        if M::WRITABLE && !bucket.is_writable() {
            return Err(Error::InvalidConfig {
                bucket: bucket.name().to_owned(),
                reason: "the bucket is read-only (a mirror or a read-only aggregate); \
                         bind its families with natskv::ReadOnly"
                    .to_owned(),
            });
        }
        let invalid = |source: Box<dyn std::error::Error + Send + Sync>| Error::InvalidPattern {
            bucket: bucket.name().to_owned(),
            pattern: pattern.to_owned(),
            source,
        };
        let pattern = KeyPattern::parse(pattern).map_err(|e| invalid(Box::new(e)))?;
        let map = bind_params::<K>(&pattern).map_err(|e| invalid(Box::new(e)))?;
        Ok(Family {
            bucket: bucket.clone(),
            binding: Arc::new(Binding { pattern, map }),
            types: PhantomData,
        })
    }

    /// The bucket this family lives in.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The family's key pattern.
    pub fn pattern(&self) -> &KeyPattern {
        &self.binding.pattern
    }

    /// The key `key` renders to.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when a parameter is not a valid single token, or the key is longer
    /// than [`Bucket::max_key_len`].
    pub fn key(&self, key: &K) -> Result<String> {
        let rendered = render_key(&self.binding.pattern, &self.binding.map, key)
            .map_err(|e| self.invalid_key(e))?;
        self.bucket.check_key_len(&rendered)?;
        Ok(rendered)
    }

    /// Parses a key of this family back into `K`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when the key does not have the pattern's shape, or a token is not
    /// the exact text of its parameter's type.
    pub fn parse_key(&self, key: &str) -> Result<K> {
        parse_key(&self.binding.pattern, &self.binding.map, key).map_err(|e| self.invalid_key(e))
    }

    /// The subject filter (`$KV.<bucket>.<filter>`) of a partial key.
    pub(crate) fn subject_filter(&self, filter: &KeyFilter<K>) -> Result<String> {
        let filter = filter
            .to_subject_filter(&self.binding.pattern, &self.binding.map)
            .map_err(|e| self.invalid_key(e))?;
        Ok(format!("{}{filter}", self.bucket.prefix()))
    }

    fn invalid_key(&self, source: KeyError) -> Error {
        self.bucket.invalid_key(source)
    }

    /// Parses a stored key; one that does not parse is [`Error::ForeignKey`] with its revision.
    fn parse_stored(&self, raw: &RawEntry) -> Result<K> {
        parse_key(&self.binding.pattern, &self.binding.map, &raw.key).map_err(|source| {
            Error::ForeignKey {
                bucket: self.bucket.name().to_owned(),
                key: raw.key.clone(),
                revision: raw.revision,
                source,
            }
        })
    }

    /// Decodes a stored value; one that does not decode is [`Error::Codec`] with its key and
    /// revision.
    fn decode_value(&self, raw: &RawEntry) -> Result<V> {
        C::decode(&raw.payload).map_err(|source| Error::Codec {
            bucket: self.bucket.name().to_owned(),
            key: raw.key.clone(),
            revision: Some(raw.revision),
            decoding: true,
            source,
        })
    }

    /// Turns a raw entry into a typed one; `with_value` is false for meta-only reads.
    pub(crate) fn decode(&self, raw: &RawEntry, with_value: bool) -> Result<Entry<K, V>> {
        let key = self.parse_stored(raw)?;
        let value = if with_value && raw.operation == Operation::Put {
            Some(self.decode_value(raw)?)
        } else {
            None
        };
        Ok(Entry {
            key,
            value,
            revision: raw.revision,
            created: raw.created,
            delta: raw.delta,
            operation: raw.operation,
            bucket: self.bucket.shared_name(),
        })
    }

    /// Turns a raw put into a key's live value (the caller has checked it is no marker).
    fn decode_current(&self, raw: &RawEntry) -> Result<Current<K, V>> {
        Ok(Current {
            key: self.parse_stored(raw)?,
            value: self.decode_value(raw)?,
            revision: raw.revision,
            created: raw.created,
            bucket: self.bucket.shared_name(),
        })
    }

    fn encode(&self, key: &str, value: &V) -> Result<Bytes> {
        C::encode(value).map_err(|source| Error::Codec {
            bucket: self.bucket.name().to_owned(),
            key: key.to_owned(),
            revision: None,
            decoding: false,
            source,
        })
    }

    /// The key's latest value with its revision, as a [`Current`], or `None` when the key has
    /// none (never written, deleted or purged: [`latest`](Self::latest) tells these apart).
    /// Read with a direct get, which any replica answers; on a bucket without direct gets (as
    /// nats-py creates them), from the stream's leader.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// if let Some(current) = sessions.get(&"abc".to_owned()).await? {
    ///     println!("revision {}: {:?}", current.revision, current.value);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] before any wire call; [`Error::Codec`] with key and revision when
    /// the stored value does not decode as `V`.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn get(&self, key: &K) -> Result<Option<Current<K, V>>> {
        let rendered = self.key(key)?;
        match self.bucket.last(&rendered).await? {
            Some(raw) if raw.operation == Operation::Put => self.decode_current(&raw).map(Some),
            _ => Ok(None),
        }
    }

    /// The key's latest entry, delete and purge markers included: a marker's `value` is `None`,
    /// and its revision, operation and time say how and when the key lost its value. `None`
    /// only for a key that was never written (or whose every revision is gone). [`get`] reads
    /// the same entry and returns only a value, as a [`Current`].
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// if let Some(entry) = sessions.latest(&"abc".to_owned()).await? {
    ///     if entry.is_marker() {
    ///         println!("{:?} at revision {}", entry.operation, entry.revision);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`].
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    ///
    /// [`get`]: Self::get
    pub async fn latest(&self, key: &K) -> Result<Option<Entry<K, V>>> {
        let rendered = self.key(key)?;
        match self.bucket.last(&rendered).await? {
            Some(raw) => self.decode(&raw, true).map(Some),
            None => Ok(None),
        }
    }

    /// The latest values of many keys at once, one result per key in the order given: its
    /// [`Current`], `None` for a key without a live value, an [`Error::InvalidKey`] or
    /// [`Error::Codec`] item for a key that cannot be rendered or a value that does not decode
    /// (one bad key never hides the others). Read without a consumer, through batch direct
    /// gets (ADR-31, nats-server 2.12+; 1,024 keys per request, those after the first sent
    /// together), as one consistent snapshot: every value as of the same revision. On older
    /// servers, or buckets without direct gets, the keys are read one by one.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// let keys = ["a".to_owned(), "b".to_owned()];
    /// for (key, current) in keys.iter().zip(sessions.get_many(&keys).await?) {
    ///     println!("{key}: {:?}", current?.map(|current| current.revision));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The whole call fails only for what concerns every key: the bucket is gone
    /// ([`Error::BucketNotFound`]), unavailable, or the read timed out.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn get_many<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k K>,
    ) -> Result<Vec<Result<Option<Current<K, V>>>>>
    where
        K: 'k,
    {
        // Each distinct key once, numbered in the order first asked.
        let prefix = self.bucket.prefix();
        let mut slots: HashMap<String, usize> = HashMap::new();
        let mut subjects = Vec::new();
        let positions: Vec<Result<usize>> = keys
            .into_iter()
            .map(|key| {
                let next = slots.len();
                let slot = slots.entry(self.key(key)?).or_insert_with_key(|key| {
                    subjects.push(format!("{prefix}{key}"));
                    next
                });
                Ok(*slot)
            })
            .collect();
        let mut latest: Vec<Option<RawEntry>> = vec![None; subjects.len()];
        if !subjects.is_empty() && direct::supported(&self.bucket) {
            let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
            direct::last_many(&self.bucket, &subjects, |raw| {
                if let Some(&slot) = slots.get(raw.key.as_str()) {
                    latest[slot] = Some(raw);
                }
            })
            .await?;
        } else {
            for (slot, subject) in latest.iter_mut().zip(&subjects) {
                *slot = self.bucket.last(&subject[prefix.len()..]).await?;
            }
        }
        Ok(positions
            .into_iter()
            .map(|slot| match &latest[slot?] {
                Some(raw) if raw.operation == Operation::Put => self.decode_current(raw).map(Some),
                _ => Ok(None),
            })
            .collect())
    }

    /// The latest values of every key matching a partial key (all devices of one site), each
    /// a [`Current`], as one consistent snapshot: every write up to the revision it reports is
    /// reflected, none after it. Keys without a live value (deleted or purged) are left out; a
    /// value that does not decode is an [`Error::Codec`] item and a key that does not parse
    /// into `K` an [`Error::ForeignKey`] item (of kind `InvalidKey`), in place of their
    /// values. Items come in revision order.
    ///
    /// Read without a consumer, through batch direct gets (ADR-31 `multi_last`, nats-server
    /// 2.12+): one request when at most 1,024 keys match; beyond that, one stream-info request
    /// lists the matching keys and they are read 1,024 to a request, all pinned to one
    /// revision. On older servers, or buckets without direct gets, through an ordered
    /// consumer, which is deleted before the call returns.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// let all = sessions.get_matching(natskv::KeyFilter::any()).await?;
    /// println!("{} sessions as of revision {}", all.entries.len(), all.revision);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] before any wire call when a fixed parameter is not a valid
    /// token; [`Error::BucketNotFound`] when the bucket is gone; [`Error::Timeout`] when the
    /// server stops answering.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn get_matching(&self, filter: impl Into<KeyFilter<K>>) -> Result<Snapshot<K, V>> {
        let subject = self.subject_filter(&filter.into())?;
        let mut latest = Vec::new();
        let revision = if direct::supported(&self.bucket) {
            direct::last_matching(&self.bucket, &subject, |raw| latest.push(raw)).await?
        } else {
            self.scan_latest(subject, &mut latest).await?
        };
        latest.retain(|raw| raw.operation == Operation::Put);
        latest.sort_unstable_by_key(|raw| raw.revision);
        Ok(Snapshot {
            revision,
            entries: latest.iter().map(|raw| self.decode_current(raw)).collect(),
        })
    }

    /// [`get_matching`](Self::get_matching) through an ordered consumer: it delivers each
    /// key's latest entry as of its creation, then what was written since, in revision order,
    /// so the last entry of each key is its latest as of the last revision delivered.
    async fn scan_latest(&self, subject: String, latest: &mut Vec<RawEntry>) -> Result<u64> {
        let spec = ScanSpec {
            filters: vec![subject],
            deliver: DeliverPolicy::LastPerSubject,
            headers_only: false,
            follow: false,
        };
        let mut revision = direct::last_revision(&self.bucket, "get matching").await?;
        let mut scan = Scan::start(&self.bucket, spec).await?;
        let mut slots: HashMap<String, usize> = HashMap::new();
        while let Some(raw) = scan.next().await {
            let raw = raw?;
            revision = revision.max(raw.revision);
            if let Some(&slot) = slots.get(raw.key.as_str()) {
                latest[slot] = raw;
            } else {
                slots.insert(raw.key.clone(), latest.len());
                latest.push(raw);
            }
        }
        Ok(revision)
    }

    /// The key's latest value alone.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// let value: Option<Vec<u8>> = sessions.value(&"abc".to_owned()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn value(&self, key: &K) -> Result<Option<V>> {
        Ok(self.get(key).await?.map(|current| current.value))
    }

    /// The key's entry at `revision`, markers included (their value is `None`); `None` when the
    /// revision does not exist or belongs to another key.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// let old = sessions.get_revision(&"abc".to_owned(), 3).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get`](Self::get).
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn get_revision(&self, key: &K, revision: u64) -> Result<Option<Entry<K, V>>> {
        let rendered = self.key(key)?;
        match self.bucket.at(&rendered, revision).await? {
            Some(raw) => self.decode(&raw, true).map(Some),
            None => Ok(None),
        }
    }

    /// Every kept revision of the key, oldest first, markers included, as a stream that ends
    /// after the latest. Each entry's `delta` counts the newer entries still to come.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let all: Vec<_> = sessions.history(&"abc".to_owned()).await?.try_collect().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] before any wire call; each undecodable value is one
    /// [`Error::Codec`] item and the stream goes on.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn history(&self, key: &K) -> Result<History<K, V, C, M>> {
        let subject = format!("{}{}", self.bucket.prefix(), self.key(key)?);
        let entries = if direct::supported(&self.bucket) {
            direct::read(&self.bucket, subject).await?
        } else {
            let spec = ScanSpec {
                filters: vec![subject],
                deliver: DeliverPolicy::All,
                headers_only: false,
                follow: false,
            };
            Scan::start(&self.bucket, spec).await?.boxed()
        };
        Ok(History {
            entries,
            family: self.clone(),
        })
    }

    /// The keys of this family that have a live value, filtered on the server by a partial key
    /// (`KeyFilter::any()` for all), streamed. A key in the bucket that has the pattern's shape
    /// but does not parse into `K` (written by someone else) is one [`Error::ForeignKey`] item
    /// (of kind `InvalidKey`).
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let ids: Vec<String> = sessions.keys(natskv::KeyFilter::any()).await?.try_collect().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when a fixed parameter is not a valid token.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn keys(&self, filter: impl Into<KeyFilter<K>>) -> Result<Keys<K, V, C, M>> {
        let spec = ScanSpec {
            filters: vec![self.subject_filter(&filter.into())?],
            deliver: DeliverPolicy::LastPerSubject,
            headers_only: true,
            follow: false,
        };
        Ok(Keys {
            scan: Scan::start(&self.bucket, spec).await?,
            family: self.clone(),
        })
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Writable> Family<K, V, C, M> {
    /// The key rendered and the value encoded, ready for the wire.
    fn rendered(&self, key: &K, value: &V) -> Result<(String, Bytes)> {
        let rendered = self.key(key)?;
        let payload = self.encode(&rendered, value)?;
        Ok((rendered, payload))
    }

    async fn write_value(&self, key: &K, value: &V, expect: Option<Expect>) -> Result<u64> {
        let (rendered, payload) = self.rendered(key, value)?;
        let name = if expect.is_some() { "update" } else { "put" };
        let write =
            Write::new(name, &rendered, Operation::Put).expect(expect.unwrap_or(Expect::Any));
        self.bucket.write(write, payload).await
    }

    async fn marker(
        &self,
        key: &K,
        operation: Operation,
        expect: Expect,
        ttl: Option<Duration>,
    ) -> Result<u64> {
        let rendered = self.key(key)?;
        let name = if operation == Operation::Delete {
            "delete"
        } else {
            "purge"
        };
        let write = Write::new(name, &rendered, operation)
            .expect(expect)
            .ttl(ttl);
        self.bucket.write(write, Bytes::new()).await
    }

    async fn create_inner(&self, key: &K, value: &V, ttl: Option<Duration>) -> Result<u64> {
        let (rendered, payload) = self.rendered(key, value)?;
        self.bucket
            .write_create(
                Write::new("create", &rendered, Operation::Put).ttl(ttl),
                payload,
            )
            .await
    }

    /// Writes the key's value and returns its revision.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// let revision = sessions.put(&"abc".to_owned(), &vec![1, 2, 3]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] or [`Error::Codec`] before any wire call (nothing is written);
    /// [`Error::ValueTooLarge`], with the limit, before any wire call when the value and its
    /// headers exceed the bucket's largest value or the server's `max_payload`; when the
    /// bucket's [`WriteRetry`](crate::WriteRetry) runs out, [`Error::Unavailable`] (nobody took
    /// the write) or [`Error::Timeout`] (nobody answered), whose `may_have_applied` says whether
    /// an earlier copy may have landed; [`Error::BucketNotFound`] when the bucket is gone.
    ///
    /// # Cancel safety
    /// Not cancel safe: the value may be written even if the future is dropped.
    pub async fn put(&self, key: &K, value: &V) -> Result<u64> {
        self.write_value(key, value, None).await
    }

    /// Writes many values at once and returns one result per entry, in the order given: the
    /// revision the entry was stored at, or that entry's own error. An entry whose key cannot
    /// be rendered ([`Error::InvalidKey`]), whose value does not encode ([`Error::Codec`]) or
    /// is too large ([`Error::ValueTooLarge`]) is not sent; the others are written, so one bad
    /// entry never hides or stops another. Takes pairs of references, as a map's `iter()` or
    /// `keys.iter().zip(&values)` yield them.
    ///
    /// Far faster than a loop of [`put`](Self::put)s: the writes are pipelined on the
    /// connection (up to 1,024 awaiting their acknowledgement at once, all answered on one
    /// subscription), and each acknowledgement gives its own write's revision. Every write
    /// keeps what a single put promises: it carries its own message id and is resent, as the
    /// bucket's [`WriteRetry`](crate::WriteRetry) allows, until the server answers it, so it is
    /// applied exactly once; one whose answer never came is [`Error::Timeout`] with
    /// `may_have_applied`. Entries of the same key are written in the order given (the last
    /// one wins), each once the one before it is answered.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// let keys = ["a".to_owned(), "b".to_owned()];
    /// let values = [vec![1], vec![2]];
    /// for (key, revision) in keys.iter().zip(sessions.put_many(keys.iter().zip(&values)).await?) {
    ///     println!("{key}: {:?}", revision.map_err(|e| e.kind()));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The whole call fails only for what concerns every entry: the bucket is gone
    /// ([`Error::BucketNotFound`]), the server has no JetStream, or the connection may not
    /// write to the bucket ([`Error::PermissionDenied`]; entries sent before the server said
    /// so may have been written). Otherwise each entry's result is as [`put`](Self::put)'s.
    ///
    /// # Cancel safety
    /// Not cancel safe: some of the values may be written even if the future is dropped.
    pub async fn put_many<'e>(
        &self,
        entries: impl IntoIterator<Item = (&'e K, &'e V)>,
    ) -> Result<Vec<Result<u64>>>
    where
        K: 'e,
        V: 'e,
    {
        let writes = entries
            .into_iter()
            .map(|(key, value)| self.rendered(key, value))
            .collect();
        self.bucket.put_many(writes).await
    }

    /// Writes the value only if the key has no live value (never written, deleted or purged):
    /// the first writer wins.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// let revision = sessions.create(&"abc".to_owned(), &vec![1]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::WrongRevision`] (expected `0`, with the current revision) when the key has a
    /// value; otherwise as [`put`](Self::put).
    ///
    /// # Cancel safety
    /// Not cancel safe: the value may be written even if the future is dropped.
    pub async fn create(&self, key: &K, value: &V) -> Result<u64> {
        self.create_inner(key, value, None).await
    }

    /// Compare-and-set: writes the value only if the key's latest revision is `revision`.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// let key = "abc".to_owned();
    /// let rev = sessions.put(&key, &vec![1]).await?;
    /// let rev = sessions.update(&key, &vec![2], rev).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::WrongRevision`] with the key and its current revision when another write came
    /// first; otherwise as [`put`](Self::put).
    ///
    /// # Cancel safety
    /// Not cancel safe: the value may be written even if the future is dropped.
    pub async fn update(&self, key: &K, value: &V, revision: u64) -> Result<u64> {
        self.write_value(key, value, Some(Expect::Revision(revision)))
            .await
    }

    /// Deletes the key: leaves a delete marker, keeps earlier revisions. Returns the marker's
    /// revision.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// sessions.delete(&"abc".to_owned()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] before any wire call; otherwise as [`put`](Self::put).
    ///
    /// # Cancel safety
    /// Not cancel safe: the key may be deleted even if the future is dropped.
    pub async fn delete(&self, key: &K) -> Result<u64> {
        self.marker(key, Operation::Delete, Expect::Any, None).await
    }

    /// Deletes the key only if its latest revision is `revision`.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// sessions.delete_if(&"abc".to_owned(), 7).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::WrongRevision`] when the key moved on; otherwise as [`put`](Self::put).
    ///
    /// # Cancel safety
    /// Not cancel safe: the key may be deleted even if the future is dropped.
    pub async fn delete_if(&self, key: &K, revision: u64) -> Result<u64> {
        self.marker(key, Operation::Delete, Expect::Revision(revision), None)
            .await
    }

    /// Purges the key: removes every revision and leaves one purge marker.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// sessions.purge(&"abc".to_owned()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] before any wire call; otherwise as [`put`](Self::put).
    ///
    /// # Cancel safety
    /// Not cancel safe: the key may be purged even if the future is dropped.
    pub async fn purge(&self, key: &K) -> Result<u64> {
        self.marker(key, Operation::Purge, Expect::Any, None).await
    }

    /// Purges the key only if its latest revision is `revision`.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// sessions.purge_if(&"abc".to_owned(), 7).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::WrongRevision`] when the key moved on; otherwise as [`put`](Self::put).
    ///
    /// # Cancel safety
    /// Not cancel safe: the key may be purged even if the future is dropped.
    pub async fn purge_if(&self, key: &K, revision: u64) -> Result<u64> {
        self.marker(key, Operation::Purge, Expect::Revision(revision), None)
            .await
    }

    /// Makes the value the key had at `revision` its latest value again; returns the new
    /// revision.
    ///
    /// ```no_run
    /// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
    /// sessions.revert(&"abc".to_owned(), 3).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::RevisionNotFound`] when `revision` is not a value of this key (any more);
    /// otherwise as [`put`](Self::put).
    ///
    /// # Cancel safety
    /// Not cancel safe: the value may be written even if the future is dropped.
    pub async fn revert(&self, key: &K, revision: u64) -> Result<u64> {
        let rendered = self.key(key)?;
        match self.bucket.at(&rendered, revision).await? {
            Some(raw) if raw.operation == Operation::Put => {
                self.bucket
                    .write(Write::new("revert", &rendered, Operation::Put), raw.payload)
                    .await
            }
            _ => Err(Error::RevisionNotFound {
                bucket: self.bucket.name().to_owned(),
                key: rendered,
                revision,
            }),
        }
    }
}

impl<K: KvKey, V, C: Codec<V>> Family<K, V, C, PerKeyTtl> {
    /// As [`create`](Self::create), and the value expires after `ttl` (whole seconds, at
    /// least one; ADR-48). When the value expires the server leaves a limit marker, read as a
    /// [`Operation::Purge`]. The server raises a TTL below the bucket's limit-marker TTL to it.
    ///
    /// ```no_run
    /// # async fn demo(locks: natskv::Family<String, String, natskv::MsgPack, natskv::PerKeyTtl>) -> natskv::Result<()> {
    /// locks.create_with_ttl(&"leader".to_owned(), &"me".to_owned(), std::time::Duration::from_secs(10)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a TTL under one second (refused, not truncated), before any
    /// wire call; otherwise as [`create`](Self::create).
    ///
    /// # Cancel safety
    /// Not cancel safe: the value may be written even if the future is dropped.
    pub async fn create_with_ttl(&self, key: &K, value: &V, ttl: Duration) -> Result<u64> {
        let ttl = self.check_ttl(ttl)?;
        self.create_inner(key, value, Some(ttl)).await
    }

    /// As [`purge`](Self::purge), and the purge marker itself expires after `ttl`.
    ///
    /// ```no_run
    /// # async fn demo(locks: natskv::Family<String, String, natskv::MsgPack, natskv::PerKeyTtl>) -> natskv::Result<()> {
    /// locks.purge_with_ttl(&"leader".to_owned(), std::time::Duration::from_secs(60)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`create_with_ttl`](Self::create_with_ttl).
    ///
    /// # Cancel safety
    /// Not cancel safe: the key may be purged even if the future is dropped.
    pub async fn purge_with_ttl(&self, key: &K, ttl: Duration) -> Result<u64> {
        let ttl = self.check_ttl(ttl)?;
        self.marker(key, Operation::Purge, Expect::Any, Some(ttl))
            .await
    }

    fn check_ttl(&self, ttl: Duration) -> Result<Duration> {
        if ttl < Duration::from_secs(1) || ttl.subsec_nanos() != 0 {
            return Err(Error::InvalidConfig {
                bucket: self.bucket.name().to_owned(),
                reason: format!(
                    "per-key TTL {ttl:?} is not a whole number of seconds of at least 1s"
                ),
            });
        }
        Ok(ttl)
    }
}

/// The latest values of the keys matching a partial key, as of one revision: see
/// [`Family::get_matching`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Snapshot<K, V> {
    /// The revision the snapshot is as of: every write at or below it is reflected, none
    /// above it (0 for a bucket that was never written).
    pub revision: u64,
    /// One item per key with a live value, in revision order: its value, or the error that
    /// kept it from being read (a value that does not decode, a key that does not parse).
    pub entries: Vec<Result<Current<K, V>>>,
}

/// The revisions of one key, oldest first: see [`Family::history`].
///
/// Read with batch direct gets where the server allows them (nats-server 2.12+), which leave
/// nothing on the server; otherwise through a consumer, which is deleted when the history
/// ends, or in the background when it is dropped before (no runtime is needed in `Drop`).
pub struct History<K, V, C = MsgPack, M = ReadWrite> {
    entries: BoxStream<'static, Result<RawEntry>>,
    family: Family<K, V, C, M>,
}

impl<K, V, C, M> fmt::Debug for History<K, V, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History")
            .field("bucket", &self.family.bucket.name())
            .finish_non_exhaustive()
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Stream for History<K, V, C, M> {
    type Item = Result<Entry<K, V>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.entries
            .poll_next_unpin(cx)
            .map(|item| item.map(|raw| raw.and_then(|raw| this.family.decode(&raw, true))))
    }
}

/// The live keys of a family: see [`Family::keys`].
///
/// Read through a headers-only consumer (no value bytes are sent), which is deleted before the
/// stream's final `None`, or in the background when the stream is dropped before its end (no
/// runtime is needed in `Drop`).
pub struct Keys<K, V, C = MsgPack, M = ReadWrite> {
    scan: Scan,
    family: Family<K, V, C, M>,
}

impl<K, V, C, M> fmt::Debug for Keys<K, V, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("scan", &self.scan)
            .finish_non_exhaustive()
    }
}

impl<K: KvKey, V, C: Codec<V>, M: Mode> Stream for Keys<K, V, C, M> {
    type Item = Result<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            return match this.scan.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(raw))) if raw.operation.is_marker() => continue,
                Poll::Ready(Some(Ok(raw))) => Poll::Ready(Some(this.family.parse_stored(&raw))),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
