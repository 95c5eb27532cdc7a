//! One error type for every Key/Value operation, with a [`kind()`](Error::kind) to match on.

use std::error::Error as StdError;
use std::fmt;

use crate::codec::CodecError;
use crate::key::KeyError;
use crate::names::NameError;
use crate::permissions::Violation;

/// A boxed cause, kept in [`Error`]'s `source()`.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of natskv operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in Key/Value words. Stable to `match` on; new kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bucket does not exist.
    BucketNotFound,
    /// The bucket already exists with another configuration.
    BucketExists,
    /// The bucket was deleted and created again under a watch: its revisions started over.
    BucketRecreated,
    /// The bucket name breaks the naming rules.
    InvalidBucketName,
    /// A bucket option is out of range or inconsistent.
    InvalidConfig,
    /// A key, or a parameter of a key, is not valid ([`Error::InvalidKey`]), a pattern is not
    /// valid or does not fit its key type ([`Error::InvalidPattern`]), or a key stored in the
    /// bucket does not parse into the key type ([`Error::ForeignKey`]).
    InvalidKey,
    /// A compare-and-set lost: the key was not at the expected revision. Also a transaction
    /// whose guard failed: the error names the key.
    WrongRevision,
    /// A transaction that cannot be committed as built: too many operations, a key written
    /// twice, a family of another bucket. Nothing was sent.
    InvalidTransaction,
    /// The revision does not exist, belongs to another key, or is not a value.
    RevisionNotFound,
    /// A value could not be encoded or decoded.
    Codec,
    /// A value is larger than the bucket or the server allows.
    ValueTooLarge,
    /// The server (or the account) has no JetStream.
    JetStreamNotEnabled,
    /// The server's bucket configuration differs from the declared one.
    ConfigDrift,
    /// The bucket was written by another schema declaration.
    SchemaMismatch,
    /// The server refused the operation for lack of permission; nothing was applied.
    PermissionDenied,
    /// No answer in time; a write may have been applied.
    Timeout,
    /// Nobody answered: the bucket's leader is being elected, or a server is restarting.
    /// Transient: retry.
    Unavailable,
    /// The connection to the server failed.
    Connection,
    /// The server is too old for a requested feature.
    Unsupported,
    /// Any other error the server reported.
    Server,
}

/// One option whose value on the server differs from the declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The option's name, as in `#[kv(...)]`; `allow_direct` (the stream's direct gets,
    /// which every declaration has) has no option there.
    pub option: &'static str,
    /// The declared value.
    pub declared: String,
    /// The value the server has.
    pub actual: String,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: declared {}, server has {}",
            self.option, self.declared, self.actual
        )
    }
}

/// One way a bucket's stored schema and this program's declaration cannot work together: see
/// [`Error::SchemaMismatch`] and the policy in [`schema`](crate::schema).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaDifference {
    /// A family a newer declaration removed from the bucket (with `removed`), which this
    /// program still declares.
    Removed {
        /// The family's key pattern.
        pattern: String,
    },
    /// A family whose values the stored and the declared types cannot both read.
    Changed {
        /// The family's key pattern.
        pattern: String,
        /// What differs, such as "field `firmware` is new and required".
        detail: String,
    },
    /// A family stored with another codec.
    Codec {
        /// The family's key pattern.
        pattern: String,
        /// The declared codec.
        declared: String,
        /// The stored codec.
        stored: String,
    },
    /// A family whose keys overlap a stored family's with other literal tokens or parameter
    /// kinds: a key pattern changed in place.
    Pattern {
        /// The declared key pattern.
        pattern: String,
        /// The stored family's key pattern.
        stored: String,
    },
    /// A family whose parameters are stored in another order (`{from}.{to}` against
    /// `{to}.{from}`): the same keys would mean other things.
    ParamOrder {
        /// The declared key pattern.
        pattern: String,
        /// The stored key pattern.
        stored: String,
    },
    /// The stored schema cannot be read (set by hand, or by a newer natskv).
    Opaque {
        /// The schema this program declares.
        declared: String,
        /// The schema the bucket holds.
        stored: String,
        /// Why it cannot be read.
        reason: String,
    },
}

