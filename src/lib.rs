//! natskv: typed, schema-driven NATS JetStream Key/Value.
//!
//! Declare each bucket as a Rust type: `#[derive(KvBucket)]` turns it into the bucket's
//! configuration and typed key families, with MessagePack-encoded values, over the official
//! async-nats client. Wrong keys, wrong value types and invalid bucket options fail at compile
//! time; what only the server knows fails with a typed [`Error`] in Key/Value words.
//!
//! ```no_run
//! use natskv::{Family, KvBucket, KvKey, Single};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
//! pub struct DeviceState { pub online: bool, pub firmware: String, pub battery: u8 }
//!
//! #[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
//! pub struct DeviceKey { pub site: String, pub id: u32 }
//!
//! #[derive(KvBucket)]
//! #[kv(bucket = "fleet", history = 5, ttl = "7d", storage = "file", replicas = 1)]
//! pub struct Fleet {
//!     /// Latest reported state of each device.
//!     #[kv(key = "site.{site}.device.{id}")]
//!     pub devices: Family<DeviceKey, DeviceState>,
//!     /// Global maintenance switch.
//!     #[kv(key = "maintenance")]
//!     pub maintenance: Single<bool>,
//! }
//!
//! # async fn run() -> natskv::Result<()> {
//! let nats = async_nats::connect("nats://127.0.0.1:4222").await.expect("connect");
//! let fleet = Fleet::ensure(&nats).await?;          // create, or bring the server's bucket to the declaration
//! let key = DeviceKey { site: "paris".into(), id: 7 };
//! let state = DeviceState { online: true, firmware: "1.2".into(), battery: 90 };
//! let rev = fleet.devices.put(&key, &state).await?;             // -> revision
//! let entry = fleet.devices.get(&key).await?;                   // -> Option<Entry<DeviceKey, DeviceState>>
//! fleet.devices.update(&key, &state, rev).await?;               // Err(Error::WrongRevision { .. }) on a lost race
//! fleet.devices.update_with(&key, |s| s.battery -= 1).await?;   // compare-and-set retry loop
//! let mut watch = fleet.devices.watch(DeviceKey::filter().site("paris")).await?; // site.paris.device.*
//! let live = fleet.devices.cache().await?;                      // live HashMap<DeviceKey, DeviceState>
//! # Ok(()) }
//! ```
//!
//! `cargo run --example quickstart` runs the same program against a local nats-server.
//!
//! # What the compiler checks
//!
//! [`KvBucket`] refuses, each with a message spanned on what you wrote: unknown or repeated
//! options, a missing or invalid bucket name, `history` outside 1..=64, `replicas` outside 1..=5,
//! unparsable durations and sizes, an unknown storage; key patterns with an empty token,
//! characters keys do not allow, a `*` or `>`, the reserved `_kv` prefix, an unclosed or empty
//! `{}`, a parameter named twice, a parameter the key type does not have, a key-type field the
//! pattern does not use, and two families whose patterns can match the same key; a field that is
//! not a [`Family`] or [`Single`], a key field that cannot be a key token, a value type the codec
//! cannot store, and per-key TTL on a bucket without limit markers.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `derive` | yes | `#[derive(KvBucket)]` and `#[derive(KvKey)]` |
//! | `server` | no | `server::NatsServer`: a local nats-server for development and tests |

pub use kv_core::*;
#[cfg(feature = "derive")]
pub use kv_derive::*;
