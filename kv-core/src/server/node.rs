//! [`Node`]: one nats-server process, from its config file to its readiness, its signals and its
//! stop. How the process is spawned (tied to the program's life) and signalled is `process`'s.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::process::{self, Signal};
use super::users::{User, render_authorization};
use super::{ServerError, Version, io_error};

/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Bound on one probe's network round trip.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How much of the log an error carries.
const LOG_TAIL_LINES: usize = 30;

/// What one server's config file says.
#[derive(Debug)]
pub(super) struct NodeConfig {
    pub(super) server_name: Option<String>,
    /// `None` until the server chose one; then fixed for restarts.
    pub(super) client_port: Option<u16>,
    /// The monitoring port; as `client_port`.
    pub(super) http_port: Option<u16>,
    /// JetStream's store directory; `None` turns JetStream off.
    pub(super) store_dir: Option<PathBuf>,
    pub(super) max_payload: Option<u32>,
    /// The JetStream domain, if any.
    pub(super) domain: Option<String>,
    /// The port to accept leaf nodes on.
    pub(super) leafnode_port: Option<u16>,
    /// The leaf node port of the hub this server connects to as a leaf.
    pub(super) leaf_remote: Option<u16>,
    pub(super) cluster: Option<ClusterConfig>,
    /// The users the server accepts; anyone, when empty.
    pub(super) users: Vec<User>,
    /// Configuration written as it is, after the rest.
    pub(super) extra: Vec<String>,
}

#[derive(Debug)]
pub(super) struct ClusterConfig {
    pub(super) port: u16,
    pub(super) routes: Vec<u16>,
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
        lines.extend(render_authorization(&self.users));
        lines.extend(self.extra.iter().cloned());
        lines.push(String::new());
        lines.join("\n")
    }
}

/// A double-quoted string in the server's config syntax.
pub(super) fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One nats-server process, its config, log and ports file.
#[derive(Debug)]
pub(super) struct Node {
    binary: PathBuf,
    config_file: PathBuf,
    pub(super) log: PathBuf,
    ports_dir: PathBuf,
    pub(super) config: NodeConfig,
    child: Option<Child>,
    pub(super) version: Version,
}

impl Node {
    pub(super) fn new(binary: PathBuf, dir: &Path, config: NodeConfig) -> Self {
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

    pub(super) async fn start(
        &mut self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), ServerError> {
        self.spawn()?;
        self.wait_ready(deadline, timeout).await
    }

    /// Writes the config (with the ports learned so far) and starts the process, tied to the
    /// program's life ([`process::spawn`]).
    pub(super) fn spawn(&mut self) -> Result<(), ServerError> {
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
        let mut command = process::command(&self.binary);
        command
            .arg("--config")
            .arg(&self.config_file)
            .stdout(log)
            .stderr(log_err);
        let child = process::spawn(command).map_err(io_error("start nats-server"))?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls until the server accepts connections and reports healthy, the process exits, or
    /// the deadline passes (then the process is killed).
    pub(super) async fn wait_ready(
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

    pub(super) fn is_running(&mut self) -> bool {
        matches!(self.exit_status(), Ok(None)) && self.child.is_some()
    }

    /// Sends `signal` to the process; nothing when there is none or it has exited.
    pub(super) fn signal(&mut self, signal: Signal) -> Result<(), ServerError> {
        match &mut self.child {
            Some(child) => process::signal(child, signal).map_err(io_error("signal nats-server")),
            None => Ok(()),
        }
    }

    /// Waits (up to `timeout`) until every thread of the process has stopped after a SIGSTOP,
    /// as Linux reports it in `/proc`: `kill(2)` returns once the signal is sent, and a thread
    /// running on another core may still answer a request meanwhile. Elsewhere it returns at
    /// once.
    pub(super) fn wait_stopped(&self, timeout: Duration) {
        let Some(child) = &self.child else {
            return;
        };
        let tasks = PathBuf::from(format!("/proc/{}/task", child.id()));
        let stopped = || -> Option<bool> {
            let mut all = true;
            for task in fs::read_dir(&tasks).ok()? {
                let stat = fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
                // `pid (comm) state ...`: the state follows the last `)`.
                let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
                all &= matches!(state, 'T' | 't');
            }
            Some(all)
        };
        let deadline = std::time::Instant::now() + timeout;
        while stopped() == Some(false) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Asks the server to shut down (SIGTERM: it flushes JetStream), waits, and kills it if it
    /// lingers. Where there are no signals it is killed at once.
    pub(super) async fn stop(&mut self) -> Result<(), ServerError> {
        let Some(child) = &mut self.child else {
            return Ok(());
        };
        if child
            .try_wait()
            .map_err(io_error("check on nats-server"))?
            .is_none()
        {
            let signalled = match process::signal(child, Signal::Term) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::Unsupported => false,
                Err(e) => return Err(io_error("signal nats-server")(e)),
            };
            let deadline = Instant::now() + STOP_TIMEOUT;
            while signalled
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
    pub(super) fn kill(&mut self) {
        // A frozen server is let go on first; one that has exited is not signalled.
        let _ = self.signal(Signal::Cont);
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
            users: vec![super::User::new("admin", "pw")],
            extra: vec!["tls {\n  verify: true\n}".into()],
        };
        let text = config.render(Path::new("/tmp/ports"));
        assert!(text.contains("port: 4222\n"), "{text}");
        assert!(text.contains("http: \"127.0.0.1:-1\"\n"), "{text}");
        assert!(text.contains("store_dir: \"/tmp/a \\\"b\\\"\""), "{text}");
        assert!(text.contains("max_payload: 2048\n"), "{text}");
        assert!(text.contains("domain: \"hub\""), "{text}");
        assert!(text.contains("authorization {\n  users: ["), "{text}");
        assert!(text.ends_with("]\n}\ntls {\n  verify: true\n}\n"), "{text}");
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
}