/// What to do when the data has to move: the breaking change's way out.
const MIGRATE: &str = "copy the data into a new bucket declared anew (natskv::Migration)";

impl fmt::Display for SchemaDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaDifference::Removed { pattern } => write!(
                f,
                "family `{pattern}` was removed from the bucket by a newer declaration; \
                 upgrade this program"
            ),
            SchemaDifference::Changed { pattern, detail } => write!(
                f,
                "family `{pattern}`: {detail}; if this program is the newer one and every \
                 reader of the family runs it, opt in with #[kv(key = \"{pattern}\", \
                 breaking)] (Schema::allow_breaking), otherwise upgrade this program or {MIGRATE}"
            ),
            SchemaDifference::Codec {
                pattern,
                declared,
                stored,
            } => write!(
                f,
                "family `{pattern}` is stored with codec `{stored}`, declared with \
                 `{declared}`; a codec cannot change in place: {MIGRATE}"
            ),
            SchemaDifference::Pattern { pattern, stored } => write!(
                f,
                "family `{pattern}` overlaps the bucket's family `{stored}` with other literal \
                 tokens or parameter kinds; a key pattern cannot change in place: {MIGRATE}, \
                 or give the new family keys of its own"
            ),
            SchemaDifference::ParamOrder { pattern, stored } => write!(
                f,
                "family `{pattern}` has its parameters in another order than the stored \
                 `{stored}`, so the same key would mean another thing; keep the stored order, \
                 or {MIGRATE}"
            ),
            SchemaDifference::Opaque { reason, .. } => write!(
                f,
                "the bucket's stored schema cannot be read ({reason}); open it with the \
                 program that wrote it"
            ),
        }
    }
}

