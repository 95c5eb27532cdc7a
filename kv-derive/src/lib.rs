//! Derive macros of natskv. Use them through the `natskv` facade.
