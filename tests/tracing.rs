//! What natskv tells `tracing`, against a real nats-server: one `natskv` span per operation with
//! its bucket, key, operation, revision, outcome and retries, an event for a resent write, and
//! a commit whose answer was lost found stored by its batch id.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natskv::server::NatsServer;
use natskv::{Bucket, BucketSpec, ErrorKind, Family, WriteRetry};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The fields of one closed span or one event.
type Fields = BTreeMap<String, String>;

/// Keeps the fields of every `natskv` span when it closes, and of every event.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<Fields>>>,
    events: Arc<Mutex<Vec<Fields>>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(&mut Collect(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        self.events.lock().unwrap().push(fields);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && span.name() == "natskv"
            && let Some(fields) = span.extensions().get::<Fields>()
        {
            self.spans.lock().unwrap().push(fields.clone());
        }
    }
}

impl Capture {
    /// The events whose message is `message`.
    fn events(&self, message: &str) -> Vec<Fields> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| field(e, "message") == Some(message))
            .cloned()
            .collect()
    }

    /// The closed spans of operation `op`.
    fn spans(&self, op: &str) -> Vec<Fields> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.get("op").map(String::as_str) == Some(op))
            .cloned()
            .collect()
    }
}

/// Freezes `server` (it stops answering) and thaws it a second later; the handle gives it back.
fn freeze_for_a_second(mut server: NatsServer) -> tokio::task::JoinHandle<NatsServer> {
    server.freeze().unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.thaw().unwrap();
        server
    })
}

/// Creates the bucket `spec` declares, whose writes wait 300 ms for each answer, and its
/// family `c.{name}`.
async fn counters(nats: &async_nats::Client, spec: &BucketSpec) -> (Bucket, Family<String, u32>) {
    let bucket = Bucket::create(nats, spec)
        .await
        .unwrap()
        .with_write_retry(WriteRetry::default().ack_wait(Duration::from_millis(300)));
    let counters = Family::bind(&bucket, "c.{name}").unwrap();
    (bucket, counters)
}

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields.get(name).map(String::as_str)
}

#[tokio::test]
async fn every_operation_has_a_span_with_its_outcome() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("traced");
    let bucket = Bucket::create(&nats, &BucketSpec::new(&name).history(3))
        .await
        .unwrap();
    let counters: Family<String, u32> = Family::bind(&bucket, "c.{name}").unwrap();
    let key = "a".to_owned();

    let revision = counters.put(&key, &1).await.unwrap();
    let put = capture.spans("put");
    assert_eq!(put.len(), 1, "{put:?}");
    assert_eq!(field(&put[0], "bucket"), Some(name.as_str()));
    assert_eq!(field(&put[0], "key"), Some("c.a"));
    assert_eq!(
        field(&put[0], "revision"),
        Some(revision.to_string().as_str())
    );
    assert_eq!(field(&put[0], "outcome"), Some("ok"));
    assert_eq!(field(&put[0], "retries"), None);

    let error = counters.update(&key, &2, revision + 5).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WrongRevision);
    let update = capture.spans("update");
    assert_eq!(field(&update[0], "outcome"), Some("WrongRevision"));
    assert_eq!(
        field(&update[0], "revision"),
        Some(revision.to_string().as_str())
    );

    counters.get(&key).await.unwrap();
    let get = capture.spans("get");
    assert_eq!(
        field(get.last().unwrap(), "revision"),
        Some(revision.to_string().as_str())
    );
    assert_eq!(field(get.last().unwrap(), "outcome"), Some("ok"));

    counters.get(&"missing".to_owned()).await.unwrap();
    let missing = capture.spans("get");
    let missing = missing.last().unwrap();
    assert_eq!(
        (field(missing, "key"), field(missing, "revision")),
        (Some("c.missing"), None)
    );
}

#[tokio::test]
async fn a_resent_write_is_an_event_and_counted_on_its_span() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("resent"));
    let (_, counters) = counters(&nats, &spec).await;

    // The server stops answering for a while: the put is resent until it is answered.
    let thaw = freeze_for_a_second(server);
    let revision = counters.put(&"a".to_owned(), &1).await.unwrap();
    let _server = thaw.await.unwrap();

    let put = capture.spans("put");
    let retries: u32 = field(&put[0], "retries").unwrap().parse().unwrap();
    assert!(retries >= 1, "{put:?}");
    assert_eq!(
        field(&put[0], "revision"),
        Some(revision.to_string().as_str())
    );
    let resent = capture.events("write resent");
    assert_eq!(resent.len(), retries as usize, "{resent:?}");
    assert_eq!(field(&resent[0], "key"), Some("c.a"));
}

#[tokio::test]
async fn an_unanswered_commit_found_stored_is_a_success_and_an_event() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let server = common::server().await;
    if !common::needs_server(&server, (2, 12, 0), "transactions") {
        return;
    }
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new(common::unique_bucket("unanswered")).atomic(true);
    let (bucket, counters) = counters(&nats, &spec).await;

    // The server stops answering past the commit's wait and takes it on when it resumes: the
    // commit went unanswered, but the key's latest message carries its batch id.
    let thaw = freeze_for_a_second(server);
    let mut tx = bucket.transaction();
    tx.put(&counters, &"a".to_owned(), &1).unwrap();
    let committed = tx.commit().await;
    let _server = thaw.await.unwrap();
    let committed = committed.unwrap();
    let stored = counters.get(&"a".to_owned()).await.unwrap().unwrap();
    assert_eq!(committed.revisions(), &[stored.revision]);
    let found = capture.events("unanswered commit found stored");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        field(&found[0], "revision"),
        Some(stored.revision.to_string().as_str())
    );
}