fn schema_text(differences: &[SchemaDifference]) -> String {
    differences
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// An error of a natskv operation. Match on [`Error::kind`] or on the variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bucket does not exist.
    #[error("bucket `{bucket}` does not exist; create it with `ensure` or `create`")]
    BucketNotFound {
        /// The bucket's name.
        bucket: String,
    },
    /// The bucket exists with another configuration.
    #[error("bucket `{bucket}` already exists with another configuration; use `open` or `ensure`")]
    BucketExists {
        /// The bucket's name.
        bucket: String,
        /// The server's answer.
        #[source]
        source: Option<BoxError>,
    },
    /// The bucket was deleted and created again while a watch was reading it: the new bucket's
    /// revisions started over, so the watch cannot resume where it was. A watch reports it once
    /// and ends; a live cache reloads the new bucket instead.
    #[error(
        "bucket `{bucket}` was deleted and created again while it was watched (the watch was at \
         revision {revision}, the new bucket's revisions start over); start a new watch"
    )]
    BucketRecreated {
        /// The bucket's name.
        bucket: String,
        /// The last revision the watch had reached in the old bucket.
        revision: u64,
    },
    /// The bucket name breaks the naming rules.
    #[error("invalid bucket name `{name}`")]
    InvalidBucketName {
        /// The refused name.
        name: String,
        /// What is wrong with it.
        #[source]
        source: NameError,
    },
    /// A bucket option is out of range or inconsistent.
    #[error("invalid configuration of bucket `{bucket}`: {reason}")]
    InvalidConfig {
        /// The bucket's name.
        bucket: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A key, or a parameter of a key, is not valid.
    #[error("invalid key in bucket `{bucket}`")]
    InvalidKey {
        /// The bucket's name.
        bucket: String,
        /// What is wrong with the key.
        #[source]
        source: KeyError,
    },
    /// A key stored in the bucket (written by someone else) has the family's shape but does not
    /// parse into its key type. Reads and watches report it and go on.
    #[error(
        "key `{key}` at revision {revision} in bucket `{bucket}` does not parse into the key type"
    )]
    ForeignKey {
        /// The bucket's name.
        bucket: String,
        /// The stored key.
        key: String,
        /// The entry's revision.
        revision: u64,
        /// Why it does not parse.
        #[source]
        source: KeyError,
    },
    /// A key pattern is not valid, or does not fit its key type.
    #[error("key pattern `{pattern}` of bucket `{bucket}` is not valid")]
    InvalidPattern {
        /// The bucket's name.
        bucket: String,
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        #[source]
        source: BoxError,
    },
    /// The revision does not exist, belongs to another key, or is not a value.
    #[error("key `{key}` in bucket `{bucket}` has no value at revision {revision}")]
    RevisionNotFound {
        /// The bucket's name.
        bucket: String,
        /// The key.
        key: String,
        /// The revision asked for.
        revision: u64,
    },
    /// A compare-and-set lost: the key was not at the expected revision.
    #[error(
        "key `{key}` in bucket `{bucket}` is not at the expected revision ({}){}; read it again and retry",
        expected_text(*.expected),
        current_text(*.current)
    )]
    WrongRevision {
        /// The bucket's name.
        bucket: String,
        /// The key.
        key: String,
        /// The revision the write expected (`0` for "no live value").
        expected: u64,
        /// The key's current revision (`0`: none), as the server's refusal gave it or as read
        /// after it.
        current: Option<u64>,
    },
    /// A value could not be encoded or decoded.
    #[error("value of key `{key}`{} in bucket `{bucket}` could not be {}", revision_text(*.revision), if *.decoding { "decoded" } else { "encoded" })]
    Codec {
        /// The bucket's name.
        bucket: String,
        /// The key.
        key: String,
        /// The revision of the value, when decoding.
        revision: Option<u64>,
        /// Whether the failure was on decoding (else encoding).
        decoding: bool,
        /// The codec's error.
        #[source]
        source: CodecError,
    },
    /// A value is larger than the bucket or the server allows. Both limits count the whole
    /// message: the encoded value and the headers natskv sends with it (about 50 bytes: the
    /// message id, and for some writes the operation, the expected revision or a TTL).
    #[error("value of key `{key}` in bucket `{bucket}` is too large ({size} bytes with its headers{})", limit.map(|l| format!(", limit {l}")).unwrap_or_default())]
    ValueTooLarge {
        /// The bucket's name.
        bucket: String,
        /// The key.
        key: String,
        /// The size held against the limit: the encoded value and its headers.
        size: usize,
        /// The limit, where known: the bucket's largest value (`max_value_size`) or the
        /// server's `max_payload`, whichever refused the write.
        limit: Option<u64>,
        /// The server's answer, if it was the server that refused.
        #[source]
        source: Option<BoxError>,
    },
    /// The server (or the account) has no JetStream.
    #[error("JetStream is not enabled on this server or account; start nats-server with `-js`")]
    JetStreamNotEnabled {
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The server's bucket configuration differs from the declared one.
    #[error(
        "bucket `{bucket}` differs from its declaration ({}); call `ensure` to update it",
        drift_text(differences)
    )]
    ConfigDrift {
        /// The bucket's name.
        bucket: String,
        /// Each differing option.
        differences: Vec<Drift>,
    },
    /// The bucket's values were written by another schema declaration.
    #[error(
        "bucket `{bucket}` holds a schema this program's declaration cannot work with: {}",
        schema_text(differences)
    )]
    SchemaMismatch {
        /// The bucket's name.
        bucket: String,
        /// This program's schema, as it would be stored.
        expected: String,
        /// The schema found in the bucket's metadata.
        found: String,
        /// What differs, family by family.
        differences: Vec<SchemaDifference>,
    },
    /// The server refused the operation for lack of permission. Nothing was applied: retrying
    /// it unchanged cannot succeed; grant the permission (the user's `permissions` in the
    /// server's authorization) or connect as a user that has it.
    ///
    /// A JetStream API call the account may not make is refused in its answer. A publish or a
    /// request the connection's permissions deny gets no answer at all: the server reports the
    /// violation on the connection, to its event callback. natskv sees it, and ends the
    /// operation at once with this error and the [`violation`](Error::violation) (subject and
    /// permission), only on a connection made with [`connect`](crate::connect) or paired with
    /// its event log by [`Violations::attach`](crate::Violations::attach); on any other
    /// connection the operation waits for [`Error::Timeout`].
    #[error(
        "permission denied on bucket `{bucket}`{}",
        violation.as_ref().map(|v| format!(": {v}")).unwrap_or_default()
    )]
    PermissionDenied {
        /// The bucket's name.
        bucket: String,
        /// The subject and permission the server reported the connection lacks, when it was a
        /// violation reported on the connection.
        violation: Option<Violation>,
        /// The server's answer, when it refused in its answer.
        #[source]
        source: Option<BoxError>,
    },
    /// No answer in time.
    #[error("{operation}{} timed out{}", on(bucket), if *.may_have_applied { "; the write may have been applied" } else { "" })]
    Timeout {
        /// The bucket's name.
        bucket: String,
        /// What was being done.
        operation: &'static str,
        /// Whether a write was sent and may have been applied.
        may_have_applied: bool,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// Nobody answered the request: the bucket exists (or could not be checked) but no server
    /// took the request, as happens during a leader election or a restart. Transient: retry.
    #[error(
        "{operation}{} got no answer: no server is serving it right now \
         (a leader election or a restart is likely under way){}; retry",
        on(bucket),
        if *.may_have_applied { "; the write may have been applied" } else { "" }
    )]
    Unavailable {
        /// The bucket's name.
        bucket: String,
        /// What was being done.
        operation: &'static str,
        /// Whether a write was sent and may have been applied.
        may_have_applied: bool,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The connection to the server failed.
    #[error("connection to the server failed during {operation}{}", on(bucket))]
    Connection {
        /// The bucket's name.
        bucket: String,
        /// What was being done.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// A transaction that cannot be committed as built; nothing was sent.
    #[error("transaction on bucket `{bucket}` refused before any wire call: {reason}")]
    InvalidTransaction {
        /// The bucket's name.
        bucket: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The server is too old for a requested feature.
    #[error("{feature} needs nats-server {needs} or newer")]
    Unsupported {
        /// The feature.
        feature: &'static str,
        /// The minimum server version.
        needs: &'static str,
    },
    /// Any other error the server reported.
    #[error("{operation}{} failed: server error {code}: {description}", on(bucket))]
    Server {
        /// The bucket's name.
        bucket: String,
        /// What was being done.
        operation: &'static str,
        /// The JetStream error code (`err_code`), 0 when the server gave none.
        code: u64,
        /// The server's description.
        description: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
}

/// ` on bucket `name``, or nothing for an operation on no bucket in particular (a listing).
fn on(bucket: &str) -> String {
    if bucket.is_empty() {
        String::new()
    } else {
        format!(" on bucket `{bucket}`")
    }
}

fn expected_text(expected: u64) -> String {
    if expected == 0 {
        "no live value".to_owned()
    } else {
        format!("expected revision {expected}")
    }
}

fn current_text(current: Option<u64>) -> String {
    match current {
        Some(0) => ", it has no revision".to_owned(),
        Some(c) => format!(", it is at revision {c}"),
        None => String::new(),
    }
}

fn revision_text(revision: Option<u64>) -> String {
    revision
        .map(|r| format!(" at revision {r}"))
        .unwrap_or_default()
}

fn drift_text(differences: &[Drift]) -> String {
    differences
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// What went wrong, in Key/Value words.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BucketNotFound { .. } => ErrorKind::BucketNotFound,
            Error::BucketExists { .. } => ErrorKind::BucketExists,
            Error::BucketRecreated { .. } => ErrorKind::BucketRecreated,
            Error::InvalidBucketName { .. } => ErrorKind::InvalidBucketName,
            Error::InvalidConfig { .. } => ErrorKind::InvalidConfig,
            Error::InvalidKey { .. } | Error::ForeignKey { .. } | Error::InvalidPattern { .. } => {
                ErrorKind::InvalidKey
            }
            Error::RevisionNotFound { .. } => ErrorKind::RevisionNotFound,
            Error::WrongRevision { .. } => ErrorKind::WrongRevision,
            Error::Codec { .. } => ErrorKind::Codec,
            Error::ValueTooLarge { .. } => ErrorKind::ValueTooLarge,
            Error::JetStreamNotEnabled { .. } => ErrorKind::JetStreamNotEnabled,
            Error::ConfigDrift { .. } => ErrorKind::ConfigDrift,
            Error::SchemaMismatch { .. } => ErrorKind::SchemaMismatch,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Connection { .. } => ErrorKind::Connection,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidTransaction { .. } => ErrorKind::InvalidTransaction,
            Error::Server { .. } => ErrorKind::Server,
        }
    }

    /// The bucket the error is about, where there is one.
    pub fn bucket(&self) -> Option<&str> {
        let bucket = match self {
            Error::BucketNotFound { bucket }
            | Error::BucketExists { bucket, .. }
            | Error::BucketRecreated { bucket, .. }
            | Error::InvalidConfig { bucket, .. }
            | Error::InvalidKey { bucket, .. }
            | Error::ForeignKey { bucket, .. }
            | Error::InvalidPattern { bucket, .. }
            | Error::RevisionNotFound { bucket, .. }
            | Error::WrongRevision { bucket, .. }
            | Error::Codec { bucket, .. }
            | Error::ValueTooLarge { bucket, .. }
            | Error::ConfigDrift { bucket, .. }
            | Error::SchemaMismatch { bucket, .. }
            | Error::PermissionDenied { bucket, .. }
            | Error::Timeout { bucket, .. }
            | Error::Unavailable { bucket, .. }
            | Error::Connection { bucket, .. }
            | Error::InvalidTransaction { bucket, .. }
            | Error::Server { bucket, .. } => Some(bucket),
            Error::InvalidBucketName { name, .. } => Some(name),
            Error::JetStreamNotEnabled { .. } | Error::Unsupported { .. } => None,
        };
        bucket.map(String::as_str).filter(|b| !b.is_empty())
    }

    /// The key the error is about, where there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::WrongRevision { key, .. }
            | Error::ForeignKey { key, .. }
            | Error::RevisionNotFound { key, .. }
            | Error::Codec { key, .. }
            | Error::ValueTooLarge { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The revision the error is about: the value's revision for a codec error, the key's
    /// current revision for a lost compare-and-set.
    pub fn revision(&self) -> Option<u64> {
        match self {
            Error::WrongRevision { current, .. } => *current,
            Error::Codec { revision, .. } => *revision,
            Error::RevisionNotFound { revision, .. }
            | Error::ForeignKey { revision, .. }
            | Error::BucketRecreated { revision, .. } => Some(*revision),
            _ => None,
        }
    }

    /// Whether the same operation may succeed if tried again unchanged: the server did not
    /// answer ([`Unavailable`](ErrorKind::Unavailable), [`Timeout`](ErrorKind::Timeout)) or the
    /// connection failed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Connection
        )
    }

    /// The subject and permission a [`PermissionDenied`](Error::PermissionDenied) was about,
    /// when the server reported a violation on the connection.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Error::PermissionDenied { violation, .. } => violation.as_ref(),
            _ => None,
        }
    }

    /// The JetStream error code the server gave, if any.
    pub fn server_code(&self) -> Option<u64> {
        match self {
            Error::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}
