//! A bucket's declared configuration: [`BucketSpec`], validated before any wire call.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::jetstream::stream::{self, Compression, DiscardPolicy, StorageType};

use crate::error::{Drift, Error, Result, SchemaDifference};
use crate::names::validate_bucket_name;
use crate::schema::Schema;
use crate::stream_options::{Placement, Republish};
use crate::topology::Origin;
use crate::units::format_duration;
use natskv_grammar::limits::{MAX_HISTORY, MAX_REPLICAS};

/// Metadata keys with this prefix belong to the server and are not compared or written.
const SERVER_METADATA_PREFIX: &str = "_nats";
/// The most metadata natskv stores on a bucket (the server keeps 128 KiB per stream, some of it
/// for its own keys).
const MAX_METADATA_LEN: usize = 120 * 1024;

/// The metadata key holding the declaration's [`Schema`], as JSON.
pub const SCHEMA_METADATA_KEY: &str = "natskv.schema";
/// The default duplicate window of a bucket (ADR-8), shortened to the TTL when that is shorter.
/// The server recognises a resent message id within it, so it also bounds how long natskv
/// resends an unanswered write ([`WriteRetry`](crate::WriteRetry)).
const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

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

    fn to_nats(self) -> StorageType {
        match self {
            Storage::File => StorageType::File,
            Storage::Memory => StorageType::Memory,
        }
    }

    fn from_nats(storage: StorageType) -> Storage {
        match storage {
            StorageType::File => Storage::File,
            StorageType::Memory => Storage::Memory,
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

    /// Whether the bucket takes writes: not a mirror, and not a read-only aggregate.
    pub fn is_writable(&self) -> bool {
        self.mirror.is_none() && (self.sources.is_empty() || self.writable)
    }

    /// Records the schema of the declaration that uses this bucket: its families' key
    /// patterns, codecs and value shapes (see [`Schema`] and the compatibility policy in
    /// [`schema`](crate::schema)). `create` stores it in the bucket's metadata under
    /// [`SCHEMA_METADATA_KEY`]; `open` and `ensure` refuse a bucket whose stored schema this
    /// one cannot work with ([`Error::SchemaMismatch`]), and `ensure` stores the union of both.
    /// The derive sets it from the declaration.
    #[must_use]
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// The declared schema.
    pub fn schema_value(&self) -> Option<&Schema> {
        self.schema.as_ref()
    }

    /// Checks the declared schema against the one `actual` (the server's stream
    /// configuration) stores, and returns the schema text the bucket should hold: the stored
    /// one widened by this declaration (`None` without a declared schema). A bucket without a
    /// stored schema (made by another tool), or with one from a natskv before schema 3, takes
    /// this declaration's.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] naming each family the policy refuses, or when the stored
    /// schema cannot be read.
    pub(crate) fn check_schema(&self, actual: &stream::Config) -> Result<Option<String>> {
        let Some(declared) = &self.schema else {
            return Ok(None);
        };
        let mismatch = |differences| Error::SchemaMismatch {
            bucket: self.name.clone(),
            expected: declared.to_text(),
            found: actual
                .metadata
                .get(SCHEMA_METADATA_KEY)
                .cloned()
                .unwrap_or_default(),
            differences,
        };
        let stored = match actual
            .metadata
            .get(SCHEMA_METADATA_KEY)
            .map(|t| Schema::parse(t))
        {
            None | Some(Ok(None)) => Schema::default(),
            Some(Ok(Some(stored))) => stored,
            Some(Err(reason)) => {
                return Err(mismatch(vec![SchemaDifference::Opaque {
                    declared: declared.to_text(),
                    stored: actual
                        .metadata
                        .get(SCHEMA_METADATA_KEY)
                        .cloned()
                        .unwrap_or_default(),
                    reason,
                }]));
            }
        };
        let differences = declared.differences(&stored);
        if !differences.is_empty() {
            return Err(mismatch(differences));
        }
        let merged = declared.merged_over(&stored).to_text();
        self.check_metadata_len(&merged)?;
        Ok(Some(merged))
    }

    /// [`Error::InvalidConfig`] when the metadata with `schema` would be more than the server
    /// keeps for a stream, which it would refuse as a whole.
    fn check_metadata_len(&self, schema: &str) -> Result<()> {
        let user: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        let len = user + SCHEMA_METADATA_KEY.len() + schema.len();
        if len > MAX_METADATA_LEN {
            return Err(Error::InvalidConfig {
                bucket: self.name.clone(),
                reason: format!(
                    "the metadata with the schema is {len} bytes, more than the {MAX_METADATA_LEN} \
                     a bucket can hold; split the families over several buckets, or shorten \
                     the metadata"
                ),
            });
        }
        Ok(())
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

    /// The name of the stream behind the bucket.
    pub(crate) fn stream_name(&self) -> String {
        format!("KV_{}", self.name)
    }

    /// The stream configuration of this bucket, per ADR-8.
    pub(crate) fn to_stream_config(&self) -> stream::Config {
        let duplicate_window = match self.ttl {
            Some(ttl) if ttl < DEFAULT_DUPLICATE_WINDOW => ttl,
            _ => DEFAULT_DUPLICATE_WINDOW,
        };
        let subjects = if self.is_writable() {
            vec![format!("$KV.{}.>", self.name)]
        } else {
            Vec::new()
        };
        let sources = (!self.sources.is_empty()).then(|| {
            self.sources
                .iter()
                .map(|o| o.aggregate_source(&self.name))
                .collect()
        });
        stream::Config {
            name: self.stream_name(),
            description: self.description.clone(),
            subjects,
            mirror: self.mirror.as_ref().map(Origin::mirror_source),
            mirror_direct: self.mirror.is_some(),
            sources,
            max_messages_per_subject: i64::from(self.history),
            max_bytes: self
                .max_bytes
                .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)),
            max_age: self.ttl.unwrap_or_default(),
            max_message_size: self
                .max_value_size
                .map_or(-1, |s| i32::try_from(s).unwrap_or(i32::MAX)),
            storage: self.storage.to_nats(),
            num_replicas: usize::from(self.replicas),
            allow_rollup: true,
            deny_delete: true,
            deny_purge: false,
            allow_direct: true,
            discard: DiscardPolicy::New,
            duplicate_window,
            compression: self.compression.then_some(Compression::S2),
            metadata: self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain(self.schema.iter().map(|s| {
                    let stored = s.merged_over(&Schema::default());
                    (SCHEMA_METADATA_KEY.to_owned(), stored.to_text())
                }))
                .collect(),
            allow_message_ttl: self.limit_markers.is_some(),
            subject_delete_marker_ttl: self.limit_markers,
            republish: self.republish.as_ref().map(|r| r.to_nats(&self.name)),
            placement: self.placement.as_ref().map(Placement::to_nats),
            ..Default::default()
        }
    }

    /// Every option whose value in `actual` (the server's stream configuration) differs from
    /// this declaration.
    #[allow(clippy::too_many_lines)] // one check per option reads best as one list
    pub(crate) fn drift(&self, actual: &stream::Config) -> Vec<Drift> {
        let mut out = Vec::new();
        let mut check = |option: &'static str, declared: String, actual: String| {
            if declared != actual {
                out.push(Drift {
                    option,
                    declared,
                    actual,
                });
            }
        };
        let declared = self.to_stream_config();
        check(
            "description",
            format!("{:?}", declared.description.unwrap_or_default()),
            format!("{:?}", actual.description.clone().unwrap_or_default()),
        );
        check(
            "history",
            declared.max_messages_per_subject.to_string(),
            actual.max_messages_per_subject.to_string(),
        );
        check(
            "ttl",
            format_duration(declared.max_age),
            format_duration(actual.max_age),
        );
        check(
            "max_value_size",
            limit_text(i64::from(declared.max_message_size)),
            limit_text(i64::from(actual.max_message_size)),
        );
        check(
            "max_bytes",
            limit_text(declared.max_bytes),
            limit_text(actual.max_bytes),
        );
        check(
            "storage",
            self.storage.as_str().to_owned(),
            Storage::from_nats(actual.storage).as_str().to_owned(),
        );
        check(
            "replicas",
            declared.num_replicas.to_string(),
            actual.num_replicas.max(1).to_string(),
        );
        check(
            "compression",
            self.compression.to_string(),
            matches!(actual.compression, Some(Compression::S2)).to_string(),
        );
        check(
            "metadata",
            format!("{:?}", self.metadata),
            format!("{:?}", user_metadata(&actual.metadata)),
        );
        let markers = |ttl: Option<Duration>| ttl.map_or_else(|| "off".to_owned(), format_duration);
        check(
            "limit_markers",
            markers(self.limit_markers),
            markers(
                actual
                    .allow_message_ttl
                    .then_some(actual.subject_delete_marker_ttl)
                    .flatten(),
            ),
        );
        let or_none = |text: Option<String>| text.unwrap_or_else(|| "none".to_owned());
        check(
            "mirror",
            or_none(self.mirror.as_ref().map(Origin::describe)),
            or_none(
                actual
                    .mirror
                    .as_ref()
                    .map(|m| Origin::describe_source(m, None)),
            ),
        );
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(", ")
            }
        };
        check(
            "sources",
            list(self.sources.iter().map(Origin::describe).collect()),
            list(
                actual
                    .sources
                    .iter()
                    .flatten()
                    .map(|s| Origin::describe_source(s, Some(&self.name)))
                    .collect(),
            ),
        );
        check(
            "writable",
            self.is_writable().to_string(),
            (!actual.subjects.is_empty()).to_string(),
        );
        check(
            "allow_direct",
            declared.allow_direct.to_string(),
            actual.allow_direct.to_string(),
        );
        check(
            "republish",
            or_none(self.republish.as_ref().map(ToString::to_string)),
            or_none(actual.republish.as_ref().map(|r| {
                Republish::from_nats(r, &self.name).map_or_else(
                    || format!("{} to {}", r.source, r.destination),
                    |r| r.to_string(),
                )
            })),
        );
        // The server keeps a placement it was given; one it was not given is not drift.
        if let Some(placement) = &self.placement {
            check(
                "placement",
                placement.to_string(),
                or_none(
                    actual
                        .placement
                        .as_ref()
                        .map(|p| Placement::from_nats(p).to_string()),
                ),
            );
        }
        out
    }
}

