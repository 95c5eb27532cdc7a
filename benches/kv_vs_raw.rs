//! natskv against raw async-nats, measured in the same run on the same local server, printed as
//! ratios (natskv time / raw time, natskv allocations / raw allocations). Timings on a shared
//! machine are noisy: the rounds alternate natskv and raw and the median round is reported.
//!
//! `cargo bench --bench kv_vs_raw --features server` for the full run; under `cargo test` (no
//! `--bench` argument) it runs a few operations only, to prove it works.

// Ratios of counts and a linear main are what a benchmark report is made of.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::too_many_lines
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::Store;
use futures::{StreamExt, TryStreamExt};
use natskv::server::NatsServer;
use natskv::{Bucket, BucketSpec, Codec, Family, KeyFilter, KvKey, MsgPack, Storage};
use serde::{Deserialize, Serialize};

/// Counts allocated bytes and allocations, so the run can print what each side allocates.
struct Counting;

static ALLOCATED: AtomicU64 = AtomicU64::new(0);
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
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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

fn state(i: u32) -> DeviceState {
    DeviceState {
        online: i % 2 == 0,
        firmware: format!("1.{}.{}", i % 7, i % 13),
        battery: (i % 100) as u8,
        tags: vec!["edge".into(), format!("rack-{}", i % 4)],
    }
}

/// One side's cost of a workload: wall time and allocations.
#[derive(Clone, Copy, Debug)]
struct Cost {
    time: Duration,
    bytes: u64,
    allocations: u64,
}

async fn measure<F: std::future::Future<Output = ()>>(work: F) -> Cost {
    let (bytes, allocations) = (
        ALLOCATED.load(Ordering::Relaxed),
        ALLOCATIONS.load(Ordering::Relaxed),
    );
    let start = Instant::now();
    work.await;
    Cost {
        time: start.elapsed(),
        bytes: ALLOCATED.load(Ordering::Relaxed) - bytes,
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - allocations,
    }
}

fn median(mut costs: Vec<Cost>) -> Cost {
    costs.sort_by_key(|c| c.time);
    costs[costs.len() / 2]
}

fn report(name: &str, ops: u32, ours: &[Cost], raw: &[Cost]) {
    let (ours, raw) = (median(ours.to_vec()), median(raw.to_vec()));
    let per_op = |c: Cost| c.time.as_secs_f64() * 1e6 / f64::from(ops);
    println!(
        "{name:<28} natskv {:>8.1} us/op  raw {:>8.1} us/op  time ratio {:>5.2}x  alloc bytes ratio {:>5.2}x  allocs/op {:>6.1} vs {:>6.1}",
        per_op(ours),
        per_op(raw),
        ours.time.as_secs_f64() / raw.time.as_secs_f64(),
        ours.bytes as f64 / raw.bytes.max(1) as f64,
        ours.allocations as f64 / f64::from(ops),
        raw.allocations as f64 / f64::from(ops),
    );
}

/// Raw async-nats reading and decoding keys `0..ops` one by one.
async fn raw_gets(store: &Store, ops: u32) {
    for i in 0..ops {
        let entry = store
            .entry(raw_key(i))
            .await
            .expect("get")
            .expect("present");
        let value: DeviceState =
            <MsgPack as Codec<DeviceState>>::decode(&entry.value).expect("decode");
        assert!(value.battery < 100);
    }
}

fn raw_key(i: u32) -> String {
    format!("site.s{}.device.{i}", i % 10)
}

