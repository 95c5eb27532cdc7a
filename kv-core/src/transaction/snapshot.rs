//! Consistent reads: the latest values of many keys, of any families of one bucket, as of one
//! revision ([`Reads`] builds the read, [`View`] holds what it found).

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::bucket::Bucket;
use crate::codec::Codec;
use crate::entry::{Current, RawEntry};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::{KeyFilter, KvKey};
use crate::mode::Mode;
use crate::watch::filters::subject_matches;
use crate::wire::{direct, scan};

/// A read of many keys of one bucket, of any of its families, as of one revision: what it
/// returns ([`View`]) is a state the bucket was in, never half of a transaction.
///
/// Name keys ([`key`](Self::key), [`keys`](Self::keys)), filters
/// ([`matching`](Self::matching), [`family`](Self::family)) or the whole bucket
/// ([`all`](Self::all)), then [`fetch`](Self::fetch). An error in a key or filter (a key that
/// does not render, a family of another bucket) is kept and returned by `fetch`, before any
/// wire call.
///
/// The read uses ADR-31 `multi_last` direct gets pinned to one stream sequence (nats-server
/// 2.12+, the bucket allowing direct gets), and creates no consumer; it needs the bucket to
/// still hold each key's value as of that revision, which it does unless the key is written
/// `history` times or more during the read. On older servers or buckets without direct gets,
/// it reads through an ordered consumer (deleted before `fetch` returns), as of the last
/// revision it delivered.
///
/// ```no_run
/// # async fn demo(bucket: natskv::Bucket, accounts: natskv::Family<String, i64>) -> natskv::Result<()> {
/// let (alice, bob) = ("alice".to_owned(), "bob".to_owned());
/// let view = bucket.snapshot().keys(&accounts, [&alice, &bob]).fetch().await?;
/// let total: i64 = [&alice, &bob]
///     .into_iter()
///     .map(|k| Ok(view.get(&accounts, k)?.map_or(0, |c| c.value)))
///     .sum::<natskv::Result<i64>>()?;
/// println!("total {total} as of revision {}", view.revision());
/// # Ok(()) }
/// ```
pub struct Reads<'a> {
    bucket: &'a Bucket,
    /// Keys named, rendered.
    keys: Vec<String>,
    /// Key filters (without the bucket's subject prefix).
    filters: Vec<String>,
    /// The first error met while building.
    error: Option<Error>,
}

impl fmt::Debug for Reads<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reads")
            .field("bucket", &self.bucket.name())
            .field("keys", &self.keys)
            .field("filters", &self.filters)
            .finish_non_exhaustive()
    }
}

impl<'a> Reads<'a> {
    pub(crate) fn new(bucket: &'a Bucket) -> Self {
        Reads {
            bucket,
            keys: Vec::new(),
            filters: Vec::new(),
            error: None,
        }
    }

    /// A read of `keys` (rendered).
    pub(crate) fn named(bucket: &'a Bucket, keys: Vec<String>) -> Self {
        Reads::of(bucket, keys, Vec::new())
    }

    /// A read of `keys` (rendered) and key `filters` (without the bucket's prefix).
    pub(crate) fn of(bucket: &'a Bucket, keys: Vec<String>, filters: Vec<String>) -> Self {
        Reads {
            keys,
            filters,
            ..Reads::new(bucket)
        }
    }

