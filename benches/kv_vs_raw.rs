//! natskv against raw async-nats doing the same work, in the same run, against one local
//! nats-server this program starts. Every workload runs on both tokio runtime flavours
//! (`current_thread`, then `multi_thread`); within a flavour the rounds alternate natskv and raw,
//! and the table gives the median round of each side, their ratio (natskv throughput / raw
//! throughput: above 1 is natskv faster) and the spread of the per-round ratios.
//!
//! `scripts/bench` (or `cargo bench --bench kv_vs_raw --features server`) for the full run; the
//! table is printed and written as JSON to `target/kv_vs_raw.json` (or `$NATSKV_BENCH_JSON`).
//! Words after it (`scripts/bench cache keys`) run only the workloads whose names contain one.
//! Under `cargo test` (no `--bench` argument) every workload runs once with a few entries, to
//! prove the benchmark works.

// Ratios of counts and a linear report are what a benchmark is made of.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::too_many_lines
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv::{Operation, Store};
use futures::{StreamExt, TryStreamExt};
use natskv::server::NatsServer;
use natskv::{Bucket, BucketSpec, Codec, Family, KeyFilter, KvKey, MsgPack, RetryPolicy, Storage};
use serde::{Deserialize, Serialize};

/// Counts allocated and freed bytes and allocations, so the run can print what each side
/// allocates and what a cache keeps.
struct Counting;

static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated and not yet freed.
fn live_bytes() -> u64 {
    ALLOCATED
        .load(Ordering::Relaxed)
        .saturating_sub(FREED.load(Ordering::Relaxed))
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct DeviceState {
    online: bool,
    firmware: String,
    battery: u8,
    tags: Vec<String>,
}

#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
struct DeviceKey {
    site: String,
    id: u32,
}

const PATTERN: &str = "site.{site}.device.{id}";

fn state(i: u32) -> DeviceState {
    DeviceState {
        online: i.is_multiple_of(2),
        firmware: format!("1.{}.{}", i % 7, i % 13),
        battery: (i % 100) as u8,
        tags: vec!["edge".into(), format!("rack-{}", i % 4)],
    }
}

fn key(i: u32) -> DeviceKey {
    DeviceKey {
        site: format!("s{}", i % 10),
        id: i,
    }
}

fn raw_key(i: u32) -> String {
    format!("site.s{}.device.{i}", i % 10)
}

fn encode(value: &DeviceState) -> bytes::Bytes {
    bytes::Bytes::from(rmp_serde::to_vec_named(value).expect("encode"))
}

fn decode(bytes: &[u8]) -> DeviceState {
    <MsgPack as Codec<DeviceState>>::decode(bytes).expect("decode")
}

/// How much work each workload does: the full run, or the proof run under `cargo test`.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// Sequential operations per round.
    ops: u32,
    /// Rounds of the small workloads.
    rounds: usize,
    /// Rounds of the workloads over large buckets.
    big_rounds: usize,
    keys_small: u32,
    keys_large: u32,
    replay: u32,
    cache: u32,
    /// Reads of the history key per round (each reads every revision it keeps).
    histories: u32,
    /// Tasks racing on one key, and updates each.
    cas: (u32, u32),
    codec_ops: u32,
}

impl Sizes {
    const FULL: Sizes = Sizes {
        ops: 2_000,
        rounds: 7,
        big_rounds: 5,
        keys_small: 10_000,
        keys_large: 50_000,
        replay: 10_000,
        cache: 100_000,
        // Raw async-nats leaves each history's consumer on the server until it times out, and
        // nats-server 2.15 allows 1,000 consumers per stream: 40 x 7 rounds x 2 runtimes fit.
        histories: 40,
        cas: (4, 250),
        codec_ops: 200_000,
    };
    const PROOF: Sizes = Sizes {
        ops: 20,
        rounds: 1,
        big_rounds: 1,
        keys_small: 30,
        keys_large: 60,
        replay: 30,
        cache: 100,
        histories: 2,
        cas: (2, 3),
        codec_ops: 100,
    };
}