fn encode(value: &DeviceState) -> bytes::Bytes {
    bytes::Bytes::from(rmp_serde::to_vec_named(value).expect("encode"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (ops, rounds) = if full { (2_000, 7) } else { (20, 1) };

    let server = NatsServer::start()
        .await
        .expect("start nats-server (scripts/install-nats-server)");
    // Connected the recommended way, so natskv's side pays for noticing permission violations.
    let nats = natskv::connect(server.url()).await.expect("connect");
    let spec = BucketSpec::new("bench").history(1).storage(Storage::Memory);
    let bucket = Bucket::create(&nats, &spec).await.expect("bucket");
    let devices: Family<DeviceKey, DeviceState> =
        Family::bind(&bucket, "site.{site}.device.{id}").expect("family");
    let store: Store = async_nats::jetstream::new(nats.get_ref().clone())
        .get_key_value("bench")
        .await
        .expect("store");
    let keys: Vec<DeviceKey> = (0..ops)
        .map(|i| DeviceKey {
            site: format!("s{}", i % 10),
            id: i,
        })
        .collect();
    let values: Vec<DeviceState> = (0..ops).map(state).collect();

    println!(
        "natskv vs raw async-nats, {ops} ops x {rounds} rounds, nats-server {}",
        server.version()
    );
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(
            measure(async {
                for (k, v) in keys.iter().zip(&values) {
                    devices.put(k, v).await.expect("put");
                }
            })
            .await,
        );
        raw.push(
            measure(async {
                for (i, v) in values.iter().enumerate() {
                    store.put(raw_key(i as u32), encode(v)).await.expect("put");
                }
            })
            .await,
        );
    }
    report("put (encode + write)", ops, &ours, &raw);

    // natskv's puts carry a message id (exactly-once); the server's deduplication is part of
    // their cost. The same work done raw: a publish with a fresh `Nats-Msg-Id`.
    let js = async_nats::jetstream::new(nats.get_ref().clone());
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(
            measure(async {
                for (k, v) in keys.iter().zip(&values) {
                    devices.put(k, v).await.expect("put");
                }
            })
            .await,
        );
        raw.push(
            measure(async {
                for (i, v) in values.iter().enumerate() {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Nats-Msg-Id", nuid::next().as_str());
                    let subject = format!("$KV.bench.{}", raw_key(i as u32));
                    js.publish_with_headers(subject, headers, encode(v))
                        .await
                        .expect("publish")
                        .await
                        .expect("ack");
                }
            })
            .await,
        );
    }
    report("put, both with a message id", ops, &ours, &raw);

    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(
            measure(async {
                for k in &keys {
                    assert!(devices.get(k).await.expect("get").is_some());
                }
            })
            .await,
        );
        raw.push(measure(raw_gets(&store, ops)).await);
    }
    report("get (read + decode)", ops, &ours, &raw);

    // Many keys at once: natskv's batch read against raw async-nats getting them one by one.
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(
            measure(async {
                let entries = devices.get_many(&keys).await.expect("get_many");
                assert!(entries.iter().all(|e| matches!(e, Ok(Some(_)))));
            })
            .await,
        );
        raw.push(measure(raw_gets(&store, ops)).await);
    }
    report("get_many vs one-by-one gets", ops, &ours, &raw);

    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(
            measure(async {
                let n = devices
                    .keys(KeyFilter::any())
                    .await
                    .expect("keys")
                    .try_collect::<Vec<_>>()
                    .await
                    .expect("keys");
                assert_eq!(n.len(), ops as usize);
            })
            .await,
        );
        raw.push(
            measure(async {
                let n = store
                    .keys()
                    .await
                    .expect("keys")
                    .try_collect::<Vec<String>>()
                    .await
                    .expect("keys");
                assert_eq!(n.len(), ops as usize);
            })
            .await,
        );
    }
    report("keys (all, streamed)", ops, &ours, &raw);

    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(
            // Boxed: the watch's future is larger than clippy's `large_futures` allows on the stack.
            Box::pin(measure(async {
                let mut watch = devices.watch(KeyFilter::any()).await.expect("watch");
                for _ in 0..ops {
                    let entry = watch.next().await.expect("an entry").expect("decoded");
                    assert!(entry.value.is_some());
                }
            }))
            .await,
        );
        raw.push(
            measure(async {
                // The latest value of every key, then updates: async-nats's `watch_all` is updates only.
                let mut watch = store.watch_with_history(">").await.expect("watch");
                for _ in 0..ops {
                    let entry = watch.next().await.expect("an entry").expect("an entry");
                    let value: DeviceState =
                        <MsgPack as Codec<DeviceState>>::decode(&entry.value).expect("decode");
                    assert!(value.battery < 100);
                }
            })
            .await,
        );
    }
    report("watch (replay + decode)", ops, &ours, &raw);

    codecs(if full { 200_000 } else { 100 });
}

/// The codecs on their own: natskv's against calling rmp-serde and serde_json directly.
fn codecs(ops: u32) {
    let value = state(7);
    let run = |f: &dyn Fn()| {
        let mut rounds: Vec<Cost> = Vec::new();
        for _ in 0..5 {
            let (bytes, allocations) = (
                ALLOCATED.load(Ordering::Relaxed),
                ALLOCATIONS.load(Ordering::Relaxed),
            );
            let start = Instant::now();
            for _ in 0..ops {
                f();
            }
            rounds.push(Cost {
                time: start.elapsed(),
                bytes: ALLOCATED.load(Ordering::Relaxed) - bytes,
                allocations: ALLOCATIONS.load(Ordering::Relaxed) - allocations,
            });
        }
        rounds
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
    report("codec msgpack (vs rmp-serde)", ops, &ours, &raw);
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
    report("codec json (vs serde_json)", ops, &ours, &raw);
}
