//! [`Cluster`]: several nodes routed to each other, sharing one work directory (a folder per
//! node), started, stopped, killed and restarted by index.

use std::fs;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::node::{ClusterConfig, Node, NodeConfig};
use super::workdir::WorkDir;
use super::{ServerError, Version, find_binary, free_ports, io_error};

/// How long a cluster may take to elect a meta leader and report healthy.
const CLUSTER_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a cluster start is tried again when a chosen port was taken meanwhile.
const CLUSTER_START_ATTEMPTS: usize = 3;

/// A JetStream cluster of nats-servers on loopback, routed to each other; killed, and its
/// temporary files removed, on drop.
///
/// A program that is killed does not drop it: on Linux the nodes die with the program all the
/// same, and on every Unix the next launch of the same user removes the temporary files (see the
/// [module docs](super)).
#[derive(Debug)]
pub struct Cluster {
    // Declared before `_dir` so the processes are gone before their directory is removed.
    nodes: Vec<Node>,
    _dir: WorkDir,
}

impl Cluster {
    /// Starts a cluster of `size` nodes (3 for most tests) and waits until every node accepts
    /// connections and JetStream has a meta leader.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let cluster = natskv::server::Cluster::start(3).await?;
    /// println!("seed URLs: {}", cluster.urls().join(","));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ServerError::InvalidClusterSize`] for fewer than two nodes, and otherwise as
    /// [`NatsServerBuilder::start`](crate::server::NatsServerBuilder::start). A port taken by
    /// another process between its choice and its use is retried with new ports.
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
        let dir = WorkDir::create("cluster")?;
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
                users: Vec::new(),
                extra: Vec::new(),
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

    /// The index of the node named `server_name`, the name JetStream gives a stream's leader
    /// and peers in stream info (`cluster.leader`); `None` for a name not of this cluster.
    ///
    /// ```no_run
    /// # async fn demo(nats: natskv::async_nats::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut cluster = natskv::server::Cluster::start(3).await?;
    /// let js = natskv::async_nats::jetstream::new(nats);
    /// let info = js.get_stream("KV_orders").await?.info().await?.clone();
    /// if let Some(leader) = info.cluster.and_then(|c| c.leader) {
    ///     let index = cluster.node_index(&leader).expect("a node of this cluster");
    ///     cluster.stop_node(index).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn node_index(&self, server_name: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|node| node.config.server_name.as_deref() == Some(server_name))
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
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let mut cluster = natskv::server::Cluster::start(3).await?;
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

    /// Kills node `index` at once (SIGKILL), as a crash or a power loss would: no graceful
    /// shutdown, no leadership handed over. Its store is kept; [`restart_node`](Self::restart_node)
    /// brings it back.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let mut cluster = natskv::server::Cluster::start(3).await?;
    /// cluster.kill_node(2);
    /// cluster.restart_node(2).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `index` is not below [`size`](Self::size).
    pub fn kill_node(&mut self, index: usize) {
        self.nodes[index].kill();
    }

    /// Stops node `index` if it runs and starts it again on the same ports with the same store;
    /// returns once it is back in the cluster and JetStream reports it current.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), natskv::server::ServerError> {
    /// let mut cluster = natskv::server::Cluster::start(3).await?;
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
