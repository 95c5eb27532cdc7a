//! Leader election with a per-key TTL (ADR-48): the first `create` wins the lock, which expires
//! on its own if the leader stops renewing it; the next candidate's `create` then wins.
//!
//! ```sh
//! cargo run --example leader_lock
//! ```
//!
//! It connects to `NATS_URL` when that is set (a nats-server 2.11 or newer); otherwise it
//! starts a local nats-server and stops it at the end.

use std::error::Error;
use std::time::Duration;

use natskv::{ErrorKind, KvBucket, MsgPack, PerKeyTtl, Single};

/// Locks live in a bucket declared with limit markers: only there do the per-key TTL methods
/// exist (a `PerKeyTtl` family in a bucket without them does not compile).
#[derive(KvBucket, Debug)]
#[kv(bucket = "election", history = 1, limit_markers = "1s")]
pub struct Election {
    /// The current leader's name, held for a few seconds at a time.
    #[kv(key = "leader")]
    pub leader: Single<String, MsgPack, PerKeyTtl>,
}

const LEASE: Duration = Duration::from_secs(2);

/// Tries to become leader; `Ok(false)` when someone else holds the lock.
async fn campaign(election: &Election, me: &str) -> natskv::Result<bool> {
    match election.leader.create_with_ttl(&me.to_owned(), LEASE).await {
        Ok(revision) => {
            println!("{me}: I am the leader (revision {revision})");
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::WrongRevision => {
            let holder = election.leader.value().await?.unwrap_or_default();
            println!("{me}: {holder} leads, I wait");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Use the server in NATS_URL, or start one for the length of the example.
    let (nats, _server) = natskv::server::connect_or_start(std::env::var("NATS_URL").ok()).await?;
    let election = Election::ensure(&nats).await?;

    assert!(
        campaign(&election, "alice").await?,
        "the first candidate wins"
    );
    assert!(!campaign(&election, "bob").await?, "the lock is held");

    // Alice stops renewing: her lease runs out and the server removes the lock.
    let started = tokio::time::Instant::now();
    while election.leader.get().await?.is_some() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the lease did not expire".into());
        }
    }
    println!("the lease expired after {:.1?}", started.elapsed());
    assert!(campaign(&election, "bob").await?, "the next candidate wins");

    // A TTL under one second is refused, not rounded to zero.
    let err = election
        .leader
        .create_with_ttl(&"carol".to_owned(), Duration::from_millis(300))
        .await;
    println!(
        "a 300ms lease: {}",
        err.map_or_else(|e| e.to_string(), |r| format!("revision {r}"))
    );

    Election::delete(&nats).await?;
    Ok(())
}
