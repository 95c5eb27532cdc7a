//! [`WorkDir`]: the temporary directory of one launch (a server's or a cluster's config, log,
//! ports file and, unless the builder names another, JetStream store), removed on drop, and the
//! sweep that removes those of programs that were killed.
//!
//! Every work directory lives under one per-user root in the system's temporary directory,
//! `natskv-<uid>` (`natskv` where there are no user ids), and holds an `owner.lock` file that its
//! program keeps locked (`flock`) while the directory is in use. The kernel releases that lock
//! however the program ends, SIGKILL included, so a directory whose lock can be taken has lost
//! its owner: every launch first removes those, then makes its own. A killed program's directory
//! is thus gone at the latest when the same user next starts a server or a cluster.
//!
//! The owner creates the lock file, locks it, then writes its pid into it; the sweep removes a
//! directory only while holding its lock and when the lock file names a process. That leaves alone
//! a directory being made (no lock file yet, or one not yet locked, so still empty), one being
//! removed by its owner (who removes the lock file last), and, on file systems where one
//! process's locks do not exclude each other (NFS), this program's own. A lock, unlike a pid
//! check, is not fooled by pid reuse or by programs in other pid namespaces sharing `/tmp`.
//!
//! Without `flock` (platforms other than Unix) nothing is locked or swept: a killed program's
//! directory stays in the temporary directory until the system cleans it.

use std::fs::{self, DirBuilder, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::{ServerError, io_error};

/// The file an owner keeps locked, holding its pid.
const LOCK_FILE: &str = "owner.lock";

/// A launch's temporary directory, locked by this program while it lives; removed on drop.
#[derive(Debug)]
pub(super) struct WorkDir {
    path: PathBuf,
    /// Holds the lock; closed after the directory is removed.
    _lock: File,
}

impl WorkDir {
    /// Removes the directories of programs that are gone, then creates a fresh one named
    /// `<kind>-<random>` under the per-user root.
    pub(super) fn create(kind: &str) -> Result<Self, ServerError> {
        let root = root().map_err(io_error("create natskv's temporary directory"))?;
        sweep(&root);
        let path = root.join(format!("{kind}-{}", nuid::next()));
        private_dir()
            .create(&path)
            .map_err(io_error("create a temporary directory"))?;
        match take_ownership(&path) {
            Ok(lock) => Ok(Self { path, _lock: lock }),
            Err(error) => {
                let _ = fs::remove_dir_all(&path);
                Err(io_error("lock a temporary directory")(error))
            }
        }
    }

    /// The directory.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Everything but the lock file first: a program killed meanwhile leaves a directory that
        // still has its (now free) lock file, which the next launch sweeps.
        let mut rest_removed = true;
        if let Ok(entries) = fs::read_dir(&self.path) {
            for entry in entries.flatten() {
                if entry.file_name() == LOCK_FILE {
                    continue;
                }
                let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    fs::remove_dir_all(entry.path())
                } else {
                    fs::remove_file(entry.path())
                };
                rest_removed &= removed.is_ok();
            }
        }
        if rest_removed {
            let _ = fs::remove_file(self.path.join(LOCK_FILE));
            let _ = fs::remove_dir(&self.path);
        }
    }
}

/// The per-user root, created if missing: `natskv-<uid>` in the temporary directory, which must
/// be a directory of this user (not a link, not another user's).
#[cfg(unix)]
fn root() -> io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt as _;

    // SAFETY: `getuid` has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let root = std::env::temp_dir().join(format!("natskv-{uid}"));
    match private_dir().create(&root) {
        Err(error) if error.kind() != io::ErrorKind::AlreadyExists => return Err(error),
        _ => {}
    }
    let metadata = fs::symlink_metadata(&root)?;
    if !metadata.is_dir() || metadata.uid() != uid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory of this user; remove it, or set TMPDIR to another directory",
                root.display()
            ),
        ));
    }
    Ok(root)
}

/// The root where there are no user ids: `natskv` in the (per-user) temporary directory.
#[cfg(not(unix))]
fn root() -> io::Result<PathBuf> {
    let root = std::env::temp_dir().join("natskv");
    fs::create_dir_all(&root)?;
    Ok(root)
}

