//! Operations a connection's permissions deny end at once with `PermissionDenied` (subject and
//! permission named, nothing applied) on a connection made with `natskv::connect` or paired with
//! its `Violations`; a plain client still waits for its timeout. Each test starts its own server
//! with users.

mod common;

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use natskv::server::{NatsServer, User};
use natskv::{Bucket, BucketSpec, Error, ErrorKind, Permission, Single, Violations};

/// Far below the 5 s a denied operation used to wait, far above a loaded machine's round trip.
const PROMPT: Duration = Duration::from_secs(2);

/// The bucket, created by `admin`, holding `greeting` = "hello" at revision 1.
async fn seeded(server: &NatsServer, admin: &User, bucket: &str) -> Bucket {
    let nats = common::plain(server, admin).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new(bucket).history(5))
        .await
        .unwrap();
    let greeting = Single::<String>::bind(&bucket, "greeting").unwrap();
    assert_eq!(greeting.put(&"hello".to_owned()).await.unwrap(), 1);
    bucket
}

/// Runs `op`, prints how long it took, and checks that it was denied promptly with `permission`
/// on `subject`.
async fn assert_denied<T: std::fmt::Debug>(
    what: &str,
    op: impl std::future::Future<Output = natskv::Result<T>>,
    permission: Permission,
    subject: &str,
) -> Error {
    let started = Instant::now();
    let error = op.await.expect_err(what);
    let took = started.elapsed();
    println!("{what}: {:?} after {took:?}: {error}", error.kind());
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{what}: {error}");
    let violation = error.violation().expect("the violation");
    assert_eq!(violation.permission(), permission, "{what}");
    assert_eq!(violation.subject(), subject, "{what}");
    assert!(!error.is_transient(), "{what}: a denial is final");
    assert!(took < PROMPT, "{what} took {took:?}");
    error
}

#[tokio::test]
async fn denied_writes_end_at_once_and_apply_nothing() {
    let name = common::unique_bucket("perm_writes");
    let reader = User::new("reader", "reader-pw").deny_publish(format!("$KV.{name}.>"));
    let (server, admin) = common::server_with(&reader).await;
    let seeded = seeded(&server, &admin, &name).await;

    let nats = common::guarded(&server, &reader).await;
    let bucket = Bucket::open_name(&nats, &name).await.unwrap();
    let greeting = Single::<String>::bind(&bucket, "greeting").unwrap();
    let fresh = Single::<String>::bind(&bucket, "fresh").unwrap();
    let subject = format!("$KV.{name}.greeting");
    let value = "changed".to_owned();
    let publish = Permission::Publish;

    let error = assert_denied("put", greeting.put(&value), publish, &subject).await;
    assert_eq!(error.bucket(), Some(name.as_str()));
    assert!(error.to_string().contains(&subject), "{error}");
    assert!(error.to_string().contains("may not publish to"), "{error}");
    assert_denied("update", greeting.update(&value, 1), publish, &subject).await;
    assert_denied("delete", greeting.delete(), publish, &subject).await;
    assert_denied("purge", greeting.purge(), publish, &subject).await;
    let fresh_subject = format!("$KV.{name}.fresh");
    assert_denied("create", fresh.create(&value), publish, &fresh_subject).await;

    // Nothing was written: the admin still sees revision 1 and nothing else.
    let status = seeded.status().await.unwrap();
    assert_eq!(status.values, 1, "nothing was appended");
    let greeting = Single::<String>::bind(&seeded, "greeting").unwrap();
    let latest = greeting.get().await.unwrap().expect("greeting");
    assert_eq!((latest.revision, latest.value.as_str()), (1, "hello"));
    let fresh = Single::<String>::bind(&seeded, "fresh").unwrap();
    assert!(fresh.get().await.unwrap().is_none());
}

