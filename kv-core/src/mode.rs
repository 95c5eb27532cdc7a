//! What a family handle may do, as a type: read and write, also per-key TTL, or read only.
//!
//! The mode is the last type parameter of [`Family`](crate::Family) and
//! [`Single`](crate::Single). Writes exist only on [`Writable`] modes, so a write to a mirror
//! does not compile; the per-key TTL methods exist only in [`PerKeyTtl`] mode, which the derive
//! accepts only on buckets declared with limit markers.

mod sealed {
    pub trait Sealed {}
}

/// A family's access mode. Sealed: the modes are [`ReadWrite`], [`PerKeyTtl`] and [`ReadOnly`].
pub trait Mode: sealed::Sealed + Send + Sync + 'static {
    /// Whether per-key TTLs are available.
    const PER_KEY_TTL: bool;
    /// Whether the mode allows writes.
    const WRITABLE: bool;
}

/// Modes that allow writes.
#[diagnostic::on_unimplemented(
    message = "this family is read-only (`{Self}`): it cannot be written",
    note = "mirrors are read-only; write to the origin bucket"
)]
pub trait Writable: Mode {}

/// Reads and writes (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReadWrite;

/// Reads and writes, and per-key TTLs on create and purge (ADR-48).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PerKeyTtl;

/// Reads only: a mirror.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReadOnly;

impl sealed::Sealed for ReadWrite {}
impl sealed::Sealed for PerKeyTtl {}
impl sealed::Sealed for ReadOnly {}

impl Mode for ReadWrite {
    const PER_KEY_TTL: bool = false;
    const WRITABLE: bool = true;
}
impl Mode for PerKeyTtl {
    const PER_KEY_TTL: bool = true;
    const WRITABLE: bool = true;
}
impl Mode for ReadOnly {
    const PER_KEY_TTL: bool = false;
    const WRITABLE: bool = false;
}

impl Writable for ReadWrite {}
impl Writable for PerKeyTtl {}
