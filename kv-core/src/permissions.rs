//! Permission violations: ties the server's `-ERR 'Permissions Violation ...'` report to the
//! operation that caused it, so a denied operation ends at once with
//! [`Error::PermissionDenied`](crate::Error::PermissionDenied) instead of waiting for a timeout.
//!
//! A publish or a request the connection's permissions deny gets no answer: the server drops it
//! and reports the violation on the connection, which async-nats hands to the connection's event
//! callback. [`Violations`] is that callback's natskv half: one log per connection, found by the
//! buckets opened through a [`Guarded`] connection (the [`Connection`] trait carries it). Each
//! write and read of such a bucket races its answer against a violation for its own subject.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};

use async_nats::jetstream::Context;
use async_nats::{ConnectError, Event, ServerError, ToServerAddrs};
use pin_project_lite::pin_project;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use crate::bucket::Connection;
use crate::error::{Error, Result};

/// How many recent violations the log keeps for operations still waiting for their answer.
const LOG_CAPACITY: usize = 64;
/// The JetStream API prefix every domain's prefix is written back to (`$JS.<domain>.API.` ->
/// `$JS.API.`), so operations name API subjects without knowing the context's domain.
const API: &str = "$JS.API.";

/// A permission a connection can lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// Publishing to a subject: every write, and every request (a read is a request to the
    /// JetStream API).
    Publish,
    /// Subscribing to a subject: the connection's reply subjects (its inbox, `_INBOX.>` unless
    /// the options set another prefix) and the subjects watches deliver to. A publish whose reply
    /// subject the connection may not subscribe to is reported as this, on the reply subject.
    Subscribe,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Publish => "publish to",
            Permission::Subscribe => "subscribe to",
        })
    }
}

/// One permission violation the server reported on a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Violation {
    permission: Permission,
    subject: String,
}

impl Violation {
    /// The permission the connection lacks.
    pub fn permission(&self) -> Permission {
        self.permission
    }

    /// The subject the server refused, as it reported it.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Reads the server's report, as async-nats delivers it (the quotes around it trimmed):
    /// `Permissions Violation for Publish to "<subject>"`, `... for Subscription to "<subject>"`
    /// (perhaps followed by ` using queue "<queue>"`), `... for Publish with Reply of "<reply>"`.
    pub(crate) fn parse(text: &str) -> Option<Violation> {
        let what = text.strip_prefix("Permissions Violation for ")?;
        let (permission, quoted) = if let Some(rest) = what.strip_prefix("Publish to ") {
            (Permission::Publish, rest)
        } else if let Some(rest) = what.strip_prefix("Subscription to ") {
            (Permission::Subscribe, rest)
        } else {
            (
                Permission::Subscribe,
                what.strip_prefix("Publish with Reply of ")?,
            )
        };
        Some(Violation {
            permission,
            subject: unquote(quoted)?,
        })
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the connection may not {} `{}`",
            self.permission, self.subject
        )
    }
}

impl std::error::Error for Violation {}

/// The first double-quoted string of `text` (Go's `%q`), unescaped.
fn unquote(text: &str) -> Option<String> {
    let mut chars = text.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
}

/// The permission violations one connection's server reported: the log natskv operations on
/// that connection consult, so a denied one ends with
/// [`Error::PermissionDenied`](crate::Error::PermissionDenied) as soon as the report arrives.
///
/// [`connect`] sets everything up. With options of your own, install
/// [`callback`](Self::callback) (or [`callback_with`](Self::callback_with), which also calls
/// your own callback) as the options' event callback, connect, and [`attach`](Self::attach)
/// the client: open buckets through the [`Guarded`] connection it returns. One `Violations`
/// per connection: reports of one connection would otherwise be read as those of another.
///
/// A report matches an operation by its subject: the write's `$KV.<bucket>.<key>`, the read's
/// `$JS.API.DIRECT.GET...` (any JetStream domain; a context with a custom API prefix is not
/// recognised and times out as before). When the server refuses the connection's subscription
/// to its own inbox (`_INBOX.>` unless `ConnectOptions::custom_inbox_prefix` says otherwise),
/// no request on the connection can be answered: from then on every operation through it ends
/// with `PermissionDenied` naming that subscription. Connect as a user allowed to subscribe to
/// its inbox.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let violations = natskv::Violations::new();
/// let client = natskv::async_nats::ConnectOptions::new()
///     .user_and_password("reader".into(), "secret".into())
///     .event_callback(violations.callback_with(|event| async move {
///         println!("nats: {event}");
///     }))
///     .connect("nats://127.0.0.1:4222")
///     .await?;
/// let nats = violations.attach(client);
/// let orders = natskv::Bucket::open_name(&nats, "orders").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Violations {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Recent publish violations, numbered; the newest number is `epoch`.
    log: Mutex<VecDeque<(u64, Violation)>>,
    /// The number of the newest violation, read without the lock by operations starting.
    epoch: AtomicU64,
    /// Set for good when the connection may not subscribe to its own reply subjects: no request
    /// on it can be answered.
    replies_denied: OnceLock<Violation>,
    /// The connection's inbox prefix and a dot (`_INBOX.`), once attached.
    inbox: OnceLock<String>,
    /// Woken on every violation.
    notify: Notify,
}

