//! Read-modify-write with compare-and-set retries: the [`ReadModifyWrite`] builder that
//! [`Family::update_with`] and [`Family::upsert_with`] make (in `family/writes.rs`), the loop it
//! runs, and what it gives back ([`Updated`]).

use std::convert::Infallible;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
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

/// A read-modify-write with compare-and-set retries: made by [`Family::update_with`] and
/// [`Family::upsert_with`] (and their [`Single`](crate::Single) forms); `.await` it, or set its
/// [`retry`](Self::retry) policy first.
///
/// `T` is what it gives when awaited. [`update_with`](Family::update_with) changes a value the
/// key has, and gives `Option<Updated<V>>`: `None`, with nothing written, when the key has none.
/// [`upsert_with`](Family::upsert_with) also writes a key without a value, and gives
/// `Updated<V>`.
#[must_use = "an update does nothing until it is awaited"]
pub struct ReadModifyWrite<'a, K, V, C, M, F, T> {
    family: &'a Family<K, V, C, M>,
    key: &'a K,
    f: F,
    retry: RetryPolicy,
    output: PhantomData<fn() -> T>,
}

impl<K, V, C, M, F, T> fmt::Debug for ReadModifyWrite<'_, K, V, C, M, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadModifyWrite")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<'a, K, V, C, M, F, T> ReadModifyWrite<'a, K, V, C, M, F, T> {
    /// The read-modify-write of `key` with `f`, under the default retry policy. `T`, what it
    /// gives when awaited, is set by the caller's return type, and decides what `f` must be.
    pub(crate) fn new(family: &'a Family<K, V, C, M>, key: &'a K, f: F) -> Self {
        ReadModifyWrite {
            family,
            key,
            f,
            retry: RetryPolicy::default(),
            output: PhantomData,
        }
    }

    /// Retries with `policy` rather than the default one.
    ///
    /// ```no_run
    /// # async fn demo(counters: natskv::Family<String, u64>) -> natskv::Result<()> {
    /// let key = "hits".to_owned();
    /// let policy = natskv::RetryPolicy::default().attempts(5);
    /// counters.update_with(&key, |n| *n += 1).retry(policy).await?;
    /// let policy = natskv::RetryPolicy::default().attempts(100);
    /// counters.upsert_with(&key, |n| n.unwrap_or(0) + 1).retry(policy).await?;
    /// # Ok(()) }
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
}

/// [`Family::update_with`]: `f` changes the value in place; a key without a value is left
/// alone, and the result is `None`.
impl<'a, K, V, C, M, F> IntoFuture for ReadModifyWrite<'a, K, V, C, M, F, Option<Updated<V>>>
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
        let ReadModifyWrite {
            family,
            key,
            mut f,
            retry,
            output: _,
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

/// [`Family::upsert_with`]: `f` makes the new value from the current one, or from `None`.
impl<'a, K, V, C, M, F> IntoFuture for ReadModifyWrite<'a, K, V, C, M, F, Updated<V>>
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
        let ReadModifyWrite {
            family,
            key,
            mut f,
            retry,
            output: _,
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
