//! Retry policies: how a read-modify-write retries a lost compare-and-set ([`RetryPolicy`]),
//! how a write is resent when the server did not answer it ([`WriteRetry`]), and the jittered
//! exponential backoff both use.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Full-jitter exponential backoff: the `n`-th pause (1 for the first) is drawn from
/// `0..=min(max, base * 2^(n-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    fn delay(self, n: u32) -> Duration {
        let bound = self
            .base
            .saturating_mul(1 << n.saturating_sub(1).min(16))
            .min(self.max);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(jitter() % nanos.saturating_add(1))
    }
}

/// A cheap random number: std's randomly keyed hasher over the clock. Good enough to spread
/// retries; not for anything else.
fn jitter() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.finish()
}

/// How a read-modify-write retries after losing a compare-and-set race: at most
/// [`attempts`](Self::attempts) tries, sleeping a random time up to an exponentially growing
/// bound between two (full jitter: `0..=min(max_delay, base_delay * 2^n)`).
///
/// The default is 32 attempts, from 2 ms up to 250 ms.
///
/// ```
/// use std::time::Duration;
/// let patient = natskv::RetryPolicy::default().attempts(100).max_delay(Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 32,
            backoff: Backoff {
                base: Duration::from_millis(2),
                max: Duration::from_millis(250),
            },
        }
    }
}

impl RetryPolicy {
    /// At most `attempts` compare-and-sets (at least one).
    #[must_use]
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The bound of the first sleep; it doubles after each lost race.
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.backoff.base = delay;
        self
    }

    /// The largest bound a sleep can reach.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.backoff.max = delay;
        self
    }

    /// The most compare-and-sets.
    pub(crate) fn max_attempts(self) -> u32 {
        self.attempts
    }

    /// The sleep after the `lost`-th lost race (1 for the first).
    pub(crate) fn delay(self, lost: u32) -> Duration {
        self.backoff.delay(lost)
    }
}

/// How a write is resent when the server does not answer it, so that a leader election or a
/// node restart gives the caller one answer rather than an error.
///
/// Every natskv write (put, create, update, delete, purge, revert, the TTL variants and the
/// writes of `update_with`) carries a unique message id (`Nats-Msg-Id`). An attempt that gets
/// no answer within [`ack_wait`](Self::ack_wait), or that nobody takes (no responders: the
/// bucket's leader is being elected), is sent again with the same id after a short jittered
/// pause, until an answer comes or [`timeout`](Self::timeout) runs out. The server keeps the ids
/// it stored for the bucket's duplicate window and answers a copy of a stored write with the
/// original revision, so a write whose first copy landed is not applied twice: the caller gets
/// the one revision it was stored at. Because that holds only within the duplicate window, the
/// retry horizon is the shorter of `timeout` and the bucket's duplicate window (read from the
/// stream's configuration; natskv creates buckets with 2 minutes, or the TTL when shorter).
///
/// Compare-and-set writes keep their meaning: a copy of our own write that already landed is
/// success, never a lost race, whichever order the server checks the id and the expected
/// revision in.
///
/// When the horizon runs out the write fails with [`Error::Unavailable`](crate::Error) (nobody
/// took it) or [`Error::Timeout`](crate::Error) (it went unanswered), whose `may_have_applied`
/// says whether an earlier attempt may have landed.
///
/// The default waits 1 s for each acknowledgement (rather than the JetStream context's 5 s, so
/// a dead leader does not stall the caller; a shorter context timeout still applies), retries
/// for up to 15 s in all (long enough for a leader election after a crashed node, which
/// nats-server's Raft starts 4 to 9 s after the last heartbeat), and pauses from 20 ms up to
/// 500 ms between attempts.
///
/// ```no_run
/// # async fn demo(nats: natskv::async_nats::Client) -> natskv::Result<()> {
/// use std::time::Duration;
/// use natskv::{Bucket, WriteRetry};
/// let bucket = Bucket::open_name(&nats, "orders").await?
///     .with_write_retry(WriteRetry::default().timeout(Duration::from_secs(30)));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRetry {
    ack_wait: Duration,
    timeout: Duration,
    backoff: Backoff,
}

impl Default for WriteRetry {
    fn default() -> Self {
        WriteRetry {
            ack_wait: Duration::from_secs(1),
            timeout: Duration::from_secs(15),
            backoff: Backoff {
                base: Duration::from_millis(20),
                max: Duration::from_millis(500),
            },
        }
    }
}

impl WriteRetry {
    /// One attempt, never resent: a write the server does not take or answer within
    /// [`ack_wait`](Self::ack_wait) fails at once.
    #[must_use]
    pub fn once() -> Self {
        WriteRetry::default().timeout(Duration::ZERO)
    }

