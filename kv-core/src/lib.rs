//! Runtime core of natskv: codecs, key patterns, typed Key/Value families over async-nats.
//!
//! Use it through the `natskv` facade crate.

pub mod key;
pub mod pattern;
pub mod units;