impl fmt::Debug for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Violations")
            .field("reported", &self.shared.epoch.load(Ordering::Relaxed))
            .field("replies_denied", &self.shared.replies_denied.get())
            .finish_non_exhaustive()
    }
}

impl Violations {
    /// An empty log, for one connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `event` if it is a permission violation; ignores every other event. Call it
    /// from an event callback of your own when [`callback_with`](Self::callback_with) does not
    /// fit.
    ///
    /// Every event is also told to `tracing` (`INFO` `connection event`): disconnects,
    /// reconnects, slow consumers and what the server said.
    pub fn observe(&self, event: &Event) {
        tracing::info!(%event, "connection event");
        let Event::ServerError(ServerError::Other(text)) = event else {
            return;
        };
        let Some(violation) = Violation::parse(text) else {
            return;
        };
        let shared = &*self.shared;
        match violation.permission {
            Permission::Publish => {
                let mut log = shared
                    .log
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let number = shared.epoch.load(Ordering::Relaxed) + 1;
                if log.len() == LOG_CAPACITY {
                    log.pop_front();
                }
                log.push_back((number, canonical(violation)));
                shared.epoch.store(number, Ordering::Release);
            }
            Permission::Subscribe => {
                let inbox = shared.inbox.get().map_or("_INBOX.", String::as_str);
                if !violation.subject.starts_with(inbox) {
                    return;
                }
                let _ = shared.replies_denied.set(violation);
            }
        }
        shared.notify.notify_waiters();
    }

    /// An event callback for `async_nats::ConnectOptions::event_callback` that records
    /// violations and does nothing else.
    pub fn callback(&self) -> impl Fn(Event) -> std::future::Ready<()> + Send + Sync + 'static {
        let violations = self.clone();
        move |event| {
            violations.observe(&event);
            std::future::ready(())
        }
    }

    /// An event callback for `async_nats::ConnectOptions::event_callback` that records
    /// violations, then hands every event (violations included) to `callback`.
    pub fn callback_with<F, Fut>(
        &self,
        callback: F,
    ) -> impl Fn(Event) -> Fut + Send + Sync + 'static
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + Sync + 'static,
    {
        let violations = self.clone();
        move |event| {
            violations.observe(&event);
            callback(event)
        }
    }

    /// Pairs this log with the connection whose event callback feeds it: buckets opened
    /// through the result end denied operations with
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied).
    pub fn attach<C: Connection>(&self, connection: C) -> Guarded<C> {
        let inbox = connection.jetstream().client().new_inbox();
        if let Some((prefix, _)) = inbox.rsplit_once('.') {
            let _ = self.shared.inbox.set(format!("{prefix}."));
        }
        Guarded {
            connection,
            violations: self.clone(),
        }
    }
}

/// Runs `operation`, which sends to the subject made of `subject`'s pieces (API subjects with the
/// `$JS.API.` prefix, whatever the domain), and ends it with [`Error::PermissionDenied`] on
/// `bucket` as soon as the server reports that the connection may not. Without a violation log
/// it is `operation` itself. With `under`, subjects below `subject` match too (a consumer
/// create, whose subject ends with a name the client chooses).
///
/// Reports older than this call are not the operation's: call it just before awaiting. A denied
/// operation applied nothing: a retry loop must not retry it. Dropping the future drops
/// `operation`.
pub(crate) fn guard<'a, F: Future>(
    violations: Option<&'a Violations>,
    bucket: &'a str,
    subject: &'a [&'a str],
    under: bool,
    operation: F,
) -> Guard<'a, F> {
    Guard {
        operation,
        woken: None,
        watch: violations.map(|v| Watch {
            shared: &v.shared,
            seen: v.shared.epoch.load(Ordering::Acquire),
            bucket,
            subject,
            under,
        }),
    }
}

