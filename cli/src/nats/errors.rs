//! Which [`ErrorKind`] an async-nats error is: the cause chain is searched for the errors that
//! say "not found", "timed out" or "refused".

use std::error::Error as StdError;

use async_nats::jetstream::context::{
    CreateKeyValueError, CreateKeyValueErrorKind, GetStreamError, GetStreamErrorKind,
    KeyValueError, KeyValueErrorKind, PublishError, PublishErrorKind, RequestError,
    RequestErrorKind,
};
use async_nats::jetstream::stream::{
    ConsumerError, ConsumerErrorKind, LastRawMessageError, LastRawMessageErrorKind,
};
use async_nats::jetstream::{self, ErrorCode};
use async_nats::{ConnectError, ConnectErrorKind};

use crate::error::{BoxError, Error, ErrorKind};

/// An error of the command for `error`, with `message` saying what failed.
pub(super) fn wire(message: impl Into<String>, error: impl Into<BoxError>) -> Error {
    let error = error.into();
    let kind = classify(error.as_ref());
    Error::with_source(kind, message, error)
}

/// The kind of the first error in the chain that tells.
fn classify(error: &(dyn StdError + 'static)) -> ErrorKind {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(kind) = kind_of(error) {
            return kind;
        }
        next = error.source();
    }
    ErrorKind::Server
}

fn api(error: &jetstream::Error) -> ErrorKind {
    match error.error_code() {
        ErrorCode::STREAM_NOT_FOUND | ErrorCode::NO_MESSAGE_FOUND => ErrorKind::NotFound,
        _ => ErrorKind::Server,
    }
}

fn request(kind: RequestErrorKind) -> Option<ErrorKind> {
    match kind {
        RequestErrorKind::TimedOut => Some(ErrorKind::Connection),
        _ => None,
    }
}

fn kind_of(error: &(dyn StdError + 'static)) -> Option<ErrorKind> {
    if let Some(e) = error.downcast_ref::<jetstream::Error>() {
        return Some(api(e));
    }
    if let Some(e) = error.downcast_ref::<ConnectError>() {
        return Some(match e.kind() {
            ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                ErrorKind::Permission
            }
            ConnectErrorKind::ServerParse => ErrorKind::Usage,
            _ => ErrorKind::Connection,
        });
    }
    if let Some(e) = error.downcast_ref::<RequestError>() {
        return request(e.kind());
    }
    if let Some(e) = error.downcast_ref::<GetStreamError>() {
        return match e.kind() {
            GetStreamErrorKind::JetStream(e) => Some(api(&e)),
            GetStreamErrorKind::Request => None,
            GetStreamErrorKind::EmptyName | GetStreamErrorKind::InvalidStreamName => {
                Some(ErrorKind::Usage)
            }
        };
    }
    if let Some(e) = error.downcast_ref::<KeyValueError>() {
        return match e.kind() {
            KeyValueErrorKind::InvalidStoreName => Some(ErrorKind::Usage),
            _ => None,
        };
    }
    if let Some(e) = error.downcast_ref::<CreateKeyValueError>() {
        return match e.kind() {
            CreateKeyValueErrorKind::InvalidStoreName => Some(ErrorKind::Usage),
            CreateKeyValueErrorKind::TimedOut => Some(ErrorKind::Connection),
            _ => None,
        };
    }
    if let Some(e) = error.downcast_ref::<LastRawMessageError>() {
        return match e.kind() {
            LastRawMessageErrorKind::NoMessageFound => Some(ErrorKind::NotFound),
            LastRawMessageErrorKind::JetStream(e) => Some(api(&e)),
            LastRawMessageErrorKind::InvalidSubject => Some(ErrorKind::Usage),
            LastRawMessageErrorKind::Other => None,
        };
    }
    if let Some(e) = error.downcast_ref::<ConsumerError>() {
        return match e.kind() {
            ConsumerErrorKind::TimedOut | ConsumerErrorKind::Request => Some(ErrorKind::Connection),
            ConsumerErrorKind::JetStream(e) => Some(api(&e)),
            _ => None,
        };
    }
    if let Some(e) = error.downcast_ref::<PublishError>() {
        return match e.kind() {
            PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => {
                Some(ErrorKind::Connection)
            }
            PublishErrorKind::StreamNotFound => Some(ErrorKind::NotFound),
            PublishErrorKind::MaxPayloadExceeded => Some(ErrorKind::Usage),
            _ => None,
        };
    }
    None
}
