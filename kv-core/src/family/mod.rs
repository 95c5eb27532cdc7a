//! Typed key families: every key of one pattern, with one key type and one value type.
//!
//! This module owns the [`Family`] handle and what every operation shares: binding a pattern to
//! a key type, rendering and parsing keys, and decoding stored entries. The operations live in
//! its submodules, one file each by what they do: `reads`, `writes` and `streams`.
//!
//! Other modules own only their own types (`cache` the [`Cache`](crate::Cache), `update` the
//! read-modify-write builder, `watch` the watches) and reach a family through its public methods
//! and two crate-private ones: [`Family::decode`] and [`Family::subject_filter`].

// The operations, one file each, declared in the order the documentation lists them (rustdoc
// lists a submodule's methods before this module's own, so `bind` and the key methods come last).
// Reads: one key's latest value, many keys', a partial key's, and a key's entry at a revision.
mod reads;
// Writes: put, create, compare-and-set, delete, purge, revert, the per-key TTL writes, and the
// entry points of `put_many` and of the read-modify-write loops.
mod writes;
// Streams: a key's history, the family's keys, and the entry points of watches and caches.
mod streams;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::bucket::Bucket;
use crate::codec::{Codec, MsgPack};
use crate::entry::{Current, Entry, Operation, RawEntry};
use crate::error::{Error, Result};
use crate::key::{KeyError, KeyFilter, KvKey, bind_params, parse_key, render_key};
use crate::mode::{Mode, ReadWrite};
use crate::pattern::KeyPattern;

pub use self::reads::Snapshot;
pub use self::streams::{History, Keys};

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
    pub(crate) fn decode_current(&self, raw: &RawEntry) -> Result<Current<K, V>> {
        Ok(Current {
            key: self.parse_stored(raw)?,
            value: self.decode_value(raw)?,
            revision: raw.revision,
            created: raw.created,
            bucket: self.bucket.shared_name(),
        })
    }
}
