//! natskv: typed, schema-driven NATS JetStream Key/Value.
pub use kv_core::*;
#[cfg(feature = "derive")]
pub use kv_derive::*;
