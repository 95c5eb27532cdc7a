//! Writes survive faults exactly once: a write the server did not answer is resent with its
//! message id, and the caller gets one answer, with the one revision it was stored at. Against
//! a three-node cluster whose stream leader is stopped and restarted under load, and a single
//! server frozen while a write is in flight.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use natskv::server::Cluster;
use natskv::{Bucket, BucketSpec, Error, ErrorKind, Family, WriteRetry};

/// How many messages `nats` has sent so far.
fn sent(nats: &async_nats::Client) -> u64 {
    nats.statistics().out_messages.load(Ordering::Relaxed)
}

#[tokio::test]
async fn a_standalone_server_checks_the_expected_revision_before_the_message_id() {
    // The server behaviour the write path is built on, checked so that a server upgrade that
    // changes it is noticed. A single-replica stream refuses a resent compare-and-set whose
    // first copy landed as a lost race (10071); natskv then asks with a confirmation (the
    // same write guarded by a last message id nothing has), which the server answers as a
    // duplicate of the stored copy, or refuses (10070) when no copy was stored.
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new(common::unique_bucket("order")))
        .await
        .unwrap();
    let js = jetstream::new(nats);
    let subject = format!("$KV.{}.k", bucket.name());
    let send = |id: &'static str, guard: (&'static str, &'static str)| {
        let (js, subject) = (js.clone(), subject.clone());
        async move {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id);
            headers.insert(guard.0, guard.1);
            js.publish_with_headers(subject, headers, "v".into())
                .await
                .unwrap()
                .await
                .map(|ack| (ack.sequence, ack.duplicate))
                .map_err(|e| e.to_string())
        }
    };
    let cas = ("Nats-Expected-Last-Subject-Sequence", "0");
    let confirm = ("Nats-Expected-Last-Msg-Id", "no-message-has-this-id");
    assert_eq!(send("first", cas).await, Ok((1, false)));
    let resent = send("first", cas).await.unwrap_err();
    assert!(resent.contains("10071"), "{resent}");
    assert_eq!(send("first", confirm).await, Ok((1, true)));
    let unknown = send("never-sent", confirm).await.unwrap_err();
    assert!(unknown.contains("10070"), "{unknown}");
}

#[tokio::test]
async fn a_resent_compare_and_set_whose_first_copy_landed_is_success_not_a_lost_race() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("resent")).history(10);
    let bucket = Bucket::create(&nats, &spec)
        .await
        .unwrap()
        .with_write_retry(WriteRetry::default().ack_wait(Duration::from_millis(300)));
    let fam: Family<String, u32> = Family::bind(&bucket, "n.{id}").unwrap();
    let key = "a".to_owned();
    let first = fam.put(&key, &1).await.unwrap();

    // Freeze the server so the first copy goes unanswered, and thaw it once a second copy is
    // on the wire: the server stores the first, refuses the second as a lost race (it checks
    // the expected revision before the message id), and natskv finds out it was its own.
    let before = sent(&nats);
    server.freeze().unwrap();
    let update = tokio::spawn({
        let (fam, key) = (fam.clone(), key.clone());
        async move { fam.update(&key, &2, first).await }
    });
    common::wait_for("a second copy of the update", || {
        let nats = nats.clone();
        async move { (sent(&nats) >= before + 2).then_some(()) }
    })
    .await;
    server.thaw().unwrap();
    let revision = update.await.unwrap().expect("the update is a success");
    assert_eq!(
        revision,
        first + 1,
        "stored once, right after the read revision"
    );

    let history: Vec<_> = fam.history(&key).await.unwrap().collect().await;
    let values: Vec<(u64, Option<u32>)> = history
        .into_iter()
        .map(|e| e.map(|e| (e.revision, e.value)).unwrap())
        .collect();
    assert_eq!(
        values,
        [(first, Some(1)), (revision, Some(2))],
        "no duplicate"
    );

    // A put resent the same way is stored once too.
    let before = sent(&nats);
    server.freeze().unwrap();
    let put = tokio::spawn({
        let (fam, key) = (fam.clone(), key.clone());
        async move { fam.put(&key, &3).await }
    });
    common::wait_for("a second copy of the put", || {
        let nats = nats.clone();
        async move { (sent(&nats) >= before + 2).then_some(()) }
    })
    .await;
    server.thaw().unwrap();
    let put_revision = put.await.unwrap().expect("the put is a success");
    assert_eq!(put_revision, revision + 1);
    assert_eq!(bucket.status().await.unwrap().values, 3, "no duplicate");
}