/// The metadata entries that are neither the server's own nor the schema.
pub(crate) fn user_metadata(metadata: &HashMap<String, String>) -> BTreeMap<String, String> {
    metadata
        .iter()
        .filter(|(k, _)| !k.starts_with(SERVER_METADATA_PREFIX) && *k != SCHEMA_METADATA_KEY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn limit_text(limit: i64) -> String {
    if limit < 0 {
        "unlimited".to_owned()
    } else {
        limit.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_checked_and_widened_against_the_stored_one() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct State {
            on: bool,
        }
        let declared = Schema::new().family::<u32, State, crate::MsgPack>("d.{id}");
        let spec = BucketSpec::new("s").schema(declared.clone());
        let config = spec.to_stream_config();
        let stored = config.metadata.get(SCHEMA_METADATA_KEY).unwrap();
        assert_eq!(stored, &declared.to_text());
        assert_eq!(spec.check_schema(&config).unwrap().as_ref(), Some(stored));

        let mut other = config.clone();
        let codec = Schema::new().family::<u32, State, crate::Json>("d.{id}");
        other
            .metadata
            .insert(SCHEMA_METADATA_KEY.into(), codec.to_text());
        let error = spec.check_schema(&other).unwrap_err();
        assert!(error.to_string().contains("codec `json`"), "{error}");

        other
            .metadata
            .insert(SCHEMA_METADATA_KEY.into(), "v2;d.{id}=00".into());
        assert_eq!(spec.check_schema(&other).unwrap().as_ref(), Some(stored));
        let huge = (0..1500).fold(Schema::new(), |schema, i| {
            let pattern = format!("family{i}.with.a.long.name.{{id}}");
            schema.family::<u32, State, crate::MsgPack>(&pattern)
        });
        let error = BucketSpec::new("s").schema(huge).validate().unwrap_err();
        assert!(
            error.to_string().contains("more than the 122880"),
            "{error}"
        );

        other
            .metadata
            .insert(SCHEMA_METADATA_KEY.into(), "{not json".into());
        assert!(matches!(
            spec.check_schema(&other),
            Err(Error::SchemaMismatch { differences, .. })
                if matches!(differences[..], [SchemaDifference::Opaque { .. }])
        ));
    }

    #[test]
    fn defaults_are_valid_and_follow_adr8() {
        let spec = BucketSpec::new("orders");
        spec.validate().unwrap();
        let config = spec.to_stream_config();
        assert_eq!(config.name, "KV_orders");
        assert_eq!(config.subjects, vec!["$KV.orders.>".to_owned()]);
        assert_eq!(config.max_messages_per_subject, 1);
        assert!(config.allow_rollup && config.deny_delete && config.allow_direct);
        assert_eq!(config.discard, DiscardPolicy::New);
        assert_eq!(config.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
        assert!(spec.drift(&config).is_empty());
    }

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

    #[test]
    fn ttl_shortens_the_duplicate_window() {
        let config = BucketSpec::new("a")
            .ttl(Duration::from_secs(30))
            .to_stream_config();
        assert_eq!(config.duplicate_window, Duration::from_secs(30));
        assert_eq!(config.max_age, Duration::from_secs(30));
    }

    #[test]
    fn drift_lists_each_differing_option() {
        let declared = BucketSpec::new("a")
            .history(5)
            .compression(true)
            .metadata("team", "x");
        let mut actual = BucketSpec::new("a").history(2).to_stream_config();
        actual.metadata.insert("_nats.level".into(), "1".into());
        let drift = declared.drift(&actual);
        let options: Vec<_> = drift.iter().map(|d| d.option).collect();
        assert_eq!(options, ["history", "compression", "metadata"]);
        assert_eq!(drift[0].declared, "5");
        assert_eq!(drift[0].actual, "2");
    }

    #[test]
    fn drift_reports_direct_gets_off() {
        let declared = BucketSpec::new("a");
        let mut actual = declared.to_stream_config();
        actual.allow_direct = false;
        let drift = declared.drift(&actual);
        assert_eq!(drift.len(), 1);
        assert_eq!(
            drift[0].to_string(),
            "allow_direct: declared true, server has false"
        );
    }
}
