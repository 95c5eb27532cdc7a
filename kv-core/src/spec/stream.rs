//! How a [`BucketSpec`] becomes the backing stream's configuration (ADR-8), and what differs
//! between the two when the server's bucket already exists (drift).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::jetstream::stream::{self, Compression, DiscardPolicy, StorageType};

use super::{BucketSpec, SCHEMA_METADATA_KEY, Storage};
use crate::error::Drift;
use crate::schema::Schema;
use crate::stream_options::{Placement, Republish};
use crate::topology::Origin;
use crate::units::format_duration;

/// Metadata keys with this prefix belong to the server and are not compared or written.
pub(super) const SERVER_METADATA_PREFIX: &str = "_nats";

/// The default duplicate window of a bucket (ADR-8), shortened to the TTL when that is shorter.
/// The server recognises a resent message id within it, so it also bounds how long natskv
/// resends an unanswered write ([`WriteRetry`](crate::WriteRetry)).
const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

impl Storage {
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

impl BucketSpec {
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
            allow_atomic_publish: self.atomic,
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
            "atomic",
            self.atomic.to_string(),
            actual.allow_atomic_publish.to_string(),
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
