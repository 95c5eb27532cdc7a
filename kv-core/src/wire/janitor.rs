//! Removing the server-side consumers that dropped readers leave behind, without needing a
//! runtime where they are dropped.
//!
//! Every [`Bucket`](crate::Bucket) handle owns one janitor: a background task started when the
//! handle is built (inside the runtime that builds it) and fed through an unbounded channel,
//! whose send is synchronous. A reader holds a [`Lease`] on its consumer; dropping the lease
//! while it is armed hands the consumer's name to the janitor, which deletes it at once. The
//! task drains what it was given and ends when the last handle and the last lease are gone.

use std::fmt;

use async_nats::jetstream::stream::{ConsumerErrorKind, Stream};
use futures::future::join_all;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How many deletions the janitor runs at the same time.
const PARALLEL: usize = 64;

/// The sending side of a bucket's janitor: cheap to clone, and a send never blocks.
#[derive(Clone)]
pub(crate) struct Janitor {
    tx: UnboundedSender<String>,
}

impl fmt::Debug for Janitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Janitor").finish_non_exhaustive()
    }
}

impl Janitor {
    /// Starts the janitor of `stream` on the current tokio runtime. Without a runtime (which
    /// async-nats itself needs, so only in odd setups) nothing is started, and leftover
    /// consumers are left to the server's inactivity threshold.
    pub(crate) fn start(stream: Stream) -> Janitor {
        let (tx, rx) = unbounded_channel();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(run(stream, rx));
        }
        Janitor { tx }
    }

    /// A lease on the consumer named `name`, armed: dropping it deletes the consumer.
    pub(crate) fn lease(&self, name: String) -> Lease {
        Lease {
            name: Some(name),
            janitor: self.clone(),
        }
    }
}

async fn run(stream: Stream, mut rx: UnboundedReceiver<String>) {
    let mut names = Vec::with_capacity(PARALLEL);
    while rx.recv_many(&mut names, PARALLEL).await > 0 {
        join_all(names.drain(..).map(|name| delete(&stream, name))).await;
    }
}

/// Deletes one consumer, and says whether the server answered: a consumer already gone is
/// what we wanted, and a refusal would not change on a retry. Best effort: what is left is
/// removed by the server's inactivity threshold.
pub(crate) async fn delete(stream: &Stream, name: String) -> bool {
    match stream.delete_consumer(&name).await {
        Ok(_) => true,
        Err(error) => {
            tracing::debug!(consumer = %name, %error, "could not delete a consumer");
            matches!(error.kind(), ConsumerErrorKind::JetStream(_))
        }
    }
}

/// A reader's claim on one server-side consumer. Dropped while armed, it has the janitor
/// delete the consumer; [`release`](Self::release) disarms it once the reader deleted the
/// consumer itself.
#[derive(Debug)]
pub(crate) struct Lease {
    /// The consumer's current name; `None` once released.
    name: Option<String>,
    janitor: Janitor,
}

impl Lease {
    /// The consumer's name, until the lease is released.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Follows a consumer that was replaced by another of another name.
    pub(crate) fn rename(&mut self, name: &str) {
        if let Some(current) = &mut self.name
            && current != name
        {
            name.clone_into(current);
        }
    }

    /// Disarms the lease and returns the name, for a reader that deletes the consumer itself.
    pub(crate) fn release(&mut self) -> Option<String> {
        self.name.take()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            // Fails only when the janitor is gone (its runtime shut down): then the server's
            // inactivity threshold removes the consumer.
            let _ = self.janitor.tx.send(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn janitor() -> (Janitor, UnboundedReceiver<String>) {
        let (tx, rx) = unbounded_channel();
        (Janitor { tx }, rx)
    }

    #[test]
    fn a_dropped_lease_hands_its_consumer_over_without_a_runtime() {
        let (janitor, mut rx) = janitor();
        assert!(tokio::runtime::Handle::try_current().is_err());
        drop(janitor.lease("a".to_owned()));
        let mut renamed = janitor.lease("b".to_owned());
        renamed.rename("b_1");
        drop(renamed);
        assert_eq!(rx.try_recv().ok().as_deref(), Some("a"));
        assert_eq!(rx.try_recv().ok().as_deref(), Some("b_1"));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_released_lease_hands_nothing_over() {
        let (janitor, mut rx) = janitor();
        let mut lease = janitor.lease("a".to_owned());
        assert_eq!(lease.release().as_deref(), Some("a"));
        assert_eq!(lease.name(), None);
        lease.rename("a_1");
        assert_eq!(lease.name(), None, "a released lease follows no rename");
        drop(lease);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn without_its_task_a_lease_still_drops_quietly() {
        let (janitor, rx) = janitor();
        drop(rx);
        drop(janitor.lease("a".to_owned()));
    }
}
