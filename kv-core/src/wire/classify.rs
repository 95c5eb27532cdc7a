//! Turns async-nats errors into [`Error`]s in Key/Value words.

use std::error::Error as StdError;

use async_nats::jetstream::Error as ApiError;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{
    CreateStreamError, CreateStreamErrorKind, GetStreamError, GetStreamErrorKind, RequestError,
    RequestErrorKind,
};
use async_nats::jetstream::stream::{
    ConsumerError, ConsumerErrorKind, RawMessageError, RawMessageErrorKind,
};

use crate::error::{BoxError, Error};

/// JetStream error code of a lost `Nats-Expected-Last-Subject-Sequence` check.
pub(crate) const WRONG_LAST_SEQUENCE: u64 = 10071;
/// JetStream error code of a lost expected-sequence check with a constant (server 2.11+).
pub(crate) const WRONG_LAST_SEQUENCE_CONSTANT: u64 = 10164;
/// JetStream error code of a message larger than the stream's `max_msg_size`.
const MESSAGE_TOO_LARGE: u64 = 10054;

/// What was being done when an error happened: names the bucket and the operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op<'a> {
    pub(crate) bucket: &'a str,
    pub(crate) operation: &'static str,
    /// Whether the operation writes, so a timeout may have applied it.
    pub(crate) write: bool,
}

impl<'a> Op<'a> {
    pub(crate) fn read(bucket: &'a str, operation: &'static str) -> Self {
        Op {
            bucket,
            operation,
            write: false,
        }
    }

    pub(crate) fn write(bucket: &'a str, operation: &'static str) -> Self {
        Op {
            bucket,
            operation,
            write: true,
        }
    }
}

/// The JetStream API error somewhere in `err`'s source chain, or held in its kind.
pub(crate) fn api_error<'e>(err: &'e (dyn StdError + 'static)) -> Option<&'e ApiError> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(api) = e.downcast_ref::<ApiError>() {
            return Some(api);
        }
        current = e.source();
    }
    None
}

