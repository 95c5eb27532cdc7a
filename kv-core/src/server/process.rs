//! How a server process is started and signalled: [`spawn`] ties its life to the program's, so a
//! program that is killed leaves no server running, and [`signal`] sends it a signal without a
//! `kill` command (which would complain on stderr about a process that is gone).
//!
//! On Linux every server gets a parent-death signal (`PR_SET_PDEATHSIG`, SIGKILL): the kernel
//! kills it when the program ends, however it ends (SIGKILL, a crash, `std::process::exit`
//! without drop). That signal follows the *thread* that forked the server, not the process: a
//! server forked on a tokio blocking thread (which ends after 10 s idle), on a runtime's worker
//! (which ends with its runtime) or on the thread of a test would be killed with that thread.
//! So every server is forked by one dedicated thread that lives as long as the program. The
//! kernel clears the setting when the binary run is set-user-ID or has file capabilities: a
//! nats-server installed so is not tied.
//!
//! Elsewhere (macOS, the BSDs, Windows) nothing in the OS ties a child to its parent without a
//! helper process: a server outlives a program that is killed without running its destructors.
//! Ctrl-C in a terminal is not such a case: it signals the whole foreground process group, server
//! included, and nats-server shuts down on SIGINT. On a Unix, the work directory of a server that
//! outlived its program is removed by the next launch all the same (see `workdir`).

use std::io;
use std::process::{Child, Command};

/// A signal for a server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    /// SIGSTOP: freeze it.
    Stop,
    /// SIGCONT: let a frozen one go on.
    Cont,
    /// SIGTERM: shut down gracefully (nats-server flushes JetStream).
    Term,
}

/// Sends `signal` to `child`; does nothing when it has exited already.
///
/// Race-free: the child is not reaped before the signal (`try_wait` said it runs, and only the
/// owner of `child` reaps it), so its pid cannot belong to another process yet.
///
/// # Errors
///
/// The `try_wait` or `kill` error; [`io::ErrorKind::Unsupported`] on platforms without signals.
pub(super) fn signal(child: &mut Child, signal: Signal) -> io::Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    send(child.id(), signal)
}

#[cfg(unix)]
fn send(pid: u32, signal: Signal) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let signal = match signal {
        Signal::Stop => libc::SIGSTOP,
        Signal::Cont => libc::SIGCONT,
        Signal::Term => libc::SIGTERM,
    };
    // SAFETY: `kill` takes plain integers and has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(unix))]
fn send(_pid: u32, _signal: Signal) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "signals are not supported on this platform",
    ))
}

/// Starts `command` so that it dies with the program on Linux (see the module header).
#[cfg(target_os = "linux")]
pub(super) fn spawn(mut command: Command) -> io::Result<Child> {
    use std::os::unix::process::CommandExt as _;

    let parent = std::process::id();
    let kill = libc::c_ulong::from(libc::SIGKILL.unsigned_abs());
    // SAFETY: between fork and exec the closure makes only async-signal-safe calls (`prctl`,
    // `getppid`) and allocates nothing (an OS error code is stored inline).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, kill) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The program may have died before the signal was asked for: then its orphan has
            // another parent already, and must not run.
            if u32::try_from(libc::getppid()) != Ok(parent) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    spawner::spawn(command)
}

/// Starts `command`; nothing ties it to the program here (see the module header).
#[cfg(not(target_os = "linux"))]
pub(super) fn spawn(mut command: Command) -> io::Result<Child> {
    command.spawn()
}

/// The thread that forks every server, so that their parent-death signal fires only when the
/// program ends.
#[cfg(target_os = "linux")]
mod spawner {
    use std::io;
    use std::process::{Child, Command};
    use std::sync::OnceLock;
    use std::sync::mpsc::{self, Sender, SyncSender};
    use std::thread;

    /// A command to start, and where its outcome goes.
    type Job = (Command, SyncSender<io::Result<Child>>);

    /// The queue of the spawner thread; never dropped, so the thread runs until the program ends.
    static JOBS: OnceLock<Sender<Job>> = OnceLock::new();

    /// Starts `command` on the spawner thread (started on first use) and waits for the outcome.
    pub(super) fn spawn(command: Command) -> io::Result<Child> {
        let (reply, outcome) = mpsc::sync_channel(1);
        jobs()?.send((command, reply)).map_err(|_| thread_gone())?;
        outcome.recv().map_err(|_| thread_gone())?
    }

    fn jobs() -> io::Result<&'static Sender<Job>> {
        if let Some(jobs) = JOBS.get() {
            return Ok(jobs);
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        // Two first uses at once start two threads; the one whose queue is not kept ends at
        // once, having spawned nothing.
        thread::Builder::new()
            .name("natskv-server-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in queue {
                    // The caller waits for the answer; should it be gone, so must the child.
                    if let Err(mpsc::SendError(Ok(mut child))) = reply.send(command.spawn()) {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                }
            })?;
        Ok(JOBS.get_or_init(|| jobs))
    }

    fn thread_gone() -> io::Error {
        io::Error::other("the natskv server spawner thread has ended")
    }
}