    /// How long one attempt waits for the server's acknowledgement before it is sent again
    /// (at least 1 ms). The JetStream context's timeout, when shorter, bounds it too.
    #[must_use]
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait.max(Duration::from_millis(1));
        self
    }

    /// How long a write may keep trying, attempts and pauses included; no attempt is started
    /// after it, and the last one waits only for what is left of it (the first attempt always
    /// waits its full [`ack_wait`](Self::ack_wait)). Capped by the bucket's duplicate window.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bound of the first pause between two attempts; it doubles after each attempt.
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.backoff.base = delay;
        self
    }

    /// The largest bound a pause can reach.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.backoff.max = delay;
        self
    }

    /// The wait for each acknowledgement.
    pub fn ack_wait_value(&self) -> Duration {
        self.ack_wait
    }

    /// The total time a write may keep trying, before the duplicate-window cap.
    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }

    /// Starts the clock of one write whose bucket keeps message ids for `duplicate_window`.
    pub(crate) fn start(self, duplicate_window: Duration) -> Resend {
        let horizon = self.timeout.min(duplicate_window);
        let now = Instant::now();
        Resend {
            policy: self,
            started: now,
            deadline: now + horizon,
            attempts: 0,
        }
    }
}

/// The clock and count of one write's attempts under a [`WriteRetry`].
#[derive(Debug)]
pub(crate) struct Resend {
    policy: WriteRetry,
    started: Instant,
    deadline: Instant,
    attempts: u32,
}

impl Resend {
    /// How long the next attempt waits for its acknowledgement: `ack_wait`, or what is left of
    /// the horizon when that is shorter (never less than 1 ms, and the whole `ack_wait` for the
    /// first attempt).
    pub(crate) fn next_ack_wait(&mut self) -> Duration {
        self.ack_wait_at(Instant::now())
    }

    fn ack_wait_at(&mut self, now: Instant) -> Duration {
        self.attempts += 1;
        if self.attempts == 1 {
            return self.policy.ack_wait;
        }
        let left = self.deadline.saturating_duration_since(now);
        self.policy.ack_wait.min(left).max(Duration::from_millis(1))
    }

    /// Pauses before the next attempt; `false`, without pausing, when the horizon does not
    /// leave room for one.
    pub(crate) async fn pause(&self) -> bool {
        match self.next_pause() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            None => false,
        }
    }

    /// The pause before the next attempt, for a caller that waits on several writes at once;
    /// `None` when the horizon does not leave room for one.
    pub(crate) fn next_pause(&self) -> Option<Duration> {
        self.pause_at(Instant::now())
    }

    fn pause_at(&self, now: Instant) -> Option<Duration> {
        let delay = self.policy.backoff.delay(self.attempts);
        (now + delay < self.deadline).then_some(delay)
    }

    /// How many attempts were made.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How long the write has been trying.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_bounded() {
        let policy = RetryPolicy::default()
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_millis(50));
        for lost in 1..40 {
            let bound = Duration::from_millis(10 * (1 << (lost - 1).min(16)))
                .min(Duration::from_millis(50));
            assert!(policy.delay(lost) <= bound);
        }
        assert_eq!(RetryPolicy::default().attempts(0).attempts, 1);
        assert_eq!(
            RetryPolicy::default().base_delay(Duration::ZERO).delay(3),
            Duration::ZERO
        );
    }

    #[test]
    fn jitter_varies() {
        let draws: std::collections::HashSet<u64> = (0..16).map(|_| jitter()).collect();
        assert!(draws.len() > 8);
    }

    #[test]
    fn the_horizon_is_capped_by_the_duplicate_window() {
        let policy = WriteRetry::default()
            .ack_wait(Duration::from_millis(300))
            .timeout(Duration::from_secs(60))
            .base_delay(Duration::ZERO);
        let mut resend = policy.start(Duration::from_secs(1));
        let t0 = resend.started;
        assert_eq!(resend.ack_wait_at(t0), Duration::from_millis(300));
        assert_eq!(
            resend.pause_at(t0 + Duration::from_millis(800)),
            Some(Duration::ZERO)
        );
        // Only 200 ms of the 1 s window are left.
        assert_eq!(
            resend.ack_wait_at(t0 + Duration::from_millis(800)),
            Duration::from_millis(200)
        );
        assert_eq!(resend.pause_at(t0 + Duration::from_secs(1)), None);
        assert_eq!(resend.attempts(), 2);
    }

    #[test]
    fn once_is_one_full_attempt() {
        let mut resend = WriteRetry::once()
            .ack_wait(Duration::from_millis(700))
            .start(Duration::from_secs(120));
        let t0 = resend.started;
        assert_eq!(resend.ack_wait_at(t0), Duration::from_millis(700));
        assert_eq!(resend.pause_at(t0), None);
    }
}