/// Revisions kept of the history key.
const HISTORY: u8 = 64;

/// One side's cost of one round: wall time and allocations.
#[derive(Clone, Copy, Debug)]
struct Cost {
    time: Duration,
    allocations: u64,
}

async fn measure(work: impl AsyncFnOnce()) -> Cost {
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    work().await;
    Cost {
        time: start.elapsed(),
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - allocations,
    }
}

/// One line of the report.
#[derive(Serialize, Debug)]
struct Row {
    workload: String,
    runtime: &'static str,
    /// Operations (entries, keys, writes) per round.
    ops: u32,
    natskv_ops_per_sec: Option<f64>,
    raw_ops_per_sec: f64,
    /// natskv throughput / raw throughput, of the median rounds.
    ratio: Option<f64>,
    /// Lowest and highest ratio of one round's pair.
    spread: Option<(f64, f64)>,
    natskv_allocs_per_op: Option<f64>,
    raw_allocs_per_op: f64,
    /// Free-form figures of the workload (memory of the caches).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn median_time(costs: &[Cost]) -> Cost {
    let mut sorted = costs.to_vec();
    sorted.sort_by_key(|c| c.time);
    sorted[sorted.len() / 2]
}

fn per_sec(ops: u32, cost: Cost) -> f64 {
    f64::from(ops) / cost.time.as_secs_f64()
}

/// The run's rows, as they are measured.
struct Report {
    runtime: &'static str,
    sizes: Sizes,
    rows: Vec<Row>,
}

impl Report {
    /// Whether the workload `name` is to run: every one, unless workload names (or parts of
    /// them) were given on the command line.
    fn wanted(name: &str) -> bool {
        let only: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        only.is_empty() || only.iter().any(|o| name.contains(o.as_str()))
    }

    /// Runs `ours` and `raw` alternately for `rounds` rounds of `ops` operations each.
    async fn compare(
        &mut self,
        name: &str,
        ops: u32,
        rounds: usize,
        ours: impl AsyncFn(),
        raw: impl AsyncFn(),
    ) {
        if !Self::wanted(name) {
            return;
        }
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which side goes first, so neither always gets a warm server.
            if round % 2 == 0 {
                mine.push(measure(&ours).await);
                theirs.push(measure(&raw).await);
            } else {
                theirs.push(measure(&raw).await);
                mine.push(measure(&ours).await);
            }
        }
        self.push(name, ops, &mine, &theirs, None);
    }

    fn push(&mut self, name: &str, ops: u32, mine: &[Cost], theirs: &[Cost], note: Option<String>) {
        let ratios = mine
            .iter()
            .zip(theirs)
            .map(|(m, t)| t.time.as_secs_f64() / m.time.as_secs_f64());
        let spread = ratios.fold((f64::INFINITY, 0.0_f64), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        });
        let (m, t) = (median_time(mine), median_time(theirs));
        let row = Row {
            workload: name.to_owned(),
            runtime: self.runtime,
            ops,
            natskv_ops_per_sec: Some(per_sec(ops, m)),
            raw_ops_per_sec: per_sec(ops, t),
            ratio: Some(t.time.as_secs_f64() / m.time.as_secs_f64()),
            spread: Some(spread),
            natskv_allocs_per_op: Some(m.allocations as f64 / f64::from(ops)),
            raw_allocs_per_op: t.allocations as f64 / f64::from(ops),
            note,
        };
        print_row(&row);
        self.rows.push(row);
    }

    /// A raw-only line: the floor no sequential operation can beat.
    async fn floor(&mut self, name: &str, ops: u32, raw: impl AsyncFn()) {
        if !Self::wanted(name) {
            return;
        }
        let mut theirs = Vec::new();
        for _ in 0..self.sizes.rounds {
            theirs.push(measure(&raw).await);
        }
        let t = median_time(&theirs);
        let row = Row {
            workload: name.to_owned(),
            runtime: self.runtime,
            ops,
            natskv_ops_per_sec: None,
            raw_ops_per_sec: per_sec(ops, t),
            ratio: None,
            spread: None,
            natskv_allocs_per_op: None,
            raw_allocs_per_op: t.allocations as f64 / f64::from(ops),
            note: None,
        };
        print_row(&row);
        self.rows.push(row);
    }
}

