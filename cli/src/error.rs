//! The command's one error type: what went wrong, in one line, and the exit code of its kind.

use std::error::Error as StdError;
use std::fmt;

/// A boxed cause, kept in [`Error`]'s `source()`.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of the command.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong; each kind is one exit code (the table in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// Bad arguments or bad input: an invalid key, bucket name or JSON, a malformed load line.
    Usage,
    /// The bucket, key or revision does not exist.
    NotFound,
    /// The server cannot be reached, or did not answer in time.
    Connection,
    /// The server refused the credentials or the operation.
    Permission,
    /// The server answered with another error.
    Server,
    /// A local file or the output could not be read or written.
    Io,
}

impl ErrorKind {
    /// The process exit code of this kind.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Self::Usage => 1,
            Self::NotFound => 2,
            Self::Connection => 3,
            Self::Permission => 4,
            Self::Server => 5,
            Self::Io => 6,
        }
    }
}

/// An error of the command: a kind, what failed at this layer, and the cause.
#[derive(Debug)]
pub(crate) struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<BoxError>,
}

impl Error {
    /// An error without a cause.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`.
    pub(crate) fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The error with `note` after its message (`permission denied (the server's words)`).
    pub(crate) fn with_note(mut self, note: impl AsRef<str>) -> Self {
        self.message = format!("{} ({})", self.message, note.as_ref().trim());
        self
    }

    /// Bad arguments or input.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// A local read or write that failed.
    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self::with_source(ErrorKind::Io, message, source)
    }

    /// What went wrong.
    pub(crate) fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether this is a write to a closed pipe (`natskv keys b | head`): not worth a message.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.source
            .as_ref()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The message and every cause, on one line: `get `a`: timed out: ...`.
    pub(crate) fn one_line(&self) -> String {
        let mut line = self.message.clone();
        let mut cause = self.source();
        while let Some(error) = cause {
            let text = error.to_string();
            // async-nats repeats a cause in its own Display now and then.
            if !text.is_empty() && !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = error.source();
        }
        line.replace('\n', " ")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
