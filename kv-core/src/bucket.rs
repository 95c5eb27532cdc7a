//! Bucket handles: create, open, ensure, delete, list and status.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream::{Compression, Info, Stream};
use async_nats::jetstream::{self, Context};
use futures::TryStreamExt;

use crate::error::{Error, Result};
use crate::key::{KeyError, KeyErrorReason};
use crate::names::{validate_bucket_name, validate_filter};
use crate::permissions::{Guard, Violations, guard};
use crate::retry::WriteRetry;
use crate::spec::{BucketSpec, Storage, user_metadata};
use crate::stream_options::{Placement, Republish};
use crate::topology::Origin;
use crate::wire::classify::{Op, classify, classify_api, settle};
use crate::wire::janitor::Janitor;

/// Anything natskv can reach JetStream through: an `async_nats::Client`, a JetStream
/// `Context` (for a domain or an API prefix), or either [`Guarded`](crate::Guarded) by the
/// connection's [`Violations`] (see [`connect`](crate::connect)).
///
/// The async-nats types must be of the version natskv is built on, which it re-exports as
/// [`natskv::async_nats`](crate::async_nats): a client of another async-nats version is
/// another type, and does not implement this trait.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a connection natskv can use",
    label = "not a natskv connection",
    note = "pass an `async_nats::Client` or `async_nats::jetstream::Context` (or a reference to \
            one), or the `Guarded` client `natskv::connect` returns",
    note = "natskv is built on async-nats 0.51, re-exported as `natskv::async_nats`: a client of \
            another async-nats version does not fit; use the re-export, or depend on \
            `async-nats = \"0.51\"`"
)]
pub trait Connection {
    /// The JetStream context to use.
    fn jetstream(&self) -> Context;

    /// The log of the permission violations the server reported on this connection, when
    /// natskv sees the connection's events; buckets opened through a connection that has one
    /// end denied operations with [`Error::PermissionDenied`] at once instead of timing out.
    /// `None` (the default) for a plain client or context.
    fn violations(&self) -> Option<Violations> {
        None
    }
}

impl Connection for async_nats::Client {
    fn jetstream(&self) -> Context {
        jetstream::new(self.clone())
    }
}

impl Connection for Context {
    fn jetstream(&self) -> Context {
        self.clone()
    }
}

impl<T: Connection + ?Sized> Connection for &T {
    fn jetstream(&self) -> Context {
        (**self).jetstream()
    }

    fn violations(&self) -> Option<Violations> {
        (**self).violations()
    }
}

/// A handle to one bucket. Cheap to clone; every clone shares the same connection.
///
/// Its writes are resent, exactly once in effect, when the server does not answer them: see
/// [`WriteRetry`] and [`with_write_retry`](Self::with_write_retry).
#[derive(Clone)]
pub struct Bucket {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    /// Shared with every entry read from the bucket.
    name: Arc<str>,
    js: Context,
    stream: Stream,
    /// `$KV.<bucket>.`: the subject prefix of keys in the stream (`$KV.<origin>.` in a mirror).
    prefix: String,
    /// Whether the bucket takes writes (not a mirror or a read-only aggregate).
    writable: bool,
    /// The longest key whose subjects the server accepts.
    max_key_len: usize,
    /// How writes the server did not answer are resent.
    write_retry: WriteRetry,
    /// The connection's permission violations, when natskv sees them.
    violations: Option<Violations>,
    /// Deletes the consumers of dropped readers; ends when the last handle is gone.
    janitor: Janitor,
}

/// The longest protocol line a nats-server accepts by default (its `max_control_line`); a
/// longer one makes it close the connection.
const MAX_CONTROL_LINE: usize = 4096;
/// What that line holds beside the subject: the verb, a reply inbox and the sizes.
const LINE_OVERHEAD: usize = 256;

impl fmt::Debug for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bucket")
            .field("name", &self.inner.name)
            .field("write_retry", &self.inner.write_retry)
            .finish_non_exhaustive()
    }
}