fn print_header() {
    println!(
        "{:<48} {:<8} {:>11} {:>11} {:>6} {:>13} {:>15}",
        "workload", "runtime", "natskv op/s", "raw op/s", "ratio", "spread", "allocs/op n/raw"
    );
}

fn print_row(row: &Row) {
    let dash = || "-".to_owned();
    println!(
        "{:<48} {:<8} {:>11} {:>11.0} {:>6} {:>13} {:>15}",
        row.workload,
        row.runtime,
        row.natskv_ops_per_sec
            .map_or_else(dash, |n| format!("{n:.0}")),
        row.raw_ops_per_sec,
        row.ratio.map_or_else(dash, |r| format!("{r:.2}")),
        row.spread
            .map_or_else(dash, |(lo, hi)| format!("{lo:.2}-{hi:.2}")),
        row.natskv_allocs_per_op.map_or_else(
            || format!("- / {:.1}", row.raw_allocs_per_op),
            |n| format!("{n:.1} / {:.1}", row.raw_allocs_per_op)
        ),
    );
    if let Some(note) = &row.note {
        println!("    {note}");
    }
}

/// The buckets every workload reads, filled once before the runs.
struct Buckets {
    /// Small workloads: puts, gets, compare-and-sets.
    ops: &'static str,
    keys_small: &'static str,
    keys_large: &'static str,
    cache: &'static str,
    history: &'static str,
}

const BUCKETS: Buckets = Buckets {
    ops: "ops",
    keys_small: "keys-small",
    keys_large: "keys-large",
    cache: "cache",
    history: "history",
};

fn spec(name: &str) -> BucketSpec {
    // Atomic batches on, for the transaction workloads; nothing else changes with it.
    BucketSpec::new(name)
        .history(1)
        .storage(Storage::Memory)
        .atomic(true)
}

/// Creates the buckets and writes their keys, with raw pipelined publishes.
async fn fill(url: &str, sizes: Sizes) {
    let nats = natskv::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(nats.get_ref().clone());
    for (name, count) in [
        (BUCKETS.ops, sizes.ops),
        (BUCKETS.keys_small, sizes.keys_small),
        (BUCKETS.keys_large, sizes.keys_large),
        (BUCKETS.cache, sizes.cache),
    ] {
        Bucket::create(&nats, &spec(name)).await.expect("bucket");
        futures::stream::iter(0..count)
            .map(|i| {
                let js = &js;
                async move {
                    js.publish(format!("$KV.{name}.{}", raw_key(i)), encode(&state(i)))
                        .await?
                        .await
                }
            })
            .buffer_unordered(256)
            .try_collect::<Vec<_>>()
            .await
            .expect("fill");
    }
    Bucket::create(&nats, &spec(BUCKETS.history).history(HISTORY))
        .await
        .expect("bucket");
    for i in 0..u32::from(HISTORY) {
        js.publish(
            format!("$KV.{}.{}", BUCKETS.history, raw_key(0)),
            encode(&state(i)),
        )
        .await
        .expect("publish")
        .await
        .expect("ack");
    }
}

/// natskv's family and async-nats's store over the same bucket.
async fn both(nats: &natskv::Guarded, name: &str) -> (Family<DeviceKey, DeviceState>, Store) {
    let bucket = Bucket::open_name(nats, name).await.expect("open");
    let family = Family::bind(&bucket, PATTERN).expect("family");
    let store = async_nats::jetstream::new(nats.get_ref().clone())
        .get_key_value(name)
        .await
        .expect("store");
    (family, store)
}

