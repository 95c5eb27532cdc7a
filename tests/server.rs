//! The development server launcher: a single server and a three-node cluster.

mod common;

use async_nats::jetstream::{self, stream};
use natskv::server::{Cluster, NatsServer, ServerError};

use common::{connect, connect_url, jetstream, server, wait_for};

fn file_stream(name: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![format!("{name}.>")],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    }
}

#[tokio::test]
async fn jetstream_is_on_and_the_server_is_recent() {
    let server = server().await;
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    let binary = natskv::server::find_binary().unwrap();
    let reported = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .unwrap();
    let reported = String::from_utf8_lossy(&reported.stdout);
    assert!(
        reported.contains(&server.version().to_string()),
        "{reported} vs {}",
        server.version()
    );
    if common::needs_server(&server, (2, 10, 0), "the check that the server is 2.10+") {
        assert!(server.version().at_least(2, 10, 0));
    }

    let js = jetstream(&server).await;
    let name = common::unique_bucket("launcher");
    js.create_stream(file_stream(&name, 1))
        .await
        .expect("stream created");
    js.publish(format!("{name}.a"), "1".into())
        .await
        .unwrap()
        .await
        .expect("publish acked");
}

#[tokio::test]
async fn a_server_without_jetstream_refuses_jetstream_calls() {
    let server = NatsServer::builder()
        .jetstream(false)
        .start()
        .await
        .unwrap();
    let js = jetstream::new(connect(&server).await);
    assert!(js.query_account().await.is_err());
}

#[tokio::test]
async fn max_payload_is_applied() {
    let server = NatsServer::builder()
        .max_payload(64 * 1024)
        .start()
        .await
        .unwrap();
    let client = connect(&server).await;
    assert_eq!(client.server_info().max_payload, 64 * 1024);
}

#[tokio::test]
async fn restart_keeps_the_port_and_file_storage() {
    let mut server = server().await;
    let port = server.port();
    let js = jetstream(&server).await;
    js.create_stream(file_stream("kept", 1)).await.unwrap();
    for i in 0..3 {
        js.publish(format!("kept.{i}"), i.to_string().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    server.stop().await.unwrap();
    assert!(!server.is_running());
    server.stop().await.expect("stopping twice is harmless");
    server.restart().await.unwrap();
    assert!(server.is_running());
    assert_eq!(server.port(), port);

    let js = jetstream(&server).await;
    let mut stream = js.get_stream("kept").await.expect("the stream survived");
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
    let last = stream
        .get_last_raw_message_by_subject("kept.2")
        .await
        .unwrap();
    assert_eq!(&last.payload[..], b"2");

    // A restart of a running server works too, and the old client reconnects by itself.
    server.restart().await.unwrap();
    let mut stream = wait_for("the stream after a restart", || {
        let js = js.clone();
        async move { js.get_stream("kept").await.ok() }
    })
    .await;
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
}

#[tokio::test]
async fn parallel_servers_get_their_own_ports() {
    let (a, b) = tokio::join!(server(), server());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.store_dir(), b.store_dir());
    connect(&a).await;
    connect(&b).await;
}

/// A bucket made through `nats` is listed by it: the connection reaches a JetStream server.
async fn round_trip(nats: &natskv::Guarded, prefix: &str) -> String {
    let name = common::unique_bucket(prefix);
    natskv::Bucket::create(nats, &natskv::BucketSpec::new(name.as_str()))
        .await
        .unwrap();
    let names = natskv::Bucket::list_names(nats).await.unwrap();
    assert!(names.contains(&name), "{name} not in {names:?}");
    name
}

#[tokio::test]
async fn connect_or_start_without_a_url_starts_a_server_of_its_own() {
    let (nats, started) = natskv::server::connect_or_start(None).await.unwrap();
    let mut started = started.expect("no URL given: a server is started");
    assert!(started.is_running());
    assert_eq!(
        nats.get_ref().server_info().port,
        started.port(),
        "the client is connected to the server it started"
    );
    round_trip(&nats, "started").await;
    let url = started.url();
    drop(started);
    assert!(std::net::TcpStream::connect(url.trim_start_matches("nats://")).is_err());
}

#[tokio::test]
async fn connect_or_start_with_a_url_connects_to_it_and_starts_nothing() {
    let given = server().await;
    let (nats, started) = natskv::server::connect_or_start(Some(given.url()))
        .await
        .unwrap();
    assert!(started.is_none(), "a URL was given: no server is started");
    assert_eq!(nats.get_ref().server_info().port, given.port());
    let name = round_trip(&nats, "given").await;
    // The bucket is on the given server, as another client of it sees.
    let js = jetstream(&given).await;
    assert!(js.get_stream(format!("KV_{name}")).await.is_ok());
}

#[tokio::test]
async fn connect_or_start_reports_a_server_it_cannot_reach() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("nats://127.0.0.1:{port}");
    match natskv::server::connect_or_start(Some(url.clone())).await {
        Err(ServerError::Connect { url: reported, .. }) => assert_eq!(reported, url),
        Err(other) => panic!("expected a connect error, got {other}"),
        Ok(_) => panic!("connected to a closed port"),
    }
}

