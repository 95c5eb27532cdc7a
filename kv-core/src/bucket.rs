//! Bucket handles: create, open, ensure, delete, list and status, in Key/Value words, and the
//! [`Connection`]s they are opened through. The requests behind them, to the bucket's backing
//! stream, are the wire layer's (`wire::admin`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, Context};

use crate::error::{Error, Result};
use crate::key::{KeyError, KeyErrorReason};
use crate::names::{validate_bucket_name, validate_filter};
use crate::permissions::{Guard, Violations, guard};
use crate::retry::WriteRetry;
use crate::spec::{BucketSpec, Storage};
use crate::stream_options::{Placement, Republish};
use crate::topology::Origin;
use crate::wire::admin::{self, BucketStream};
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
    stream: BucketStream,
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
        let violations = conn.violations();
        let stream = admin::create(&js, violations.as_ref(), spec).await?;
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
        let stream = admin::get(&js, violations.as_ref(), spec.name()).await?;
        spec.check_schema(stream.stored_schema())?;
        let differences = stream.drift(spec);
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
        let stream = admin::get(&js, violations.as_ref(), name).await?;
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
        let mut stream = match admin::get(&js, violations.as_ref(), spec.name()).await {
            Err(Error::BucketNotFound { .. }) => return Self::create(&conn, spec).await,
            other => other?,
        };
        let schema = spec.check_schema(stream.stored_schema())?;
        let schema_changed = schema.is_some() && schema.as_deref() != stream.stored_schema();
        if schema_changed || !stream.drift(spec).is_empty() {
            // The stored schema widened by this declaration, never this declaration's alone:
            // an older declaration takes nothing away.
            stream = admin::update(&js, violations.as_ref(), spec, schema).await?;
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
        let violations = conn.violations();
        admin::delete(&conn.jetstream(), violations.as_ref(), name).await
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
        let mut out = admin::bucket_names(&conn.jetstream()).await?;
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
        let mut out = admin::bucket_statuses(&conn.jetstream()).await?;
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
        self.read_status()
            .await?
            .ok_or_else(|| Error::BucketNotFound {
                bucket: self.inner.name.to_string(),
            })
    }

    /// Whether the bucket's stream answers direct gets (`allow_direct`), as the handle saw it
    /// when it was opened: single reads then go to any replica, batch reads need them.
    pub(crate) fn allows_direct(&self) -> bool {
        self.inner.stream.allows_direct()
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

    /// The bucket's backing stream, as the handle opened it.
    pub(crate) fn backing(&self) -> &BucketStream {
        &self.inner.stream
    }

    /// `KV_<bucket>`: the stream's name.
    pub(crate) fn stream_name(&self) -> &str {
        self.inner.stream.name()
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
        stream: BucketStream,
        violations: Option<Violations>,
    ) -> Bucket {
        // A mirror keeps its origin's subjects.
        let prefix = format!("$KV.{}.", stream.keys_of(name));
        Bucket {
            inner: Arc::new(Inner {
                name: Arc::from(name),
                max_key_len: admin::max_key_len(name, &prefix),
                prefix,
                writable: stream.is_writable(),
                janitor: stream.janitor(),
                js,
                stream,
                write_retry: WriteRetry::default(),
                violations,
            }),
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    validate_bucket_name(name).map_err(|source| Error::InvalidBucketName {
        name: name.to_owned(),
        source,
    })
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