/// Raw async-nats reading and decoding keys `0..ops` one by one.
async fn raw_gets(store: &Store, ops: u32) {
    for i in 0..ops {
        let entry = store
            .entry(raw_key(i))
            .await
            .expect("get")
            .expect("present");
        assert!(decode(&entry.value).battery < 100);
    }
}

/// Every workload, on the runtime this is called in.
async fn suite(url: &str, runtime: &'static str, sizes: Sizes) -> Vec<Row> {
    let mut report = Report {
        runtime,
        sizes,
        rows: Vec::new(),
    };
    // Connected the recommended way, so natskv's side pays for noticing permission violations.
    let nats = natskv::connect(url).await.expect("connect");
    let client = nats.get_ref().clone();
    let (devices, store) = both(&nats, BUCKETS.ops).await;
    let n = sizes.ops;
    let keys: Vec<DeviceKey> = (0..n).map(key).collect();
    let values: Vec<DeviceState> = (0..n).map(state).collect();
    let rounds = sizes.rounds;

    // The floor: one core request/reply round trip on the same connection, answered by the
    // server itself (a request nobody subscribes to gets its no-responders status at once), so
    // it is one hop to the server and back with no work done there.
    report
        .floor("floor: core request/reply round trip", n, async || {
            for _ in 0..n {
                let answer = client
                    .request("bench.nobody", bytes::Bytes::from_static(b"ping"))
                    .await;
                assert!(
                    answer.is_err_and(|e| e.kind() == async_nats::RequestErrorKind::NoResponders)
                );
            }
        })
        .await;

    report
        .compare(
            "put, sequential",
            n,
            rounds,
            async || puts(&devices, &keys, &values).await,
            async || {
                for (i, v) in values.iter().enumerate() {
                    store.put(raw_key(i as u32), encode(v)).await.expect("put");
                }
            },
        )
        .await;

    // natskv's puts carry a message id (exactly-once); the server's deduplication is part of
    // their cost. The same work done raw: a publish with a fresh `Nats-Msg-Id`.
    let js = async_nats::jetstream::new(client.clone());
    report
        .compare(
            "put, sequential, raw with a message id too",
            n,
            rounds,
            async || puts(&devices, &keys, &values).await,
            async || {
                for (i, v) in values.iter().enumerate() {
                    raw_put_with_id(&js, i, v).await.expect("put");
                }
            },
        )
        .await;

    report
        .compare(
            "put, 256 in flight",
            n,
            rounds,
            async || puts_in_flight(&devices, &keys, &values).await,
            async || raw_puts_in_flight(&store, &values).await,
        )
        .await;

    report
        .compare(
            "put, 256 in flight, raw with message ids too",
            n,
            rounds,
            async || puts_in_flight(&devices, &keys, &values).await,
            async || raw_puts_with_ids_in_flight(&js, &values).await,
        )
        .await;

    report
        .compare(
            "put_many (raw: Store::put, 256 in flight)",
            n,
            rounds,
            async || put_many(&devices, &keys, &values).await,
            async || raw_puts_in_flight(&store, &values).await,
        )
        .await;

    // A transaction stores its writes all or nothing, as one atomic batch (ADR-50) of up to
    // 1,000 writes: here 100 per transaction. Against the same writes as sequential raw puts,
    // and against natskv's own put_many (pipelined, each write on its own).
    report
        .compare(
            "transaction of 100 puts (raw: sequential Store::put)",
            n,
            rounds,
            async || transactions(&devices, &keys, &values).await,
            async || {
                for (i, v) in values.iter().enumerate() {
                    store.put(raw_key(i as u32), encode(v)).await.expect("put");
                }
            },
        )
        .await;
    report
        .compare(
            "transaction of 100 puts (other side: natskv put_many)",
            n,
            rounds,
            async || transactions(&devices, &keys, &values).await,
            async || put_many(&devices, &keys, &values).await,
        )
        .await;

    report
        .compare(
            "put_many (raw: 256 in flight with message ids)",
            n,
            rounds,
            async || put_many(&devices, &keys, &values).await,
            async || raw_puts_with_ids_in_flight(&js, &values).await,
        )
        .await;

    report
        .compare(
            "get, sequential",
            n,
            rounds,
            async || {
                for k in &keys {
                    let entry = devices.get(k).await.expect("get").expect("present");
                    assert!(entry.value.battery < 100);
                }
            },
            async || raw_gets(&store, n).await,
        )
        .await;

    report
        .compare(
            "get_many (raw: sequential gets)",
            n,
            rounds,
            async || {
                let entries = devices.get_many(&keys).await.expect("get_many");
                assert!(entries.iter().all(|e| matches!(e, Ok(Some(_)))));
            },
            async || raw_gets(&store, n).await,
        )
        .await;

    let (tasks, each) = sizes.cas;
    let cas_key = key(0);
    report
        .compare(
            &format!("compare-and-set, {tasks} tasks x {each} on one key"),
            tasks * each,
            rounds,
            async || {
                let racing = (0..tasks).map(|_| async {
                    for _ in 0..each {
                        devices
                            .update_with(&cas_key, |v| v.battery = v.battery.wrapping_add(1))
                            .retry(
                                RetryPolicy::default()
                                    .attempts(u32::MAX)
                                    .base_delay(Duration::ZERO),
                            )
                            .await
                            .expect("update");
                    }
                });
                futures::future::join_all(racing).await;
            },
            async || {
                let racing = (0..tasks).map(|_| async {
                    for _ in 0..each {
                        raw_update(&store, &raw_key(0)).await;
                    }
                });
                futures::future::join_all(racing).await;
            },
        )
        .await;

    for (name, count) in [
        (BUCKETS.keys_small, sizes.keys_small),
        (BUCKETS.keys_large, sizes.keys_large),
    ] {
        let (family, store) = both(&nats, name).await;
        report
            .compare(
                &format!("keys of {count}"),
                count,
                sizes.big_rounds,
                async || {
                    let keys: Vec<DeviceKey> = family
                        .keys(KeyFilter::any())
                        .await
                        .expect("keys")
                        .try_collect()
                        .await
                        .expect("keys");
                    assert_eq!(keys.len(), count as usize);
                },
                async || {
                    let keys: Vec<String> = store
                        .keys()
                        .await
                        .expect("keys")
                        .try_collect()
                        .await
                        .expect("keys");
                    assert_eq!(keys.len(), count as usize);
                },
            )
            .await;
    }

    let (family, store) = both(&nats, BUCKETS.keys_small).await;
    // One site in ten: the latest value of every key matching a partial key.
    let matching = sizes.keys_small / 10;
    report
        .compare(
            &format!(
                "get_matching, {matching} of {} keys (raw: watch)",
                sizes.keys_small
            ),
            matching,
            sizes.big_rounds,
            async || {
                let snapshot = family
                    .get_matching(DeviceKey::filter().site("s1"))
                    .await
                    .expect("get_matching");
                assert_eq!(snapshot.entries.len(), matching as usize);
                assert!(snapshot.entries.iter().all(Result::is_ok));
            },
            async || {
                let mut watch = store.watch_with_history("site.s1.>").await.expect("watch");
                let mut entries = Vec::new();
                while let Some(entry) = watch.next().await {
                    let entry = entry.expect("entry");
                    let last = entry.delta == 0;
                    entries.push((entry.key, decode(&entry.value)));
                    if last {
                        break;
                    }
                }
                assert_eq!(entries.len(), matching as usize);
            },
        )
        .await;

    let replay = sizes.replay.min(sizes.keys_small);
    report
        .compare(
            &format!("watch replay of {replay} until initialized"),
            replay,
            sizes.big_rounds,
            async || {
                // Boxed: the watch's future is larger than clippy's `large_futures` allows.
                let mut watch = Box::pin(family.watch(KeyFilter::any()))
                    .await
                    .expect("watch");
                for _ in 0..replay {
                    let entry = watch.next().await.expect("an entry").expect("decoded");
                    assert!(entry.value.is_some());
                }
                assert!(watch.is_initialized());
            },
            async || {
                // The latest value of every key, then updates: `watch_all` is updates only.
                let mut watch = store.watch_with_history(">").await.expect("watch");
                for _ in 0..replay {
                    let entry = watch.next().await.expect("an entry").expect("an entry");
                    assert!(decode(&entry.value).battery < 100);
                }
            },
        )
        .await;

    let (family, store) = both(&nats, BUCKETS.history).await;
    let reads = sizes.histories;
    report
        .compare(
            &format!("history of a key, {HISTORY} revisions"),
            reads * u32::from(HISTORY),
            rounds,
            async || {
                for _ in 0..reads {
                    let entries: Vec<_> = family
                        .history(&key(0))
                        .await
                        .expect("history")
                        .try_collect()
                        .await
                        .expect("history");
                    assert_eq!(entries.len(), usize::from(HISTORY));
                }
            },
            async || {
                for _ in 0..reads {
                    let entries: Vec<_> = store
                        .history(raw_key(0))
                        .await
                        .expect("history")
                        .try_collect()
                        .await
                        .expect("history");
                    assert_eq!(entries.len(), usize::from(HISTORY));
                    assert!(entries.iter().all(|e| decode(&e.value).battery < 100));
                }
            },
        )
        .await;

    cache(&mut report, &nats).await;
    report.rows
}

