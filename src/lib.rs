#![doc = include_str!("../README.md")]

pub use kv_core::*;
#[cfg(feature = "derive")]
pub use kv_derive::*;
