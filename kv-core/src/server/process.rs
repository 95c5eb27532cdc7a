//! How a server process is started and signalled: [`command`] and [`spawn`] tie its life to the
//! program's, so a program that is killed leaves no server running, and [`signal`] sends it a
//! signal without a `kill` command (which would complain on stderr about a process that is gone).
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
//! On the other Unix systems (macOS, the BSDs) nothing in the OS ties a child to its parent, so a
//! small watcher does: the server is started through `/bin/sh`, which starts a watcher shell
//! reading a pipe whose write end only the program holds (the server's stdin handle in its
//! `Child`), then `exec`s nats-server, so the server keeps the shell's pid and signals reach it.
//! When the program ends, however it ends, the pipe reaches end-of-file and the watcher kills
//! the server, but only while the server is still its parent: a server that already exited (its
//! pid possibly reused) is left alone. A normal stop needs nothing more: the watcher finds its
//! parent gone when the handle is dropped. nats-server itself holds no end of the pipe.
//!
//! On Windows nothing ties a server to its program: it outlives a program that is killed without
//! running its destructors. Ctrl-C in a terminal is not such a case anywhere: it signals the
//! whole foreground process group, server included, and nats-server shuts down on SIGINT. On a
//! Unix, the work directory of a server that outlived its program is removed by the next launch
//! all the same (see `workdir`).

use std::ffi::OsStr;
use std::io;
use std::process::{Child, Command, Stdio};

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

/// The command that runs `binary` (its arguments are added to it) as a server tied to the
/// program's life, once given to [`spawn`]; its stdin is the server's own business here.
#[cfg(any(target_os = "linux", not(unix)))]
pub(super) fn command(binary: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(binary);
    command.stdin(Stdio::null());
    command
}

/// The command that runs `binary` (its arguments are added to it) as a server tied to the
/// program's life: through `/bin/sh` and a watcher of its stdin pipe (see the module header).
#[cfg(all(unix, not(target_os = "linux")))]
pub(super) fn command(binary: impl AsRef<OsStr>) -> Command {
    watched(binary)
}

/// The shell that starts the watcher on the pipe (saved as fd 3, since a background command's
/// stdin is otherwise `/dev/null`; its output goes nowhere, so it holds no log open), then
/// becomes the server: `$1` is the watcher's script, the rest the server's command line.
#[cfg(unix)]
const LAUNCHER: &str =
    r#"exec 3<&0; sh -c "$1" <&3 3<&- >/dev/null 2>&1 & shift; exec "$@" </dev/null 3<&-"#;

/// The watcher: at end-of-file on its stdin (the program is gone), kill its parent (the
/// server, `$PPID` when it started), but only while that is still its parent: once the server
/// has exited the watcher has another one, and the pid may be another process's. A line on
/// the pipe (never sent today) would end it without a kill.
#[cfg(unix)]
const WATCHER: &str = r#"read _ || { [ $(ps -o ppid= -p $$) = "$PPID" ] && kill -KILL "$PPID"; }"#;

/// `binary` started through [`LAUNCHER`], its stdin a pipe for the [`WATCHER`].
#[cfg(unix)]
#[cfg_attr(target_os = "linux", allow(dead_code))] // Linux uses its parent-death signal
fn watched(binary: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", LAUNCHER, "natskv-nats-server", WATCHER])
        .arg(binary)
        .stdin(Stdio::piped());
    command
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

/// Starts `command`: a [`command`] whose watcher ties it to the program on a Unix other than
/// Linux; nothing does on Windows (see the module header).
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

#[cfg(all(test, unix))]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Waits up to ten seconds for `child` to exit.
    fn exit_of(child: &mut Child) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    #[test]
    fn the_watched_command_runs_the_binary_and_dies_when_its_pipe_closes() {
        use std::os::unix::process::ExitStatusExt as _;

        // The binary keeps the shell's pid and gets the arguments.
        let mut child = watched("sh")
            .args(["-c", "echo $$ $0", "arg0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Held until the binary is done: closing it is what kills.
        let pipe = child.stdin.take();
        let output = child.wait_with_output().unwrap();
        drop(pipe);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            format!("{pid} arg0")
        );

        // Closing the pipe (the program is gone) kills the binary.
        let mut child = watched("sleep").arg("30").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "sleep runs");
        drop(child.stdin.take());
        let status = exit_of(&mut child).expect("the watcher kills it");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
}
