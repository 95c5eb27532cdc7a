//! A family's writes: put, create, compare-and-set, delete, purge and revert, the per-key TTL
//! writes of a [`PerKeyTtl`] family, and the entry points of [`Family::put_many`] (pipelined
//! in `bulk.rs`) and of the read-modify-write loops (run in `update.rs`).
//!
//! Every write renders its key and encodes its value here, before anything is sent, and goes
//! to the wire through the bucket, which makes it exactly once (see [`Family`]).

use std::time::Duration;

use bytes::Bytes;

use super::Family;
use crate::codec::Codec;
use crate::entry::Operation;
use crate::error::{Error, Result};
use crate::key::KvKey;
use crate::mode::{PerKeyTtl, Writable};
use crate::wire::raw::{Expect, Write};
// Named only in doc links, which the `natskv` facade resolves against this module as
// compiled: a `#[cfg(doc)]` import would leave them unresolved there.
#[allow(unused_imports)]
use crate::retry::RetryPolicy;
use crate::update::{ReadModifyWrite, Updated};

impl<K: KvKey, V, C: Codec<V>, M: Writable> Family<K, V, C, M> {
    /// The key rendered and the value encoded, ready for the wire.
    pub(crate) fn rendered(&self, key: &K, value: &V) -> Result<(String, Bytes)> {
        let rendered = self.key(key)?;
        let payload = self.encode(&rendered, value)?;
        Ok((rendered, payload))
    }

    /// Encodes a value; one that does not encode is [`Error::Codec`] with its key.
    fn encode(&self, key: &str, value: &V) -> Result<Bytes> {
        C::encode(value).map_err(|source| Error::Codec {
            bucket: self.bucket.name().to_owned(),
            key: key.to_owned(),
            revision: None,
            decoding: false,
            source,
        })
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

impl<K: KvKey + Send + Sync, V: Send + Sync, C: Codec<V>, M: Writable> Family<K, V, C, M> {
    /// Changes the key's value in place with a compare-and-set loop: reads it, calls `f` on it,
    /// writes it back only if nobody wrote in between, and otherwise starts over after a short
    /// random sleep ([`RetryPolicy`]). `f` may run several times, each on a fresh read.
    /// Returns `None`, writing nothing, when the key has no value; [`upsert_with`](Self::upsert_with)
    /// also writes absent keys.
    ///
    /// ```no_run
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct DeviceState { battery: u8 }
    /// # async fn demo(devices: natskv::Family<String, DeviceState>) -> natskv::Result<()> {
    /// let key = "sensor-1".to_owned();
    /// if let Some(done) = devices.update_with(&key, |s| s.battery -= 1).await? {
    ///     println!("battery {} at revision {}", done.value.battery, done.revision);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::WrongRevision`] when every attempt lost its race; [`Error::Codec`] when the
    /// stored value does not decode (nothing is written); otherwise as [`get`](Self::get) and
    /// [`update`](Self::update).
    ///
    /// # Cancel safety
    /// Not cancel safe: a value may be written even if the future is dropped.
    pub fn update_with<'a, F>(
        &'a self,
        key: &'a K,
        f: F,
    ) -> ReadModifyWrite<'a, K, V, C, M, F, Option<Updated<V>>>
    where
        F: FnMut(&mut V) + Send + 'a,
    {
        ReadModifyWrite::new(self, key, f)
    }

    /// Like [`update_with`](Self::update_with), for a key that may have no value: `f` gets the
    /// current value, or `None`, and returns the new one, which is created when the key had
    /// none (first writer wins, also over a delete marker) and compare-and-set otherwise.
    ///
    /// ```no_run
    /// # async fn demo(counters: natskv::Family<String, u64>) -> natskv::Result<()> {
    /// let done = counters.upsert_with(&"hits".to_owned(), |n| n.unwrap_or(0) + 1).await?;
    /// println!("{} hits", done.value);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`update_with`](Self::update_with).
    ///
    /// # Cancel safety
    /// Not cancel safe: a value may be written even if the future is dropped.
    pub fn upsert_with<'a, F>(
        &'a self,
        key: &'a K,
        f: F,
    ) -> ReadModifyWrite<'a, K, V, C, M, F, Updated<V>>
    where
        F: FnMut(Option<V>) -> V + Send + 'a,
    {
        ReadModifyWrite::new(self, key, f)
    }
}
