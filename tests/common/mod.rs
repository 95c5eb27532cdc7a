//! Helpers shared by the integration tests: a development server per test, unique bucket names,
//! and clients connected to the server.
//!
//! Not every test binary uses every helper.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use natskv::Guarded;
use natskv::server::{NatsServer, User};
use natskv::{KeyFilter, KvKey};

/// Starts a nats-server (JetStream on, free port, temporary store) for one test.
///
/// Panics with the reason, which says how to install nats-server when the binary is missing.
pub(crate) async fn server() -> NatsServer {
    match NatsServer::start().await {
        Ok(server) => server,
        Err(error) => panic!("could not start nats-server: {error}"),
    }
}

/// A bucket name no other test in this run uses: `prefix`, this process's id and a counter.
pub(crate) fn unique_bucket(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{n}", std::process::id())
}

/// A client connected to `server`.
pub(crate) async fn connect(server: &NatsServer) -> async_nats::Client {
    connect_url(&server.url()).await
}

/// A client connected to `url`.
pub(crate) async fn connect_url(url: &str) -> async_nats::Client {
    match async_nats::connect(url).await {
        Ok(client) => client,
        Err(error) => panic!("could not connect to {url}: {error}"),
    }
}

/// A JetStream context on a client connected to `server`.
pub(crate) async fn jetstream(server: &NatsServer) -> async_nats::jetstream::Context {
    async_nats::jetstream::new(connect(server).await)
}

/// Polls `probe` every 50 ms until it returns `Some`, for at most 20 s; panics naming `what`
/// when time runs out. For waiting on an event instead of sleeping.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Whether `server` is at least `major.minor.patch`; when not, prints that the test named `what`
/// is skipped and why, so a run on an older server (Debian's 2.9 fallback) says what it left out.
///
/// ```ignore
/// if !common::needs_server(&server, (2, 11, 0), "per-key TTL") { return; }
/// ```
pub(crate) fn needs_server(
    server: &NatsServer,
    (major, minor, patch): (u32, u32, u32),
    what: &str,
) -> bool {
    let version = server.version();
    let ok = version.at_least(major, minor, patch);
    if !ok {
        eprintln!(
            "skipped: {what} needs nats-server {major}.{minor}.{patch} or newer, this one is {version}"
        );
    }
    ok
}

/// How many consumers the stream behind `bucket` has now: for checking that watches and caches
/// release theirs.
pub(crate) async fn consumer_count(nats: &async_nats::Client, bucket: &str) -> usize {
    let js = async_nats::jetstream::new(nats.clone());
    let mut stream = match js.get_stream(format!("KV_{bucket}")).await {
        Ok(stream) => stream,
        Err(error) => panic!("bucket {bucket}: {error}"),
    };
    match stream.info().await {
        Ok(info) => info.state.consumer_count,
        Err(error) => panic!("bucket {bucket}: {error}"),
    }
}

/// Waits until `family` reads `value` at `key`: for values that reach a mirror or an aggregate
/// some time after they were written to the origin.
pub(crate) async fn arrives<K, V, C, M>(family: &natskv::Family<K, V, C, M>, key: &K, value: &V)
where
    K: natskv::KvKey + Clone + std::fmt::Debug,
    V: PartialEq + Clone + std::fmt::Debug,
    C: natskv::Codec<V>,
    M: natskv::mode::Mode,
{
    wait_for(&format!("{key:?} = {value:?} to arrive"), || {
        let (family, key, value) = (family.clone(), key.clone(), value.clone());
        async move { (family.value(&key).await.ok().flatten() == Some(value)).then_some(()) }
    })
    .await;
}

/// Every live key of `family`, sorted.
pub(crate) async fn sorted_keys<K, V, C, M>(family: &natskv::Family<K, V, C, M>) -> Vec<K>
where
    K: natskv::KvKey + Ord,
    C: natskv::Codec<V>,
    M: natskv::mode::Mode,
{
    match family.keys(natskv::KeyFilter::any()).await {
        Ok(keys) => sorted(keys).await,
        Err(error) => panic!("keys: {error}"),
    }
}

