//! What natskv tells `tracing`: one span per operation, and events for what an operator wants
//! to know about (writes resent, watches resumed, consumers recreated, reconnects).
//!
//! Every operation runs in an `INFO` span named `natskv` with the fields `bucket`, `op` (`get`,
//! `put`, `update`, `commit`, ...), `key` (when there is one), and, once it ends, `revision`,
//! `outcome` (`ok` or the error's kind) and `retries` (attempts after the first). Events:
//! - `INFO` `write resent`: a write nobody answered, sent again with its message id;
//! - `INFO` `unanswered commit found stored`: a transaction's commit went unanswered, and its
//!   batch id was then found stored (the commit succeeds);
//! - `INFO` `watch resumed`: a watch's consumer stopped and was recreated after the last
//!   revision delivered;
//! - `INFO` `consumer recreated`: async-nats recreated an ordered consumer (after a reconnect);
//! - `INFO` `connection event`: the client disconnected, reconnected, or was told something by
//!   the server (with `natskv::connect`);
//! - `WARN` when a watch or cache loses something it cannot get back, `DEBUG` for the rest.
//!
//! Spans cost nothing measurable without a subscriber, and their fields are only computed when
//! one is interested.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use tracing::field::Empty;
use tracing::instrument::Instrumented;
use tracing::{Instrument, Span};

use crate::error::{Error, Result};

/// The span of one operation on `bucket`.
pub(crate) fn operation(bucket: &str, op: &'static str, key: Option<&str>) -> Span {
    tracing::info_span!(
        target: "natskv",
        "natskv",
        bucket,
        op,
        key,
        revision = Empty,
        outcome = Empty,
        retries = Empty
    )
}

/// Records how an operation ended on its span: the revision it returned (for a write) and its
/// outcome.
pub(crate) fn finish<T>(span: &Span, result: &Result<T>, revision: impl FnOnce(&T) -> Option<u64>) {
    if span.is_disabled() {
        return;
    }
    match result {
        Ok(value) => {
            if let Some(revision) = revision(value) {
                span.record("revision", revision);
            }
            span.record("outcome", "ok");
        }
        Err(error) => record_error(span, error),
    }
}

fn record_error(span: &Span, error: &Error) {
    span.record("outcome", tracing::field::debug(error.kind()));
    if let Some(revision) = error.revision() {
        span.record("revision", revision);
    }
}

/// Records the attempts after the first on the current operation's span.
pub(crate) fn retries(retries: u32) {
    if retries > 0 {
        Span::current().record("retries", retries);
    }
}

/// Runs `operation` in the span of `op` on `bucket` (and `key`), recording its outcome and the
/// revision `revision` picks out of a success. A plain future around `operation` (not an
/// `async fn`, which would keep a second copy of it in its state).
pub(crate) fn traced<T, F, R>(
    bucket: &str,
    op: &'static str,
    key: Option<&str>,
    revision: R,
    operation: F,
) -> Traced<F, R>
where
    F: Future<Output = Result<T>>,
    R: FnOnce(&T) -> Option<u64>,
{
    let span = self::operation(bucket, op, key);
    Traced {
        inner: operation.instrument(span.clone()),
        span,
        revision: Some(revision),
    }
}

pin_project_lite::pin_project! {
    /// An operation running in its span; see [`traced`].
    pub(crate) struct Traced<F, R> {
        #[pin]
        inner: Instrumented<F>,
        span: Span,
        revision: Option<R>,
    }
}

impl<T, F, R> Future for Traced<F, R>
where
    F: Future<Output = Result<T>>,
    R: FnOnce(&T) -> Option<u64>,
{
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<T>> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some(revision) = this.revision.take() {
            finish(this.span, &result, revision);
        }
        Poll::Ready(result)
    }
}
