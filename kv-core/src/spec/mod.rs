//! A bucket's declared configuration: [`BucketSpec`], its builder and getters, validated before
//! any wire call, and the bucket's own metadata as the server reports it. How it checks and
//! widens the bucket's stored schema is in `schema`; how it maps to the backing stream's
//! configuration and back (drift) is the wire layer's (`wire::stream`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

mod schema;

pub use schema::SCHEMA_METADATA_KEY;

use crate::error::{Error, Result};
use crate::names::validate_bucket_name;
use crate::schema::Schema;
use crate::stream_options::{Placement, Republish};
use crate::topology::Origin;
use natskv_grammar::limits::{MAX_HISTORY, MAX_REPLICAS};

/// Metadata keys with this prefix belong to the server and are not compared or written.
const SERVER_METADATA_PREFIX: &str = "_nats";

/// The metadata entries that are neither the server's own nor the schema.
pub(crate) fn user_metadata(metadata: &HashMap<String, String>) -> BTreeMap<String, String> {
    metadata
        .iter()
        .filter(|(k, _)| !k.starts_with(SERVER_METADATA_PREFIX) && *k != SCHEMA_METADATA_KEY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Where a bucket keeps its data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Storage {
    /// On disk (the default): survives a server restart.
    #[default]
    File,
    /// In memory: fast, lost when the server stops.
    Memory,
}

impl Storage {
    /// The name used in `#[kv(storage = "...")]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::Memory => "memory",
        }
    }

    /// Parses `"file"` or `"memory"`.
    pub fn parse(s: &str) -> Option<Storage> {
        match s {
            "file" => Some(Storage::File),
            "memory" => Some(Storage::Memory),
            _ => None,
        }
    }
}

/// The declared configuration of a bucket. Built with chained setters; checked by
/// [`validate`](BucketSpec::validate), which every bucket operation calls before sending anything.
///
/// ```
/// use std::time::Duration;
/// use natskv::{BucketSpec, Storage};
/// let spec = BucketSpec::new("fleet").history(5).ttl(Duration::from_secs(7 * 86_400)).storage(Storage::File);
/// assert!(spec.validate().is_ok());
/// assert!(BucketSpec::new("fleet").history(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    name: String,
    description: Option<String>,
    history: u8,
    ttl: Option<Duration>,
    max_value_size: Option<u32>,
    max_bytes: Option<u64>,
    storage: Storage,
    replicas: u8,
    compression: bool,
    metadata: BTreeMap<String, String>,
    limit_markers: Option<Duration>,
    atomic: bool,
    schema: Option<Schema>,
    mirror: Option<Origin>,
    sources: Vec<Origin>,
    writable: bool,
    republish: Option<Republish>,
    placement: Option<Placement>,
}

impl BucketSpec {
    /// A spec with the defaults: history 1, no TTL, no size limits, file storage, one replica.
    pub fn new(name: impl Into<String>) -> Self {
        BucketSpec {
            name: name.into(),
            description: None,
            history: 1,
            ttl: None,
            max_value_size: None,
            max_bytes: None,
            storage: Storage::File,
            replicas: 1,
            compression: false,
            metadata: BTreeMap::new(),
            limit_markers: None,
            atomic: false,
            schema: None,
            mirror: None,
            sources: Vec::new(),
            writable: false,
            republish: None,
            placement: None,
        }
    }

    /// Also sends every write (or those of some keys) to a subject of your choice: see
    /// [`Republish`].
    #[must_use]
    pub fn republish(mut self, republish: Republish) -> Self {
        self.republish = Some(republish);
        self
    }