/// Every item of a listing, sorted; panics on an error item.
pub(crate) async fn sorted<T: Ord>(
    listing: impl natskv::Stream<Item = natskv::Result<T>>,
) -> Vec<T> {
    use natskv::TryStreamExt as _;
    let mut items: Vec<T> = match listing.try_collect().await {
        Ok(items) => items,
        Err(error) => panic!("listing: {error}"),
    };
    items.sort();
    items
}

/// The key of the device families the tests share: `site.{site}.device.{id}`.
#[derive(KvKey, Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DeviceKey {
    pub(crate) site: String,
    pub(crate) id: u32,
}

/// The key of device `id` of `site`.
pub(crate) fn dev(site: &str, id: u32) -> DeviceKey {
    DeviceKey {
        site: site.to_owned(),
        id,
    }
}

/// A partial key with the site fixed.
pub(crate) fn site(site: &str) -> KeyFilter<DeviceKey> {
    DeviceKey::filter().site(site).into()
}

/// A server where `admin` may do everything and `user` has the rules its builder gave it.
pub(crate) async fn server_with(user: &User) -> (NatsServer, User) {
    let admin = User::new("admin", "admin-pw");
    let server = NatsServer::builder()
        .user(admin.clone())
        .user(user.clone())
        .start()
        .await
        .unwrap_or_else(|e| panic!("could not start nats-server: {e}"));
    (server, admin)
}

/// Options that connect as `user`.
pub(crate) fn options(user: &User) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new().user_and_password(user.name().into(), user.password().into())
}

/// A connection as `user` whose denied operations end at once.
pub(crate) async fn guarded(server: &NatsServer, user: &User) -> Guarded {
    let violations = natskv::Violations::new();
    let client = options(user)
        .event_callback(violations.callback())
        .connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("could not connect as {}: {e}", user.name()));
    violations.attach(client)
}

/// A plain client connected as `user`.
pub(crate) async fn plain(server: &NatsServer, user: &User) -> async_nats::Client {
    options(user)
        .connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("could not connect as {}: {e}", user.name()))
}

/// Creates a bucket on a cluster that has just started. Its nodes report ready once each has
/// JetStream, but on a loaded machine the first stream create can still find the cluster
/// settling (its meta group electing, peers catching up): such a failure is retried for a
/// while, and each one is printed, so a real refusal still fails the test, later.
pub(crate) async fn create_on_new_cluster(
    conn: impl natskv::Connection + Clone,
    spec: &natskv::BucketSpec,
) -> natskv::Bucket {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match natskv::Bucket::create(conn.clone(), spec).await {
            Ok(bucket) => return bucket,
            Err(error) if std::time::Instant::now() < deadline => {
                eprintln!(
                    "creating {} on a new cluster: {error}; trying again",
                    spec.name()
                );
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(error) => panic!("creating {} on a new cluster: {error}", spec.name()),
        }
    }
}

/// A client that knows every node of `cluster`, as an application would be configured.
pub(crate) async fn connect_all(cluster: &natskv::server::Cluster) -> async_nats::Client {
    let addrs: Vec<async_nats::ServerAddr> = cluster
        .urls()
        .iter()
        .map(|url| url.parse().expect("a node URL"))
        .collect();
    async_nats::connect(addrs)
        .await
        .expect("connect to the cluster")
}

/// The stream's leader and whether every replica is current, as the server reports them;
/// `None` while the server does not answer.
pub(crate) async fn stream_cluster(
    js: &async_nats::jetstream::Context,
    stream: &str,
) -> Option<(String, bool)> {
    let mut stream = js.get_stream(stream).await.ok()?;
    let info = stream.info().await.ok()?;
    let cluster = info.cluster.clone()?;
    let leader = cluster.leader?;
    let current =
        cluster.replicas.len() == 2 && cluster.replicas.iter().all(|r| r.current && !r.offline);
    Some((leader, current))
}