/// A builder for directories only this user may enter.
fn private_dir() -> DirBuilder {
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// Creates, locks and signs the lock file of `dir`, which must not have one.
fn take_ownership(dir: &Path) -> io::Result<File> {
    let mut file = File::create_new(dir.join(LOCK_FILE))?;
    // Blocks while a sweep holds it for a moment (it sees the empty file and lets go).
    lock::exclusive(&file)?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

/// Removes every directory under `root` whose owner is gone; errors leave a directory for a later
/// sweep.
fn sweep(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        if let Some(_lock) = abandoned(&dir) {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

/// The lock of `dir`, held, when its owner is gone: the lock was free and the file names a
/// process other than this one.
fn abandoned(dir: &Path) -> Option<File> {
    let mut file = File::open(dir.join(LOCK_FILE)).ok()?;
    if !lock::try_exclusive(&file) {
        return None;
    }
    let mut owner = String::new();
    file.read_to_string(&mut owner).ok()?;
    let owner: u32 = owner.trim().parse().ok()?;
    (owner != std::process::id()).then_some(file)
}

/// `flock`: advisory locks that the kernel releases when the program ends, and that exclude each
/// other even within one program (each `open` is its own holder).
#[cfg(unix)]
mod lock {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd as _;

    /// Takes the exclusive lock of `file`, waiting for it.
    pub(super) fn exclusive(file: &File) -> io::Result<()> {
        flock(file, libc::LOCK_EX)
    }

    /// Takes the exclusive lock of `file` if it is free.
    pub(super) fn try_exclusive(file: &File) -> bool {
        flock(file, libc::LOCK_EX | libc::LOCK_NB).is_ok()
    }

    fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
        loop {
            // SAFETY: `flock` on a descriptor that `file` keeps open has no memory-safety
            // preconditions.
            if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// No locks here: owning always works, and no directory is ever taken for abandoned.
#[cfg(not(unix))]
mod lock {
    use std::fs::File;
    use std::io;

    pub(super) fn exclusive(_file: &File) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn try_exclusive(_file: &File) -> bool {
        false
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A work directory under a private root, as `create` makes one, without the sweep.
    fn work_dir(root: &Path, name: &str) -> WorkDir {
        let path = root.join(name);
        fs::create_dir(&path).unwrap();
        let lock = take_ownership(&path).unwrap();
        WorkDir { path, _lock: lock }
    }

    #[test]
    fn the_sweep_removes_only_directories_whose_owner_is_gone() {
        let root = tempfile::tempdir().unwrap();
        let live = work_dir(root.path(), "server-live");
        fs::write(live.path().join("nats-server.log"), "").unwrap();

        // Killed owners: the lock file is free and names a process (not this one).
        let dead = root.path().join("server-dead");
        fs::create_dir_all(dead.join("jetstream")).unwrap();
        fs::write(dead.join(LOCK_FILE), "4194304").unwrap();
        // Being made: no lock file yet, or not signed yet.
        let unlocked = root.path().join("server-new");
        fs::create_dir(&unlocked).unwrap();
        let unsigned = root.path().join("server-unsigned");
        fs::create_dir(&unsigned).unwrap();
        fs::write(unsigned.join(LOCK_FILE), "").unwrap();
        // This program's own, even when its lock is free (as on NFS).
        let own = root.path().join("server-own");
        fs::create_dir(&own).unwrap();
        fs::write(own.join(LOCK_FILE), std::process::id().to_string()).unwrap();

        sweep(root.path());
        assert!(!dead.exists(), "a dead owner's directory is removed");
        assert!(live.path().join("nats-server.log").exists());
        assert!(unlocked.exists() && unsigned.exists() && own.exists());

        let live_path = live.path().to_owned();
        drop(live);
        assert!(!live_path.exists(), "drop removes the directory");
    }

    #[test]
    fn a_work_dir_is_private_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = WorkDir::create("unit").unwrap();
        let path = dir.path().to_owned();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let root = path.parent().unwrap();
        assert_eq!(
            fs::metadata(root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::create_dir_all(path.join("jetstream/stream")).unwrap();
        // A lock taken through another open file fails while the owner lives.
        let other = File::open(path.join(LOCK_FILE)).unwrap();
        assert!(!lock::try_exclusive(&other));
        drop(other);
        drop(dir);
        assert!(!path.exists());
    }
}
