#![doc = include_str!("../README.md")]

pub use natskv_core::*;
#[cfg(feature = "derive")]
pub use natskv_derive::*;
