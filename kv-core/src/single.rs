//! A single typed key: a [`Family`] whose pattern has no parameters.
//!
//! Every operation of [`Single`] is its family's, with the unit key `&()`.

use std::fmt;
use std::time::Duration;

use crate::bucket::Bucket;
use crate::cache::Cache;
use crate::codec::{Codec, MsgPack};
use crate::entry::{Current, Entry};
use crate::error::Result;
use crate::family::{Family, History};
use crate::mode::{Mode, PerKeyTtl, ReadWrite, Writable};
use crate::update::{ReadModifyWrite, Updated};
use crate::watch::{Watch, WatchBuilder};
// Named only in doc links, which the `natskv` facade resolves against this module as
// compiled: a `#[cfg(doc)]` import would leave them unresolved there.
#[allow(unused_imports)]
use crate::{error::Error, retry::RetryPolicy};

/// Writes `Single` methods that are their family's method with the unit key. Each is given as
/// its doc comment and signature, then `=> target;`: the body calls the [`Family`] method
/// `target` with `&()` before the method's own arguments, and awaits it in an `async fn`. A where
/// clause goes in brackets (`where [F: FnMut(&mut V)]`): a macro cannot tell where a bare one
/// ends.
macro_rules! to_family {
    () => {};
    (
        $(#[$doc:meta])*
        pub async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty => $target:ident;
        $($rest:tt)*
    ) => {
        $(#[$doc])*
        pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
            self.family.$target(&() $(, $arg)*).await
        }
        to_family! { $($rest)* }
    };
    (
        $(#[$doc:meta])*
        pub fn $name:ident $(<$($param:tt),*>)? (&$($life:lifetime)? self $(, $arg:ident: $ty:ty)*)
            -> $ret:ty $(where [$($bound:tt)*])? => $target:ident;
        $($rest:tt)*
    ) => {
        $(#[$doc])*
        pub fn $name $(<$($param),*>)? (&$($life)? self $(, $arg: $ty)*) -> $ret
        $(where $($bound)*)?
        {
            self.family.$target(&() $(, $arg)*)
        }
        to_family! { $($rest)* }
    };
}

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
    /// Binds the literal key `key` of `bucket`: the single-key form of [`Family::bind`].
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// use natskv::{Bucket, BucketSpec, Single};
    /// let bucket = Bucket::ensure(&nats, &BucketSpec::new("settings")).await?;
    /// let maintenance: Single<bool> = Single::bind(&bucket, "maintenance")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidPattern`] when `key` is not a valid key or has a `{param}`;
    /// [`Error::InvalidConfig`] for a writable mode on a read-only bucket (a mirror): bind it
    /// with [`ReadOnly`](crate::ReadOnly).
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

    to_family! {
        /// The key's latest value with its revision, as a [`Current`], or `None` when it has none
        /// (never written, deleted or purged: [`latest`](Self::latest) tells these apart). As
        /// [`Family::get`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// if let Some(current) = maintenance.get().await? {
        ///     println!("maintenance {} since revision {}", current.value, current.revision);
        /// }
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::Codec`], with the revision, when the stored value does not decode as `V`;
        /// [`Error::InvalidKey`] before any wire call when the key is longer than the bucket's
        /// [`max_key_len`](Bucket::max_key_len); [`Error::BucketNotFound`] when the bucket is gone.
        ///
        /// # Cancel safety
        /// Cancel safe: it only reads.
        pub async fn get(&self) -> Result<Option<Current<(), V>>> => get;

        /// The key's latest entry, delete and purge markers included (a marker's value is `None`,
        /// its revision, operation and time say how and when the key lost its value); `None` only
        /// when the key was never written. As [`Family::latest`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// if let Some(entry) = maintenance.latest().await? {
        ///     println!("{:?} at revision {}", entry.operation, entry.revision);
        /// }
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// As [`get`](Self::get).
        ///
        /// # Cancel safety
        /// Cancel safe: it only reads.
        pub async fn latest(&self) -> Result<Option<Entry<(), V>>> => latest;

        /// The key's latest value alone, or `None` when it has none. As [`Family::value`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// let on = maintenance.value().await?.unwrap_or(false);
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// As [`get`](Self::get).
        ///
        /// # Cancel safety
        /// Cancel safe: it only reads.
        pub async fn value(&self) -> Result<Option<V>> => value;

        /// The key's entry at `revision`, markers included (their value is `None`); `None` when
        /// the revision does not exist or belongs to another key. As [`Family::get_revision`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// let old = maintenance.get_revision(3).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// As [`get`](Self::get).
        ///
        /// # Cancel safety
        /// Cancel safe: it only reads.
        pub async fn get_revision(&self, revision: u64) -> Result<Option<Entry<(), V>>>
        => get_revision;

        /// Every kept revision of the key, oldest first, markers included, as a stream that ends
        /// after the latest. As [`Family::history`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// use natskv::TryStreamExt;
        /// let all: Vec<_> = maintenance.history().await?.try_collect().await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::InvalidKey`] before any wire call when the key is longer than the bucket's
        /// [`max_key_len`](Bucket::max_key_len); [`Error::BucketNotFound`] when the bucket is gone.
        /// Each value that does not decode is one [`Error::Codec`] item, and the stream goes on.
        ///
        /// # Cancel safety
        /// Cancel safe: it only reads.
        pub async fn history(&self) -> Result<History<(), V, C, M>> => history;
    }
}

impl<V, C: Codec<V>, M: Writable> Single<V, C, M> {
    to_family! {
        /// Writes the value and returns its revision. As [`Family::put`]: applied exactly once,
        /// also across a failover.
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// let revision = maintenance.put(&true).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// Before any wire call (nothing is written): [`Error::Codec`] when the value does not
        /// encode, [`Error::ValueTooLarge`], with the limit, when it exceeds the bucket's largest
        /// value or the server's `max_payload`, and [`Error::InvalidKey`] when the key is longer
        /// than the bucket's [`max_key_len`](Bucket::max_key_len). When the bucket's
        /// [`WriteRetry`](crate::WriteRetry) runs out, [`Error::Unavailable`] (nobody took the
        /// write) or [`Error::Timeout`] (nobody answered), whose `may_have_applied` says whether an
        /// earlier copy may have landed; [`Error::BucketNotFound`] when the bucket is gone.
        ///
        /// # Cancel safety
        /// Not cancel safe: the value may be written even if the future is dropped.
        pub async fn put(&self, value: &V) -> Result<u64> => put;

        /// Writes the value only if the key has none (first writer wins, also over a delete or
        /// purge marker); returns its revision. As [`Family::create`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// let revision = maintenance.create(&false).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::WrongRevision`] (expected `0`, with the current revision) when the key has a
        /// value; otherwise as [`put`](Self::put).
        ///
        /// # Cancel safety
        /// Not cancel safe: the value may be written even if the future is dropped.
        pub async fn create(&self, value: &V) -> Result<u64> => create;

        /// Compare-and-set: writes the value only if the key's latest revision is `revision`;
        /// returns the new revision. As [`Family::update`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// let revision = maintenance.put(&true).await?;
        /// maintenance.update(&false, revision).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::WrongRevision`], with the current revision, when another write came first;
        /// otherwise as [`put`](Self::put).
        ///
        /// # Cancel safety
        /// Not cancel safe: the value may be written even if the future is dropped.
        pub async fn update(&self, value: &V, revision: u64) -> Result<u64> => update;

        /// Deletes the key's value with a delete marker (earlier revisions are kept); returns the
        /// marker's revision. As [`Family::delete`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// maintenance.delete().await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::InvalidKey`] before any wire call when the key is longer than the bucket's
        /// [`max_key_len`](Bucket::max_key_len); [`Error::Unavailable`] or [`Error::Timeout`] when
        /// the bucket's [`WriteRetry`](crate::WriteRetry) runs out, as for [`put`](Self::put);
        /// [`Error::BucketNotFound`] when the bucket is gone.
        ///
        /// # Cancel safety
        /// Not cancel safe: the key may be deleted even if the future is dropped.
        pub async fn delete(&self) -> Result<u64> => delete;

        /// Deletes the key's value only if its latest revision is `revision`; returns the marker's
        /// revision. As [`Family::delete_if`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// maintenance.delete_if(7).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::WrongRevision`] when the key moved on; otherwise as [`delete`](Self::delete).
        ///
        /// # Cancel safety
        /// Not cancel safe: the key may be deleted even if the future is dropped.
        pub async fn delete_if(&self, revision: u64) -> Result<u64> => delete_if;

        /// Purges the key: one purge marker, and every earlier revision removed; returns the
        /// marker's revision. As [`Family::purge`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// maintenance.purge().await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// As [`delete`](Self::delete).
        ///
        /// # Cancel safety
        /// Not cancel safe: the key may be purged even if the future is dropped.
        pub async fn purge(&self) -> Result<u64> => purge;

        /// Purges the key only if its latest revision is `revision`; returns the marker's
        /// revision. As [`Family::purge_if`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// maintenance.purge_if(7).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::WrongRevision`] when the key moved on; otherwise as [`delete`](Self::delete).
        ///
        /// # Cancel safety
        /// Not cancel safe: the key may be purged even if the future is dropped.
        pub async fn purge_if(&self, revision: u64) -> Result<u64> => purge_if;

        /// Makes the value the key had at `revision` its latest value again; returns the new
        /// revision. As [`Family::revert`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// maintenance.revert(3).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::RevisionNotFound`] when `revision` is not a value of this key (any more): a
        /// marker, another key's revision, or one gone; otherwise as [`put`](Self::put).
        ///
        /// # Cancel safety
        /// Not cancel safe: the value may be written even if the future is dropped.
        pub async fn revert(&self, revision: u64) -> Result<u64> => revert;
    }
}

impl<V, C: Codec<V>> Single<V, C, PerKeyTtl> {
    to_family! {
        /// As [`create`](Self::create), and the value expires after `ttl` (whole seconds, at
        /// least one; ADR-48), leaving a limit marker read as a purge. As
        /// [`Family::create_with_ttl`].
        ///
        /// ```no_run
        /// # async fn demo(leader: natskv::Single<String, natskv::MsgPack, natskv::PerKeyTtl>) -> natskv::Result<()> {
        /// leader.create_with_ttl(&"me".to_owned(), std::time::Duration::from_secs(10)).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::InvalidConfig`] before any wire call for a TTL under one second or not a whole
        /// number of seconds (refused, not truncated); otherwise as [`create`](Self::create).
        ///
        /// # Cancel safety
        /// Not cancel safe: the value may be written even if the future is dropped.
        pub async fn create_with_ttl(&self, value: &V, ttl: Duration) -> Result<u64>
        => create_with_ttl;

        /// As [`purge`](Self::purge), and the purge marker itself expires after `ttl`. As
        /// [`Family::purge_with_ttl`].
        ///
        /// ```no_run
        /// # async fn demo(leader: natskv::Single<String, natskv::MsgPack, natskv::PerKeyTtl>) -> natskv::Result<()> {
        /// leader.purge_with_ttl(std::time::Duration::from_secs(60)).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::InvalidConfig`] before any wire call for a TTL under one second or not a whole
        /// number of seconds; otherwise as [`purge`](Self::purge).
        ///
        /// # Cancel safety
        /// Not cancel safe: the key may be purged even if the future is dropped.
        pub async fn purge_with_ttl(&self, ttl: Duration) -> Result<u64> => purge_with_ttl;
    }
}

impl<V: Send + Sync, C: Codec<V>, M: Writable> Single<V, C, M> {
    to_family! {
        /// Changes the key's value in place with a compare-and-set loop: reads it, calls `f` on it,
        /// writes it back only if nobody wrote in between, and otherwise starts over
        /// ([`RetryPolicy`]). Returns what it wrote, or `None`, writing nothing, when the key has
        /// no value. As [`Family::update_with`].
        ///
        /// ```no_run
        /// # async fn demo(visits: natskv::Single<u64>) -> natskv::Result<()> {
        /// visits.update_with(|n| *n += 1).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::WrongRevision`] when every attempt lost its race; [`Error::Codec`] when the
        /// stored value does not decode (nothing is written); otherwise as
        /// [`Single::get`] and [`Single::update`].
        ///
        /// # Cancel safety
        /// Not cancel safe: a value may be written even if the future is dropped.
        pub fn update_with<'a, F>(&'a self, f: F)
            -> ReadModifyWrite<'a, (), V, C, M, F, Option<Updated<V>>>
        where [F: FnMut(&mut V) + Send + 'a]
        => update_with;

        /// Like [`update_with`](Self::update_with), also when the key has no value: `f` gets the
        /// current value, or `None`, and returns the new one, which is created when the key had
        /// none and compare-and-set otherwise. Returns what it wrote. As [`Family::upsert_with`].
        ///
        /// ```no_run
        /// # async fn demo(visits: natskv::Single<u64>) -> natskv::Result<()> {
        /// visits.upsert_with(|n| n.unwrap_or(0) + 1).await?;
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// As [`update_with`](Self::update_with).
        ///
        /// # Cancel safety
        /// Not cancel safe: a value may be written even if the future is dropped.
        pub fn upsert_with<'a, F>(&'a self, f: F)
            -> ReadModifyWrite<'a, (), V, C, M, F, Updated<V>>
        where [F: FnMut(Option<V>) -> V + Send + 'a]
        => upsert_with;
    }
}

impl<V, C: Codec<V>, M: Mode> Single<V, C, M> {
    to_family! {
        /// Watches the key: its latest entry, then every update, markers included, as a [`Watch`]
        /// that never ends on its own. As [`Family::watch`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// use natskv::TryStreamExt;
        /// let mut watch = maintenance.watch().await?;
        /// while let Some(entry) = watch.try_next().await? {
        ///     println!("maintenance: {:?}", entry.value);
        /// }
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        /// [`Error::BucketNotFound`] and the server's errors when the watch's consumer cannot be
        /// created.
        ///
        /// # Cancel safety
        /// Cancel safe: a consumer created before the cancel is deleted in the background.
        pub async fn watch(&self) -> Result<Watch<(), V, C, M>> => watch;

        /// A watch on the key, with options: see [`WatchBuilder`]. As [`Family::watch_with`].
        ///
        /// ```no_run
        /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
        /// let watch = maintenance.watch_with().history().start().await?;
        /// # Ok(()) }
        /// ```
        pub fn watch_with(&self) -> WatchBuilder<Family<(), V, C, M>> => watch_with;
    }
}

impl<V, C, M> Single<V, C, M>
where
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
    M: Mode,
{
    /// A live cache of the key's value, read with `get(&())`: see [`Cache`]. As
    /// [`Family::cache`].
    ///
    /// ```no_run
    /// # async fn demo(maintenance: natskv::Single<bool>) -> natskv::Result<()> {
    /// let live = maintenance.cache().await?;
    /// live.initialized().await?;
    /// let on = live.get(&()).unwrap_or(false);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::BucketNotFound`] and the server's errors when the cache's watch cannot be
    /// started.
    ///
    /// # Cancel safety
    /// Cancel safe: a consumer created before the cancel is deleted in the background.
    pub async fn cache(&self) -> Result<Cache<(), V>> {
        self.as_family().cache().await
    }
}