/// async-nats's fastest form of many puts: `Store::put` with 256 awaiting their acks.
async fn raw_puts_in_flight(store: &Store, values: &[DeviceState]) {
    futures::stream::iter(values.iter().enumerate())
        .map(|(i, v)| store.put(raw_key(i as u32), encode(v)))
        .buffer_unordered(256)
        .try_collect::<Vec<_>>()
        .await
        .expect("put");
}

/// natskv's puts, 256 awaiting their acks.
async fn puts_in_flight(
    devices: &Family<DeviceKey, DeviceState>,
    keys: &[DeviceKey],
    values: &[DeviceState],
) {
    futures::stream::iter(keys.iter().zip(values))
        .map(|(k, v)| devices.put(k, v))
        .buffer_unordered(256)
        .try_collect::<Vec<_>>()
        .await
        .expect("put");
}

/// Raw puts as natskv writes them (each with a fresh `Nats-Msg-Id`), 256 awaiting their acks.
async fn raw_puts_with_ids_in_flight(js: &async_nats::jetstream::Context, values: &[DeviceState]) {
    futures::stream::iter(values.iter().enumerate())
        .map(|(i, v)| raw_put_with_id(js, i, v))
        .buffer_unordered(256)
        .try_collect::<Vec<_>>()
        .await
        .expect("put");
}

