//! Read-modify-write with compare-and-set retries.
