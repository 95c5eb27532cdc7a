//! The bucket's backing stream, administered: create, update, read, list, purge and delete
//! `KV_<bucket>` through async-nats's JetStream context, each request guarded against permission
//! violations and its errors classified; the stream's configuration as a [`Bucket`] handle
//! needs it ([`BucketStream`]); and the server's stream info read back as a [`BucketStatus`].
//!
//! [`Bucket`](crate::Bucket)'s constructors and statuses in `bucket.rs` say what these mean in
//! Key/Value words; this file says how they are asked of the server.

use async_nats::jetstream::Context;
use async_nats::jetstream::stream::{Compression, Info, Stream};
use futures::TryStreamExt;

use super::classify::{Op, classify, classify_api, settle};
use super::janitor::Janitor;
use super::source;
use super::stream::{self, Config};
use crate::bucket::{Bucket, BucketStatus};
use crate::error::{Drift, Error, Result};
use crate::permissions::{Violations, guard};
use crate::spec::{BucketSpec, SCHEMA_METADATA_KEY, user_metadata};

/// The stream API's subjects, before the operation (a permission violation names them).
pub(crate) const STREAM_API: &str = "$JS.API.STREAM.";
/// The subject of a direct get, before the stream's name (a permission violation names it).
pub(crate) const DIRECT_GET: &str = "$JS.API.DIRECT.GET.";

/// The longest protocol line a nats-server accepts by default (its `max_control_line`); a
/// longer one makes it close the connection.
const MAX_CONTROL_LINE: usize = 4096;
/// What that line holds beside the subject: the verb, a reply inbox and the sizes.
const LINE_OVERHEAD: usize = 256;

/// A bucket's backing stream, as the server described it when the handle was opened.
#[derive(Clone)]
pub(crate) struct BucketStream {
    stream: Stream,
}

impl BucketStream {
    fn config(&self) -> &Config {
        &self.stream.cached_info().config
    }

    /// `KV_<bucket>`: the stream's name.
    pub(crate) fn name(&self) -> &str {
        &self.config().name
    }

    /// Whether the stream answers direct gets (`allow_direct`).
    pub(crate) fn allows_direct(&self) -> bool {
        self.config().allow_direct
    }

    /// Whether the stream takes writes: it has subjects of its own (not a mirror or a
    /// read-only aggregate).
    pub(crate) fn is_writable(&self) -> bool {
        !self.config().subjects.is_empty()
    }

    /// The bucket whose keys the stream holds: `bucket` itself, or a mirror's origin, whose
    /// subjects a mirror keeps.
    pub(crate) fn keys_of<'a>(&'a self, bucket: &'a str) -> &'a str {
        self.config()
            .mirror
            .as_ref()
            .map_or(bucket, |m| m.name.strip_prefix("KV_").unwrap_or(&m.name))
    }

    /// The schema text the bucket's metadata holds, if any.
    pub(crate) fn stored_schema(&self) -> Option<&str> {
        stream::stored_schema(self.config())
    }

    /// Every option whose value on the server differs from what `spec` declares.
    pub(crate) fn drift(&self, spec: &BucketSpec) -> Vec<Drift> {
        stream::drift(spec, self.config())
    }

    /// Starts the janitor deleting the consumers of this stream's dropped readers.
    pub(crate) fn janitor(&self) -> Janitor {
        Janitor::start(self.stream.clone())
    }
}

/// The longest key (in bytes) of bucket `bucket`, whose keys are under `prefix`: the longest
/// subject natskv builds around a key is a direct get's
/// `$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`, and it must fit the server's protocol
/// line.
pub(crate) fn max_key_len(bucket: &str, prefix: &str) -> usize {
    MAX_CONTROL_LINE
        .saturating_sub(LINE_OVERHEAD + DIRECT_GET.len() + "KV_".len() + bucket.len() + 1)
        .saturating_sub(prefix.len())
}