/// One raw put of key `i` as natskv writes it: a publish with a fresh `Nats-Msg-Id`, acked.
async fn raw_put_with_id(
    js: &async_nats::jetstream::Context,
    i: usize,
    value: &DeviceState,
) -> Result<async_nats::jetstream::publish::PublishAck, async_nats::jetstream::context::PublishError>
{
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", nuid::next().as_str());
    let subject = format!("$KV.{}.{}", BUCKETS.ops, raw_key(i as u32));
    js.publish_with_headers(subject, headers, encode(value))
        .await?
        .await
}

/// natskv's puts, one after the other.
async fn puts(
    devices: &Family<DeviceKey, DeviceState>,
    keys: &[DeviceKey],
    values: &[DeviceState],
) {
    for (k, v) in keys.iter().zip(values) {
        devices.put(k, v).await.expect("put");
    }
}

/// natskv's bulk write of every key, each stored.
/// `keys` and `values` written by transactions of 100 puts each.
async fn transactions(
    devices: &Family<DeviceKey, DeviceState>,
    keys: &[DeviceKey],
    values: &[DeviceState],
) {
    for (keys, values) in keys.chunks(100).zip(values.chunks(100)) {
        let mut tx = devices.bucket().transaction();
        for (k, v) in keys.iter().zip(values) {
            tx.put(devices, k, v).expect("stage");
        }
        tx.commit().await.expect("commit");
    }
}