    /// Keeps the first error.
    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }

    fn check_family<K: KvKey, V, C: Codec<V>, M: Mode>(
        &mut self,
        family: &Family<K, V, C, M>,
    ) -> bool {
        if family.bucket().stream_name() == self.bucket.stream_name() {
            return true;
        }
        let reason = format!(
            "a read of a family of bucket `{}`: a snapshot reads one bucket",
            family.bucket().name()
        );
        self.fail(Error::InvalidTransaction {
            bucket: self.bucket.name().to_owned(),
            reason,
        });
        false
    }

    /// Reads `key` of `family`.
    #[must_use]
    pub fn key<K: KvKey, V, C: Codec<V>, M: Mode>(
        self,
        family: &Family<K, V, C, M>,
        key: &K,
    ) -> Self {
        self.keys(family, [key])
    }

    /// Reads each of `keys` of `family`.
    #[must_use]
    pub fn keys<'k, K: KvKey + 'k, V, C: Codec<V>, M: Mode>(
        mut self,
        family: &Family<K, V, C, M>,
        keys: impl IntoIterator<Item = &'k K>,
    ) -> Self {
        if !self.check_family(family) {
            return self;
        }
        for key in keys {
            match family.key(key) {
                Ok(rendered) => self.keys.push(rendered),
                Err(error) => self.fail(error),
            }
        }
        self
    }

    /// Reads every key of `family` that `filter` matches.
    #[must_use]
    pub fn matching<K: KvKey, V, C: Codec<V>, M: Mode>(
        mut self,
        family: &Family<K, V, C, M>,
        filter: &KeyFilter<K>,
    ) -> Self {
        if !self.check_family(family) {
            return self;
        }
        match family.subject_filter(filter) {
            Ok(subject) => {
                let key_filter = subject[self.bucket.prefix().len()..].to_owned();
                self.filters.push(key_filter);
            }
            Err(error) => self.fail(error),
        }
        self
    }

    /// Reads every key of `family`.
    #[must_use]
    pub fn family<K: KvKey, V, C: Codec<V>, M: Mode>(self, family: &Family<K, V, C, M>) -> Self {
        self.matching(family, &KeyFilter::any())
    }

    /// Reads every key of the bucket: a snapshot of all of it.
    #[must_use]
    pub fn all(mut self) -> Self {
        self.filters.push(">".to_owned());
        self
    }

    /// Reads what was named, as of one revision.
    ///
    /// # Errors
    /// The first error of a key or filter ([`Error::InvalidKey`],
    /// [`Error::InvalidTransaction`]) before any wire call; [`Error::BucketNotFound`],
    /// [`Error::Unavailable`], [`Error::Timeout`] or [`Error::PermissionDenied`] as for
    /// `get_many`.
    pub async fn fetch(self) -> Result<View> {
        let reads = self.checked()?;
        let op = reads.read();
        crate::trace::traced(
            reads.bucket.name(),
            "snapshot",
            None,
            |v| Some(v.revision),
            op,
        )
        .await
    }

    /// The reads, or the first error met building them.
    pub(crate) fn checked(mut self) -> Result<Self> {
        match self.error.take() {
            Some(error) => Err(error),
            None => Ok(self),
        }
    }

    /// Reads what was named (the caller has [`checked`](Self::checked) it).
    pub(crate) async fn read(&self) -> Result<View> {
        let prefix = self.bucket.prefix();
        let subjects: Vec<String> = self.keys.iter().map(|k| format!("{prefix}{k}")).collect();
        let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
        let filters: Vec<String> = self
            .filters
            .iter()
            .map(|f| format!("{prefix}{f}"))
            .collect();
        let filters: Vec<&str> = filters.iter().map(String::as_str).collect();
        let mut entries = HashMap::new();
        let found = |entry: RawEntry| {
            entries.insert(entry.key.clone(), entry);
        };
        let revision = if direct::supported(self.bucket) {
            direct::snapshot(self.bucket, &subjects, &filters, found).await?
        } else if subjects.is_empty() && filters.is_empty() {
            direct::last_revision(self.bucket, "snapshot").await?
        } else {
            let all = subjects.iter().chain(&filters).map(|s| (*s).to_owned());
            scan::latest(self.bucket, all.collect(), found).await?
        };
        Ok(View {
            bucket: self.bucket.clone(),
            revision,
            entries,
            keys: self.keys.iter().cloned().collect(),
            filters: self.filters.clone(),
        })
    }
}

/// What a [`Reads`] found: the latest entry of each key it read, as of one revision.
#[derive(Clone)]
pub struct View {
    bucket: Bucket,
    revision: u64,
    /// The latest entry of each key read that has one, markers included.
    entries: HashMap<String, RawEntry>,
    /// The keys named.
    keys: HashSet<String>,
    /// The key filters read.
    filters: Vec<String>,
}

