//! A local nats-server for development, tests, examples and benchmarks.
//!
//! [`NatsServer`] starts one `nats-server` process with JetStream on, bound to a free loopback
//! port, storing into a temporary directory; [`Cluster`] starts a three-node (or larger) JetStream
//! cluster on loopback. Both wait until the servers accept connections and JetStream is ready, and
//! both stop their processes and remove their temporary files when dropped.
//!
//! The binary is taken from `NATS_SERVER_BIN`, then `nats-server` on `PATH`, then the project's
//! tools folder, which `scripts/install-nats-server` fills.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kv_core::server::ServerError> {
//! use kv_core::server::NatsServer;
//!
//! let server = NatsServer::start().await?;
//! println!("connect to {}", server.url());
//! # Ok(())
//! # }
//! ```

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The command that installs the development server.
const INSTALL_HINT: &str = "scripts/install-nats-server";
/// Where the install script puts the binary.
const TOOLS_BINARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/bin/nats-server");
/// How long a single server may take to become ready, unless the builder says otherwise.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a cluster may take to elect a meta leader and report healthy.
const CLUSTER_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Bound on one probe's network round trip.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How many times a cluster start is tried again when a chosen port was taken meanwhile.
const CLUSTER_START_ATTEMPTS: usize = 3;
/// How much of the log an error carries.
const LOG_TAIL_LINES: usize = 30;

/// Why a development server could not be started, stopped or restarted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No `nats-server` binary was found; run `scripts/install-nats-server` or set `NATS_SERVER_BIN`.
    #[error(
        "nats-server is not installed (looked for {}); run `{INSTALL_HINT}` or set NATS_SERVER_BIN",
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

/// Finds the `nats-server` binary: `NATS_SERVER_BIN`, then `PATH`, then the project's tools folder.
///
/// A `NATS_SERVER_BIN` that names a missing file is an error, not a reason to look elsewhere.
pub fn find_binary() -> Result<PathBuf, ServerError> {
    let explicit = std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty());
    search_binary(explicit, std::env::var_os("PATH"), Path::new(TOOLS_BINARY))
}

/// [`find_binary`] with its inputs spelled out.
fn search_binary(
    explicit: Option<OsString>,
    path: Option<OsString>,
    tools: &Path,
) -> Result<PathBuf, ServerError> {
    if let Some(explicit) = explicit {
        let explicit = PathBuf::from(explicit);
        return if explicit.is_file() {
            Ok(explicit)
        } else {
            Err(ServerError::NotInstalled {
                searched: vec![explicit],
            })
        };
    }
    let mut searched = Vec::new();
    if let Some(path) = path {
        let found = std::env::split_paths(&path)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file());
        if let Some(found) = found {
            return Ok(found);
        }
        searched.push(PathBuf::from("$PATH"));
    }
    if tools.is_file() {
        return Ok(tools.to_path_buf());
    }
    searched.push(tools.to_path_buf());
    Err(ServerError::NotInstalled { searched })
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
}

impl NatsServerBuilder {
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

    /// How long the server may take to become ready (default: 10 s).
    #[must_use]
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the server and waits until it accepts connections and JetStream is ready.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), kv_core::server::ServerError> {
    /// let server = kv_core::server::NatsServer::builder().jetstream(false).start().await?;
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
        let binary = find_binary()?;
        let dir = temp_dir("natskv-server-")?;
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
#[derive(Debug)]
pub struct NatsServer {
    // Declared before `_dir` so the process is gone before its directory is removed.
    node: Node,
    store: PathBuf,
    leafnode_port: Option<u16>,
    startup_timeout: Duration,
    _dir: TempDir,
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
        }
    }

    /// Starts a server with JetStream on, a free port and a temporary store directory.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), kv_core::server::ServerError> {
    /// let server = kv_core::server::NatsServer::start().await?;
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
    /// # async fn demo() -> Result<(), kv_core::server::ServerError> {
    /// let mut server = kv_core::server::NatsServer::start().await?;
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
        self.node.signal("-STOP")
    }

    /// Lets a [frozen](Self::freeze) server go on (SIGCONT).
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] when the process cannot be signalled.
    pub fn thaw(&mut self) -> Result<(), ServerError> {
        self.node.signal("-CONT")
    }

    /// Stops the server if it runs and starts it again on the same port with the same store.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), kv_core::server::ServerError> {
    /// let mut server = kv_core::server::NatsServer::start().await?;
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