async fn put_many(
    devices: &Family<DeviceKey, DeviceState>,
    keys: &[DeviceKey],
    values: &[DeviceState],
) {
    let results = devices
        .put_many(keys.iter().zip(values))
        .await
        .expect("put_many");
    assert!(results.iter().all(Result::is_ok));
}

/// A raw compare-and-set loop: read, change, write at the revision read, again on a lost race.
async fn raw_update(store: &Store, key: &str) {
    loop {
        let entry = store.entry(key).await.expect("get").expect("present");
        let mut value = decode(&entry.value);
        value.battery = value.battery.wrapping_add(1);
        if store
            .update(key, encode(&value), entry.revision)
            .await
            .is_ok()
        {
            return;
        }
    }
}

/// A live cache of a large bucket: natskv's `Cache` against async-nats's watch read into a
/// `HashMap` of decoded values, each until it holds every key; and what each keeps in memory.
async fn cache(report: &mut Report, nats: &natskv::Guarded) {
    let count = report.sizes.cache;
    let name = format!("live cache of {count} keys, until initialized");
    if !Report::wanted(&name) {
        return;
    }
    let (family, store) = both(nats, BUCKETS.cache).await;
    let encoded: u64 = (0..count)
        .map(|i| (raw_key(i).len() + encode(&state(i)).len()) as u64)
        .sum();
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    let (mut kept_mine, mut kept_theirs) = (Vec::new(), Vec::new());
    for _ in 0..report.sizes.big_rounds {
        let (cost, kept) = holding(async || {
            let cache = Box::pin(family.cache()).await.expect("cache");
            cache.initialized().await.expect("initialized");
            assert_eq!(cache.len(), count as usize);
            cache
        })
        .await;
        mine.push(cost);
        kept_mine.push(kept);

        let (cost, kept) = holding(async || {
            let mut map: HashMap<String, DeviceState> = HashMap::new();
            let mut watch = store.watch_with_history(">").await.expect("watch");
            while let Some(entry) = watch.next().await {
                let entry = entry.expect("entry");
                if entry.operation == Operation::Put {
                    map.insert(entry.key, decode(&entry.value));
                } else {
                    map.remove(&entry.key);
                }
                if entry.delta == 0 {
                    break;
                }
            }
            assert_eq!(map.len(), count as usize);
            // Kept live, as the cache is: the map and the watch that would keep it current.
            (map, watch)
        })
        .await;
        theirs.push(cost);
        kept_theirs.push(kept);
    }
    kept_mine.sort_unstable();
    kept_theirs.sort_unstable();
    let (kept_mine, kept_theirs) = (
        kept_mine[kept_mine.len() / 2],
        kept_theirs[kept_theirs.len() / 2],
    );
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let note = format!(
        "memory kept live: natskv {:.1} MiB ({:.2}x the {:.1} MiB of encoded keys and values), raw map of decoded values and its watch {:.1} MiB ({:.2}x)",
        mib(kept_mine),
        kept_mine as f64 / encoded as f64,
        mib(encoded),
        mib(kept_theirs),
        kept_theirs as f64 / encoded as f64,
    );
    report.push(&name, count, &mine, &theirs, Some(note));
}

