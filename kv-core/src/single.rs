//! A single typed key: a [`Family`] whose pattern has no parameters.

use std::fmt;
use std::time::Duration;

use crate::bucket::Bucket;
use crate::codec::{Codec, MsgPack};
use crate::entry::{Current, Entry};
use crate::error::Result;
use crate::family::{Family, History};
use crate::mode::{Mode, PerKeyTtl, ReadWrite, Writable};

/// One key (`maintenance`, `config.global`) with a typed value. Cheap to clone.
///
/// Every method is the [`Family`] method of the same name, without the key argument.
pub struct Single<V, C = MsgPack, M = ReadWrite> {
    family: Family<(), V, C, M>,
}

impl<V, C, M> Clone for Single<V, C, M> {
    fn clone(&self) -> Self {
        Single {
            family: self.family.clone(),
        }
    }
}

impl<V, C, M> fmt::Debug for Single<V, C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Single").field(&self.family).finish()
    }
}

impl<V, C: Codec<V>, M: Mode> Single<V, C, M> {
    /// Binds the literal key `key` of `bucket`.
    ///
    /// # Errors
    /// [`Error::InvalidPattern`](crate::Error::InvalidPattern) when `key` is not a valid key or
    /// has a `{param}`.
    pub fn bind(bucket: &Bucket, key: &str) -> Result<Self> {
        Family::bind(bucket, key).map(|family| Single { family })
    }

    /// The same key as a family with the unit key type.
    pub fn as_family(&self) -> &Family<(), V, C, M> {
        &self.family
    }

    /// The key.
    pub fn key(&self) -> &str {
        self.family.pattern().as_str()
    }

    /// The key's latest value as an entry, or `None` when it has none (never written, deleted
    /// or purged).
    ///
    /// See [`Family::get`].
    ///
    /// # Errors
    /// As [`Family::get`].
    pub async fn get(&self) -> Result<Option<Current<(), V>>> {
        self.family.get(&()).await
    }

    /// The key's latest entry, delete and purge markers included (a marker's value is `None`).
    ///
    /// See [`Family::latest`].
    ///
    /// # Errors
    /// As [`Family::latest`].
    pub async fn latest(&self) -> Result<Option<Entry<(), V>>> {
        self.family.latest(&()).await
    }

    /// The key's latest value alone.
    ///
    /// See [`Family::value`].
    ///
    /// # Errors
    /// As [`Family::value`].
    pub async fn value(&self) -> Result<Option<V>> {
        self.family.value(&()).await
    }

    /// The key's entry at `revision`, markers included; `None` when the revision does not exist
    /// or belongs to another key.
    ///
    /// See [`Family::get_revision`].
    ///
    /// # Errors
    /// As [`Family::get_revision`].
    pub async fn get_revision(&self, revision: u64) -> Result<Option<Entry<(), V>>> {
        self.family.get_revision(&(), revision).await
    }

    /// Every kept revision of the key, oldest first, markers included, as a stream.
    ///
    /// See [`Family::history`].
    ///
    /// # Errors
    /// As [`Family::history`].
    pub async fn history(&self) -> Result<History<(), V, C, M>> {
        self.family.history(&()).await
    }
}

impl<V, C: Codec<V>, M: Writable> Single<V, C, M> {
    /// Writes the value; returns its revision.
    ///
    /// See [`Family::put`].
    ///
    /// # Errors
    /// As [`Family::put`].
    pub async fn put(&self, value: &V) -> Result<u64> {
        self.family.put(&(), value).await
    }

    /// Writes the value only if the key has none (first writer wins, also over a delete or purge
    /// marker); returns its revision.
    ///
    /// See [`Family::create`].
    ///
    /// # Errors
    /// As [`Family::create`].
    pub async fn create(&self, value: &V) -> Result<u64> {
        self.family.create(&(), value).await
    }

    /// Writes the value only if the key's latest revision is `revision` (compare-and-set);
    /// returns the new revision.
    ///
    /// See [`Family::update`].
    ///
    /// # Errors
    /// As [`Family::update`].
    pub async fn update(&self, value: &V, revision: u64) -> Result<u64> {
        self.family.update(&(), value, revision).await
    }

    /// Deletes the key's value with a delete marker (earlier revisions are kept); returns the
    /// marker's revision.
    ///
    /// See [`Family::delete`].
    ///
    /// # Errors
    /// As [`Family::delete`].
    pub async fn delete(&self) -> Result<u64> {
        self.family.delete(&()).await
    }

    /// Deletes the key's value only if its latest revision is `revision`.
    ///
    /// See [`Family::delete_if`].
    ///
    /// # Errors
    /// As [`Family::delete_if`].
    pub async fn delete_if(&self, revision: u64) -> Result<u64> {
        self.family.delete_if(&(), revision).await
    }

    /// Purges the key: a purge marker, and every earlier revision removed; returns the marker's
    /// revision.
    ///
    /// See [`Family::purge`].
    ///
    /// # Errors
    /// As [`Family::purge`].
    pub async fn purge(&self) -> Result<u64> {
        self.family.purge(&()).await
    }

    /// Purges the key only if its latest revision is `revision`.
    ///
    /// See [`Family::purge_if`].
    ///
    /// # Errors
    /// As [`Family::purge_if`].
    pub async fn purge_if(&self, revision: u64) -> Result<u64> {
        self.family.purge_if(&(), revision).await
    }

    /// Writes the value the key had at `revision` again, as its latest; returns the new revision.
    ///
    /// See [`Family::revert`].
    ///
    /// # Errors
    /// As [`Family::revert`].
    pub async fn revert(&self, revision: u64) -> Result<u64> {
        self.family.revert(&(), revision).await
    }
}

impl<V, C: Codec<V>> Single<V, C, PerKeyTtl> {
    /// As [`create`](Self::create), the value expiring after `ttl` (per-key TTL, ADR-48).
    ///
    /// See [`Family::create_with_ttl`].
    ///
    /// # Errors
    /// As [`Family::create_with_ttl`].
    pub async fn create_with_ttl(&self, value: &V, ttl: Duration) -> Result<u64> {
        self.family.create_with_ttl(&(), value, ttl).await
    }

    /// As [`purge`](Self::purge), the purge marker expiring after `ttl`.
    ///
    /// See [`Family::purge_with_ttl`].
    ///
    /// # Errors
    /// As [`Family::purge_with_ttl`].
    pub async fn purge_with_ttl(&self, ttl: Duration) -> Result<u64> {
        self.family.purge_with_ttl(&(), ttl).await
    }
}
