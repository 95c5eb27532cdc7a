//! Live configuration: every service reads its settings from a local cache that a watch keeps
//! current, and an operator changes them with compare-and-set.
//!
//! ```text
//! cargo run --example live_config                     # starts its own nats-server
//! NATS_URL=nats://127.0.0.1:4222 cargo run --example live_config
//! ```

use std::time::Duration;

use futures::TryStreamExt;
use natskv::{Bucket, BucketSpec, Family, KeyFilter, WatchEvent};
use serde::{Deserialize, Serialize};

/// The settings of one service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Settings {
    log_level: String,
    max_connections: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Use the server in NATS_URL, or start one for the length of the example.
    let (nats, _server) = natskv::server::connect_or_start(std::env::var("NATS_URL").ok()).await?;
    let bucket = Bucket::ensure(&nats, &BucketSpec::new("live_config").history(5)).await?;
    let settings: Family<String, Settings> = Family::bind(&bucket, "service.{name}")?;

    let api = "api".to_owned();
    let initial = Settings {
        log_level: "info".into(),
        max_connections: 100,
    };
    settings.put(&api, &initial).await?;
    settings.put(&"billing".to_owned(), &initial).await?;

    // The live cache: a HashMap<String, Settings>, warm once initialized.
    let live = settings.cache().await?;
    tokio::time::timeout(Duration::from_secs(10), live.initialized()).await??;
    println!("{} services configured", live.len());

    // An audit trail: every change from now on, values left out.
    let mut audit = settings
        .watch_with(KeyFilter::any())
        .updates_only()
        .meta_only()
        .start()
        .await?
        .events();

    // An operator doubles the api's connection limit; a lost race is retried.
    let mut changes = live.changes();
    let done = settings
        .update_with(&api, |s| s.max_connections *= 2)
        .await?
        .ok_or("api has no settings")?;
    println!(
        "wrote max_connections = {} at revision {}",
        done.value.max_connections, done.revision
    );

    // The cache catches up on its own.
    while live.get(&api).map(|s| s.max_connections) != Some(200) {
        tokio::time::timeout(Duration::from_secs(10), changes.changed()).await??;
    }
    println!("cache now has {:?}", live.get(&api));

    // The audit watch saw it too.
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), audit.try_next()).await??;
        match event {
            Some(WatchEvent::Initialized) => println!("audit: watching"),
            Some(WatchEvent::Entry(entry)) => {
                println!(
                    "audit: {} {:?} at revision {}",
                    entry.key, entry.operation, entry.revision
                );
                break;
            }
            None => break,
        }
    }
    audit.stop().await;
    Bucket::delete(&nats, "live_config").await?;
    Ok(())
}
