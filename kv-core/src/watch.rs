//! Typed watches.
