//! The bucket-wide, untyped road: keys, latest entries and histories by plain key filters
//! (`config.>`, `*.eu`, several at once), for tools, migrations and keys written by other
//! software. Typed [`Family`](crate::Family) handles are the main road; this one takes any key
//! of the bucket, as the other clients' Key/Value APIs do.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::bucket::Bucket;
use crate::entry::{Entry, RawEntry};
use crate::error::Result;
use crate::key::KeyErrorReason;
use crate::names::validate_key;
use crate::watch::bucket::untyped;
use crate::watch::filters::{plan, subject_matches};
use crate::wire::scan::{Deliver, Scan, ScanSpec};

impl Bucket {
    /// Every key of the bucket with a live value that matches one of `filters` (key filters:
    /// `*` stands for one token, a final `>` for one or more; `">"` for every key), each once,
    /// streamed; filtered on the server.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let keys: Vec<String> = bucket.keys(["user.>", "admin.*"]).await?.try_collect().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`](crate::Error::InvalidKey) before any wire call when a filter is not a
    /// valid key filter, or when there is none ([`KeyErrorReason::NoFilters`]);
    /// [`Error::BucketNotFound`](crate::Error::BucketNotFound) and the server's errors when the
    /// listing cannot start.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn keys<F: AsRef<str>>(
        &self,
        filters: impl IntoIterator<Item = F>,
    ) -> Result<BucketKeys> {
        let (scan, only) = self.scan(filters, Deliver::LastPerSubject, true).await?;
        Ok(BucketKeys { scan, only })
    }

    /// Every kept revision of every key matching one of `filters`, markers included, in
    /// revision order, as a stream that ends after the latest entry that existed when it
    /// started. Values are the stored bytes.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// use natskv::TryStreamExt;
    /// let entries: Vec<_> = bucket.history(["config.>"]).await?.try_collect().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`keys`](Self::keys).
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn history<F: AsRef<str>>(
        &self,
        filters: impl IntoIterator<Item = F>,
    ) -> Result<BucketHistory> {
        let (scan, only) = self.scan(filters, Deliver::All, false).await?;
        Ok(BucketHistory {
            scan,
            only,
            bucket: self.shared_name(),
        })
    }

    /// The latest entry of any key of the bucket, delete and purge markers included (their
    /// value is `None`), with its value as the stored bytes; `None` for a key never written.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// if let Some(entry) = bucket.entry("config.eu.limits").await? {
    ///     println!("{:?} at revision {}", entry.operation, entry.revision);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`](crate::Error::InvalidKey) before any wire call when `key` is not a
    /// valid key or is longer than [`max_key_len`](Self::max_key_len);
    /// [`Error::BucketNotFound`](crate::Error::BucketNotFound) and the server's errors otherwise.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn entry(&self, key: &str) -> Result<Option<Entry<String, Bytes>>> {
        validate_key(key).map_err(|cause| {
            self.invalid_key(KeyErrorReason::InvalidKey {
                key: key.to_owned(),
                cause,
            })
        })?;
        self.check_key_len(key)?;
        Ok(self
            .last(key)
            .await?
            .map(|raw| untyped(raw, false, self.shared_name())))
    }

    /// A scan over the union of `filters`, and the exact filters to check each entry against
    /// when the consumer had to take a wider one (JetStream refuses overlapping filters).
    async fn scan<F: AsRef<str>>(
        &self,
        filters: impl IntoIterator<Item = F>,
        deliver: Deliver,
        headers_only: bool,
    ) -> Result<(Scan, Option<Vec<String>>)> {
        let filters = filters
            .into_iter()
            .map(|f| self.subject_filter(f.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        if filters.is_empty() {
            return Err(self.invalid_key(KeyErrorReason::NoFilters));
        }
        let (filters, only) = plan(filters);
        let spec = ScanSpec {
            filters,
            deliver,
            headers_only,
            follow: false,
        };
        let scan = Scan::start(self, spec).await?;
        let prefix = self.prefix().len();
        let only = only.map(|filters| {
            filters
                .into_iter()
                .map(|f| f.get(prefix..).unwrap_or_default().to_owned())
                .collect()
        });
        Ok((scan, only))
    }
}

/// Whether `raw` is within the exact filters, when there are any to check.
fn wanted(only: Option<&[String]>, raw: &RawEntry) -> bool {
    only.is_none_or(|filters| filters.iter().any(|f| subject_matches(f, &raw.key)))
}

/// The keys of a bucket matching key filters: see [`Bucket::keys`]. A [`Stream`] of
/// `Result<String>`; its consumer is deleted when it ends or is dropped.
pub struct BucketKeys {
    scan: Scan,
    only: Option<Vec<String>>,
}

impl fmt::Debug for BucketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketKeys")
            .field("scan", &self.scan)
            .finish_non_exhaustive()
    }
}

impl Stream for BucketKeys {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            return match this.scan.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(raw))) => {
                    if raw.operation.is_marker() || !wanted(this.only.as_deref(), &raw) {
                        continue;
                    }
                    Poll::Ready(Some(Ok(raw.key)))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

/// The revisions of the keys of a bucket matching key filters: see [`Bucket::history`]. A
/// [`Stream`] of `Result<Entry<String, Bytes>>`; its consumer is deleted when it ends or is
/// dropped.
pub struct BucketHistory {
    scan: Scan,
    only: Option<Vec<String>>,
    bucket: Arc<str>,
}

impl fmt::Debug for BucketHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketHistory")
            .field("scan", &self.scan)
            .finish_non_exhaustive()
    }
}

impl Stream for BucketHistory {
    type Item = Result<Entry<String, Bytes>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            return match this.scan.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(raw))) => {
                    if !wanted(this.only.as_deref(), &raw) {
                        continue;
                    }
                    Poll::Ready(Some(Ok(untyped(raw, false, Arc::clone(&this.bucket)))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