/// Creates the stream of the bucket `spec` declares.
pub(crate) async fn create(
    js: &Context,
    violations: Option<&Violations>,
    spec: &BucketSpec,
) -> Result<BucketStream> {
    let op = Op::write(spec.name(), "create");
    let created = js.create_stream(stream::config(spec));
    let subject = [STREAM_API, "CREATE.KV_", spec.name()];
    let stream = match guard(violations, spec.name(), &subject, false, created).await? {
        Ok(stream) => BucketStream { stream },
        Err(e) => return Err(settle(js, op, classify_api(op, e)).await),
    };
    check_support(spec, &stream)?;
    Ok(stream)
}

/// Brings the stream of an existing bucket to what `spec` declares, with `schema` as the
/// stored schema when given, and reads it back.
pub(crate) async fn update(
    js: &Context,
    violations: Option<&Violations>,
    spec: &BucketSpec,
    schema: Option<String>,
) -> Result<BucketStream> {
    let op = Op::write(spec.name(), "update configuration");
    let mut config = stream::config(spec);
    if let Some(schema) = schema {
        config
            .metadata
            .insert(SCHEMA_METADATA_KEY.to_owned(), schema);
    }
    let updated = js.update_stream(config);
    let subject = [STREAM_API, "UPDATE.KV_", spec.name()];
    if let Err(e) = guard(violations, spec.name(), &subject, false, updated).await? {
        return Err(settle(js, op, classify_api(op, e)).await);
    }
    let stream = get(js, violations, spec.name()).await?;
    check_support(spec, &stream)?;
    Ok(stream)
}

/// A server that does not know limit markers or atomic batches ignores them: report it rather
/// than run without them.
fn check_support(spec: &BucketSpec, stream: &BucketStream) -> Result<()> {
    if spec.limit_markers_value().is_some() && !stream.config().allow_message_ttl {
        return Err(Error::Unsupported {
            feature: "limit markers (per-key TTL)",
            needs: "2.11",
        });
    }
    if spec.atomic_value() && !stream.config().allow_atomic_publish {
        return Err(Error::Unsupported {
            feature: "atomic batches (transactions)",
            needs: "2.12",
        });
    }
    Ok(())
}

/// Reads the stream of the bucket `name`.
pub(crate) async fn get(
    js: &Context,
    violations: Option<&Violations>,
    name: &str,
) -> Result<BucketStream> {
    let op = Op::read(name, "open");
    let got = js.get_stream(format!("KV_{name}"));
    let subject = [STREAM_API, "INFO.KV_", name];
    match guard(violations, name, &subject, false, got).await? {
        Ok(stream) => Ok(BucketStream { stream }),
        Err(e) => Err(settle(js, op, classify_api(op, e)).await),
    }
}

/// Deletes the stream of the bucket `name`.
pub(crate) async fn delete(
    js: &Context,
    violations: Option<&Violations>,
    name: &str,
) -> Result<()> {
    let op = Op::write(name, "delete");
    let deleted = js.delete_stream(format!("KV_{name}"));
    let subject = [STREAM_API, "DELETE.KV_", name];
    match guard(violations, name, &subject, false, deleted).await? {
        Ok(_) => Ok(()),
        Err(e) => Err(settle(js, op, classify_api(op, e)).await),
    }
}

/// The names of the buckets among the account's streams, in the server's order.
pub(crate) async fn bucket_names(js: &Context) -> Result<Vec<String>> {
    let op = Op::read("", "list buckets");
    let names: Vec<String> = match js.stream_names().try_collect().await {
        Ok(names) => names,
        Err(e) => return Err(settle(js, op, classify(op, e)).await),
    };
    Ok(names
        .iter()
        .filter_map(|n| n.strip_prefix("KV_"))
        .map(str::to_owned)
        .collect())
}

/// The statuses of the buckets among the account's streams, in the server's order.
pub(crate) async fn bucket_statuses(js: &Context) -> Result<Vec<BucketStatus>> {
    let op = Op::read("", "list buckets");
    let infos: Vec<Info> = match js.streams().try_collect().await {
        Ok(infos) => infos,
        Err(e) => return Err(settle(js, op, classify(op, e)).await),
    };
    Ok(infos.iter().filter_map(status).collect())
}

