//! The bucket's backing stream configuration (ADR-8): how a [`BucketSpec`] becomes async-nats's
//! `stream::Config`, what differs between the two when the server's bucket already exists
//! (drift), and the stream forms of the storage, [`Republish`] and [`Placement`] options. The
//! sources of mirrors and aggregates are in `source`.

use std::time::Duration;

use async_nats::jetstream::stream::{self, Compression, DiscardPolicy, StorageType};

use super::source;
use crate::error::Drift;
use crate::schema::Schema;
use crate::spec::{BucketSpec, SCHEMA_METADATA_KEY, Storage, user_metadata};
use crate::stream_options::{Placement, Republish};
use crate::topology::Origin;
use crate::units::format_duration;

/// The backing stream's configuration, as async-nats states it.
pub(crate) type Config = stream::Config;

/// The default duplicate window of a bucket (ADR-8), shortened to the TTL when that is shorter.
/// The server recognises a resent message id within it, so it also bounds how long natskv
/// resends an unanswered write ([`WriteRetry`](crate::WriteRetry)).
const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

fn storage_to_nats(storage: Storage) -> StorageType {
    match storage {
        Storage::File => StorageType::File,
        Storage::Memory => StorageType::Memory,
    }
}

pub(super) fn storage_from_nats(storage: StorageType) -> Storage {
    match storage {
        StorageType::File => Storage::File,
        StorageType::Memory => Storage::Memory,
    }
}

/// The stream configuration of the bucket `spec` declares, per ADR-8.
pub(crate) fn config(spec: &BucketSpec) -> Config {
    let name = spec.name();
    let duplicate_window = match spec.ttl_value() {
        Some(ttl) if ttl < DEFAULT_DUPLICATE_WINDOW => ttl,
        _ => DEFAULT_DUPLICATE_WINDOW,
    };
    let subjects = if spec.is_writable() {
        vec![format!("$KV.{name}.>")]
    } else {
        Vec::new()
    };
    let sources = (!spec.sources_value().is_empty()).then(|| {
        spec.sources_value()
            .iter()
            .map(|o| source::aggregate(o, name))
            .collect()
    });
    Config {
        name: format!("KV_{name}"),
        description: spec.description_value().map(str::to_owned),
        subjects,
        mirror: spec.mirror_value().map(source::mirror),
        mirror_direct: spec.mirror_value().is_some(),
        sources,
        max_messages_per_subject: i64::from(spec.history_depth()),
        max_bytes: spec
            .max_bytes_value()
            .map_or(-1, |b| i64::try_from(b).unwrap_or(i64::MAX)),
        max_age: spec.ttl_value().unwrap_or_default(),
        max_message_size: spec
            .max_value_size_value()
            .map_or(-1, |s| i32::try_from(s).unwrap_or(i32::MAX)),
        storage: storage_to_nats(spec.storage_value()),
        num_replicas: usize::from(spec.replicas_value()),
        allow_rollup: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        discard: DiscardPolicy::New,
        duplicate_window,
        compression: spec.compression_value().then_some(Compression::S2),
        metadata: spec
            .metadata_map()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(spec.schema_value().map(|s| {
                let stored = s.merged_over(&Schema::default());
                (SCHEMA_METADATA_KEY.to_owned(), stored.to_text())
            }))
            .collect(),
        allow_message_ttl: spec.limit_markers_value().is_some(),
        allow_atomic_publish: spec.atomic_value(),
        subject_delete_marker_ttl: spec.limit_markers_value(),
        republish: spec.republish_value().map(|r| republish_to_nats(r, name)),
        placement: spec.placement_value().map(placement_to_nats),
        ..Default::default()
    }
}

/// The schema text `actual` (a stream's configuration) stores, if any.
pub(crate) fn stored_schema(actual: &Config) -> Option<&str> {
    actual.metadata.get(SCHEMA_METADATA_KEY).map(String::as_str)
}

