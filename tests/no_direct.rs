//! Buckets made by other clients without direct gets (nats-py's default): every read works,
//! from the stream's leader through the message-get API, and never sends a direct get; status
//! and `open` say direct gets are off, and `ensure` turns them on.

mod common;

use std::collections::BTreeMap;

use futures::TryStreamExt;
use natskv::server::User;
use natskv::{Bucket, BucketSpec, Error, ErrorKind, Family, Json, KeyFilter, Operation};

type Counters = Family<String, u64, Json>;

const HISTORY: u8 = 5;

/// Creates bucket `name` as nats-py does (`allow_direct` off), and writes through async-nats's
/// own Key/Value store: `a` = 1, 2, 3; `b` = 10; `c` = 5 then deleted. Returns the revisions of
/// `a`'s values and of `c`'s delete marker.
async fn made_elsewhere(nats: &async_nats::Client, name: &str) -> (Vec<u64>, u64) {
    let js = async_nats::jetstream::new(nats.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: i64::from(HISTORY),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: false,
        discard: async_nats::jetstream::stream::DiscardPolicy::New,
        duplicate_window: std::time::Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .expect("create the stream");
    let kv = js.get_key_value(name).await.expect("async-nats store");
    let mut a = Vec::new();
    for value in ["1", "2", "3"] {
        a.push(kv.put("n.a", value.into()).await.expect("put a"));
    }
    kv.put("n.b", "10".into()).await.expect("put b");
    kv.put("n.c", "5".into()).await.expect("put c");
    kv.delete("n.c").await.expect("delete c");
    let mut stream = js.get_stream(format!("KV_{name}")).await.expect("stream");
    let deleted = stream.info().await.expect("info").state.last_sequence;
    (a, deleted)
}

fn counters(bucket: &Bucket) -> Counters {
    Family::bind(bucket, "n.{id}").expect("bind")
}

fn id(id: &str) -> String {
    id.to_owned()
}

/// The value and revision of the key's latest entry.
async fn latest(fam: &Counters, key: &str) -> Option<(u64, u64)> {
    let entry = fam.get(&id(key)).await.expect("get")?;
    Some((entry.value, entry.revision))
}

#[tokio::test]
async fn every_read_works_without_direct_gets_and_sends_none() {
    let name = common::unique_bucket("nodirect");
    let stream = format!("KV_{name}");
    // Any direct get would end at once with PermissionDenied.
    let reader = User::new("reader", "reader-pw")
        .deny_publish(format!("$JS.API.DIRECT.GET.{stream}"))
        .deny_publish(format!("$JS.API.DIRECT.GET.{stream}.>"));
    let (server, admin) = common::server_with(&reader).await;
    let as_admin = common::plain(&server, &admin).await;
    let (a, deleted) = made_elsewhere(&as_admin, &name).await;
    let nats = common::guarded(&server, &reader).await;
    let bucket = Bucket::open_name(&nats, &name).await.expect("open");
    let fam = counters(&bucket);
    assert!(!bucket.status().await.expect("status").allow_direct);

    assert_eq!(latest(&fam, "a").await, Some((3, a[2])));
    assert_eq!(latest(&fam, "b").await.map(|(v, _)| v), Some(10));
    assert_eq!(latest(&fam, "c").await, None, "deleted");
    assert_eq!(latest(&fam, "never").await, None, "never written");

    let first = fam.get_revision(&id("a"), a[0]).await.expect("revision");
    assert_eq!(first.and_then(|e| e.value), Some(1));
    let marker = fam.get_revision(&id("c"), deleted).await.expect("revision");
    assert_eq!(marker.map(|e| e.operation), Some(Operation::Delete));
    let other = fam.get_revision(&id("b"), a[0]).await.expect("revision");
    assert!(other.is_none(), "a revision of another key");

    match fam.create(&id("a"), &7).await {
        Err(Error::WrongRevision { current, .. }) => assert_eq!(current, Some(a[2])),
        other => panic!("create over a live value: {other:?}"),
    }
    let created = fam
        .create(&id("c"), &6)
        .await
        .expect("create over a delete");
    assert_eq!(latest(&fam, "c").await, Some((6, created)));
    let updated = fam
        .update_with(&id("a"), |n| *n += 1)
        .await
        .expect("update");
    let updated = updated.expect("a has a value");
    assert_eq!(latest(&fam, "a").await, Some((4, updated.revision)));

    let history = fam.history(&id("a")).await.expect("history");
    let history: Vec<_> = history.try_collect().await.expect("history");
    let values: Vec<_> = history.iter().map(|e| e.value).collect();
    assert_eq!(values, [Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(common::sorted_keys(&fam).await, ["a", "b", "c"]);
    let keys = [id("a"), id("never"), id("b")];
    let many = fam.get_many(&keys).await.expect("get many").into_iter();
    let many: Vec<_> = many.map(|e| e.expect("decoded").map(|e| e.value)).collect();
    assert_eq!(many, [Some(4), None, Some(10)]);
    let snapshot = fam
        .get_matching(KeyFilter::any())
        .await
        .expect("get matching");
    let values: BTreeMap<_, _> = snapshot
        .entries
        .into_iter()
        .map(|e| e.map(|e| (e.key, e.value)).expect("decoded"))
        .collect();
    assert_eq!(
        values,
        BTreeMap::from([(id("a"), 4), (id("b"), 10), (id("c"), 6)])
    );

    Bucket::delete(&as_admin, &name).await.expect("delete");
    let error = fam.get(&id("a")).await.expect_err("a deleted bucket");
    assert_eq!(error.kind(), ErrorKind::BucketNotFound, "{error}");
    let error = fam
        .get_revision(&id("a"), 1)
        .await
        .expect_err("a deleted bucket");
    assert_eq!(error.kind(), ErrorKind::BucketNotFound, "{error}");
}

#[tokio::test]
async fn open_reports_direct_gets_off_and_ensure_turns_them_on() {
    let name = common::unique_bucket("nodirect");
    let stream = format!("KV_{name}");
    // Reads through the message-get API are denied: this user reads by direct gets only.
    let reader =
        User::new("reader", "reader-pw").deny_publish(format!("$JS.API.STREAM.MSG.GET.{stream}"));
    let (server, admin) = common::server_with(&reader).await;
    let as_admin = common::plain(&server, &admin).await;
    let (a, _) = made_elsewhere(&as_admin, &name).await;
    let spec = BucketSpec::new(&name).history(HISTORY);

    let error = Bucket::open(&as_admin, &spec).await.expect_err("drift");
    let Error::ConfigDrift { differences, .. } = &error else {
        panic!("open: {error:?}");
    };
    let differences: Vec<_> = differences.iter().map(ToString::to_string).collect();
    assert_eq!(
        differences,
        ["allow_direct: declared true, server has false"]
    );

    // Before: a read goes to the message-get API, which this user may not use.
    let nats = common::guarded(&server, &reader).await;
    let before = counters(&Bucket::open_name(&nats, &name).await.expect("open"));
    let error = before.get(&id("a")).await.expect_err("denied");
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error}");
    let violation = error.violation().expect("the violation");
    assert_eq!(
        violation.subject(),
        format!("$JS.API.STREAM.MSG.GET.{stream}")
    );

    let ensured = Bucket::ensure(&as_admin, &spec).await.expect("ensure");
    assert!(ensured.status().await.expect("status").allow_direct);
    let bucket = Bucket::open(&nats, &spec)
        .await
        .expect("open without drift");
    let fam = counters(&bucket);
    assert_eq!(latest(&fam, "a").await, Some((3, a[2])));
    assert_eq!(latest(&fam, "c").await, None);
    let first = fam.get_revision(&id("a"), a[0]).await.expect("revision");
    assert_eq!(first.and_then(|e| e.value), Some(1));
}