impl Bucket {
    /// The configuration and state of the bucket's backing stream, read fresh from the server:
    /// everything the server says about it, where [`status`](Self::status) gives it in
    /// Key/Value words (as nats.go's `Status().BackingStore` does).
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// let info = bucket.stream_info().await?;
    /// println!("{} messages, first sequence {}", info.state.messages, info.state.first_sequence);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::BucketNotFound`] when it was deleted; [`Error::Unavailable`] or
    /// [`Error::Timeout`] when the server did not answer.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn stream_info(&self) -> Result<Info> {
        let op = Op::read(self.name(), "read status");
        let subject = [STREAM_API, "INFO.", self.stream_name()];
        match self.guard(&subject, self.stream().get_info()).await? {
            Ok(info) => Ok(info),
            Err(e) => Err(settle(self.js(), op, classify(op, e)).await),
        }
    }

    /// The bucket's status, read fresh from the server (`None` when its stream is no bucket's).
    pub(crate) async fn read_status(&self) -> Result<Option<BucketStatus>> {
        Ok(status(&self.stream_info().await?))
    }

    /// The bucket's backing stream, for the requests of the wire layer.
    pub(crate) fn stream(&self) -> &Stream {
        &self.backing().stream
    }

    /// Purges the entries of `subject` but the last `keep`.
    pub(crate) async fn purge_subject(&self, op: Op<'_>, subject: String, keep: u64) -> Result<()> {
        self.stream()
            .purge()
            .filter(subject)
            .keep(keep)
            .await
            .map_err(|e| classify(op, e))?;
        Ok(())
    }

    /// Purges every entry of the stream, and says how many there were.
    pub(crate) async fn purge_all(&self, op: Op<'_>) -> Result<u64> {
        let response = self.stream().purge().await.map_err(|e| classify(op, e))?;
        Ok(response.purged)
    }
}

/// A bucket's status from its stream's info (`None` when the stream is no bucket's).
fn status(info: &Info) -> Option<BucketStatus> {
    let config = &info.config;
    let name = config.name.strip_prefix("KV_")?.to_owned();
    let limit = |v: i64| u64::try_from(v).ok().filter(|v| *v > 0);
    let bucket_of = |s: &str| s.strip_prefix("KV_").unwrap_or(s).to_owned();
    Some(BucketStatus {
        name,
        description: config.description.clone().filter(|d| !d.is_empty()),
        values: info.state.messages,
        bytes: info.state.bytes,
        history: config.max_messages_per_subject,
        ttl: Some(config.max_age).filter(|d| !d.is_zero()),
        max_value_size: limit(i64::from(config.max_message_size)),
        max_bytes: limit(config.max_bytes),
        storage: stream::storage_from_nats(config.storage),
        replicas: config.num_replicas.max(1),
        compression: matches!(config.compression, Some(Compression::S2)),
        metadata: user_metadata(&config.metadata),
        limit_markers: config
            .allow_message_ttl
            .then_some(config.subject_delete_marker_ttl)
            .flatten(),
        mirror_of: config.mirror.as_ref().map(|m| bucket_of(&m.name)),
        sources: config
            .sources
            .iter()
            .flatten()
            .map(|s| bucket_of(&s.name))
            .collect(),
        mirror: config
            .mirror
            .as_ref()
            .map(|m| source::from_source(m, false)),
        origins: config
            .sources
            .iter()
            .flatten()
            .map(|s| source::from_source(s, true))
            .collect(),
        republish: config
            .republish
            .as_ref()
            .and_then(|r| stream::republish_from_nats(r, bucket_of(&config.name).as_str())),
        placement: config.placement.as_ref().map(stream::placement_from_nats),
        allow_direct: config.allow_direct,
        atomic: config.allow_atomic_publish,
    })
}