pin_project! {
    /// The future of [`guard`]: the operation's output, or [`Error::PermissionDenied`].
    pub(crate) struct Guard<'a, F> {
        #[pin]
        operation: F,
        #[pin]
        woken: Option<Notified<'a>>,
        watch: Option<Watch<'a>>,
    }
}

/// What a [`Guard`] looks for in the log.
struct Watch<'a> {
    shared: &'a Shared,
    /// The number of the newest report already looked at (or older than the operation).
    seen: u64,
    bucket: &'a str,
    subject: &'a [&'a str],
    under: bool,
}

impl Watch<'_> {
    /// A report newer than `seen` that matches the subject, or the connection's denied replies.
    fn find(&mut self) -> Option<Violation> {
        let shared = self.shared;
        if let Some(denied) = shared.replies_denied.get() {
            return Some(denied.clone());
        }
        if shared.epoch.load(Ordering::Acquire) == self.seen {
            return None;
        }
        let log = shared
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = log
            .iter()
            .filter(|(number, _)| *number > self.seen)
            .find(|(_, v)| matches(self.subject, self.under, &v.subject))
            .map(|(_, v)| v.clone());
        self.seen = log.back().map_or(self.seen, |(number, _)| *number);
        found
    }
}

impl<F: Future> Future for Guard<'_, F> {
    type Output = Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(watch) = this.watch else {
            return this.operation.poll(cx).map(Ok);
        };
        loop {
            // Listen before looking, so a report that comes in between wakes us.
            if this.woken.is_none() {
                this.woken.set(Some(watch.shared.notify.notified()));
            }
            let Some(mut woken) = this.woken.as_mut().as_pin_mut() else {
                unreachable!("set just above")
            };
            woken.as_mut().enable();
            if let Some(violation) = watch.find() {
                return Poll::Ready(Err(Error::PermissionDenied {
                    bucket: watch.bucket.to_owned(),
                    violation: Some(violation),
                    source: None,
                }));
            }
            if let Poll::Ready(output) = this.operation.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            match woken.poll(cx) {
                Poll::Ready(()) => this.woken.set(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Whether `reported` is the subject made of `pieces` (or, with `under`, below it).
fn matches(pieces: &[&str], under: bool, reported: &str) -> bool {
    let mut rest = reported;
    for piece in pieces {
        match rest.strip_prefix(piece) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty() || (under && rest.starts_with('.'))
}

/// Writes a domain's API prefix (`$JS.<domain>.API.`) as `$JS.API.`.
fn canonical(mut violation: Violation) -> Violation {
    if let Some(rest) = violation.subject.strip_prefix("$JS.")
        && !rest.starts_with("API.")
        && let Some((domain, api)) = rest.split_once(".API.")
        && !domain.contains('.')
    {
        violation.subject = format!("{API}{api}");
    }
    violation
}

/// A connection paired with the [`Violations`] its event callback records: open buckets through
/// it (it is a [`Connection`]) and their denied operations end at once with
/// [`Error::PermissionDenied`](crate::Error::PermissionDenied). Made by [`connect`] or
/// [`Violations::attach`]; cheap to clone when `C` is.
#[derive(Debug, Clone)]
pub struct Guarded<C = async_nats::Client> {
    connection: C,
    violations: Violations,
}

impl<C> Guarded<C> {
    /// The connection, for everything else you do with it.
    pub fn get_ref(&self) -> &C {
        &self.connection
    }

    /// The connection; buckets opened through it afterwards no longer see violations.
    pub fn into_inner(self) -> C {
        self.connection
    }

    /// The connection's violation log.
    pub fn violations(&self) -> &Violations {
        &self.violations
    }
}

impl<C> AsRef<C> for Guarded<C> {
    fn as_ref(&self) -> &C {
        &self.connection
    }
}

impl<C: Connection> Connection for Guarded<C> {
    fn jetstream(&self) -> Context {
        self.connection.jetstream()
    }

    fn violations(&self) -> Option<Violations> {
        Some(self.violations.clone())
    }
}

/// Connects to NATS with default options and a [`Violations`] log as the event callback: an
/// operation of a bucket opened through the result that the connection's permissions deny ends
/// at once with [`Error::PermissionDenied`](crate::Error::PermissionDenied), naming the subject
/// and the permission, instead of timing out. A client connected otherwise (say with
/// `async_nats::connect`) still works, but waits for [`Error::Timeout`](crate::Error::Timeout)
/// when denied.
///
/// With options of your own (credentials, TLS, an event callback), see [`Violations`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let nats = natskv::connect("nats://127.0.0.1:4222").await?;
/// let orders = natskv::Bucket::open_name(&nats, "orders").await?;
/// let client: &natskv::async_nats::Client = nats.get_ref();
/// # Ok(()) }
/// ```
///
/// # Errors
/// async-nats's `ConnectError` when no server can be reached or the connection is refused.
///
/// # Cancel safety
/// Cancel safe: dropping the future drops the connection being made.
pub async fn connect(addrs: impl ToServerAddrs) -> Result<Guarded, ConnectError> {
    let violations = Violations::new();
    let client = async_nats::ConnectOptions::new()
        .event_callback(violations.callback())
        .connect(addrs)
        .await?;
    Ok(violations.attach(client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_server_reports() {
        let v = Violation::parse(r#"Permissions Violation for Publish to "$KV.b.k""#).unwrap();
        assert_eq!(
            (v.permission(), v.subject()),
            (Permission::Publish, "$KV.b.k")
        );
        let v = Violation::parse(
            r#"Permissions Violation for Subscription to "_INBOX.a.*" using queue "q""#,
        )
        .unwrap();
        assert_eq!(
            (v.permission(), v.subject()),
            (Permission::Subscribe, "_INBOX.a.*")
        );
        let v = Violation::parse(r#"Permissions Violation for Publish with Reply of "_INBOX.x""#)
            .unwrap();
        assert_eq!(
            (v.permission(), v.subject()),
            (Permission::Subscribe, "_INBOX.x")
        );
        let v = Violation::parse(r#"Permissions Violation for Publish to "a\"b\\c""#).unwrap();
        assert_eq!(v.subject(), r#"a"b\c"#);
        assert_eq!(
            Violation::parse("Permissions Violation for Publish to $KV"),
            None
        );
        assert_eq!(
            Violation::parse(r#"Permissions Violation for Publish to "open"#),
            None
        );
        assert_eq!(Violation::parse("maximum payload exceeded"), None);
    }

    #[test]
    fn matches_exactly_or_below() {
        assert!(matches(&["$KV.b.", "k"], false, "$KV.b.k"));
        assert!(!matches(&["$KV.b.", "k"], false, "$KV.b.k.l"));
        assert!(!matches(&["$KV.b.", "k"], false, "$KV.b.kk"));
        assert!(matches(
            &["$JS.API.CONSUMER.CREATE.KV_b"],
            true,
            "$JS.API.CONSUMER.CREATE.KV_b.n.$KV.b.>"
        ));
        assert!(!matches(
            &["$JS.API.CONSUMER.CREATE.KV_b"],
            true,
            "$JS.API.CONSUMER.CREATE.KV_bc.n"
        ));
    }

    #[test]
    fn domains_are_written_as_the_default_api() {
        let v = |s: &str| {
            canonical(Violation {
                permission: Permission::Publish,
                subject: s.into(),
            })
        };
        assert_eq!(
            v("$JS.hub.API.DIRECT.GET.KV_b.$KV.b.k").subject,
            "$JS.API.DIRECT.GET.KV_b.$KV.b.k"
        );
        assert_eq!(
            v("$JS.API.DIRECT.GET.KV_b").subject,
            "$JS.API.DIRECT.GET.KV_b"
        );
        assert_eq!(v("$KV.b.API.x").subject, "$KV.b.API.x");
    }

    #[tokio::test]
    async fn a_matching_report_ends_the_operation() {
        let violations = Violations::new();
        let reporter = violations.clone();
        let subject = ["$KV.b.", "k"];
        let pending = std::future::pending::<()>();
        let guarded = guard(Some(&violations), "b", &subject, false, pending);
        let report = async {
            tokio::task::yield_now().await;
            for subject in ["$KV.b.other", "$KV.b.k"] {
                reporter.observe(&Event::ServerError(ServerError::Other(format!(
                    "Permissions Violation for Publish to \"{subject}\""
                ))));
            }
        };
        let (result, ()) = tokio::join!(guarded, report);
        let error = result.unwrap_err();
        assert_eq!(error.violation().unwrap().subject(), "$KV.b.k");
        assert_eq!(error.bucket(), Some("b"));
        let answered = guard(Some(&violations), "b", &subject, false, async { 7 }).await;
        assert_eq!(
            answered.unwrap(),
            7,
            "an old report does not deny a new operation"
        );
        let unguarded = guard(None, "b", &subject, false, async { 8 }).await;
        assert_eq!(unguarded.unwrap(), 8);
    }
}