#[tokio::test]
async fn retries_are_bounded_and_say_whether_the_write_may_have_landed() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("bounded");
    let bucket = Bucket::create(&nats, &BucketSpec::new(&name))
        .await
        .unwrap();
    let policy = WriteRetry::default()
        .ack_wait(Duration::from_millis(200))
        .timeout(Duration::from_secs(1));
    let fam: Family<String, u32> =
        Family::bind(&bucket.with_write_retry(policy), "n.{id}").unwrap();

    server.freeze().unwrap();
    let started = Instant::now();
    let err = fam.put(&"a".to_owned(), &1).await.unwrap_err();
    let took = started.elapsed();
    server.thaw().unwrap();
    assert!(
        matches!(
            err,
            Error::Timeout {
                may_have_applied: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "bounded by the policy: {took:?}"
    );

    // A write to a bucket deleted meanwhile is not resent for the whole horizon: nobody takes
    // it, and the facts say the bucket is gone.
    Bucket::delete(&nats, &name).await.unwrap();
    let started = Instant::now();
    let err = fam.put(&"a".to_owned(), &2).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketNotFound, "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_replicated_stream_checks_the_message_id_first_and_flags_copies_in_flight() {
    let cluster = Cluster::start(3).await.unwrap();
    let nats = common::connect_all(&cluster).await;
    let spec = BucketSpec::new(common::unique_bucket("order3")).replicas(3);
    let bucket = common::create_on_new_cluster(&nats, &spec).await;
    let js = jetstream::new(nats);
    let stream = format!("KV_{}", bucket.name());
    common::wait_for("the stream's replicas", || async {
        common::stream_cluster(&js, &stream)
            .await
            .filter(|(_, current)| *current)
    })
    .await;
    let subject = format!("$KV.{}.k", bucket.name());
    let headers = |id: &str, expect: Option<&str>| {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        if let Some(expect) = expect {
            headers.insert("Nats-Expected-Last-Subject-Sequence", expect);
        }
        headers
    };
    // A resent compare-and-set whose first copy landed is a duplicate, not a lost race.
    for duplicate in [false, true] {
        let ack = js
            .publish_with_headers(subject.clone(), headers("cas", Some("0")), "v".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!((ack.sequence, ack.duplicate), (1, duplicate));
    }
    // Copies sent while the first is still being replicated are refused as "in process"
    // (10158), or, once it is stored, answered as duplicates with its revision; never stored.
    let mut acks = Vec::new();
    for _ in 0..5 {
        acks.push(
            js.publish_with_headers(format!("{subject}2"), headers("burst", None), "v".into())
                .await
                .unwrap(),
        );
    }
    let mut in_process = 0;
    for ack in acks {
        match ack.await {
            Ok(ack) => assert_eq!(ack.sequence, 2, "{ack:?}"),
            Err(e) if e.to_string().contains("10158") => in_process += 1,
            Err(e) => panic!("{e}"),
        }
    }
    println!("copies refused as in process: {in_process} of 4");
    assert_eq!(bucket.status().await.unwrap().values, 2);
}

/// One acknowledged write, as the writer saw it.
#[derive(Debug, Clone)]
struct Acked {
    key: String,
    value: u64,
    revision: u64,
}

/// What a writer did.
#[derive(Debug, Default)]
struct Log {
    acked: Vec<Acked>,
    errors: Vec<String>,
    longest: Duration,
    /// Writes that took longer than half the default ack wait: most were resent.
    slow: usize,
}

impl Log {
    fn record(&mut self, key: &str, value: u64, started: Instant, result: natskv::Result<u64>) {
        let took = started.elapsed();
        self.longest = self.longest.max(took);
        self.slow += usize::from(took > Duration::from_millis(500));
        match result {
            Ok(revision) => self.acked.push(Acked {
                key: key.to_owned(),
                value,
                revision,
            }),
            Err(error) => self.errors.push(format!("{key} = {value}: {error:?}")),
        }
    }
}

/// Keys each writer cycles over. With history 64, every revision of a run stays readable as
/// long as a writer makes fewer than keys * 64 writes; the writers stop there.
const PUT_KEYS: u64 = 512;
const CAS_KEYS: u64 = 4096;
const HISTORY: u8 = 64;

/// What the writers share with the test: when to stop, and how many writes were acknowledged.
#[derive(Clone, Default)]
struct Run {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
}

impl Run {
    fn goes_on(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Waits until `more` writes were acknowledged from now on.
    async fn progress(&self, more: u64) {
        let at_least = self.acked() + more;
        common::wait_for(&format!("{at_least} acknowledged writes"), || async move {
            (self.acked() >= at_least).then_some(())
        })
        .await;
    }
}

/// A writer of puts: increasing values over a set of keys. Returns its log.
async fn put_writer(puts: Family<String, u64>, run: Run) -> Log {
    let mut log = Log::default();
    let mut value = 0;
    while run.goes_on() && value < PUT_KEYS * u64::from(HISTORY) {
        value += 1;
        let key = (value % PUT_KEYS).to_string();
        let started = Instant::now();
        let result = puts.put(&key, &value).await;
        if result.is_ok() {
            run.acked.fetch_add(1, Ordering::Relaxed);
        }
        log.record(&key, value, started, result);
    }
    assert!(
        !run.goes_on(),
        "the put writer ran out of keys: raise PUT_KEYS"
    );
    log
}

/// A writer of compare-and-sets: each key's chain of revisions, created, then updated at the
/// revision the writer last wrote. Only this writer writes these keys, so a lost race would be
/// a duplicate ack taken for one.
async fn cas_writer(cas: Family<String, u64>, run: Run) -> Log {
    let mut log = Log::default();
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut value = 0;
    while run.goes_on() && value < CAS_KEYS * u64::from(HISTORY) {
        value += 1;
        let key = (value % CAS_KEYS).to_string();
        let started = Instant::now();
        let result = match last.get(&key) {
            Some(&revision) => cas.update(&key, &value, revision).await,
            None => cas.create(&key, &value).await,
        };
        if let Ok(revision) = result {
            last.insert(key.clone(), revision);
            run.acked.fetch_add(1, Ordering::Relaxed);
        }
        log.record(&key, value, started, result);
    }
    assert!(
        !run.goes_on(),
        "the CAS writer ran out of keys: raise CAS_KEYS"
    );
    log
}

/// How the leader's node goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SIGTERM: the server shuts down and hands its leaderships over.
    Stop,
    /// SIGKILL: a crash; the others notice only when the leader's heartbeats stop.
    Kill,
}

/// Stops the stream's leader node, waits for another leader while the writers go on,
/// restarts the node and waits until every replica is current again. Returns the names of the
/// old and the new leader.
async fn fail_over(
    cluster: &mut Cluster,
    admin: &jetstream::Context,
    stream: &str,
    run: &Run,
    fault: Fault,
) -> (String, String) {
    let (leader, _) = common::wait_for("the stream's leader", || {
        common::stream_cluster(admin, stream)
    })
    .await;
    let index = cluster.node_index(&leader).expect("the leader is a node");
    match fault {
        Fault::Stop => cluster.stop_node(index).await.unwrap(),
        Fault::Kill => cluster.kill_node(index),
    }
    let (new_leader, _) = common::wait_for("a new leader", || async {
        common::stream_cluster(admin, stream)
            .await
            .filter(|(l, _)| *l != leader)
    })
    .await;
    run.progress(100).await;
    cluster.restart_node(index).await.unwrap();
    common::wait_for("every replica current again", || async {
        common::stream_cluster(admin, stream)
            .await
            .filter(|(_, current)| *current)
    })
    .await;
    run.progress(100).await;
    (leader, new_leader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_three_leader_failovers_exactly_once() {
    writes_survive_three(Fault::Stop, Duration::from_secs(3)).await;
}

/// A crashed leader is noticed only after the server's election timeout (several seconds), and
/// no write can be stored until a new leader is elected: the writes wait that long, no more,
/// and still land exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_three_leader_crashes_exactly_once() {
    // The default resend budget (15 s) covers an election; a loaded machine can stretch one,
    // so this test gives its writes 30 s and checks they need far less.
    writes_survive_three(Fault::Kill, Duration::from_secs(20)).await;
}

/// A put writer and a compare-and-set writer run while the stream leader's node goes down
/// (`fault`) and comes back, three times: every acknowledged write is stored once at its
/// revision, nothing else is stored, no error reaches a writer, and no write takes `bound` or
/// longer.
async fn writes_survive_three(fault: Fault, bound: Duration) {
    let mut cluster = Cluster::start(3).await.unwrap();
    let nats = common::connect_all(&cluster).await;
    let name = common::unique_bucket("failover");
    let spec = BucketSpec::new(&name).replicas(3).history(HISTORY);
    let bucket = common::create_on_new_cluster(&nats, &spec).await;
    let bucket = match fault {
        Fault::Stop => bucket,
        Fault::Kill => {
            bucket.with_write_retry(natskv::WriteRetry::default().timeout(Duration::from_secs(30)))
        }
    };
    let stream = format!("KV_{name}");
    let mut admin = jetstream::new(nats.clone());
    admin.set_timeout(Duration::from_secs(2));

    let run = Run::default();
    let puts = tokio::spawn(put_writer(
        Family::bind(&bucket, "put.{slot}").unwrap(),
        run.clone(),
    ));
    let cas = tokio::spawn(cas_writer(
        Family::bind(&bucket, "cas.{slot}").unwrap(),
        run.clone(),
    ));
    run.progress(200).await;
    let started = Instant::now();
    for round in 1..=3 {
        let (old, new) = fail_over(&mut cluster, &admin, &stream, &run, fault).await;
        println!(
            "round {round}: {fault:?} {old}, {new} took over; {} writes acknowledged after {:?}",
            run.acked(),
            started.elapsed()
        );
    }
    run.stop.store(true, Ordering::Relaxed);
    let puts = puts.await.unwrap();
    let cas = cas.await.unwrap();

    // Read every message of the stream back, independently of natskv's read path.
    let stored = read_all(&admin, &stream).await;
    let mut lost = 0;
    for (family, log) in [("put", &puts), ("cas", &cas)] {
        for write in &log.acked {
            let expected = (format!("$KV.{name}.{family}.{}", write.key), write.value);
            if stored.get(&write.revision) != Some(&expected) {
                lost += 1;
                println!(
                    "lost: {family} {write:?}, stored: {:?}",
                    stored.get(&write.revision)
                );
            }
        }
    }
    let mut revisions_of: HashMap<(&str, u64), Vec<u64>> = HashMap::new();
    for (seq, (subject, value)) in &stored {
        revisions_of
            .entry((family_of(subject), *value))
            .or_default()
            .push(*seq);
    }
    let duplicated: Vec<_> = revisions_of.iter().filter(|(_, r)| r.len() > 1).collect();
    let acknowledged = puts.acked.len() + cas.acked.len();
    let errors: Vec<&String> = puts.errors.iter().chain(&cas.errors).collect();
    let longest = puts.longest.max(cas.longest);
    println!(
        "{fault:?}: writes acknowledged: {acknowledged} ({} puts, {} compare-and-sets); stored: {}; \
         lost: {lost}; duplicated: {}; errors: {}; longest write: {longest:?}; \
         writes over 500 ms: {}",
        puts.acked.len(),
        cas.acked.len(),
        stored.len(),
        duplicated.len(),
        errors.len(),
        puts.slow + cas.slow,
    );
    assert!(errors.is_empty(), "errors reached the writers: {errors:#?}");
    assert_eq!(
        lost, 0,
        "every acknowledged write is stored at its revision"
    );
    assert!(duplicated.is_empty(), "duplicates: {duplicated:?}");
    assert_eq!(stored.len(), acknowledged, "nothing stored unacknowledged");
    assert!(longest < bound, "longest write {longest:?}");
}

/// The family part of a subject `$KV.<bucket>.<family>.<slot>`.
fn family_of(subject: &str) -> &str {
    subject.rsplit('.').nth(1).unwrap_or_default()
}

/// Every message of the stream: sequence -> (subject, value).
async fn read_all(js: &jetstream::Context, stream: &str) -> HashMap<u64, (String, u64)> {
    let stream = js.get_stream(stream).await.unwrap();
    let last = stream.cached_info().state.last_sequence;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = HashMap::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await
        .expect("the stream is read back in time")
    {
        let message = message.unwrap();
        let seq = message.info().unwrap().stream_sequence;
        let value: u64 = rmp_serde::from_slice(&message.payload).unwrap();
        out.insert(seq, (message.subject.to_string(), value));
        if seq >= last {
            break;
        }
    }
    out
}
