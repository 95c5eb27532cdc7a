//! What a [`Migration`](crate::Migration) reports: [`MigrationProgress`] while it runs,
//! [`MigrationReport`] at the end, [`MigrationError`] when it stops before.

use std::fmt;

use crate::error::{Error, ErrorKind};

/// Where a running [`Migration`](crate::Migration) stands: given to its
/// [`progress`](crate::Migration::progress) callback. The counts are of this run only (a resumed
/// run counts from zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationProgress {
    /// Values written to the target.
    pub copied: u64,
    /// Deletes and purges applied to the target.
    pub deleted: u64,
    /// Entries a map left out (it returned `None`).
    pub skipped: u64,
    /// Entries whose value does not decode as the source's value type, or whose key does not
    /// parse into its key type.
    pub undecodable: u64,
    /// The last source revision applied: every entry of the source family at or below it is
    /// in the target. A point to [`resume_from`](crate::Migration::resume_from).
    pub revision: u64,
    /// Whether the copy has reached the source's end as of the start (a run that follows
    /// applies each change as it comes after that).
    pub caught_up: bool,
}

/// What a [`Migration`](crate::Migration) did: the counts of its [`MigrationProgress`], and the
/// entries that did not decode.
#[derive(Debug)]
#[non_exhaustive]
pub struct MigrationReport {
    /// Values written to the target.
    pub copied: u64,
    /// Deletes and purges applied to the target.
    pub deleted: u64,
    /// Entries a map left out (it returned `None`).
    pub skipped: u64,
    /// Entries whose value does not decode as the source's value type, or whose key does not
    /// parse into its key type.
    pub undecodable: u64,
    /// The last source revision applied: every entry of the source family at or below it is
    /// in the target. Give it to [`resume_from`](crate::Migration::resume_from) to go on from here.
    pub revision: u64,
    /// Whether the copy reached the source's end. Always true for a run that returned `Ok`.
    pub caught_up: bool,
    /// The first thousand entries that did not decode, in revision order (`undecodable` counts them
    /// all). An entry that stopped the run
    /// ([`Migration::stop_on_undecodable`](crate::Migration::stop_on_undecodable)) is the
    /// [`MigrationError`]'s error, not listed here.
    pub undecodable_entries: Vec<Undecodable>,
}

impl MigrationReport {
    /// The counts and the revision, as the progress callback saw them last.
    pub fn progress(&self) -> MigrationProgress {
        MigrationProgress {
            copied: self.copied,
            deleted: self.deleted,
            skipped: self.skipped,
            undecodable: self.undecodable,
            revision: self.revision,
            caught_up: self.caught_up,
        }
    }
}

/// A source entry a [`Migration`](crate::Migration) could not read: listed in
/// [`MigrationReport::undecodable_entries`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Undecodable {
    /// The stored key.
    pub key: String,
    /// The entry's revision in the source bucket.
    pub revision: u64,
    /// Why it could not be read: [`Error::Codec`] for a value, [`Error::ForeignKey`] for a
    /// key.
    pub error: Error,
}

/// A [`Migration`](crate::Migration) that stopped before its end: the error that stopped it, and
/// the report so far, whose [`revision`](MigrationReport::revision) is a point to
/// [`resume_from`](crate::Migration::resume_from).
///
/// `?` turns it into the [`Error`] alone.
#[derive(Debug)]
pub struct MigrationError {
    error: Box<Error>,
    report: MigrationReport,
}

impl MigrationError {
    pub(super) fn new(error: Error, report: MigrationReport) -> Self {
        MigrationError {
            error: Box::new(error),
            report,
        }
    }

    /// What stopped the migration.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// What stopped the migration, in Key/Value words.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }

    /// What the migration did before it stopped.
    pub fn report(&self) -> &MigrationReport {
        &self.report
    }

    /// The error and the report.
    pub fn into_parts(self) -> (Error, MigrationReport) {
        (*self.error, self.report)
    }
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the migration stopped after source revision {}; resume from it",
            self.report.revision
        )
    }
}

impl std::error::Error for MigrationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

impl From<MigrationError> for Error {
    fn from(error: MigrationError) -> Error {
        *error.error
    }
}
