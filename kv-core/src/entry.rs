//! Entries: a key's value at one revision, or a delete/purge marker.

use std::sync::Arc;
use std::time::SystemTime;

use async_nats::HeaderMap;
use bytes::Bytes;

/// Header naming the Key/Value operation of a message (ADR-8).
pub(crate) const KV_OPERATION: &str = "KV-Operation";
/// Header naming why the server left a limit marker (ADR-48).
pub(crate) const MARKER_REASON: &str = "Nats-Marker-Reason";

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A value was written.
    Put,
    /// The key was deleted (a delete marker; earlier revisions are kept).
    Delete,
    /// The key was purged (a purge marker; earlier revisions are gone).
    Purge,
}

impl Operation {
    /// Reads the operation from a message's headers: `KV-Operation`, or a server limit marker's
    /// `Nats-Marker-Reason` (`MaxAge` and `Purge` are purges, `Remove` is a delete).
    pub(crate) fn from_headers(headers: Option<&HeaderMap>) -> Operation {
        let (mut operation, mut reason) = (None, None);
        // One pass over the few headers a message has: cheaper than two hashed lookups, and
        // every entry read pays it.
        for (name, values) in headers.into_iter().flat_map(HeaderMap::iter) {
            let first = || values.first().map(async_nats::HeaderValue::as_str);
            match name.as_ref() {
                KV_OPERATION => operation = first(),
                MARKER_REASON => reason = first(),
                _ => {}
            }
        }
        Operation::from_values(operation, reason)
    }

    /// The operation given the values of `KV-Operation` and `Nats-Marker-Reason`, if present.
    pub(crate) fn from_values(operation: Option<&str>, marker_reason: Option<&str>) -> Operation {
        // `KV-Operation` decides when present; otherwise the limit marker's reason.
        match (operation, marker_reason) {
            (Some("DEL"), _) | (None, Some("Remove")) => Operation::Delete,
            (Some("PURGE"), _) | (None, Some("MaxAge" | "Purge")) => Operation::Purge,
            _ => Operation::Put,
        }
    }

    /// Whether this is a delete or purge marker rather than a value.
    pub fn is_marker(self) -> bool {
        self != Operation::Put
    }
}

/// One revision of a key: its typed key, its value (absent for markers and meta-only watches),
/// and where it stands in the bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<K, V> {
    /// The key, parsed into its key type.
    pub key: K,
    /// The value; `None` for a delete or purge marker, and in meta-only watches.
    pub value: Option<V>,
    /// The entry's revision (its stream sequence): unique and increasing within the bucket.
    pub revision: u64,
    /// When the server stored it.
    pub created: SystemTime,
    /// How many newer entries remain to be delivered in this history or watch (0 on `get`).
    pub delta: u64,
    /// What the entry records.
    pub operation: Operation,
    /// The bucket it was read from (shared by every entry of the bucket, not copied).
    pub bucket: Arc<str>,
}

impl<K, V> Entry<K, V> {
    /// Whether this is a delete or purge marker.
    pub fn is_marker(&self) -> bool {
        self.operation.is_marker()
    }
}

/// An entry before its key is parsed and its value decoded.
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    pub(crate) key: String,
    pub(crate) payload: Bytes,
    pub(crate) revision: u64,
    pub(crate) created: SystemTime,
    pub(crate) delta: u64,
    pub(crate) operation: Operation,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, *v);
        }
        h
    }

    #[test]
    fn operations_and_limit_markers_map_to_put_delete_purge() {
        assert_eq!(Operation::from_headers(None), Operation::Put);
        assert_eq!(
            Operation::from_headers(Some(&headers(&[(KV_OPERATION, "DEL")]))),
            Operation::Delete
        );
        assert_eq!(
            Operation::from_headers(Some(&headers(&[(KV_OPERATION, "PURGE")]))),
            Operation::Purge
        );
        assert_eq!(
            Operation::from_headers(Some(&headers(&[(MARKER_REASON, "MaxAge")]))),
            Operation::Purge
        );
        assert_eq!(
            Operation::from_headers(Some(&headers(&[(MARKER_REASON, "Purge")]))),
            Operation::Purge
        );
        assert_eq!(
            Operation::from_headers(Some(&headers(&[(MARKER_REASON, "Remove")]))),
            Operation::Delete
        );
        assert_eq!(
            Operation::from_headers(Some(&headers(&[("Other", "x")]))),
            Operation::Put
        );
        assert!(Operation::Delete.is_marker() && !Operation::Put.is_marker());
    }
}
