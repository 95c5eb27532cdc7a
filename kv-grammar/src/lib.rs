//! The key grammar of natskv: what its derive macro checks a declaration with when the program
//! is compiled, and what its runtime checks keys and names with before any wire call. One
//! definition, so the two can never disagree.
//!
//! - [`names`]: the naming rules of NATS Key/Value (ADR-8) for bucket names, keys, tokens, key
//!   paths, filters and subjects.
//! - [`pattern`]: key patterns such as `site.{site}.device.{id}` or `config.{path..}`.
//! - [`key`]: typed keys, the values of a pattern's parameters, and partial keys.
//! - [`units`]: durations and sizes as the derive's options write them (`"7d"`, `"1GiB"`).
//! - [`limits`]: the ranges of bucket options (history, replicas).
//!
//! Use it through the `natskv` crate, which re-exports what applications use; the rest is public
//! for natskv's own crates only, and may change in any release.

pub mod key;
pub mod limits;
pub mod names;
pub mod pattern;
pub mod units;
