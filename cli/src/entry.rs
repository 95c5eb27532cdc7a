//! One entry of a bucket as the command sees it: a key, a revision, an operation, a time and the
//! value's bytes.

use bytes::Bytes;
use time::OffsetDateTime;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// A value was written.
    Put,
    /// The key was deleted (its history is kept).
    Delete,
    /// The key was purged (its history is gone).
    Purge,
}

impl Operation {
    /// The name in output and dumps: `PUT`, `DEL` or `PURGE`, as NATS writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Put => "PUT",
            Self::Delete => "DEL",
            Self::Purge => "PURGE",
        }
    }

    /// The operation named `name` (as [`as_str`](Self::as_str) writes it).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "PUT" => Some(Self::Put),
            "DEL" => Some(Self::Delete),
            "PURGE" => Some(Self::Purge),
            _ => None,
        }
    }
}

/// One revision of one key.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The key.
    pub(crate) key: String,
    /// The revision (the stream sequence).
    pub(crate) revision: u64,
    /// What the entry records.
    pub(crate) operation: Operation,
    /// When the server stored it.
    pub(crate) created: OffsetDateTime,
    /// The value's bytes as stored (empty for a delete or purge).
    pub(crate) value: Bytes,
}
