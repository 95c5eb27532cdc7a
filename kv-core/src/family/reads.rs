//! A family's reads: the latest value of one key ([`Family::get`], [`Family::latest`],
//! [`Family::value`]), of many keys ([`Family::get_many`]) and of every key matching a partial
//! key ([`Family::get_matching`], as a [`Snapshot`]), and a key's entry at a revision
//! ([`Family::get_revision`]).

use std::collections::HashMap;

use super::Family;
use crate::codec::Codec;
use crate::entry::{Current, Entry, Operation, RawEntry};
use crate::wire::direct;
// Named only in doc links, which the `natskv` facade resolves against this module as
// compiled: a `#[cfg(doc)]` import would leave them unresolved there.
#[allow(unused_imports)]
use crate::error::Error;
use crate::error::Result;
use crate::key::{KeyFilter, KvKey};
use crate::mode::Mode;
use crate::wire::scan;

impl<K: KvKey, V, C: Codec<V>, M: Mode> Family<K, V, C, M> {
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
        let mut slots: HashMap<String, usize> = HashMap::new();
        scan::latest(&self.bucket, vec![subject], |raw| {
            if let Some(&slot) = slots.get(raw.key.as_str()) {
                latest[slot] = raw;
            } else {
                slots.insert(raw.key.clone(), latest.len());
                latest.push(raw);
            }
        })
        .await
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