/// A JetStream cluster of nats-servers on loopback, routed to each other; killed, and its
/// temporary files removed, on drop.
#[derive(Debug)]
pub struct Cluster {
    // Declared before `_dir` so the processes are gone before their directory is removed.
    nodes: Vec<Node>,
    _dir: TempDir,
}

impl Cluster {
    /// Starts a cluster of `size` nodes (3 for most tests) and waits until every node accepts
    /// connections and JetStream has a meta leader.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), kv_core::server::ServerError> {
    /// let cluster = kv_core::server::Cluster::start(3).await?;
    /// println!("seed URLs: {}", cluster.urls().join(","));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ServerError::InvalidClusterSize`] for fewer than two nodes, and otherwise as
    /// [`NatsServerBuilder::start`]. A port taken by another process between its choice and its
    /// use is retried with new ports.
    ///
    /// # Cancel safety
    ///
    /// Cancelling kills the half-started processes and removes their files.
    pub async fn start(size: usize) -> Result<Self, ServerError> {
        if size < 2 {
            return Err(ServerError::InvalidClusterSize { size });
        }
        let binary = find_binary()?;
        let mut attempt = 1;
        loop {
            match Self::try_start(&binary, size).await {
                Err(ServerError::Exited { log_tail, .. })
                    if attempt < CLUSTER_START_ATTEMPTS
                        && log_tail.contains("address already in use") =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn try_start(binary: &Path, size: usize) -> Result<Self, ServerError> {
        let dir = temp_dir("natskv-cluster-")?;
        let cluster_ports = free_ports(size)?;
        let mut nodes = Vec::with_capacity(size);
        for (index, &port) in cluster_ports.iter().enumerate() {
            let node_dir = dir.path().join(format!("node-{index}"));
            fs::create_dir(&node_dir).map_err(io_error("create a node directory"))?;
            let config = NodeConfig {
                server_name: Some(format!("natskv-{index}")),
                client_port: None,
                http_port: None,
                store_dir: Some(node_dir.join("jetstream")),
                max_payload: None,
                domain: None,
                leafnode_port: None,
                leaf_remote: None,
                cluster: Some(ClusterConfig {
                    port,
                    routes: cluster_ports
                        .iter()
                        .copied()
                        .filter(|&p| p != port)
                        .collect(),
                }),
            };
            nodes.push(Node::new(binary.to_path_buf(), &node_dir, config));
        }
        for node in &mut nodes {
            node.spawn()?;
        }
        let deadline = Instant::now() + CLUSTER_STARTUP_TIMEOUT;
        for node in &mut nodes {
            node.wait_ready(deadline, CLUSTER_STARTUP_TIMEOUT).await?;
        }
        Ok(Self { nodes, _dir: dir })
    }

    /// The number of nodes.
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// The client URLs of all nodes, in node order.
    pub fn urls(&self) -> Vec<String> {
        (0..self.size()).map(|i| self.url(i)).collect()
    }

    /// The client URL of node `index`, `nats://127.0.0.1:PORT`; the same after a restart.
    ///
    /// # Panics
    ///
    /// When `index` is not below [`size`](Self::size).
    pub fn url(&self, index: usize) -> String {
        let port = self.nodes[index].config.client_port.unwrap_or_default();
        format!("nats://127.0.0.1:{port}")
    }

    /// The version node `index` announced.
    ///
    /// # Panics
    ///
    /// When `index` is not below [`size`](Self::size).
    pub fn version(&self, index: usize) -> Version {
        self.nodes[index].version
    }

    /// Stops node `index` gracefully (killing it after 10 s); its store is kept.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), kv_core::server::ServerError> {
    /// let mut cluster = kv_core::server::Cluster::start(3).await?;
    /// cluster.stop_node(1).await?;
    /// cluster.restart_node(1).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] when the process cannot be signalled or waited for.
    ///
    /// # Panics
    ///
    /// When `index` is not below [`size`](Self::size).
    ///
    /// # Cancel safety
    ///
    /// Cancelling leaves the node stopping or stopped; a later call finishes the job.
    pub async fn stop_node(&mut self, index: usize) -> Result<(), ServerError> {
        self.nodes[index].stop().await
    }

    /// Stops node `index` if it runs and starts it again on the same ports with the same store;
    /// returns once it is back in the cluster and JetStream reports it current.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), kv_core::server::ServerError> {
    /// let mut cluster = kv_core::server::Cluster::start(3).await?;
    /// cluster.restart_node(0).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`stop_node`](Self::stop_node) and [`Cluster::start`].
    ///
    /// # Panics
    ///
    /// When `index` is not below [`size`](Self::size).
    ///
    /// # Cancel safety
    ///
    /// Cancelling may leave the node stopped or still starting; a later `restart_node` stops it
    /// and starts it again.
    pub async fn restart_node(&mut self, index: usize) -> Result<(), ServerError> {
        let node = &mut self.nodes[index];
        node.stop().await?;
        node.start(
            Instant::now() + CLUSTER_STARTUP_TIMEOUT,
            CLUSTER_STARTUP_TIMEOUT,
        )
        .await
    }
}

/// Creates a temporary directory with a recognisable name.
fn temp_dir(prefix: &str) -> Result<TempDir, ServerError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(io_error("create a temporary directory"))
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

/// What one server's config file says.
#[derive(Debug)]
struct NodeConfig {
    server_name: Option<String>,
    /// `None` until the server chose one; then fixed for restarts.
    client_port: Option<u16>,
    /// The monitoring port; as `client_port`.
    http_port: Option<u16>,
    /// JetStream's store directory; `None` turns JetStream off.
    store_dir: Option<PathBuf>,
    max_payload: Option<u32>,
    /// The JetStream domain, if any.
    domain: Option<String>,
    /// The port to accept leaf nodes on.
    leafnode_port: Option<u16>,
    /// The leaf node port of the hub this server connects to as a leaf.
    leaf_remote: Option<u16>,
    cluster: Option<ClusterConfig>,
}

#[derive(Debug)]
struct ClusterConfig {
    port: u16,
    routes: Vec<u16>,
}

impl NodeConfig {
    fn render(&self, ports_dir: &Path) -> String {
        let port = |p: Option<u16>| p.map_or_else(|| "-1".to_owned(), |p| p.to_string());
        let mut lines = Vec::new();
        if let Some(name) = &self.server_name {
            lines.push(format!("server_name: {}", quote(name)));
        }
        lines.push(format!(
            "host: \"127.0.0.1\"\nport: {}",
            port(self.client_port)
        ));
        lines.push(format!("http: \"127.0.0.1:{}\"", port(self.http_port)));
        lines.push(format!(
            "ports_file_dir: {}",
            quote(&ports_dir.to_string_lossy())
        ));
        if let Some(bytes) = self.max_payload {
            lines.push(format!("max_payload: {bytes}"));
        }
        if let Some(store) = &self.store_dir {
            let store = quote(&store.to_string_lossy());
            let domain = self
                .domain
                .as_deref()
                .map(|d| format!("\n  domain: {}", quote(d)))
                .unwrap_or_default();
            lines.push(format!("jetstream {{\n  store_dir: {store}{domain}\n}}"));
        }
        let listen = self
            .leafnode_port
            .map(|p| format!("\n  listen: \"127.0.0.1:{p}\""));
        let remote = self
            .leaf_remote
            .map(|p| format!("\n  remotes: [ {{ url: \"nats-leaf://127.0.0.1:{p}\" }} ]"));
        if listen.is_some() || remote.is_some() {
            lines.push(format!(
                "leafnodes {{{}{}\n}}",
                listen.unwrap_or_default(),
                remote.unwrap_or_default()
            ));
        }
        if let Some(cluster) = &self.cluster {
            let routes: Vec<String> = cluster
                .routes
                .iter()
                .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            lines.push(format!(
                "cluster {{\n  name: \"natskv\"\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}",
                cluster.port,
                routes.join(", ")
            ));
        }
        lines.push(String::new());
        lines.join("\n")
    }
}

/// A double-quoted string in the server's config syntax.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One nats-server process, its config, log and ports file.
#[derive(Debug)]
struct Node {
    binary: PathBuf,
    config_file: PathBuf,
    log: PathBuf,
    ports_dir: PathBuf,
    config: NodeConfig,
    child: Option<Child>,
    version: Version,
}

impl Node {
    fn new(binary: PathBuf, dir: &Path, config: NodeConfig) -> Self {
        Self {
            binary,
            config_file: dir.join("nats-server.conf"),
            log: dir.join("nats-server.log"),
            ports_dir: dir.join("ports"),
            config,
            child: None,
            version: Version::new(0, 0, 0),
        }
    }

    async fn start(&mut self, deadline: Instant, timeout: Duration) -> Result<(), ServerError> {
        self.spawn()?;
        self.wait_ready(deadline, timeout).await
    }

    /// Writes the config (with the ports learned so far) and starts the process.
    fn spawn(&mut self) -> Result<(), ServerError> {
        match fs::remove_dir_all(&self.ports_dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_error("clear the ports directory")(e));
            }
            _ => {}
        }
        fs::create_dir_all(&self.ports_dir).map_err(io_error("create the ports directory"))?;
        fs::write(&self.config_file, self.config.render(&self.ports_dir))
            .map_err(io_error("write the server config"))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io_error("open the server log"))?;
        let log_err = log.try_clone().map_err(io_error("open the server log"))?;
        let child = Command::new(&self.binary)
            .arg("--config")
            .arg(&self.config_file)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(io_error("start nats-server"))?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls until the server accepts connections and reports healthy, the process exits, or
    /// the deadline passes (then the process is killed).
    async fn wait_ready(
        &mut self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), ServerError> {
        loop {
            if let Some(status) = self.exit_status()? {
                return Err(ServerError::Exited {
                    status,
                    log_tail: self.log_tail(),
                });
            }
            let waiting_for = match self.probe().await {
                Ok(()) => return Ok(()),
                Err(reason) => reason,
            };
            if Instant::now() >= deadline {
                self.kill();
                return Err(ServerError::Timeout {
                    timeout,
                    waiting_for,
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// One readiness check; `Err` says what is not ready yet.
    async fn probe(&mut self) -> Result<(), String> {
        let (client, http) = self.read_ports_file()?;
        let info = tokio::time::timeout(PROBE_TIMEOUT, read_info(client))
            .await
            .map_err(|_| "the INFO line (timed out)".to_owned())?
            .map_err(|e| format!("the INFO line ({e})"))?;
        let version = info
            .get("version")
            .and_then(serde_json::Value::as_str)
            .and_then(Version::parse)
            .ok_or_else(|| format!("a version in the INFO line {info}"))?;
        tokio::time::timeout(PROBE_TIMEOUT, healthz(http))
            .await
            .map_err(|_| "/healthz (timed out)".to_owned())??;
        self.config.client_port = Some(client);
        self.config.http_port = Some(http);
        self.version = version;
        Ok(())
    }

    /// The client and monitoring ports from the `*.ports` file the server writes once it listens.
    fn read_ports_file(&self) -> Result<(u16, u16), String> {
        let waiting = || "the ports file".to_owned();
        let entry = fs::read_dir(&self.ports_dir)
            .map_err(|_| waiting())?
            .filter_map(Result::ok)
            .find(|e| e.path().extension().is_some_and(|x| x == "ports"))
            .ok_or_else(waiting)?;
        // The file may be half written; a parse failure means "not yet".
        let text = fs::read_to_string(entry.path()).map_err(|_| waiting())?;
        let ports: serde_json::Value = serde_json::from_str(&text).map_err(|_| waiting())?;
        let port = |kind: &str| {
            ports[kind][0]
                .as_str()
                .and_then(|url| url.rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok())
        };
        port("nats").zip(port("monitoring")).ok_or_else(waiting)
    }

    fn exit_status(&mut self) -> Result<Option<ExitStatus>, ServerError> {
        match &mut self.child {
            Some(child) => child.try_wait().map_err(io_error("check on nats-server")),
            None => Ok(None),
        }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.exit_status(), Ok(None)) && self.child.is_some()
    }

    /// Sends a signal (`-STOP`, `-CONT`) to the process with `kill`.
    fn signal(&mut self, signal: &str) -> Result<(), ServerError> {
        let Some(child) = &self.child else {
            return Ok(());
        };
        let status = std::process::Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .map_err(io_error("signal nats-server"))?;
        if status.success() {
            Ok(())
        } else {
            Err(io_error("signal nats-server")(std::io::Error::other(
                format!("kill {signal} failed"),
            )))
        }
    }

    /// Asks the server to shut down (it flushes JetStream), waits, and kills it if it lingers.
    async fn stop(&mut self) -> Result<(), ServerError> {
        let Some(child) = &mut self.child else {
            return Ok(());
        };
        if child
            .try_wait()
            .map_err(io_error("check on nats-server"))?
            .is_none()
        {
            // std cannot send SIGTERM; the server binary itself can.
            let signalled = tokio::process::Command::new(&self.binary)
                .arg("--signal")
                .arg(format!("term={}", child.id()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .map_err(io_error("signal nats-server"))?;
            let deadline = Instant::now() + STOP_TIMEOUT;
            while signalled.success()
                && Instant::now() < deadline
                && child
                    .try_wait()
                    .map_err(io_error("wait for nats-server"))?
                    .is_none()
            {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        self.kill();
        Ok(())
    }

    /// Kills the process, if any, and reaps it; synchronous, for `Drop`.
    fn kill(&mut self) {
        let _ = self.signal("-CONT");
        if let Some(mut child) = self.child.take() {
            // Errors mean the process is gone already.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last lines of the log, for error messages.
    fn log_tail(&self) -> String {
        let Ok(mut file) = File::open(&self.log) else {
            return String::from("(no log)");
        };
        let len = file.metadata().map_or(0, |m| m.len());
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(8 * 1024)));
        let mut bytes = Vec::new();
        let _ = file.read_to_end(&mut bytes);
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Connects to the client port and reads the server's INFO line.
async fn read_info(port: u16) -> io::Result<serde_json::Value> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await?;
    let json = line
        .strip_prefix("INFO ")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no INFO line"))?;
    serde_json::from_str(json.trim()).map_err(io::Error::from)
}

/// `GET /healthz` on the monitoring port: ok once the server accepts clients and JetStream (when
/// enabled) is current, which in a cluster means it is in contact with a meta leader.
async fn healthz(port: u16) -> Result<(), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.take(64 * 1024).read_to_end(&mut response).await?;
        io::Result::Ok(response)
    };
    let response = exchange.await.map_err(|e| format!("/healthz ({e})"))?;
    let response = String::from_utf8_lossy(&response);
    let ok = response
        .split_whitespace()
        .nth(1)
        .is_some_and(|status| status == "200");
    if ok {
        return Ok(());
    }
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let error = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str().map(str::to_owned)))
        .unwrap_or_else(|| body.trim().to_owned());
    Err(format!("/healthz ({error})"))
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

    #[test]
    fn config_quotes_paths_and_lists_routes() {
        let config = NodeConfig {
            server_name: Some("n0".into()),
            client_port: Some(4222),
            http_port: None,
            store_dir: Some(PathBuf::from("/tmp/a \"b\"")),
            max_payload: Some(2048),
            domain: Some("hub".into()),
            leafnode_port: Some(7422),
            leaf_remote: Some(7423),
            cluster: Some(ClusterConfig {
                port: 6222,
                routes: vec![6223, 6224],
            }),
        };
        let text = config.render(Path::new("/tmp/ports"));
        assert!(text.contains("port: 4222\n"), "{text}");
        assert!(text.contains("http: \"127.0.0.1:-1\"\n"), "{text}");
        assert!(text.contains("store_dir: \"/tmp/a \\\"b\\\"\""), "{text}");
        assert!(text.contains("max_payload: 2048\n"), "{text}");
        assert!(text.contains("domain: \"hub\""), "{text}");
        assert!(text.contains("listen: \"127.0.0.1:7422\""), "{text}");
        assert!(
            text.contains("url: \"nats-leaf://127.0.0.1:7423\""),
            "{text}"
        );
        assert!(
            text.contains(
                "routes: [\"nats-route://127.0.0.1:6223\", \"nats-route://127.0.0.1:6224\"]"
            ),
            "{text}"
        );
    }

    #[test]
    fn binary_search_order_and_hint() {
        let dir = tempfile::tempdir().unwrap();
        let in_path = dir.path().join("bin");
        fs::create_dir(&in_path).unwrap();
        fs::write(in_path.join("nats-server"), "").unwrap();
        let tools = dir.path().join("tools-nats-server");
        fs::write(&tools, "").unwrap();
        let path = Some(in_path.clone().into_os_string());
        let missing = dir.path().join("missing");

        let explicit = Some(tools.clone().into_os_string());
        assert_eq!(
            search_binary(explicit, path.clone(), &missing).unwrap(),
            tools
        );
        let found = search_binary(None, path.clone(), &tools).unwrap();
        assert_eq!(found, in_path.join("nats-server"));
        assert_eq!(search_binary(None, None, &tools).unwrap(), tools);

        // A NATS_SERVER_BIN naming nothing is an error, even when PATH has a server.
        let error = search_binary(Some(missing.clone().into_os_string()), path, &tools);
        assert!(
            matches!(error, Err(ServerError::NotInstalled { ref searched }) if searched == std::slice::from_ref(&missing))
        );
        let error = search_binary(None, Some(dir.path().as_os_str().to_owned()), &missing);
        let message = error.unwrap_err().to_string();
        assert!(message.contains("scripts/install-nats-server"), "{message}");
        assert!(message.contains("$PATH"), "{message}");
    }
}
