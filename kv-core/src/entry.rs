//! Entries: a key's value at one revision, or a delete/purge marker; and a key's live value.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

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
    /// The operation given the values of a message's `KV-Operation` and `Nats-Marker-Reason`
    /// headers, if present (`MaxAge` and `Purge` limit markers are purges, `Remove` a delete).
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
/// and where it stands in the bucket. A read that only ever yields values returns a
/// [`Current`] instead.
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
    /// How many newer entries remain to be delivered in this history or watch (0 on
    /// [`latest`](crate::Family::latest) and [`get_revision`](crate::Family::get_revision)).
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

/// A key's live value and its revision: what the reads that never yield a marker return
/// ([`Family::get`](crate::Family::get), [`get_many`](crate::Family::get_many),
/// [`get_matching`](crate::Family::get_matching), [`Single::get`](crate::Single::get)).
/// Unlike an [`Entry`], it is never a delete or purge marker, so its value is there without
/// another unwrap.
///
/// ```no_run
/// # async fn demo(sessions: natskv::Family<String, Vec<u8>>) -> natskv::Result<()> {
/// if let Some(current) = sessions.get(&"abc".to_owned()).await? {
///     println!("{} bytes at revision {}", current.value.len(), current.revision);
/// }
/// # Ok(()) }
/// ```
///
/// It converts into the [`Entry`] of the same revision (a put, `delta` 0) with `Entry::from`,
/// and an entry with a value converts back with `Current::try_from`.
#[derive(Debug, Clone, PartialEq)]
pub struct Current<K, V> {
    /// The key, parsed into its key type.
    pub key: K,
    /// The value.
    pub value: V,
    /// The revision the value was written at (its stream sequence): unique and increasing
    /// within the bucket.
    pub revision: u64,
    /// When the server stored it.
    pub created: SystemTime,
    /// The bucket it was read from (shared by every entry of the bucket, not copied).
    pub bucket: Arc<str>,
}

impl<K, V> From<Current<K, V>> for Entry<K, V> {
    /// The entry of the same revision: a put, with `delta` 0 (as
    /// [`latest`](crate::Family::latest) reads it).
    fn from(current: Current<K, V>) -> Self {
        Entry {
            key: current.key,
            value: Some(current.value),
            revision: current.revision,
            created: current.created,
            delta: 0,
            operation: Operation::Put,
            bucket: current.bucket,
        }
    }
}

impl<K, V> TryFrom<Entry<K, V>> for Current<K, V> {
    type Error = NoValue<K, V>;

    /// The entry's value as a [`Current`] (its `delta` is dropped).
    ///
    /// # Errors
    /// [`NoValue`], which gives the entry back, when it has no value: a delete or purge
    /// marker, or an entry of a meta-only watch.
    fn try_from(entry: Entry<K, V>) -> Result<Self, Self::Error> {
        match entry.value {
            Some(value) if entry.operation == Operation::Put => Ok(Current {
                key: entry.key,
                value,
                revision: entry.revision,
                created: entry.created,
                bucket: entry.bucket,
            }),
            value => Err(NoValue {
                entry: Entry { value, ..entry },
            }),
        }
    }
}

/// An [`Entry`] that holds no value (a delete or purge marker, or an entry of a meta-only
/// watch), so it is no [`Current`]: the error of `Current::try_from`, which gives the entry
/// back.
#[derive(Debug, Clone, PartialEq)]
pub struct NoValue<K, V> {
    entry: Entry<K, V>,
}

impl<K, V> NoValue<K, V> {
    /// The entry that has no value.
    pub fn entry(&self) -> &Entry<K, V> {
        &self.entry
    }

    /// The entry back.
    pub fn into_entry(self) -> Entry<K, V> {
        self.entry
    }
}

impl<K, V> fmt::Display for NoValue<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let revision = self.entry.revision;
        match self.entry.operation {
            Operation::Delete => write!(f, "revision {revision} is a delete marker, not a value"),
            Operation::Purge => write!(f, "revision {revision} is a purge marker, not a value"),
            Operation::Put => write!(f, "revision {revision} was read without its value"),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> std::error::Error for NoValue<K, V> {}

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

    #[test]
    fn operations_and_limit_markers_map_to_put_delete_purge() {
        assert_eq!(Operation::from_values(None, None), Operation::Put);
        assert_eq!(Operation::from_values(Some("DEL"), None), Operation::Delete);
        assert_eq!(
            Operation::from_values(Some("PURGE"), None),
            Operation::Purge
        );
        assert_eq!(
            Operation::from_values(None, Some("MaxAge")),
            Operation::Purge
        );
        assert_eq!(
            Operation::from_values(None, Some("Purge")),
            Operation::Purge
        );
        assert_eq!(
            Operation::from_values(None, Some("Remove")),
            Operation::Delete
        );
        assert_eq!(
            Operation::from_values(Some("DEL"), Some("MaxAge")),
            Operation::Delete,
            "KV-Operation decides when present"
        );
        assert_eq!(Operation::from_values(Some("x"), None), Operation::Put);
        assert!(Operation::Delete.is_marker() && !Operation::Put.is_marker());
    }

    fn entry(operation: Operation, value: Option<u32>) -> Entry<String, u32> {
        Entry {
            key: "k".to_owned(),
            value,
            revision: 7,
            created: SystemTime::UNIX_EPOCH,
            delta: 3,
            operation,
            bucket: Arc::from("b"),
        }
    }

    #[test]
    fn a_value_converts_to_current_and_back_without_its_delta() {
        let current = Current::try_from(entry(Operation::Put, Some(42))).unwrap();
        assert_eq!(
            current,
            Current {
                key: "k".to_owned(),
                value: 42,
                revision: 7,
                created: SystemTime::UNIX_EPOCH,
                bucket: Arc::from("b"),
            }
        );
        assert_eq!(
            Entry::from(current),
            Entry {
                delta: 0,
                ..entry(Operation::Put, Some(42))
            }
        );
    }

    #[test]
    fn markers_and_meta_only_entries_are_given_back() {
        for (operation, said) in [
            (
                Operation::Delete,
                "revision 7 is a delete marker, not a value",
            ),
            (
                Operation::Purge,
                "revision 7 is a purge marker, not a value",
            ),
            (Operation::Put, "revision 7 was read without its value"),
        ] {
            let error = Current::try_from(entry(operation, None)).unwrap_err();
            assert_eq!(error.to_string(), said);
            assert_eq!(error.entry(), &entry(operation, None));
            assert_eq!(error.into_entry(), entry(operation, None));
        }
        // A marker is never a value, whatever it holds.
        let marker = entry(Operation::Delete, Some(1));
        let error = Current::try_from(marker.clone()).unwrap_err();
        assert_eq!(error.into_entry(), marker);
    }
}