impl Bucket {
    /// Creates the bucket declared by `spec`. Creating a bucket that exists with exactly this
    /// configuration succeeds; one with another configuration is [`Error::BucketExists`].
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// use natskv::{Bucket, BucketSpec};
    /// let bucket = Bucket::create(&nats, &BucketSpec::new("orders").history(5)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidBucketName`] / [`Error::InvalidConfig`] before any wire call,
    /// [`Error::BucketExists`], [`Error::JetStreamNotEnabled`], [`Error::Unsupported`] when
    /// limit markers are declared and the server is older than 2.11.
    ///
    /// # Cancel safety
    /// Not cancel safe: the bucket may be created even if the future is dropped.
    pub async fn create(conn: impl Connection, spec: &BucketSpec) -> Result<Bucket> {
        spec.validate()?;
        let js = conn.jetstream();
        let op = Op::write(spec.name(), "create");
        let violations = conn.violations();
        let created = js.create_stream(spec.to_stream_config());
        let subject = [STREAM_API, "CREATE.KV_", spec.name()];
        let created = guard(violations.as_ref(), spec.name(), &subject, false, created).await?;
        let stream = match created {
            Ok(stream) => stream,
            Err(e) => return Err(settle(&js, op, classify_api(op, e)).await),
        };
        Self::check_support(spec, &stream.cached_info().config)?;
        Ok(Self::from_stream(spec.name(), js, stream, violations))
    }

