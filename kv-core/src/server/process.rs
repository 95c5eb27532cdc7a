//! How a server process is signalled: [`signal`] sends a signal with `kill(2)`, without a `kill`
//! command (which would complain on stderr about a process that is gone), and only to a child
//! that has not been reaped.

use std::io;
use std::process::Child;

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