#[tokio::test]
async fn allowed_operations_on_the_same_connection_still_succeed() {
    let name = common::unique_bucket("perm_allowed");
    let reader = User::new("reader", "reader-pw").deny_publish(format!("$KV.{name}.locked"));
    let (server, admin) = common::server_with(&reader).await;
    seeded(&server, &admin, &name).await;

    let nats = common::guarded(&server, &reader).await;
    let bucket = Bucket::open_name(&nats, &name).await.unwrap();
    let locked = Single::<String>::bind(&bucket, "locked").unwrap();
    let greeting = Single::<String>::bind(&bucket, "greeting").unwrap();
    let subject = format!("$KV.{name}.locked");

    // A denied write and an allowed one at the same time: only the denied one fails.
    let one = "one".to_owned();
    let (denied, allowed) = tokio::join!(locked.put(&one), greeting.put(&one));
    assert_eq!(denied.unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(allowed.unwrap(), 2);
    // And after the denial, reads and writes of other keys go on.
    assert_denied("put", locked.put(&one), Permission::Publish, &subject).await;
    assert_eq!(greeting.value().await.unwrap().as_deref(), Some("one"));
    assert_eq!(greeting.update(&"two".to_owned(), 2).await.unwrap(), 3);
    assert!(locked.get().await.unwrap().is_none());
}

#[tokio::test]
async fn denied_reads_end_at_once() {
    let name = common::unique_bucket("perm_reads");
    let stream = format!("KV_{name}");
    let blind = User::new("blind", "blind-pw")
        .deny_publish(format!("$JS.API.DIRECT.GET.{stream}"))
        .deny_publish(format!("$JS.API.DIRECT.GET.{stream}.>"))
        .deny_publish(format!("$JS.API.CONSUMER.CREATE.{stream}"))
        .deny_publish(format!("$JS.API.CONSUMER.CREATE.{stream}.>"));
    let (server, admin) = common::server_with(&blind).await;
    seeded(&server, &admin, &name).await;

    let nats = common::guarded(&server, &blind).await;
    let bucket = Bucket::open_name(&nats, &name).await.unwrap();
    let greeting = Single::<String>::bind(&bucket, "greeting").unwrap();
    let publish = Permission::Publish;

    let last = format!("$JS.API.DIRECT.GET.{stream}.$KV.{name}.greeting");
    assert_denied("get", greeting.get(), publish, &last).await;
    let by_revision = format!("$JS.API.DIRECT.GET.{stream}");
    assert_denied(
        "get revision",
        greeting.get_revision(1),
        publish,
        &by_revision,
    )
    .await;
    // A history is batch direct gets (nats-server 2.12+).
    assert_denied("history", greeting.history(), publish, &by_revision).await;
    // A key listing creates a consumer.
    let started = Instant::now();
    let keys: natskv::Family<String, String> = natskv::Family::bind(&bucket, "{name}").unwrap();
    let error = keys.keys(natskv::KeyFilter::any()).await.unwrap_err();
    println!("keys: {:?} after {:?}", error.kind(), started.elapsed());
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    let violation = error.violation().expect("the violation");
    let create = format!("$JS.API.CONSUMER.CREATE.{stream}");
    assert!(violation.subject().starts_with(&create), "{violation}");
    assert!(started.elapsed() < PROMPT);
}

#[tokio::test]
async fn a_denied_bucket_open_ends_at_once() {
    let name = common::unique_bucket("perm_open");
    let stranger =
        User::new("stranger", "stranger-pw").deny_publish(format!("$JS.API.STREAM.INFO.KV_{name}"));
    let (server, admin) = common::server_with(&stranger).await;
    seeded(&server, &admin, &name).await;

    let nats = common::guarded(&server, &stranger).await;
    let subject = format!("$JS.API.STREAM.INFO.KV_{name}");
    assert_denied(
        "open",
        Bucket::open_name(&nats, &name),
        Permission::Publish,
        &subject,
    )
    .await;
}

#[tokio::test]
async fn a_denied_bucket_delete_ends_at_once_and_deletes_nothing() {
    let name = common::unique_bucket("perm_delete");
    let subject = format!("$JS.API.STREAM.DELETE.KV_{name}");
    let keeper = User::new("keeper", "keeper-pw").deny_publish(subject.clone());
    let (server, admin) = common::server_with(&keeper).await;
    let seeded = seeded(&server, &admin, &name).await;

    let nats = common::guarded(&server, &keeper).await;
    assert_denied(
        "delete",
        Bucket::delete(&nats, &name),
        Permission::Publish,
        &subject,
    )
    .await;
    assert_eq!(seeded.status().await.unwrap().values, 1, "still there");
}

#[tokio::test]
async fn a_connection_that_may_not_receive_replies_is_denied_at_once() {
    let name = common::unique_bucket("perm_deaf");
    let deaf = User::new("deaf", "deaf-pw").deny_subscribe("_INBOX.>");
    let (server, admin) = common::server_with(&deaf).await;
    seeded(&server, &admin, &name).await;

    let nats = common::guarded(&server, &deaf).await;
    let started = Instant::now();
    let error = Bucket::open_name(&nats, &name).await.unwrap_err();
    let took = started.elapsed();
    println!(
        "open without replies: {:?} after {took:?}: {error}",
        error.kind()
    );
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    let violation = error.violation().expect("the violation");
    assert_eq!(violation.permission(), Permission::Subscribe);
    assert!(violation.subject().starts_with("_INBOX."), "{violation}");
    assert!(took < PROMPT, "took {took:?}");
}

#[tokio::test]
async fn without_the_helper_a_denied_put_still_times_out() {
    let name = common::unique_bucket("perm_plain");
    let reader = User::new("reader", "reader-pw").deny_publish(format!("$KV.{name}.>"));
    let (server, admin) = common::server_with(&reader).await;
    seeded(&server, &admin, &name).await;

    // A plain client, with a short JetStream timeout and a short resend budget to keep the
    // test quick: without the report, an unanswered write is resent until the budget is spent.
    let client = common::plain(&server, &reader).await;
    let js = async_nats::jetstream::context::ContextBuilder::new()
        .timeout(Duration::from_millis(500))
        .build(client);
    let bucket = Bucket::open_name(&js, &name)
        .await
        .unwrap()
        .with_write_retry(natskv::WriteRetry::default().timeout(Duration::from_secs(1)));
    let greeting = Single::<String>::bind(&bucket, "greeting").unwrap();
    let started = Instant::now();
    let error = greeting.put(&"changed".to_owned()).await.unwrap_err();
    println!(
        "plain client: {:?} after {:?}",
        error.kind(),
        started.elapsed()
    );
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_users_own_event_callback_still_gets_every_event() {
    let name = common::unique_bucket("perm_callback");
    let reader = User::new("reader", "reader-pw").deny_publish(format!("$KV.{name}.>"));
    let (server, admin) = common::server_with(&reader).await;
    seeded(&server, &admin, &name).await;

    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let violations = Violations::new();
    let client = common::options(&reader)
        .event_callback(violations.callback_with(move |event| {
            let _ = events.send(event);
            async {}
        }))
        .connect(server.url())
        .await
        .unwrap();
    let nats = violations.attach(client);
    let bucket = Bucket::open_name(&nats, &name).await.unwrap();
    let greeting = Single::<String>::bind(&bucket, "greeting").unwrap();
    let subject = format!("$KV.{name}.greeting");
    assert_denied(
        "put",
        greeting.put(&"changed".to_owned()),
        Permission::Publish,
        &subject,
    )
    .await;

    let reported = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = Vec::new();
        while let Some(event) = received.recv().await {
            let text = event.to_string();
            seen.push(event);
            if text.contains("Permissions Violation") && text.contains(&subject) {
                return seen;
            }
        }
        seen
    })
    .await
    .expect("the user's callback got the violation");
    assert!(
        reported
            .iter()
            .any(|e| matches!(e, async_nats::Event::Connected)),
        "the user's callback got the other events too: {reported:?}"
    );
    let history = greeting.history().await.unwrap();
    let revisions: Vec<u64> = history.map_ok(|e| e.revision).try_collect().await.unwrap();
    assert_eq!(revisions, vec![1], "nothing was written");
}

#[tokio::test]
async fn connect_gives_a_connection_that_works_as_any_other() {
    let server = common::server().await;
    let nats = natskv::connect(server.url()).await.unwrap();
    assert!(natskv::Connection::violations(&nats).is_some());
    let name = common::unique_bucket("perm_connect");
    let bucket = Bucket::create(&nats, &BucketSpec::new(&name))
        .await
        .unwrap();
    let greeting = Single::<String>::bind(&bucket, "greeting").unwrap();
    assert_eq!(greeting.put(&"hello".to_owned()).await.unwrap(), 1);
    assert_eq!(greeting.value().await.unwrap().as_deref(), Some("hello"));
    let keys: Vec<_> = greeting
        .history()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    // The client underneath is the user's to use for everything else.
    nats.get_ref().flush().await.unwrap();
}
