//! Read-modify-write with compare-and-set retries: [`Family::update_with`] and
//! [`Family::upsert_with`].

use std::convert::Infallible;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::ops::ControlFlow;
use std::pin::Pin;

use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::KvKey;
use crate::mode::Writable;
use crate::retry::RetryPolicy;

/// What a successful read-modify-write wrote.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Updated<V> {
    /// The revision of the write.
    pub revision: u64,
    /// The value written.
    pub value: V,
    /// How many compare-and-sets it took (1 when no race was lost).
    pub attempts: u32,
}

/// The boxed future of a read-modify-write.
type UpdateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A read-modify-write of an existing value: made by [`Family::update_with`]; `.await` it, or
/// set its [`retry`](Self::retry) policy first.
#[must_use = "an update does nothing until it is awaited"]
pub struct UpdateWith<'a, K, V, C, M, F> {
    family: &'a Family<K, V, C, M>,
    key: &'a K,
    f: F,
    retry: RetryPolicy,
}

impl<'a, K, V, C, M, F> UpdateWith<'a, K, V, C, M, F> {
    pub(crate) fn new(family: &'a Family<K, V, C, M>, key: &'a K, f: F) -> Self {
        UpdateWith {
            family,
            key,
            f,
            retry: RetryPolicy::default(),
        }
    }
}

impl<K, V, C, M, F> fmt::Debug for UpdateWith<'_, K, V, C, M, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateWith")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<K, V, C, M, F> UpdateWith<'_, K, V, C, M, F> {
    /// Retries with `policy` rather than the default one.
    ///
    /// ```no_run
    /// # async fn demo(counters: natskv::Family<String, u64>) -> natskv::Result<()> {
    /// let policy = natskv::RetryPolicy::default().attempts(5);
    /// counters.update_with(&"hits".to_owned(), |n| *n += 1).retry(policy).await?;
    /// # Ok(()) }
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
}

impl<'a, K, V, C, M, F> IntoFuture for UpdateWith<'a, K, V, C, M, F>
where
    K: KvKey + Send + Sync,
    V: Send + Sync + 'a,
    C: Codec<V>,
    M: Writable,
    F: FnMut(&mut V) + Send + 'a,
{
    type Output = Result<Option<Updated<V>>>;
    type IntoFuture = UpdateFuture<'a, Option<Updated<V>>>;

    fn into_future(self) -> Self::IntoFuture {
        let UpdateWith {
            family,
            key,
            mut f,
            retry,
        } = self;
        Box::pin(async move {
            let written = read_modify_write(family, key, retry, move |value: Option<V>| {
                let Some(mut value) = value else {
                    return ControlFlow::Break(());
                };
                f(&mut value);
                ControlFlow::Continue(value)
            });
            Ok(written.await?.ok())
        })
    }
}

/// A read-modify-write that also writes an absent key: made by [`Family::upsert_with`];
/// `.await` it, or set its [`retry`](Self::retry) policy first.
#[must_use = "an update does nothing until it is awaited"]
pub struct UpsertWith<'a, K, V, C, M, F> {
    family: &'a Family<K, V, C, M>,
    key: &'a K,
    f: F,
    retry: RetryPolicy,
}

impl<'a, K, V, C, M, F> UpsertWith<'a, K, V, C, M, F> {
    pub(crate) fn new(family: &'a Family<K, V, C, M>, key: &'a K, f: F) -> Self {
        UpsertWith {
            family,
            key,
            f,
            retry: RetryPolicy::default(),
        }
    }
}

impl<K, V, C, M, F> fmt::Debug for UpsertWith<'_, K, V, C, M, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpsertWith")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<K, V, C, M, F> UpsertWith<'_, K, V, C, M, F> {
    /// Retries with `policy` rather than the default one.
    ///
    /// ```no_run
    /// # async fn demo(counters: natskv::Family<String, u64>) -> natskv::Result<()> {
    /// let policy = natskv::RetryPolicy::default().attempts(100);
    /// counters.upsert_with(&"hits".to_owned(), |n| n.unwrap_or(0) + 1).retry(policy).await?;
    /// # Ok(()) }
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
}

impl<'a, K, V, C, M, F> IntoFuture for UpsertWith<'a, K, V, C, M, F>
where
    K: KvKey + Send + Sync,
    V: Send + Sync + 'a,
    C: Codec<V>,
    M: Writable,
    F: FnMut(Option<V>) -> V + Send + 'a,
{
    type Output = Result<Updated<V>>;
    type IntoFuture = UpdateFuture<'a, Updated<V>>;

    fn into_future(self) -> Self::IntoFuture {
        let UpsertWith {
            family,
            key,
            mut f,
            retry,
        } = self;
        Box::pin(async move {
            let written = read_modify_write(family, key, retry, move |value| {
                ControlFlow::<Infallible, V>::Continue(f(value))
            });
            match written.await? {
                Ok(updated) => Ok(updated),
                Err(never) => match never {},
            }
        })
    }
}

/// Reads the key, applies `f` (which may break off: nothing is written and its reason is
/// returned), writes the result with compare-and-set (create when absent, update at the read
/// revision otherwise), and on a lost race starts over, as `retry` allows.
async fn read_modify_write<K, V, C, M, B>(
    family: &Family<K, V, C, M>,
    key: &K,
    retry: RetryPolicy,
    mut f: impl FnMut(Option<V>) -> ControlFlow<B, V>,
) -> Result<Result<Updated<V>, B>>
where
    K: KvKey,
    C: Codec<V>,
    M: Writable,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = family.get(key).await?;
        let (read, value) = match current {
            Some(current) => (Some(current.revision), Some(current.value)),
            None => (None, None),
        };
        let value = match f(value) {
            ControlFlow::Continue(value) => value,
            ControlFlow::Break(reason) => return Ok(Err(reason)),
        };
        let written = match read {
            Some(revision) => family.update(key, &value, revision).await,
            None => family.create(key, &value).await,
        };
        match written {
            Ok(revision) => {
                return Ok(Ok(Updated {
                    revision,
                    value,
                    attempts,
                }));
            }
            Err(Error::WrongRevision { .. }) if attempts < retry.max_attempts() => {
                tokio::time::sleep(retry.delay(attempts)).await;
            }
            Err(error) => return Err(error),
        }
    }
}
