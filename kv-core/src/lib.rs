//! Runtime core of natskv: buckets, typed families, codecs, watches, caches and errors over
//! async-nats, on the key grammar of `natskv-grammar`.
//!
//! Use it through the `natskv` facade crate, whose documentation opens with the full example.

#[doc(hidden)]
pub mod __private;
mod bucket;
mod cache;
pub mod codec;
mod entry;
mod error;
mod family;
mod maintenance;
mod migrate;
pub mod mode;
mod permissions;
mod retry;
pub mod schema;
mod single;
mod spec;
mod stream_options;
mod topology;
mod trace;
mod transaction;
mod untyped;
mod update;
mod watch;
mod wire;

#[cfg(feature = "server")]
pub mod server;

/// The key grammar, for natskv's own crates and the code its derive generates: applications use
/// the items re-exported at the crate root.
#[doc(hidden)]
pub use natskv_grammar::{key, limits, names, pattern, units};
pub use natskv_grammar::{
    key::{BindError, Encoded, KeyError, KeyErrorReason, KeyFilter, KeyPart, KeyPath, KvKey},
    limits::{MAX_HISTORY, MAX_REPLICAS},
    names::{NameError, NameErrorReason, NameKind},
    pattern::{KeyPattern, PatternError, PatternErrorKind},
};

/// The async-nats natskv is built on (0.51): connect with it, or depend on the same version,
/// so that its client is the type natskv takes.
pub use async_nats;

pub use crate::{
    bucket::{Bucket, BucketStatus, Connection},
    cache::{Cache, Changes},
    codec::{Codec, CodecError, Json, MsgPack, Raw},
    entry::{Current, Entry, NoValue, Operation},
    error::{BoxError, Drift, Error, ErrorKind, Result, SchemaDifference},
    family::{Family, History, Keys, Snapshot},
    migrate::{Migration, MigrationError, MigrationProgress, MigrationReport, Undecodable},
    mode::{PerKeyTtl, ReadOnly, ReadWrite},
    permissions::{Guarded, Permission, Violation, Violations, connect},
    retry::{RetryPolicy, WriteRetry},
    schema::{FamilySchema, Schema, ValueShape},
    single::Single,
    spec::{BucketSpec, SCHEMA_METADATA_KEY, Storage},
    stream_options::{Placement, Republish},
    topology::Origin,
    transaction::{Atomic, Committed, Reads, Transaction, View},
    untyped::{BucketHistory, BucketKeys},
    update::{ReadModifyWrite, Updated},
    watch::{BucketWatch, BucketWatchEvents, Watch, WatchBuilder, WatchEvent, WatchEvents},
};

/// The stream traits the watches, histories and key listings implement, re-exported so
/// `while let Some(entry) = watch.next().await` needs no other dependency.
pub use futures::{Stream, StreamExt, TryStreamExt};