/// Builds something to keep (a live cache), measuring the time it took and the memory it
/// holds once built. Background work of what was dropped before is given time to finish
/// first, so its frees are not counted against this.
async fn holding<T>(build: impl AsyncFnOnce() -> T) -> (Cost, u64) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = live_bytes();
    let mut held = None;
    let cost = measure(async || held = Some(build().await)).await;
    let kept = live_bytes().saturating_sub(before);
    drop(held);
    (cost, kept)
}

/// The codecs on their own: natskv's against calling rmp-serde and serde_json directly.
fn codecs(report: &mut Report) {
    let ops = report.sizes.codec_ops;
    let value = state(7);
    let run = |f: &dyn Fn()| {
        (0..5)
            .map(|_| {
                let allocations = ALLOCATIONS.load(Ordering::Relaxed);
                let start = Instant::now();
                for _ in 0..ops {
                    f();
                }
                Cost {
                    time: start.elapsed(),
                    allocations: ALLOCATIONS.load(Ordering::Relaxed) - allocations,
                }
            })
            .collect::<Vec<_>>()
    };
    let ours = run(&|| {
        let bytes = <MsgPack as Codec<DeviceState>>::encode(&value).expect("encode");
        let back = <MsgPack as Codec<DeviceState>>::decode(&bytes).expect("decode");
        assert_eq!(back.battery, 7);
    });
    let raw = run(&|| {
        let bytes = rmp_serde::to_vec_named(&value).expect("encode");
        let back: DeviceState = rmp_serde::from_slice(&bytes).expect("decode");
        assert_eq!(back.battery, 7);
    });
    report.push("codec msgpack (raw: rmp-serde)", ops, &ours, &raw, None);
    let ours = run(&|| {
        let bytes = <natskv::Json as Codec<DeviceState>>::encode(&value).expect("encode");
        let back = <natskv::Json as Codec<DeviceState>>::decode(&bytes).expect("decode");
        assert_eq!(back.battery, 7);
    });
    let raw = run(&|| {
        let bytes = serde_json::to_vec(&value).expect("encode");
        let back: DeviceState = serde_json::from_slice(&bytes).expect("decode");
        assert_eq!(back.battery, 7);
    });
    report.push("codec json (raw: serde_json)", ops, &ours, &raw, None);
}

/// What the run was measured on.
#[derive(Serialize, Debug)]
struct Run {
    unix_time: u64,
    server: String,
    cpu: String,
    cores: usize,
    rows: Vec<Row>,
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { Sizes::FULL } else { Sizes::PROOF };
    // The server and the filling live on a runtime of their own, for the whole run.
    let host = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut server = host
        .block_on(NatsServer::start())
        .expect("start nats-server (scripts/install-nats-server)");
    let url = server.url();
    host.block_on(fill(&url, sizes));

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "natskv vs raw async-nats, nats-server {}, {} ({cores} cores); ratio = natskv op/s / raw op/s",
        server.version(),
        cpu_model(),
    );
    print_header();
    let mut rows = Vec::new();
    for runtime in ["current", "multi"] {
        let rt = if runtime == "current" {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        }
        .expect("runtime");
        rows.extend(rt.block_on(suite(&url, runtime, sizes)));
    }
    let mut report = Report {
        runtime: "none",
        sizes,
        rows: Vec::new(),
    };
    codecs(&mut report);
    rows.extend(report.rows);
    host.block_on(server.stop()).expect("stop nats-server");

    if full {
        let run = Run {
            unix_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            server: server.version().to_string(),
            cpu: cpu_model(),
            cores,
            rows,
        };
        let path = std::env::var("NATSKV_BENCH_JSON").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/kv_vs_raw.json").to_owned()
        });
        let json = serde_json::to_string_pretty(&run).expect("json");
        std::fs::write(&path, json).expect("write the JSON report");
        println!("written to {path}");
    }
}
