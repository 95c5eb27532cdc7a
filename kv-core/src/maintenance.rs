//! Bucket housekeeping: purging delete markers, and emptying a bucket. The purge requests are
//! the wire layer's (`wire::admin`).

use std::time::{Duration, SystemTime};

use futures::TryStreamExt;

use crate::bucket::Bucket;
use crate::entry::RawEntry;
use crate::error::{Error, Result};
use crate::wire::classify::Op;
use crate::wire::scan::{Deliver, Scan, ScanSpec};

impl Bucket {
    /// Removes the delete and purge markers older than `older_than` (`None`: every marker, at
    /// once) together with the history behind them. A marker younger than that is kept, but the
    /// history behind it is removed. Returns how many keys were cleaned.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// let cleaned = bucket.purge_deletes(Some(std::time::Duration::from_secs(30 * 60))).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] on a read-only bucket; server errors as they come.
    ///
    /// # Cancel safety
    /// Not cancel safe: some keys may be cleaned even if the future is dropped.
    pub async fn purge_deletes(&self, older_than: Option<Duration>) -> Result<u64> {
        self.check_writable("purge delete markers")?;
        let spec = ScanSpec {
            filters: Vec::new(),
            deliver: Deliver::LastPerSubject,
            headers_only: true,
            follow: false,
        };
        let markers: Vec<RawEntry> = Scan::start(self, spec)
            .await?
            .try_filter(|e| futures::future::ready(e.operation.is_marker()))
            .try_collect()
            .await?;
        let limit = older_than.and_then(|age| SystemTime::now().checked_sub(age));
        let op = Op::write(self.name(), "purge delete markers");
        for marker in &markers {
            let keep = u64::from(limit.is_some_and(|limit| marker.created > limit));
            let subject = format!("{}{}", self.prefix(), marker.key);
            self.purge_subject(op, subject, keep).await?;
        }
        Ok(markers.len() as u64)
    }

    /// Removes every entry and all history, keeping the bucket and its configuration. The
    /// revision counter goes on from where it was. Returns how many entries were removed.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// let removed = bucket.empty().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] on a read-only bucket; server errors as they come.
    ///
    /// # Cancel safety
    /// Not cancel safe: the bucket may be emptied even if the future is dropped.
    pub async fn empty(&self) -> Result<u64> {
        self.check_writable("empty the bucket")?;
        let op = Op::write(self.name(), "empty");
        self.purge_all(op).await
    }

    fn check_writable(&self, what: &str) -> Result<()> {
        if self.is_writable() {
            return Ok(());
        }
        Err(Error::InvalidConfig {
            bucket: self.name().to_owned(),
            reason: format!(
                "cannot {what}: the bucket is read-only (a mirror or a read-only aggregate)"
            ),
        })
    }
}