    /// Places the bucket's stream on a cluster or on tagged servers: see [`Placement`].
    #[must_use]
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = Some(placement);
        self
    }

    /// The declared republishing, if any.
    pub fn republish_value(&self) -> Option<&Republish> {
        self.republish.as_ref()
    }

    /// The declared placement, if any.
    pub fn placement_value(&self) -> Option<&Placement> {
        self.placement.as_ref()
    }

    /// Makes this bucket a read-only mirror of `origin` (ADR-8): it copies the origin's keys
    /// (all, or the origin's key filters) and serves reads; writes go to the origin.
    #[must_use]
    pub fn mirror(mut self, origin: Origin) -> Self {
        self.mirror = Some(origin);
        self
    }

    /// Makes this bucket an aggregate that also takes the keys of `origin` (call once per
    /// origin). An aggregate is read-only unless [`writable`](Self::writable).
    #[must_use]
    pub fn source(mut self, origin: Origin) -> Self {
        self.sources.push(origin);
        self
    }

    /// Lets an aggregate also take writes of its own.
    #[must_use]
    pub fn writable(mut self, writable: bool) -> Self {
        self.writable = writable;
        self
    }

    /// The origin this bucket mirrors, if it is a mirror.
    pub(crate) fn mirror_value(&self) -> Option<&Origin> {
        self.mirror.as_ref()
    }

    /// The origins this aggregate sources from.
    pub(crate) fn sources_value(&self) -> &[Origin] {
        &self.sources
    }

    /// Whether the bucket takes writes: not a mirror, and not a read-only aggregate.
    pub fn is_writable(&self) -> bool {
        self.mirror.is_none() && (self.sources.is_empty() || self.writable)
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets how many revisions of each key are kept (1..=64).
    #[must_use]
    pub fn history(mut self, history: u8) -> Self {
        self.history = history;
        self
    }

    /// Sets how long a value lives. A TTL under 2 minutes also shortens the bucket's duplicate
    /// window to it, and with it how long a write the server did not answer is resent
    /// ([`WriteRetry`](crate::WriteRetry)).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets the largest value, in bytes (the stream's `max_msg_size`). The server holds the
    /// whole message against it: the encoded value and the headers natskv writes with it
    /// (about 50 bytes, see [`Error::ValueTooLarge`]), so leave that much room. A write over
    /// it is refused before it is sent.
    #[must_use]
    pub fn max_value_size(mut self, bytes: u32) -> Self {
        self.max_value_size = Some(bytes);
        self
    }

    /// Sets the largest size of the whole bucket, in bytes.
    #[must_use]
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Sets the storage.
    #[must_use]
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// Sets the number of replicas (1..=5; more than one needs a cluster).
    #[must_use]
    pub fn replicas(mut self, replicas: u8) -> Self {
        self.replicas = replicas;
        self
    }

    /// Turns S2 compression of the stored data on or off.
    #[must_use]
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Adds a metadata entry (keys starting with `_nats` are the server's and are refused).
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Enables limit markers (ADR-48): per-key TTLs, and markers left behind, for this long,
    /// when a key expires or is removed by a limit. Needs nats-server 2.11 or newer.
    #[must_use]
    pub fn limit_markers(mut self, marker_ttl: Duration) -> Self {
        self.limit_markers = Some(marker_ttl);
        self
    }

    /// Allows atomic batches (ADR-50): [`Transaction`](crate::Transaction)s, whose writes to
    /// several keys are stored all or nothing. Needs nats-server 2.12 or newer: `create` and
    /// `ensure` on an older one fail with [`Error::Unsupported`].
    #[must_use]
    pub fn atomic(mut self, on: bool) -> Self {
        self.atomic = on;
        self
    }

    /// Whether the spec allows atomic batches.
    pub fn atomic_value(&self) -> bool {
        self.atomic
    }

    /// The same spec for a bucket of another name, every other option (and the schema) kept:
    /// one declaration, a bucket per tenant, region or test. The name is checked, like every
    /// option, before any wire call ([`Error::InvalidBucketName`]).
    ///
    /// ```
    /// let eu = natskv::BucketSpec::new("fleet").history(5).named("fleet-eu");
    /// assert_eq!((eu.name(), eu.history_depth()), ("fleet-eu", 5));
    /// ```
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared description.
    pub fn description_value(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The declared largest total size of the bucket, in bytes.
    pub fn max_bytes_value(&self) -> Option<u64> {
        self.max_bytes
    }

    /// The declared number of replicas.
    pub fn replicas_value(&self) -> u8 {
        self.replicas
    }

    /// Whether the bucket is declared compressed (S2).
    pub fn compression_value(&self) -> bool {
        self.compression
    }

    /// The declared history depth.
    pub fn history_depth(&self) -> u8 {
        self.history
    }

    /// The declared TTL.
    pub fn ttl_value(&self) -> Option<Duration> {
        self.ttl
    }

    /// The declared largest value size.
    pub fn max_value_size_value(&self) -> Option<u32> {
        self.max_value_size
    }

    /// The declared storage.
    pub fn storage_value(&self) -> Storage {
        self.storage
    }

    /// The declared metadata.
    pub fn metadata_map(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The declared limit-marker TTL, when limit markers are on.
    pub fn limit_markers_value(&self) -> Option<Duration> {
        self.limit_markers
    }

    /// Checks every option. Called before any wire call.
    ///
    /// # Errors
    /// [`Error::InvalidBucketName`] or [`Error::InvalidConfig`] saying which option is wrong.
    pub fn validate(&self) -> Result<()> {
        validate_bucket_name(&self.name).map_err(|source| Error::InvalidBucketName {
            name: self.name.clone(),
            source,
        })?;
        let invalid = |reason: String| Error::InvalidConfig {
            bucket: self.name.clone(),
            reason,
        };
        if !(1..=MAX_HISTORY).contains(&self.history) {
            return Err(invalid(format!(
                "history is {}, it must be between 1 and {MAX_HISTORY}",
                self.history
            )));
        }
        if !(1..=MAX_REPLICAS).contains(&self.replicas) {
            return Err(invalid(format!(
                "replicas is {}, it must be between 1 and {MAX_REPLICAS}",
                self.replicas
            )));
        }
        if self.ttl.is_some_and(|t| t < Duration::from_millis(1)) {
            return Err(invalid(
                "ttl must be at least 1ms; leave it unset for no TTL".into(),
            ));
        }
        if self
            .max_value_size
            .is_some_and(|s| s == 0 || i32::try_from(s).is_err())
        {
            return Err(invalid(format!(
                "max_value_size must be between 1 and {} bytes",
                i32::MAX
            )));
        }
        if self
            .max_bytes
            .is_some_and(|s| s == 0 || i64::try_from(s).is_err())
        {
            return Err(invalid(format!(
                "max_bytes must be between 1 and {} bytes",
                i64::MAX
            )));
        }
        if self
            .limit_markers
            .is_some_and(|t| t < Duration::from_secs(1))
        {
            return Err(invalid("limit_markers must be at least 1s".into()));
        }
        if let Some(key) = self
            .metadata
            .keys()
            .find(|k| k.starts_with(SERVER_METADATA_PREFIX))
        {
            return Err(invalid(format!(
                "metadata key `{key}` is reserved for the server (prefix `{SERVER_METADATA_PREFIX}`)"
            )));
        }
        if let Some(problem) = self.schema.as_ref().and_then(Schema::problem) {
            return Err(invalid(format!("schema: {problem}")));
        }
        if let Some(schema) = &self.schema {
            self.check_metadata_len(&schema.merged_over(&Schema::default()).to_text())?;
        }
        if self.mirror.is_some() && !self.sources.is_empty() {
            return Err(invalid(
                "a bucket is either a mirror or an aggregate, not both".into(),
            ));
        }
        if let Some(problem) = self
            .mirror
            .iter()
            .chain(&self.sources)
            .find_map(Origin::problem)
        {
            return Err(invalid(problem));
        }
        if self
            .mirror
            .as_ref()
            .is_some_and(|m| m.bucket_name() == self.name)
            || self.sources.iter().any(|s| s.bucket_name() == self.name)
        {
            return Err(invalid("a bucket cannot mirror or aggregate itself".into()));
        }
        if let Some(problem) = self
            .republish
            .as_ref()
            .and_then(Republish::problem)
            .or_else(|| self.placement.as_ref().and_then(Placement::problem))
        {
            return Err(invalid(problem));
        }
        if self.metadata.contains_key(SCHEMA_METADATA_KEY) {
            return Err(invalid(format!(
                "metadata key `{SCHEMA_METADATA_KEY}` is reserved for the schema; use `schema`"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_options_are_refused() {
        use crate::ErrorKind::{InvalidBucketName, InvalidConfig};
        let kind = |s: BucketSpec| s.validate().unwrap_err().kind();
        assert_eq!(kind(BucketSpec::new("a.b")), InvalidBucketName);
        assert_eq!(kind(BucketSpec::new("")), InvalidBucketName);
        assert_eq!(kind(BucketSpec::new("a").history(0)), InvalidConfig);
        assert_eq!(kind(BucketSpec::new("a").history(65)), InvalidConfig);
        assert_eq!(kind(BucketSpec::new("a").replicas(0)), InvalidConfig);
        assert_eq!(kind(BucketSpec::new("a").replicas(6)), InvalidConfig);
        assert_eq!(kind(BucketSpec::new("a").max_value_size(0)), InvalidConfig);
        assert_eq!(
            kind(BucketSpec::new("a").max_value_size(u32::MAX)),
            InvalidConfig
        );
        assert_eq!(
            kind(BucketSpec::new("a").ttl(Duration::ZERO)),
            InvalidConfig
        );
        assert_eq!(
            kind(BucketSpec::new("a").limit_markers(Duration::from_millis(10))),
            InvalidConfig
        );
        assert_eq!(
            kind(BucketSpec::new("a").metadata("_nats.x", "1")),
            InvalidConfig
        );
        BucketSpec::new("a")
            .history(64)
            .replicas(5)
            .validate()
            .unwrap();
    }
}
