//! Runtime core of natskv: codecs, key patterns, typed Key/Value families over async-nats.
//!
//! Use it through the `natskv` facade crate, whose documentation opens with the full example.
//! Without the default `runtime` feature only the key grammar ([`pattern`], [`key`], [`units`])
//! is built: that is what the derive macro checks declarations with at compile time.

pub mod key;
pub mod pattern;
pub mod units;

#[cfg(feature = "runtime")]
#[doc(hidden)]
pub mod __private;
#[cfg(feature = "runtime")]
mod bucket;
#[cfg(feature = "runtime")]
mod bulk;
#[cfg(feature = "runtime")]
mod cache;
#[cfg(feature = "runtime")]
mod classify;
#[cfg(feature = "runtime")]
pub mod codec;
#[cfg(feature = "runtime")]
mod delivery;
#[cfg(feature = "runtime")]
mod direct;
#[cfg(feature = "runtime")]
mod entry;
#[cfg(feature = "runtime")]
mod error;
#[cfg(feature = "runtime")]
mod family;
#[cfg(feature = "runtime")]
mod janitor;
#[cfg(feature = "runtime")]
mod maintenance;
#[cfg(feature = "runtime")]
mod migrate;
#[cfg(feature = "runtime")]
pub mod mode;
#[cfg(feature = "runtime")]
mod permissions;
#[cfg(feature = "runtime")]
mod raw;
#[cfg(feature = "runtime")]
mod retry;
#[cfg(feature = "runtime")]
mod scan;
#[cfg(feature = "runtime")]
pub mod schema;
#[cfg(feature = "runtime")]
mod single;
#[cfg(feature = "runtime")]
mod spec;
#[cfg(feature = "runtime")]
mod stream_options;
#[cfg(feature = "runtime")]
mod topology;
#[cfg(feature = "runtime")]
mod untyped;
#[cfg(feature = "runtime")]
mod update;
#[cfg(feature = "runtime")]
mod watch;

#[cfg(feature = "server")]
pub mod server;

pub use key::{Encoded, KeyError, KeyErrorReason, KeyFilter, KeyPart, KeyPath, KvKey};
pub use pattern::KeyPattern;

/// The async-nats natskv is built on (0.51): connect with it, or depend on the same version,
/// so that its client is the type natskv takes.
#[cfg(feature = "runtime")]
pub use async_nats;

#[cfg(feature = "runtime")]
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
    spec::{BucketSpec, MAX_HISTORY, MAX_REPLICAS, SCHEMA_METADATA_KEY, Storage},
    stream_options::{Placement, Republish},
    topology::Origin,
    untyped::{BucketHistory, BucketKeys},
    update::{UpdateWith, Updated, UpsertWith},
    watch::{BucketWatch, BucketWatchEvents, Watch, WatchBuilder, WatchEvent, WatchEvents},
};

/// The stream traits the watches, histories and key listings implement, re-exported so
/// `while let Some(entry) = watch.next().await` needs no other dependency.
#[cfg(feature = "runtime")]
pub use futures::{Stream, StreamExt, TryStreamExt};
