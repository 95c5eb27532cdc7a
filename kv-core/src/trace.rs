//! What natskv tells `tracing`: one span per operation, and events for what an operator wants
//! to know about (writes resent, watches resumed, consumers recreated, reconnects).
//!
//! Every operation runs in an `INFO` span named `natskv` with the fields `bucket`, `op` (`get`,
//! `put`, `update`, `commit`, ...), `key` (when there is one), and, once it ends, `revision`,
//! `outcome` (`ok` or the error's kind) and `retries` (attempts after the first). Events:
//! - `INFO` `write resent`: a write nobody answered, sent again with its message id;
//! - `INFO` `watch resumed`: a watch's consumer stopped and was recreated after the last
//!   revision delivered;
//! - `INFO` `connection event`: the client disconnected, reconnected, or was told something by
//!   the server (with `natskv::connect`);
//! - `WARN` when a watch or cache loses something it cannot get back, `DEBUG` for the rest.
//!
//! Spans cost nothing measurable without a subscriber, and their fields are only computed when
//! one is interested.

use tracing::Span;
use tracing::field::Empty;

use crate::error::{Error, Result};

/// The span of one operation on `bucket`.
pub(crate) fn operation(bucket: &str, op: &'static str, key: Option<&str>) -> Span {
    tracing::info_span!(
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
pub(crate) fn retries(span: &Span, retries: u32) {
    if retries > 0 {
        span.record("retries", retries);
    }
}