impl fmt::Debug for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("bucket", &self.bucket.name())
            .field("revision", &self.revision)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl View {
    /// The bucket revision the view is as of: every key read is as it was right after it.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The number of keys read that had a value (markers left out).
    pub fn len(&self) -> usize {
        self.entries
            .values()
            .filter(|e| !e.operation.is_marker())
            .count()
    }

    /// Whether no key read had a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key` in `family` as of the view's revision; `None` when it had none
    /// (never written, deleted or purged).
    ///
    /// # Errors
    /// [`Error::InvalidTransaction`] when the read did not cover the key (it was not named and
    /// matches no filter read), rather than a `None` that would claim it had no value;
    /// [`Error::InvalidKey`] when the key does not render; [`Error::Codec`] when its value
    /// does not decode.
    pub fn get<K: KvKey, V, C: Codec<V>, M: Mode>(
        &self,
        family: &Family<K, V, C, M>,
        key: &K,
    ) -> Result<Option<Current<K, V>>> {
        let rendered = family.key(key)?;
        if !self.covers(&rendered) {
            return Err(Error::InvalidTransaction {
                bucket: self.bucket.name().to_owned(),
                reason: format!(
                    "key `{rendered}` was not read by this snapshot; add it to its reads"
                ),
            });
        }
        match self.entries.get(&rendered) {
            Some(raw) if !raw.operation.is_marker() => family.decode_current(raw).map(Some),
            _ => Ok(None),
        }
    }

    /// Every value of `family` the view holds (the keys of it that were read and have a
    /// value), in no particular order. Read the whole family with [`Reads::family`].
    ///
    /// # Errors
    /// Each item: [`Error::ForeignKey`] for a stored key of the family's filter that does not
    /// parse, [`Error::Codec`] for a value that does not decode.
    pub fn values<'v, K: KvKey + 'v, V: 'v, C: Codec<V> + 'v, M: Mode + 'v>(
        &'v self,
        family: &'v Family<K, V, C, M>,
    ) -> impl Iterator<Item = Result<Current<K, V>>> + 'v {
        let prefix = self.bucket.prefix();
        let filter = family
            .subject_filter(&KeyFilter::any())
            .map(|f| f[prefix.len()..].to_owned())
            .unwrap_or_default();
        self.entries
            .values()
            .filter(move |raw| !raw.operation.is_marker() && subject_matches(&filter, &raw.key))
            .map(|raw| family.decode_current(raw))
    }

    /// Whether the read covered `key` (rendered): named, or matched by a filter read.
    pub(crate) fn covers(&self, key: &str) -> bool {
        self.keys.contains(key) || self.filters.iter().any(|f| subject_matches(f, key))
    }

    /// The revision of `key`'s latest entry (markers included) as of the view, 0 when none.
    pub(crate) fn latest_revision(&self, key: &str) -> u64 {
        self.entries.get(key).map_or(0, |e| e.revision)
    }

    /// The revision of `key`'s latest entry and whether it is a marker; `None` when it has none.
    pub(crate) fn latest(&self, key: &str) -> Option<(u64, bool)> {
        self.entries
            .get(key)
            .map(|e| (e.revision, e.operation.is_marker()))
    }

    /// Whether `key` had a value (not a marker) as of the view.
    pub(crate) fn has_value(&self, key: &str) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| !e.operation.is_marker())
    }

    /// The guards of a read-modify-write: each key named and not under a filter read, with
    /// the revision found (0: none), and each filter read, with the last revision of any key
    /// it matches (0: none). A filter's revision moves on when a key under it is written,
    /// deleted, purged or created, so a guard on it is a guard on everything it found and on
    /// what it did not.
    pub(crate) fn read_guards(&self) -> Vec<(String, u64)> {
        let named = self
            .keys
            .iter()
            .filter(|k| !self.filters.iter().any(|f| subject_matches(f, k)))
            .map(|k| (k.clone(), self.latest_revision(k)));
        let filters = self.filters.iter().map(|f| (f.clone(), self.last_under(f)));
        named.chain(filters).collect()
    }

    /// The latest entry of a key `filter` matches, as of the view: its key and revision.
    pub(crate) fn newest_under(&self, filter: &str) -> Option<(&str, u64)> {
        self.entries
            .values()
            .filter(|e| subject_matches(filter, &e.key))
            .max_by_key(|e| e.revision)
            .map(|e| (e.key.as_str(), e.revision))
    }

    /// The last revision of any key `filter` matches, as of the view; 0 when none.
    fn last_under(&self, filter: &str) -> u64 {
        self.newest_under(filter)
            .map_or(0, |(_, revision)| revision)
    }
}