/// Every option whose value in `actual` (the server's stream configuration) differs from
/// what `spec` declares.
#[allow(clippy::too_many_lines)] // one check per option reads best as one list
pub(crate) fn drift(spec: &BucketSpec, actual: &Config) -> Vec<Drift> {
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
    let declared = config(spec);
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
        spec.storage_value().as_str().to_owned(),
        storage_from_nats(actual.storage).as_str().to_owned(),
    );
    check(
        "replicas",
        declared.num_replicas.to_string(),
        actual.num_replicas.max(1).to_string(),
    );
    check(
        "compression",
        spec.compression_value().to_string(),
        matches!(actual.compression, Some(Compression::S2)).to_string(),
    );
    check(
        "metadata",
        format!("{:?}", spec.metadata_map()),
        format!("{:?}", user_metadata(&actual.metadata)),
    );
    let markers = |ttl: Option<Duration>| ttl.map_or_else(|| "off".to_owned(), format_duration);
    check(
        "limit_markers",
        markers(spec.limit_markers_value()),
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
        or_none(spec.mirror_value().map(Origin::describe)),
        or_none(actual.mirror.as_ref().map(|m| source::describe(m, None))),
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
        list(spec.sources_value().iter().map(Origin::describe).collect()),
        list(
            actual
                .sources
                .iter()
                .flatten()
                .map(|s| source::describe(s, Some(spec.name())))
                .collect(),
        ),
    );
    check(
        "writable",
        spec.is_writable().to_string(),
        (!actual.subjects.is_empty()).to_string(),
    );
    check(
        "atomic",
        spec.atomic_value().to_string(),
        actual.allow_atomic_publish.to_string(),
    );
    check(
        "allow_direct",
        declared.allow_direct.to_string(),
        actual.allow_direct.to_string(),
    );
    check(
        "republish",
        or_none(spec.republish_value().map(ToString::to_string)),
        or_none(actual.republish.as_ref().map(|r| {
            republish_from_nats(r, spec.name()).map_or_else(
                || format!("{} to {}", r.source, r.destination),
                |r| r.to_string(),
            )
        })),
    );
    // The server keeps a placement it was given; one it was not given is not drift.
    if let Some(placement) = spec.placement_value() {
        check(
            "placement",
            placement.to_string(),
            or_none(
                actual
                    .placement
                    .as_ref()
                    .map(|p| placement_from_nats(p).to_string()),
            ),
        );
    }
    out
}

/// The stream option of `republish` for bucket `bucket`.
fn republish_to_nats(republish: &Republish, bucket: &str) -> stream::Republish {
    stream::Republish {
        source: format!("$KV.{bucket}.{}", republish.key_filter()),
        destination: republish.destination().to_owned(),
        headers_only: republish.is_headers_only(),
    }
}

/// The option as a stream of bucket `bucket` states it (`None` when it is not one of the
/// bucket's subjects).
pub(super) fn republish_from_nats(
    republish: &stream::Republish,
    bucket: &str,
) -> Option<Republish> {
    let keys = republish
        .source
        .strip_prefix("$KV.")?
        .strip_prefix(bucket)?
        .strip_prefix('.')?;
    let out = Republish::to(republish.destination.clone()).keys(keys);
    Some(if republish.headers_only {
        out.headers_only()
    } else {
        out
    })
}

fn placement_to_nats(placement: &Placement) -> stream::Placement {
    stream::Placement {
        cluster: placement.cluster_name().map(str::to_owned),
        tags: placement.tag_list().to_vec(),
    }
}

pub(super) fn placement_from_nats(placement: &stream::Placement) -> Placement {
    let cluster = placement.cluster.clone().filter(|c| !c.is_empty());
    cluster
        .map_or_else(Placement::default, Placement::cluster)
        .tags(placement.tags.iter().cloned())
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
        let config = config(&spec);
        assert_eq!(config.name, "KV_orders");
        assert_eq!(config.subjects, vec!["$KV.orders.>".to_owned()]);
        assert_eq!(config.max_messages_per_subject, 1);
        assert!(config.allow_rollup && config.deny_delete && config.allow_direct);
        assert_eq!(config.discard, DiscardPolicy::New);
        assert_eq!(config.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
        assert!(drift(&spec, &config).is_empty());
    }
    #[test]
    fn ttl_shortens_the_duplicate_window() {
        let config = config(&BucketSpec::new("a").ttl(Duration::from_secs(30)));
        assert_eq!(config.duplicate_window, Duration::from_secs(30));
        assert_eq!(config.max_age, Duration::from_secs(30));
    }
    #[test]
    fn drift_lists_each_differing_option() {
        let declared = BucketSpec::new("a")
            .history(5)
            .compression(true)
            .metadata("team", "x");
        let mut actual = config(&BucketSpec::new("a").history(2));
        actual.metadata.insert("_nats.level".into(), "1".into());
        let drift = drift(&declared, &actual);
        let options: Vec<_> = drift.iter().map(|d| d.option).collect();
        assert_eq!(options, ["history", "compression", "metadata"]);
        assert_eq!(drift[0].declared, "5");
        assert_eq!(drift[0].actual, "2");
    }
    #[test]
    fn drift_reports_direct_gets_off() {
        let declared = BucketSpec::new("a");
        let mut actual = config(&declared);
        actual.allow_direct = false;
        let drift = drift(&declared, &actual);
        assert_eq!(drift.len(), 1);
        assert_eq!(
            drift[0].to_string(),
            "allow_direct: declared true, server has false"
        );
    }
}