#[tokio::test]
async fn drop_stops_the_server_and_removes_its_files() {
    let server = server().await;
    let js = jetstream(&server).await;
    js.create_stream(file_stream("gone", 1)).await.unwrap();
    let store = server.store_dir().to_owned();
    let log = server.log_file().to_owned();
    let url = server.url();
    assert!(store.is_dir());
    assert!(log.is_file());

    drop(server);
    assert!(!store.exists(), "{} is still there", store.display());
    assert!(!log.exists(), "{} is still there", log.display());
    assert!(std::net::TcpStream::connect(url.trim_start_matches("nats://")).is_err());
}

#[tokio::test]
async fn a_given_store_dir_is_used_and_kept() {
    let dir = tempfile_dir();
    let server = NatsServer::builder().store_dir(&dir).start().await.unwrap();
    assert_eq!(server.store_dir(), dir.as_path());
    jetstream(&server)
        .await
        .create_stream(file_stream("mine", 1))
        .await
        .unwrap();
    drop(server);
    assert!(dir.join("jetstream").is_dir(), "the store is kept");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_server_that_cannot_start_reports_its_log() {
    let error = NatsServer::builder()
        .store_dir("/dev/null/store")
        .start()
        .await
        .expect_err("a store under /dev/null cannot work");
    let ServerError::Exited { log_tail, .. } = &error else {
        panic!("expected Exited, got {error:?}");
    };
    assert!(log_tail.contains("JetStream"), "{log_tail}");
    assert!(error.to_string().contains(log_tail.as_str()));
}

#[tokio::test]
async fn a_cluster_survives_a_node_restart() {
    let mut cluster = Cluster::start(3).await.unwrap();
    assert_eq!(cluster.size(), 3);
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    assert!(urls[0] != urls[1] && urls[1] != urls[2] && urls[0] != urls[2]);

    let js = jetstream::new(connect_url(&cluster.url(0)).await);
    let name = common::unique_bucket("replicated");
    js.create_stream(file_stream(&name, 3))
        .await
        .expect("R3 stream created");
    js.publish(format!("{name}.a"), "1".into())
        .await
        .unwrap()
        .await
        .unwrap();

    cluster.stop_node(1).await.unwrap();
    let js = jetstream::new(connect_url(&cluster.url(2)).await);
    // If node 1 led the stream, a new leader is elected first.
    wait_for("a publish with node 1 down", || {
        let js = js.clone();
        let subject = format!("{name}.b");
        async move { js.publish(subject, "2".into()).await.ok()?.await.ok() }
    })
    .await;

    let port = cluster.url(1);
    cluster.restart_node(1).await.unwrap();
    assert_eq!(cluster.url(1), port);
    let js = jetstream::new(connect_url(&cluster.url(1)).await);
    wait_for("node 1 to be a current replica again", || {
        let js = js.clone();
        let name = name.clone();
        async move {
            let mut stream = js.get_stream(&name).await.ok()?;
            let info = stream.info().await.ok()?;
            let cluster = info.cluster.as_ref()?;
            let node1_current = cluster.leader.as_deref() == Some("natskv-1")
                || cluster
                    .replicas
                    .iter()
                    .any(|p| p.name == "natskv-1" && p.current && !p.offline);
            (node1_current && info.state.messages == 2).then_some(())
        }
    })
    .await;
}

/// A directory path that does not exist yet, unique to this test run.
fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(common::unique_bucket("natskv-store"))
}

#[test]
fn a_server_started_on_a_thread_that_has_ended_keeps_running() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    // On Linux a parent-death signal follows the thread that forked the server, so a server
    // forked here would die with this thread (as with a tokio blocking thread or a test's).
    let mut server = std::thread::spawn(move || runtime().block_on(server()))
        .join()
        .unwrap();
    runtime().block_on(async {
        let js = jetstream(&server).await;
        js.create_stream(file_stream("outlives", 1))
            .await
            .expect("the server answers after its thread has ended");
    });
    assert!(server.is_running());
}

#[tokio::test]
async fn stopping_and_dropping_print_nothing() {
    let output = program("quiet")
        .output()
        .expect("run this test binary as a program");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the program failed:\n{stderr}");
    assert!(stderr.is_empty(), "the launcher wrote to stderr:\n{stderr}");
}

