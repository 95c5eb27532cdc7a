//! Mirrors and aggregates (ADR-8 topologies): buckets fed from other buckets.
//!
//! A **mirror** is a read-only copy of exactly one bucket (optionally of some of its keys), used
//! to scale reads. An **aggregate** collects keys from one or more buckets into a bucket of its
//! own, rewriting `$KV.<origin>.<key>` to `$KV.<aggregate>.<key>`; it is read-only unless
//! declared writable. Either can reach an origin in another JetStream domain or account through
//! an API prefix.
//!
//! [`Origin`] is the declaration; the stream sources it becomes, and reads back from, are the
//! wire layer's (`wire::source`).

use std::fmt::Write as _;

use crate::names::{validate_bucket_name, validate_filter};

/// Where a mirror or aggregate takes its keys from: a bucket, optionally some of its keys,
/// optionally in another domain or account.
///
/// ```
/// use natskv::Origin;
/// let origin = Origin::bucket("orders").keys(["new.>"]).api_prefix("$JS.hub.API");
/// assert_eq!(origin.bucket_name(), "orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    bucket: String,
    stream: Option<String>,
    keys: Vec<String>,
    api_prefix: Option<String>,
    deliver_prefix: Option<String>,
}

impl Origin {
    /// Keys of the bucket `bucket` (all of them unless [`keys`](Self::keys) narrows it).
    pub fn bucket(bucket: impl Into<String>) -> Self {
        Origin {
            bucket: bucket.into(),
            stream: None,
            keys: Vec::new(),
            api_prefix: None,
            deliver_prefix: None,
        }
    }

    /// Only these keys (filters: `*` stands for one token, a final `>` for the rest).
    #[must_use]
    pub fn keys<I, S>(mut self, filters: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys = filters.into_iter().map(Into::into).collect();
        self
    }

    /// Read from this stream rather than `KV_<bucket>`: for an origin that is itself a mirror.
    #[must_use]
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = Some(stream.into());
        self
    }

    /// The JetStream API prefix that reaches the origin's domain or account
    /// (`$JS.<domain>.API`).
    #[must_use]
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = Some(prefix.into());
        self
    }

    /// The delivery prefix for the origin's consumer, when crossing accounts.
    #[must_use]
    pub fn deliver_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.deliver_prefix = Some(prefix.into());
        self
    }

    /// The origin bucket's name.
    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    /// The key filters (empty: every key).
    pub fn key_filters(&self) -> &[String] {
        &self.keys
    }

    /// The origin's JetStream API prefix, when it is in another domain or account.
    pub fn api_prefix_value(&self) -> Option<&str> {
        self.api_prefix.as_deref()
    }

    /// The prefix the origin's messages are delivered under, when one was given with the API
    /// prefix.
    pub fn deliver_prefix_value(&self) -> Option<&str> {
        self.deliver_prefix.as_deref()
    }

    /// What is wrong with this origin, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if let Err(e) = validate_bucket_name(&self.bucket) {
            return Some(format!("origin bucket: {e}"));
        }
        self.keys.iter().find_map(|k| {
            validate_filter(k)
                .err()
                .map(|e| format!("origin key filter: {e}"))
        })
    }

    /// The name of the origin's stream: `KV_<bucket>`, or the one [`stream`](Self::stream)
    /// named.
    pub(crate) fn stream_name(&self) -> String {
        self.stream
            .clone()
            .unwrap_or_else(|| format!("KV_{}", self.bucket))
    }

    /// A short description for drift reports.
    pub(crate) fn describe(&self) -> String {
        let mut out = self.stream_name();
        if !self.keys.is_empty() {
            let _ = write!(out, " keys {:?}", self.keys);
        }
        if let Some(api) = &self.api_prefix {
            let _ = write!(out, " via {api}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_origins_are_reported() {
        assert!(Origin::bucket("a.b").problem().is_some());
        assert!(Origin::bucket("a").keys(["x..y"]).problem().is_some());
        assert!(Origin::bucket("a").keys(["x.*", "y.>"]).problem().is_none());
    }
}
