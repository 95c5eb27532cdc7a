//! Support for the code `#[derive(KvBucket)]` and `#[derive(KvKey)]` generate. Not a public API.