/// Kills a program that runs a server and a cluster, as SIGKILL, a crash or an IDE's stop button
/// would: its servers die with it (on Linux; elsewhere they outlive it) and the next launch
/// removes its work directories.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_killed_program_leaves_no_server_running_and_the_next_launch_removes_its_files() {
    use std::io::BufRead as _;
    use std::time::{Duration, Instant};

    let mut running = Killed(
        program("serve")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run this test binary as a program"),
    );
    let stdout = running.0.stdout.take().unwrap();
    // Ends with the program: a failure to start its servers is on the test's stderr.
    let ready = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest prints the test's name on the same line first.
        .find_map(|line| Some(std::path::PathBuf::from(line.split_once(READY)?.1)));
    let server_dir = ready.expect("the program started its servers");
    let root = server_dir.parent().unwrap().to_owned();
    let servers = linux::children(running.0.id());
    assert_eq!(servers.len(), 3, "a server and two nodes: {servers:?}");
    // Each process's work directory: the one under the root that holds its config file.
    let dirs: Vec<_> = servers
        .iter()
        .map(|&pid| {
            let config = linux::config_file(pid).unwrap();
            let dir = config.ancestors().find(|d| d.parent() == Some(&*root));
            dir.unwrap().to_owned()
        })
        .collect();
    assert!(dirs.contains(&server_dir), "{dirs:?}");
    assert!(dirs.iter().all(|d| d.is_dir()));

    drop(running);
    let deadline = Instant::now() + Duration::from_secs(5);
    while servers.iter().any(|&pid| linux::is_alive(pid)) {
        assert!(
            Instant::now() < deadline,
            "nats-server still runs 5 s after its program was killed: {servers:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let _next = server().await;
    for dir in &dirs {
        assert!(!dir.exists(), "{} outlived the next launch", dir.display());
    }
}

/// A program run by a test, killed (SIGKILL) and reaped when dropped, so that it ends with its
/// test even when the test fails.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the `serve` program prints, followed by its server's work directory, once its servers run.
const READY: &str = "natskv-test-program ready: ";
/// The environment variable that makes this test binary, run again by a test, act as a program
/// using the development server.
const PROGRAM: &str = "NATSKV_TEST_PROGRAM";

/// This test binary, to be run as a program doing `mode` (see `act_as_a_program`).
fn program(mode: &str) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "act_as_a_program",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROGRAM, mode)
        .stdin(std::process::Stdio::null());
    command
}

/// Not a test of its own (it does nothing unless `NATSKV_TEST_PROGRAM` is set): the program the
/// tests above run. `serve` starts a server and a two-node cluster, prints [`READY`] and waits to be
/// killed; `quiet` stops, restarts, freezes, kills and drops servers and nodes, then ends.
#[tokio::test]
async fn act_as_a_program() {
    let Ok(mode) = std::env::var(PROGRAM) else {
        return;
    };
    match mode.as_str() {
        "serve" => {
            let server = server().await;
            let _cluster = Cluster::start(2).await.unwrap();
            println!("{READY}{}", server.log_file().parent().unwrap().display());
            std::future::pending::<()>().await;
        }
        "quiet" => {
            let mut server = server().await;
            server.stop().await.unwrap();
            server.stop().await.unwrap();
            server.freeze().unwrap();
            server.thaw().unwrap();
            server.restart().await.unwrap();
            server.freeze().unwrap();
            server.thaw().unwrap();
            server.restart().await.unwrap();
            server.freeze().unwrap();
            drop(server);
            let mut cluster = Cluster::start(2).await.unwrap();
            cluster.kill_node(1);
            cluster.kill_node(1);
            cluster.restart_node(1).await.unwrap();
            cluster.stop_node(0).await.unwrap();
            drop(cluster);
            let _ = NatsServer::builder()
                .store_dir("/dev/null/store")
                .start()
                .await
                .expect_err("a store under /dev/null cannot work");
        }
        other => panic!("unknown {PROGRAM} {other:?}"),
    }
}

/// What Linux says about processes, in `/proc`.
#[cfg(target_os = "linux")]
mod linux {
    use std::fs;
    use std::path::PathBuf;

    /// The state and parent of `pid`, when it exists.
    fn stat(pid: u32) -> Option<(char, u32)> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid ...`: the fields after the last `)`.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
        let state = fields.next()?.chars().next()?;
        Some((state, fields.next()?.parse().ok()?))
    }

    /// The child processes of `parent`.
    pub(super) fn children(parent: u32) -> Vec<u32> {
        let pids = fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok());
        pids.filter(|&pid| stat(pid).is_some_and(|(_, ppid)| ppid == parent))
            .collect()
    }

    /// Whether `pid` runs (neither gone nor a zombie, which an init that does not reap leaves).
    pub(super) fn is_alive(pid: u32) -> bool {
        stat(pid).is_some_and(|(state, _)| state != 'Z')
    }

    /// The `--config` argument of nats-server `pid`.
    pub(super) fn config_file(pid: u32) -> Option<PathBuf> {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let mut args = cmdline.split(|&b| b == 0);
        args.find(|arg| *arg == b"--config")?;
        Some(PathBuf::from(
            String::from_utf8(args.next()?.to_vec()).ok()?,
        ))
    }
}