    /// Opens an existing bucket and checks that the server's configuration matches `spec`.
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// use natskv::{Bucket, BucketSpec};
    /// let bucket = Bucket::open(&nats, &BucketSpec::new("orders").history(5)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::BucketNotFound`], and [`Error::ConfigDrift`] listing each option that differs.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn open(conn: impl Connection, spec: &BucketSpec) -> Result<Bucket> {
        spec.validate()?;
        let js = conn.jetstream();
        let violations = conn.violations();
        let stream = get_stream(&js, violations.as_ref(), spec.name()).await?;
        spec.check_schema(&stream.cached_info().config)?;
        let differences = spec.drift(&stream.cached_info().config);
        if !differences.is_empty() {
            return Err(Error::ConfigDrift {
                bucket: spec.name().to_owned(),
                differences,
            });
        }
        Ok(Self::from_stream(spec.name(), js, stream, violations))
    }

    /// Opens an existing bucket by name, whatever its configuration.
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// let bucket = natskv::Bucket::open_name(&nats, "orders").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidBucketName`], [`Error::BucketNotFound`], [`Error::JetStreamNotEnabled`].
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn open_name(conn: impl Connection, name: &str) -> Result<Bucket> {
        check_name(name)?;
        let js = conn.jetstream();
        let violations = conn.violations();
        let stream = get_stream(&js, violations.as_ref(), name).await?;
        Ok(Self::from_stream(name, js, stream, violations))
    }

    /// Creates the bucket, or brings an existing one to the declared configuration: every
    /// option [`open`](Self::open) reports as drift, direct gets among them (a bucket another
    /// client made without them gets them).
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// use natskv::{Bucket, BucketSpec};
    /// let bucket = Bucket::ensure(&nats, &BucketSpec::new("orders").history(10)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`create`](Self::create); the server refuses some changes (storage, for one) with
    /// [`Error::Server`].
    ///
    /// # Cancel safety
    /// Not cancel safe: the bucket may be created or updated even if the future is dropped.
    pub async fn ensure(conn: impl Connection, spec: &BucketSpec) -> Result<Bucket> {
        spec.validate()?;
        let js = conn.jetstream();
        let violations = conn.violations();
        let mut stream = match get_stream(&js, violations.as_ref(), spec.name()).await {
            Err(Error::BucketNotFound { .. }) => return Self::create(&conn, spec).await,
            other => other?,
        };
        let current = &stream.cached_info().config;
        let schema = spec.check_schema(current)?;
        let stored = current.metadata.get(crate::spec::SCHEMA_METADATA_KEY);
        let schema_changed = schema.is_some() && schema.as_ref() != stored;
        if schema_changed || !spec.drift(current).is_empty() {
            let op = Op::write(spec.name(), "update configuration");
            let mut config = spec.to_stream_config();
            // The stored schema widened by this declaration, never this declaration's alone:
            // an older declaration takes nothing away.
            if let Some(schema) = schema {
                config
                    .metadata
                    .insert(crate::spec::SCHEMA_METADATA_KEY.to_owned(), schema);
            }
            let updated = js.update_stream(config);
            let subject = [STREAM_API, "UPDATE.KV_", spec.name()];
            let updated = guard(violations.as_ref(), spec.name(), &subject, false, updated).await?;
            if let Err(e) = updated {
                return Err(settle(&js, op, classify_api(op, e)).await);
            }
            stream = get_stream(&js, violations.as_ref(), spec.name()).await?;
            Self::check_support(spec, &stream.cached_info().config)?;
        }
        Ok(Self::from_stream(spec.name(), js, stream, violations))
    }

    /// Deletes a bucket and everything in it.
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// natskv::Bucket::delete(&nats, "orders").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidBucketName`], [`Error::BucketNotFound`].
    ///
    /// # Cancel safety
    /// Not cancel safe: the bucket may be deleted even if the future is dropped.
    pub async fn delete(conn: impl Connection, name: &str) -> Result<()> {
        check_name(name)?;
        let js = conn.jetstream();
        let op = Op::write(name, "delete");
        let violations = conn.violations();
        let deleted = js.delete_stream(format!("KV_{name}"));
        let subject = [STREAM_API, "DELETE.KV_", name];
        match guard(violations.as_ref(), name, &subject, false, deleted).await? {
            Ok(_) => Ok(()),
            Err(e) => Err(settle(&js, op, classify_api(op, e)).await),
        }
    }

    /// The names of every bucket the account can see, sorted.
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// for name in natskv::Bucket::list_names(&nats).await? { println!("{name}"); }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::JetStreamNotEnabled`], [`Error::Timeout`].
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn list_names(conn: impl Connection) -> Result<Vec<String>> {
        let js = conn.jetstream();
        let op = Op::read("", "list buckets");
        let names: Vec<String> = match js.stream_names().try_collect().await {
            Ok(names) => names,
            Err(e) => return Err(settle(&js, op, classify(op, e)).await),
        };
        let mut out: Vec<String> = names
            .iter()
            .filter_map(|n| n.strip_prefix("KV_"))
            .map(str::to_owned)
            .collect();
        out.sort();
        Ok(out)
    }

    /// The status of every bucket the account can see, sorted by name.
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// for s in natskv::Bucket::list_statuses(&nats).await? {
    ///     println!("{} {}", s.name, s.values);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::JetStreamNotEnabled`], [`Error::Timeout`].
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn list_statuses(conn: impl Connection) -> Result<Vec<BucketStatus>> {
        let js = conn.jetstream();
        let op = Op::read("", "list buckets");
        let infos: Vec<Info> = match js.streams().try_collect().await {
            Ok(infos) => infos,
            Err(e) => return Err(settle(&js, op, classify(op, e)).await),
        };
        let mut out: Vec<BucketStatus> = infos.iter().filter_map(BucketStatus::from_info).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The bucket's status, read fresh from the server.
    ///
    /// ```no_run
    /// # async fn demo(bucket: natskv::Bucket) -> natskv::Result<()> {
    /// let status = bucket.status().await?;
    /// println!("{} values, {} bytes", status.values, status.bytes);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::BucketNotFound`] when the bucket was deleted meanwhile.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads.
    pub async fn status(&self) -> Result<BucketStatus> {
        let info = self.stream_info().await?;
        BucketStatus::from_info(&info).ok_or_else(|| Error::BucketNotFound {
            bucket: self.inner.name.to_string(),
        })
    }

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
        let op = Op::read(&self.inner.name, "read status");
        let subject = [STREAM_API, "INFO.", self.stream_name()];
        match self.guard(&subject, self.inner.stream.get_info()).await? {
            Ok(info) => Ok(info),
            Err(e) => Err(settle(&self.inner.js, op, classify(op, e)).await),
        }
    }

    /// Whether the bucket's stream answers direct gets (`allow_direct`), as the handle saw it
    /// when it was opened: single reads then go to any replica, batch reads need them.
    pub(crate) fn allows_direct(&self) -> bool {
        self.inner.stream.cached_info().config.allow_direct
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// [`Error::InvalidKey`] when `key` is longer than the bucket takes.
    pub(crate) fn check_key_len(&self, key: &str) -> Result<()> {
        let limit = self.max_key_len();
        if key.len() > limit {
            return Err(self.invalid_key(KeyErrorReason::TooLong {
                length: key.len(),
                limit,
            }));
        }
        Ok(())
    }

    /// A key filter as a full subject filter of the bucket, or why it is not one.
    pub(crate) fn subject_filter(&self, filter: &str) -> Result<String> {
        validate_filter(filter)
            .map(|()| format!("{}{filter}", self.prefix()))
            .map_err(|cause| {
                self.invalid_key(KeyErrorReason::InvalidKey {
                    key: filter.to_owned(),
                    cause,
                })
            })
    }

    /// [`Error::InvalidKey`] of this bucket.
    pub(crate) fn invalid_key(&self, source: impl Into<KeyError>) -> Error {
        Error::InvalidKey {
            bucket: self.name().to_owned(),
            source: source.into(),
        }
    }

    /// The bucket's name, shared: what each entry read from it carries.
    pub(crate) fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.inner.name)
    }

    pub(crate) fn js(&self) -> &Context {
        &self.inner.js
    }

    pub(crate) fn stream(&self) -> &Stream {
        &self.inner.stream
    }

    /// `KV_<bucket>`: the stream's name.
    pub(crate) fn stream_name(&self) -> &str {
        &self.inner.stream.cached_info().config.name
    }

    pub(crate) fn janitor(&self) -> &Janitor {
        &self.inner.janitor
    }

    /// `$KV.<bucket>.`
    pub(crate) fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The longest key (in bytes) this bucket takes: longer ones are refused with
    /// [`Error::InvalidKey`] before any wire call, since the server would refuse the protocol
    /// line that carries them (its default `max_control_line` is 4 KiB) by closing the
    /// connection.
    pub fn max_key_len(&self) -> usize {
        self.inner.max_key_len
    }

    /// Whether the bucket takes writes: false for a mirror and a read-only aggregate.
    pub fn is_writable(&self) -> bool {
        self.inner.writable
    }

    /// A handle to the same bucket that resends its writes with `policy` rather than the
    /// default [`WriteRetry`]. Families bound to the returned handle use it; this handle and the
    /// families bound to it keep theirs.
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
    /// use std::time::Duration;
    /// let bucket = natskv::Bucket::open_name(&nats, "orders").await?
    ///     .with_write_retry(natskv::WriteRetry::default().ack_wait(Duration::from_millis(500)));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_write_retry(&self, policy: WriteRetry) -> Bucket {
        let mut inner = Inner::clone(&self.inner);
        inner.write_retry = policy;
        Bucket {
            inner: Arc::new(inner),
        }
    }

    /// How this handle resends writes the server did not answer.
    pub fn write_retry(&self) -> WriteRetry {
        self.inner.write_retry
    }

    /// Runs `operation`, which sends to the subject made of `subject`'s pieces (API subjects
    /// with the `$JS.API.` prefix, whatever the domain), and ends it with
    /// [`Error::PermissionDenied`] as soon as the server reports that the connection may not.
    /// On a connection without a violation log it is `operation` itself.
    ///
    /// A denied operation applied nothing: a retry loop must not retry it.
    pub(crate) fn guard<'a, F: Future>(
        &'a self,
        subject: &'a [&'a str],
        operation: F,
    ) -> Guard<'a, F> {
        guard(self.violations(), self.name(), subject, false, operation)
    }

    /// [`guard`](Self::guard) for an operation that sends to a subject below `subject`, whose
    /// last tokens the client chooses (a consumer create).
    pub(crate) fn guard_under<'a, F: Future>(
        &'a self,
        subject: &'a [&'a str],
        operation: F,
    ) -> Guard<'a, F> {
        guard(self.violations(), self.name(), subject, true, operation)
    }

    fn violations(&self) -> Option<&Violations> {
        self.inner.violations.as_ref()
    }

    fn from_stream(
        name: &str,
        js: Context,
        stream: Stream,
        violations: Option<Violations>,
    ) -> Bucket {
        let config = &stream.cached_info().config;
        // A mirror keeps its origin's subjects.
        let keys_of = config
            .mirror
            .as_ref()
            .map_or(name, |m| m.name.strip_prefix("KV_").unwrap_or(&m.name))
            .to_owned();
        let writable = !config.subjects.is_empty();
        let prefix = format!("$KV.{keys_of}.");
        // The longest subject natskv builds around a key is a direct get's
        // `$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`.
        let max_key_len = MAX_CONTROL_LINE
            .saturating_sub(LINE_OVERHEAD + DIRECT_GET.len() + "KV_".len() + name.len() + 1)
            .saturating_sub(prefix.len());
        Bucket {
            inner: Arc::new(Inner {
                name: Arc::from(name),
                prefix,
                max_key_len,
                writable,
                janitor: Janitor::start(stream.clone()),
                js,
                stream,
                write_retry: WriteRetry::default(),
                violations,
            }),
        }
    }

    /// A server that does not know limit markers ignores them: report it rather than run
    /// without them.
    fn check_support(
        spec: &BucketSpec,
        actual: &async_nats::jetstream::stream::Config,
    ) -> Result<()> {
        if spec.limit_markers_value().is_some() && !actual.allow_message_ttl {
            return Err(Error::Unsupported {
                feature: "limit markers (per-key TTL)",
                needs: "2.11",
            });
        }
        if spec.atomic_value() && !actual.allow_atomic_publish {
            return Err(Error::Unsupported {
                feature: "atomic batches (transactions)",
                needs: "2.12",
            });
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<()> {
    validate_bucket_name(name).map_err(|source| Error::InvalidBucketName {
        name: name.to_owned(),
        source,
    })
}

/// The stream API's subjects, before the operation (a permission violation names them).
pub(crate) const STREAM_API: &str = "$JS.API.STREAM.";
/// The subject of a direct get, before the stream's name (a permission violation names it).
pub(crate) const DIRECT_GET: &str = "$JS.API.DIRECT.GET.";

async fn get_stream(js: &Context, violations: Option<&Violations>, name: &str) -> Result<Stream> {
    let op = Op::read(name, "open");
    let got = js.get_stream(format!("KV_{name}"));
    let subject = [STREAM_API, "INFO.KV_", name];
    match guard(violations, name, &subject, false, got).await? {
        Ok(stream) => Ok(stream),
        Err(e) => Err(settle(js, op, classify_api(op, e)).await),
    }
}

/// A bucket's configuration and contents, as the server reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketStatus {
    /// The bucket's name.
    pub name: String,
    /// The description, if any.
    pub description: Option<String>,
    /// How many entries (values and markers, all revisions) the bucket holds.
    pub values: u64,
    /// How many bytes the bucket holds.
    pub bytes: u64,
    /// How many revisions of each key are kept.
    pub history: i64,
    /// How long values live; `None` for forever.
    pub ttl: Option<Duration>,
    /// The largest value allowed, if limited.
    pub max_value_size: Option<u64>,
    /// The largest size of the bucket, if limited.
    pub max_bytes: Option<u64>,
    /// The storage.
    pub storage: Storage,
    /// The number of replicas.
    pub replicas: usize,
    /// Whether the data is compressed.
    pub compression: bool,
    /// The bucket's metadata (the server's own `_nats` entries left out).
    pub metadata: BTreeMap<String, String>,
    /// The limit-marker TTL, when limit markers (per-key TTL) are on.
    pub limit_markers: Option<Duration>,
    /// The bucket mirrors this one, if it is a mirror.
    pub mirror_of: Option<String>,
    /// The buckets this one sources from, if it is an aggregate.
    pub sources: Vec<String>,
    /// What this bucket mirrors, in full: the origin bucket, its key filters, and the API and
    /// deliver prefixes of another domain or account.
    pub mirror: Option<Origin>,
    /// What this aggregate sources, in full, one origin per source.
    pub origins: Vec<Origin>,
    /// Where writes are also sent, if anywhere.
    pub republish: Option<Republish>,
    /// Where the stream is placed, if it was placed.
    pub placement: Option<Placement>,
    /// Whether the bucket answers direct gets (the stream's `allow_direct`), so any replica
    /// answers a read. Buckets natskv creates have them; some other clients (nats-py) create
    /// buckets without, which natskv reads from the stream's leader and
    /// [`ensure`](Bucket::ensure) turns them on.
    pub allow_direct: bool,
    /// Whether the bucket allows atomic batches (transactions; the stream's `allow_atomic`).
    pub atomic: bool,
}

impl BucketStatus {
    fn from_info(info: &Info) -> Option<BucketStatus> {
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
            storage: match config.storage {
                async_nats::jetstream::stream::StorageType::File => Storage::File,
                async_nats::jetstream::stream::StorageType::Memory => Storage::Memory,
            },
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
                .map(|m| Origin::from_source(m, false)),
            origins: config
                .sources
                .iter()
                .flatten()
                .map(|s| Origin::from_source(s, true))
                .collect(),
            republish: config
                .republish
                .as_ref()
                .and_then(|r| Republish::from_nats(r, bucket_of(&config.name).as_str())),
            placement: config.placement.as_ref().map(Placement::from_nats),
            allow_direct: config.allow_direct,
            atomic: config.allow_atomic_publish,
        })
    }
}