/// The JetStream error code somewhere in `err`, if the server gave one.
pub(crate) fn api_code(err: &(dyn StdError + 'static)) -> Option<u64> {
    api_error(err).map(|e| e.error_code().0)
}

/// Whether `err` is a lost compare-and-set.
pub(crate) fn is_wrong_revision(err: &(dyn StdError + 'static)) -> bool {
    use async_nats::jetstream::context::{PublishError, PublishErrorKind};
    if let Some(e) = err.downcast_ref::<PublishError>()
        && e.kind() == PublishErrorKind::WrongLastSequence
    {
        return true;
    }
    matches!(
        api_code(err),
        Some(WRONG_LAST_SEQUENCE | WRONG_LAST_SEQUENCE_CONSTANT)
    )
}

/// The key's current revision, as the server gave it when it refused a compare-and-set
/// (`wrong last sequence: 7`, code 10071); `None` when the answer does not say.
pub(crate) fn current_revision(err: &(dyn StdError + 'static)) -> Option<u64> {
    let api = api_error(err).filter(|api| api.error_code().0 == WRONG_LAST_SEQUENCE)?;
    let text = description(api);
    text.rsplit_once(':')?.1.trim().parse().ok()
}

/// async-nats errors that keep the server's error in their kind rather than in `source()`.
pub(crate) trait ApiKind: StdError + Send + Sync + Sized + 'static {
    /// The server's error, if the kind holds one.
    fn api(&self) -> Option<ApiError>;
}

impl ApiKind for GetStreamError {
    fn api(&self) -> Option<ApiError> {
        match self.kind() {
            GetStreamErrorKind::JetStream(api) => Some(api),
            _ => None,
        }
    }
}

impl ApiKind for CreateStreamError {
    fn api(&self) -> Option<ApiError> {
        match self.kind() {
            CreateStreamErrorKind::JetStream(api) => Some(api),
            _ => None,
        }
    }
}

impl ApiKind for ConsumerError {
    fn api(&self) -> Option<ApiError> {
        match self.kind() {
            ConsumerErrorKind::JetStream(api) => Some(api),
            _ => None,
        }
    }
}

impl ApiKind for RawMessageError {
    fn api(&self) -> Option<ApiError> {
        match self.kind() {
            RawMessageErrorKind::JetStream(api) => Some(api),
            _ => None,
        }
    }
}

/// Maps an error of the stream and consumer APIs, reading the server's error from its kind.
pub(crate) fn classify_api<E: ApiKind>(op: Op<'_>, err: E) -> Error {
    match err.api() {
        Some(api) => ApiShape::of(&api).into_error(op, Box::new(err)),
        None => classify(op, err),
    }
}

/// The server's description, without the codes async-nats appends to it.
fn description(api: &ApiError) -> String {
    let text = api.to_string();
    match text.rfind(" (code ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Maps any async-nats error: looks for a server error code first, then for timeouts, missing
/// responders (no JetStream) and broken connections.
pub(crate) fn classify<E>(op: Op<'_>, err: E) -> Error
where
    E: StdError + Send + Sync + 'static,
{
    if let Some(api) = api_error(&err).map(ApiShape::of) {
        return api.into_error(op, Box::new(err));
    }
    let text = chain_text(&err);
    let no_responders = no_responders(&err);
    let boxed: BoxError = Box::new(err);
    if no_responders {
        // Nobody took the request. That alone says nothing about the bucket or JetStream:
        // `settle` decides from facts where a caller can afford to ask.
        unavailable(op, Some(boxed))
    } else if text.contains("timed out") || text.contains("timeout") {
        Error::Timeout {
            bucket: op.bucket.to_owned(),
            operation: op.operation,
            may_have_applied: op.write,
            source: Some(boxed),
        }
    } else if text.contains("no stream found") || text.contains("stream not found") {
        Error::BucketNotFound {
            bucket: op.bucket.to_owned(),
        }
    } else if text.contains("no responders") || text.contains("jetstream unavailable") {
        unavailable(op, Some(boxed))
    } else if text.contains("jetstream not enabled") {
        Error::JetStreamNotEnabled {
            source: Some(boxed),
        }
    } else if text.contains("permission") {
        Error::PermissionDenied {
            bucket: op.bucket.to_owned(),
            violation: None,
            source: Some(boxed),
        }
    } else if text.contains("broken pipe") || text.contains("disconnected") {
        Error::Connection {
            bucket: op.bucket.to_owned(),
            operation: op.operation,
            source: boxed,
        }
    } else {
        Error::Server {
            bucket: op.bucket.to_owned(),
            operation: op.operation,
            code: 0,
            description: text,
            source: Some(boxed),
        }
    }
}

fn unavailable(op: Op<'_>, source: Option<BoxError>) -> Error {
    Error::Unavailable {
        bucket: op.bucket.to_owned(),
        operation: op.operation,
        may_have_applied: false,
        source,
    }
}

/// How long [`settle`] waits for the facts it asks for.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Decides what an unanswered request ([`Error::Unavailable`]) means, from facts the server
/// gives: the bucket's stream info (missing: [`Error::BucketNotFound`]; there: the bucket is
/// only unavailable for now), and whether the server has JetStream at all. Any other error is
/// returned as it is. When the facts cannot be had either, the error stays `Unavailable`: we
/// do not know, and say so.
///
/// Boxed: it only runs on the error path, and must not grow the futures of the operations that
/// call it.
pub(crate) fn settle<'a>(
    js: &'a async_nats::jetstream::Context,
    op: Op<'a>,
    error: Error,
) -> futures::future::BoxFuture<'a, Error> {
    Box::pin(settle_facts(js, op, error))
}

async fn settle_facts(js: &async_nats::jetstream::Context, op: Op<'_>, error: Error) -> Error {
    if !matches!(error, Error::Unavailable { .. }) {
        return error;
    }
    let bucket_specific = !op.bucket.is_empty();
    if bucket_specific {
        let info = tokio::time::timeout(SETTLE_TIMEOUT, js.get_stream(format!("KV_{}", op.bucket)));
        match info.await {
            // The bucket is there: it only did not answer now.
            Ok(Ok(_)) => return error,
            Ok(Err(e)) => match classify_api(op, e) {
                found @ (Error::BucketNotFound { .. } | Error::JetStreamNotEnabled { .. }) => {
                    return found;
                }
                // The JetStream API did not answer either: ask the connection below.
                Error::Unavailable { .. } => {}
                _ => return error,
            },
            Err(_elapsed) => return error,
        }
    }
    if js.client().server_info().jetstream {
        error
    } else {
        // Nothing answered, and the server we are connected to says it has no JetStream.
        Error::JetStreamNotEnabled {
            source: Some(Box::new(error)),
        }
    }
}

/// The parts of a server error, taken out so the error itself can be moved into `source`.
struct ApiShape {
    code: ErrorCode,
    status: usize,
    text: String,
}

impl ApiShape {
    fn of(api: &ApiError) -> Self {
        ApiShape {
            code: api.error_code(),
            status: api.code(),
            text: description(api),
        }
    }

    fn into_error(self, op: Op<'_>, source: BoxError) -> Error {
        let bucket = op.bucket.to_owned();
        let source = Some(source);
        match self.code {
            ErrorCode::STREAM_NOT_FOUND => Error::BucketNotFound { bucket },
            ErrorCode::JETSTREAM_NOT_ENABLED | ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT => {
                Error::JetStreamNotEnabled { source }
            }
            ErrorCode::STREAM_NAME_EXIST => Error::BucketExists { bucket, source },
            ErrorCode(MESSAGE_TOO_LARGE) => Error::ValueTooLarge {
                bucket,
                key: String::new(),
                size: 0,
                limit: None,
                source,
            },
            _ if self.status == 403 => Error::PermissionDenied {
                bucket,
                violation: None,
                source,
            },
            code => Error::Server {
                bucket,
                operation: op.operation,
                code: code.0,
                description: self.text,
                source,
            },
        }
    }
}

/// Whether a request in `err`'s source chain found nobody listening.
fn no_responders(err: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let api = e.downcast_ref::<RequestError>().map(RequestError::kind);
        let core = e
            .downcast_ref::<async_nats::RequestError>()
            .map(async_nats::RequestError::kind);
        if api == Some(RequestErrorKind::NoResponders)
            || core == Some(async_nats::RequestErrorKind::NoResponders)
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Every message of the error chain, lower-cased, for the errors async-nats reports only as
/// kinds without a server code.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&e.to_string().to_lowercase());
        current = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u64, description: &str) -> ApiError {
        let json = format!(r#"{{"code":400,"err_code":{code},"description":"{description}"}}"#);
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn a_refused_compare_and_set_names_the_current_revision() {
        assert_eq!(
            current_revision(&api(WRONG_LAST_SEQUENCE, "wrong last sequence: 7")),
            Some(7)
        );
        assert_eq!(
            current_revision(&api(WRONG_LAST_SEQUENCE, "wrong last sequence: 0")),
            Some(0)
        );
        // Only that refusal says it.
        assert_eq!(
            current_revision(&api(WRONG_LAST_SEQUENCE_CONSTANT, "wrong last sequence")),
            None
        );
        assert_eq!(
            current_revision(&api(10070, "wrong last msg ID: abc")),
            None
        );
    }
}
