//! Every Key/Value operation of the runtime core and every error kind that can be provoked,
//! against a real nats-server. Key types are implemented by hand here (the derive has its own
//! tests), to pin down what the runtime does on its own.

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use natskv::{
    Bucket, BucketSpec, Current, Entry, Error, ErrorKind, Family, KeyError, KeyFilter, KeyPart,
    KvKey, MsgPack, Operation, Raw, Single, Storage,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DeviceKey {
    site: String,
    id: u32,
}

impl KvKey for DeviceKey {
    const PARAMS: &'static [&'static str] = &["site", "id"];

    fn write_param(&self, index: usize, out: &mut String) -> Result<(), KeyError> {
        match index {
            0 => self.site.write_token(out),
            _ => self.id.write_token(out),
        }
    }

    fn from_tokens(tokens: &[&str]) -> Result<Self, KeyError> {
        match tokens {
            [site, id] => Ok(DeviceKey {
                site: String::parse_token(site)?,
                id: u32::parse_token(id)?,
            }),
            _ => Err(KeyError::token_count(2, tokens.len())),
        }
    }
}

fn dev(site: &str, id: u32) -> DeviceKey {
    DeviceKey {
        site: site.to_owned(),
        id,
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct State {
    online: bool,
    battery: u8,
}

fn state(battery: u8) -> State {
    State {
        online: true,
        battery,
    }
}

type Devices = Family<DeviceKey, State>;
const DEVICES: &str = "site.{site}.device.{id}";

async fn devices(nats: &async_nats::Client, spec: BucketSpec) -> Devices {
    let bucket = Bucket::create(nats, &spec).await.expect("create bucket");
    Family::bind(&bucket, DEVICES).expect("bind")
}

#[tokio::test]
async fn put_get_and_pinned_reads() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("ops").history(10)).await;
    let k = dev("paris", 7);

    assert!(
        fam.get(&k).await.unwrap().is_none(),
        "a key never written reads as None"
    );
    let r1 = fam.put(&k, &state(90)).await.unwrap();
    let r2 = fam.put(&k, &state(80)).await.unwrap();
    assert!(r2 > r1);

    let latest = fam.get(&k).await.unwrap().expect("latest");
    assert_eq!(latest.key, k);
    assert_eq!(latest.value, state(80));
    assert_eq!(latest.revision, r2);
    assert_eq!(
        &*latest.bucket, "ops",
        "an entry says which bucket it came from"
    );
    assert_eq!(fam.value(&k).await.unwrap(), Some(state(80)));

    let first = fam.get_revision(&k, r1).await.unwrap().expect("pinned");
    assert_eq!((first.revision, first.value), (r1, Some(state(90))));

    // A revision of another key is not this key's.
    let other = fam.put(&dev("paris", 8), &state(1)).await.unwrap();
    assert!(fam.get_revision(&k, other).await.unwrap().is_none());
    assert!(fam.get_revision(&k, 9_999).await.unwrap().is_none());
    assert_eq!(fam.key(&k).unwrap(), "site.paris.device.7");
}

#[tokio::test]
async fn create_is_first_writer_wins_also_over_markers() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("create").history(5)).await;
    let k = dev("oslo", 1);

    let r1 = fam.create(&k, &state(1)).await.unwrap();
    let err = fam.create(&k, &state(2)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongRevision);
    assert_eq!(err.key(), Some("site.oslo.device.1"));
    assert_eq!(err.revision(), Some(r1), "the current revision is reported");

    let del = fam.delete(&k).await.unwrap();
    let r2 = fam
        .create(&k, &state(3))
        .await
        .expect("create over a delete marker");
    assert!(r2 > del);
    fam.purge(&k).await.unwrap();
    let r3 = fam
        .create(&k, &state(4))
        .await
        .expect("create over a purge marker");
    assert_eq!(fam.get(&k).await.unwrap().unwrap().revision, r3);
    assert_eq!(fam.value(&k).await.unwrap(), Some(state(4)));
}

#[tokio::test]
async fn update_is_compare_and_set() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("cas").history(5)).await;
    let k = dev("rome", 2);

    let r1 = fam.put(&k, &state(10)).await.unwrap();
    let r2 = fam.update(&k, &state(11), r1).await.unwrap();
    let sent = || {
        nats.statistics()
            .out_messages
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = sent();
    let err = fam.update(&k, &state(12), r1).await.unwrap_err();
    assert_eq!(
        sent() - before,
        1,
        "a lost compare-and-set costs its publish only: the server's refusal names the revision"
    );
    match &err {
        Error::WrongRevision {
            key,
            expected,
            current,
            ..
        } => {
            assert_eq!(key, "site.rome.device.2");
            assert_eq!(*expected, r1);
            assert_eq!(*current, Some(r2));
        }
        other => panic!("expected WrongRevision, got {other:?}"),
    }
    assert_eq!(
        fam.value(&k).await.unwrap(),
        Some(state(11)),
        "the lost write changed nothing"
    );
    // An update of a key that does not exist loses too; its current revision is 0.
    let err = fam.update(&dev("rome", 3), &state(1), 1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongRevision);
    assert_eq!(err.revision(), Some(0), "{err:?}");
}

#[tokio::test]
async fn delete_and_purge_with_and_without_guards() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("markers").history(10)).await;
    let k = dev("lima", 4);

    let r1 = fam.put(&k, &state(1)).await.unwrap();
    let r2 = fam.put(&k, &state(2)).await.unwrap();
    assert_eq!(
        fam.delete_if(&k, r1).await.unwrap_err().kind(),
        ErrorKind::WrongRevision
    );
    let latest = fam.latest(&k).await.unwrap().expect("a live value");
    assert_eq!((latest.revision, latest.value), (r2, Some(state(2))));
    let del = fam.delete_if(&k, r2).await.unwrap();
    assert!(
        fam.get(&k).await.unwrap().is_none(),
        "deleted keys read as None"
    );
    let latest = fam.latest(&k).await.unwrap().expect("the delete marker");
    assert_eq!(
        (latest.revision, latest.operation, latest.value),
        (del, Operation::Delete, None),
        "latest() tells a deleted key from one never written"
    );
    assert!(fam.latest(&dev("lima", 5)).await.unwrap().is_none());
    let marker = fam
        .get_revision(&k, del)
        .await
        .unwrap()
        .expect("marker visible when pinned");
    assert_eq!(marker.operation, Operation::Delete);
    assert_eq!(marker.value, None);
    assert!(
        fam.get_revision(&k, r1).await.unwrap().is_some(),
        "delete keeps history"
    );

    let r3 = fam.put(&k, &state(3)).await.unwrap();
    assert_eq!(
        fam.purge_if(&k, r2).await.unwrap_err().kind(),
        ErrorKind::WrongRevision
    );
    let purge = fam.purge_if(&k, r3).await.unwrap();
    assert!(fam.get(&k).await.unwrap().is_none());
    let latest = fam.latest(&k).await.unwrap().expect("the purge marker");
    assert_eq!(
        (latest.revision, latest.operation),
        (purge, Operation::Purge)
    );
    assert!(
        fam.get_revision(&k, r1).await.unwrap().is_none(),
        "purge drops history"
    );
    let marker = fam
        .get_revision(&k, purge)
        .await
        .unwrap()
        .expect("purge marker");
    assert_eq!(marker.operation, Operation::Purge);

    let history: Vec<_> = fam.history(&k).await.unwrap().try_collect().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].operation, Operation::Purge);
}

/// `get` (and `get_many`, `get_matching`, `Single::get`) reads a key's live value as a
/// `Current`, the value itself at the revision `latest` reads as an entry; a deleted or purged
/// key is `None` from `get` and a marker from `latest`, and a marker does not convert into a
/// `Current`: the conversion gives it back.
#[tokio::test]
async fn get_reads_the_current_value_and_latest_the_markers() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("current").history(10)).await;
    let (k, other) = (dev("oslo", 1), dev("oslo", 2));
    fam.put(&k, &state(10)).await.unwrap();
    let rev = fam.put(&k, &state(20)).await.unwrap();
    let other_rev = fam.put(&other, &state(30)).await.unwrap();

    let current: Current<DeviceKey, State> = fam.get(&k).await.unwrap().expect("a live value");
    assert_eq!(
        (&current.key, &current.value, current.revision),
        (&k, &state(20), rev)
    );
    assert_eq!(&*current.bucket, "current");
    let latest = fam.latest(&k).await.unwrap().expect("the same revision");
    assert_eq!(latest.created, current.created);
    assert_eq!(
        Entry::from(current.clone()),
        latest,
        "the entry of that revision"
    );
    assert_eq!(Current::try_from(latest).unwrap(), current);
    let theirs = fam.get(&other).await.unwrap().expect("a live value");
    assert_eq!((theirs.value.battery, theirs.revision), (30, other_rev));

    let many: Vec<Option<Current<DeviceKey, State>>> = fam
        .get_many([&k, &dev("oslo", 3), &other])
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(many, [Some(current.clone()), None, Some(theirs.clone())]);
    let snapshot = fam.get_matching(KeyFilter::any()).await.unwrap();
    let matching: Vec<Current<DeviceKey, State>> =
        snapshot.entries.into_iter().map(Result::unwrap).collect();
    assert_eq!(matching, [current, theirs]);

    // Deleted: no value from `get`, the delete marker from `latest`.
    let deleted = fam.delete(&k).await.unwrap();
    assert_eq!(fam.get(&k).await.unwrap(), None);
    assert!(
        fam.get_many([&k]).await.unwrap()[0]
            .as_ref()
            .unwrap()
            .is_none()
    );
    let marker = fam.latest(&k).await.unwrap().expect("the delete marker");
    assert_eq!(
        (marker.revision, marker.operation, &marker.value),
        (deleted, Operation::Delete, &None)
    );
    let error = Current::try_from(marker.clone()).expect_err("a marker is no value");
    assert_eq!(error.entry(), &marker);
    assert_eq!(error.into_entry(), marker, "the marker is given back whole");

    // Purged: the same, with the purge marker.
    let purged = fam.purge(&other).await.unwrap();
    assert_eq!(fam.get(&other).await.unwrap(), None);
    let marker = fam.latest(&other).await.unwrap().expect("the purge marker");
    assert_eq!(
        (marker.revision, marker.operation),
        (purged, Operation::Purge)
    );
    let error = Current::try_from(marker.clone()).expect_err("a marker is no value");
    assert_eq!(error.into_entry(), marker);
    assert!(
        fam.get_matching(KeyFilter::any())
            .await
            .unwrap()
            .entries
            .is_empty()
    );

    // A single key reads the same way.
    let flag: Single<u32> = Single::bind(fam.bucket(), "flag").unwrap();
    let rev = flag.put(&5).await.unwrap();
    let current = flag.get().await.unwrap().expect("the flag");
    assert_eq!((current.value, current.revision), (5, rev));
    let deleted = flag.delete().await.unwrap();
    assert_eq!(flag.get().await.unwrap(), None);
    let marker = flag.latest().await.unwrap().expect("the delete marker");
    assert_eq!(
        Current::try_from(marker).unwrap_err().entry().revision,
        deleted
    );
}

#[tokio::test]
async fn history_lists_values_and_markers_with_delta() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("hist").history(10)).await;
    let k = dev("kyiv", 5);

    assert!(
        fam.history(&k)
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .is_empty()
    );
    let r1 = fam.put(&k, &state(1)).await.unwrap();
    fam.put(&dev("kyiv", 6), &state(9)).await.unwrap();
    let r2 = fam.put(&k, &state(2)).await.unwrap();
    let r3 = fam.delete(&k).await.unwrap();
    let history: Vec<_> = fam.history(&k).await.unwrap().try_collect().await.unwrap();
    let revisions: Vec<_> = history.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, [r1, r2, r3]);
    let deltas: Vec<_> = history.iter().map(|e| e.delta).collect();
    assert_eq!(deltas, [2, 1, 0]);
    assert_eq!(history[1].value, Some(state(2)));
    assert_eq!(history[2].operation, Operation::Delete);
    assert!(history.iter().all(|e| e.key == k));

    // History depth is the bucket's.
    let shallow = devices(&nats, BucketSpec::new("shallow").history(2)).await;
    for b in 0..5 {
        shallow.put(&k, &state(b)).await.unwrap();
    }
    let kept: Vec<_> = shallow
        .history(&k)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        kept.iter()
            .map(|e| e.value.clone().unwrap().battery)
            .collect::<Vec<_>>(),
        [3, 4]
    );
}

#[tokio::test]
async fn revert_restores_an_old_value() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("revert").history(10)).await;
    let k = dev("bern", 1);
    let r1 = fam.put(&k, &state(1)).await.unwrap();
    fam.put(&k, &state(2)).await.unwrap();
    let del = fam.delete(&k).await.unwrap();
    let r4 = fam.revert(&k, r1).await.unwrap();
    let now = fam.get(&k).await.unwrap().unwrap();
    assert_eq!((now.revision, now.value), (r4, state(1)));
    let err = fam.revert(&k, del).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::RevisionNotFound,
        "a marker is not a value to revert to"
    );
    assert_eq!(
        fam.revert(&k, 999).await.unwrap_err().kind(),
        ErrorKind::RevisionNotFound
    );
}

#[tokio::test]
async fn keys_are_live_filtered_on_the_server_and_parsed() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("keys").history(3)).await;

    let empty: Vec<DeviceKey> = fam
        .keys(KeyFilter::any())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(empty.is_empty());

    for (site, id) in [("paris", 1), ("paris", 2), ("paris", 3), ("lyon", 1)] {
        fam.put(&dev(site, id), &state(1)).await.unwrap();
        fam.put(&dev(site, id), &state(2)).await.unwrap();
    }
    fam.delete(&dev("paris", 2)).await.unwrap();
    fam.purge(&dev("paris", 3)).await.unwrap();

    let mut all: Vec<DeviceKey> = fam
        .keys(KeyFilter::any())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    all.sort_by_key(|k| (k.site.clone(), k.id));
    assert_eq!(all, [dev("lyon", 1), dev("paris", 1)]);

    let paris = KeyFilter::<DeviceKey>::any().with(0, &"paris".to_owned());
    let only: Vec<DeviceKey> = fam.keys(paris).await.unwrap().try_collect().await.unwrap();
    assert_eq!(only, [dev("paris", 1)]);
    let one: Vec<DeviceKey> = fam
        .keys(&dev("lyon", 1))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(one, [dev("lyon", 1)]);

    // A key of the pattern's shape written by someone else, whose id is not a u32, is reported.
    let foreign: Family<String, Vec<u8>, Raw> =
        Family::bind(fam.bucket(), "site.paris.device.{id}").unwrap();
    let foreign_rev = foreign
        .put(&"seven".to_owned(), &b"x".to_vec())
        .await
        .unwrap();
    let items: Vec<_> = fam
        .keys(KeyFilter::any())
        .await
        .unwrap()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(items.len(), 3);
    let errors: Vec<_> = items.iter().filter_map(|i| i.as_ref().err()).collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind(), ErrorKind::InvalidKey);
    assert_eq!(
        errors[0].key(),
        Some("site.paris.device.seven"),
        "the foreign key is named"
    );
    assert_eq!(errors[0].revision(), Some(foreign_rev), "with its revision");

    let bad = KeyFilter::<DeviceKey>::any().with(0, &"a.b".to_owned());
    assert_eq!(
        fam.keys(bad).await.unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
}

#[tokio::test]
async fn invalid_params_are_refused_before_any_write() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("badkeys")).await;
    for site in ["a.b", "*", ">", "with space", "", "tab\t", "é", "a*b"] {
        let err = fam.put(&dev(site, 1), &state(1)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "site {site:?}");
        assert_eq!(
            fam.get(&dev(site, 1)).await.unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
    }
    // A first token starting with `_kv` is reserved.
    let top: Family<String, State> = Family::bind(fam.bucket(), "{name}").unwrap();
    assert_eq!(
        top.put(&"_kvx".to_owned(), &state(1))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidKey
    );
    assert_eq!(
        fam.bucket().status().await.unwrap().values,
        0,
        "nothing was written"
    );

    // Arbitrary text goes through the encoded key part.
    let names: Family<natskv::Encoded, State> = Family::bind(fam.bucket(), "name.{n}").unwrap();
    let odd = natskv::Encoded::from("a.b *>/ é");
    names.put(&odd, &state(5)).await.unwrap();
    let back: Vec<_> = names
        .keys(KeyFilter::any())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(back, [odd]);
}

#[tokio::test]
async fn patterns_that_do_not_fit_are_refused() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new("patterns"))
        .await
        .unwrap();
    for bad in [
        "site.{site}",
        "site.{site}.{id}.{extra}",
        "a..b",
        "_kv.{site}.{id}",
        "a.*.{site}.{id}",
    ] {
        let err = Family::<DeviceKey, State>::bind(&bucket, bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidKey, "{bad}");
    }
    assert!(Single::<State>::bind(&bucket, "a.{b}").is_err());
}

#[tokio::test]
async fn undecodable_values_are_codec_errors_with_key_and_revision() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("codec")).await;
    let raw: Family<DeviceKey, Vec<u8>, Raw> = Family::bind(fam.bucket(), DEVICES).unwrap();
    let k = dev("nice", 1);
    let rev = raw.put(&k, &vec![0xc1, 0xff]).await.unwrap();
    match fam.get(&k).await.unwrap_err() {
        Error::Codec {
            key,
            revision,
            decoding,
            ..
        } => {
            assert_eq!(key, "site.nice.device.1");
            assert_eq!(revision, Some(rev));
            assert!(decoding);
        }
        other => panic!("expected a codec error, got {other:?}"),
    }
    // The history stream reports the bad value and goes on.
    fam.put(&k, &state(3)).await.unwrap();
    let items: Vec<_> = fam.history(&k).await.unwrap().collect().await;
    assert_eq!(items.len(), 1, "history 1 keeps the latest only");
    assert_eq!(items[0].as_ref().unwrap().value, Some(state(3)));

    // A valid value followed by more bytes is not that value.
    let mut trailing = rmp_serde::to_vec_named(&state(4)).unwrap();
    trailing.push(0xc0);
    let rev = raw.put(&k, &trailing).await.unwrap();
    let err = fam.get(&k).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Codec, "{err}");
    assert_eq!(err.revision(), Some(rev));
    trailing.pop();
    raw.put(&k, &trailing).await.unwrap();
    assert_eq!(fam.value(&k).await.unwrap(), Some(state(4)));
}

#[tokio::test]
async fn values_larger_than_the_bucket_allows_are_refused() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    // The limit counts the value's headers (about 50 bytes) too.
    let spec = BucketSpec::new("small").max_value_size(128);
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    let blobs: Family<String, Vec<u8>, Raw> = Family::bind(&bucket, "blob.{id}").unwrap();
    let err = blobs
        .put(&"big".to_owned(), &vec![7; 100])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValueTooLarge, "{err}");
    assert_eq!(err.key(), Some("blob.big"));
    blobs.put(&"ok".to_owned(), &vec![7; 16]).await.unwrap();
    assert_eq!(bucket.status().await.unwrap().values, 1);
}

#[tokio::test]
async fn singles_and_other_codecs() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new("single").history(3))
        .await
        .unwrap();
    let flag: Single<bool> = Single::bind(&bucket, "maintenance").unwrap();
    assert_eq!(flag.value().await.unwrap(), None);
    let r1 = flag.put(&true).await.unwrap();
    let r2 = flag.update(&false, r1).await.unwrap();
    assert_eq!(flag.get().await.unwrap().unwrap().revision, r2);
    assert_eq!(
        flag.update(&true, r1).await.unwrap_err().kind(),
        ErrorKind::WrongRevision
    );
    assert_eq!(flag.key(), "maintenance");
    let deleted = flag.delete().await.unwrap();
    assert!(flag.get().await.unwrap().is_none());
    let marker = flag.latest().await.unwrap().expect("the delete marker");
    assert_eq!(
        (marker.revision, marker.operation),
        (deleted, Operation::Delete)
    );

    let json: Single<State, natskv::Json> = Single::bind(&bucket, "config.json").unwrap();
    json.put(&state(4)).await.unwrap();
    let text: Single<String, Raw> = Single::bind(&bucket, "config.json").unwrap();
    assert_eq!(
        text.value().await.unwrap().unwrap(),
        r#"{"online":true,"battery":4}"#
    );
}

#[tokio::test]
async fn entries_are_readable_by_other_nats_clients_and_the_reverse() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let fam = devices(&nats, BucketSpec::new("interop").history(5)).await;
    let store = async_nats::jetstream::new(nats.clone())
        .get_key_value("interop")
        .await
        .unwrap();

    let k = dev("riga", 1);
    let rev = fam.put(&k, &state(42)).await.unwrap();
    let entry = store.entry("site.riga.device.1").await.unwrap().unwrap();
    assert_eq!(entry.revision, rev);
    assert_eq!(
        <MsgPack as natskv::Codec<State>>::decode(&entry.value).unwrap(),
        state(42)
    );

    fam.delete(&k).await.unwrap();
    assert!(
        store.get("site.riga.device.1").await.unwrap().is_none(),
        "our delete is theirs"
    );

    let bytes = <MsgPack as natskv::Codec<State>>::encode(&state(7)).unwrap();
    let theirs = store.put("site.riga.device.2", bytes).await.unwrap();
    let ours = fam.get(&dev("riga", 2)).await.unwrap().unwrap();
    assert_eq!((ours.revision, ours.value), (theirs, state(7)));
    store.purge("site.riga.device.2").await.unwrap();
    assert!(fam.get(&dev("riga", 2)).await.unwrap().is_none());
}

#[tokio::test]
async fn bucket_lifecycle_listing_and_fresh_status() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let spec = BucketSpec::new("life")
        .description("lifecycle")
        .history(7)
        .ttl(Duration::from_secs(3600))
        .max_value_size(1024)
        .max_bytes(1 << 20)
        .storage(Storage::Memory)
        .compression(true)
        .metadata("team", "core");
    let bucket = Bucket::create(&nats, &spec).await.unwrap();
    assert_eq!(
        Bucket::create(&nats, &spec).await.unwrap().name(),
        "life",
        "same config: no error"
    );
    let err = Bucket::create(&nats, &BucketSpec::new("life").history(2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketExists);

    let status = bucket.status().await.unwrap();
    assert_eq!(status.name, "life");
    assert_eq!(status.description.as_deref(), Some("lifecycle"));
    assert_eq!((status.values, status.history), (0, 7));
    assert_eq!(status.ttl, Some(Duration::from_secs(3600)));
    assert_eq!(
        (status.max_value_size, status.max_bytes),
        (Some(1024), Some(1 << 20))
    );
    assert_eq!(
        (status.storage, status.replicas, status.compression),
        (Storage::Memory, 1, true)
    );
    assert_eq!(
        status.metadata.get("team").map(String::as_str),
        Some("core")
    );

    let fam: Family<String, u32> = Family::bind(&bucket, "n.{id}").unwrap();
    fam.put(&"a".to_owned(), &1).await.unwrap();
    fam.put(&"b".to_owned(), &2).await.unwrap();
    let fresh = bucket.status().await.unwrap();
    assert_eq!(fresh.values, 2, "status is read fresh, not cached at open");
    assert!(fresh.bytes > 0);

    Bucket::create(&nats, &BucketSpec::new("other"))
        .await
        .unwrap();
    assert_eq!(Bucket::list_names(&nats).await.unwrap(), ["life", "other"]);
    let statuses = Bucket::list_statuses(&nats).await.unwrap();
    assert_eq!(
        statuses
            .iter()
            .map(|s| (s.name.as_str(), s.values))
            .collect::<Vec<_>>(),
        [("life", 2), ("other", 0)]
    );

    Bucket::delete(&nats, "life").await.unwrap();
    assert_eq!(Bucket::list_names(&nats).await.unwrap(), ["other"]);
    assert_eq!(
        Bucket::open_name(&nats, "life").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
    assert_eq!(
        Bucket::delete(&nats, "life").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
    assert_eq!(
        fam.put(&"c".to_owned(), &3).await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
}

#[tokio::test]
async fn open_reports_drift_and_ensure_repairs_it() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let declared = BucketSpec::new("drift")
        .history(5)
        .description("declared")
        .metadata("v", "1");
    assert_eq!(
        Bucket::open(&nats, &declared).await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );

    Bucket::create(&nats, &BucketSpec::new("drift").history(2))
        .await
        .unwrap();
    match Bucket::open(&nats, &declared).await.unwrap_err() {
        Error::ConfigDrift {
            bucket,
            differences,
        } => {
            assert_eq!(bucket, "drift");
            let options: Vec<_> = differences.iter().map(|d| d.option).collect();
            assert_eq!(options, ["description", "history", "metadata"]);
            assert_eq!(
                (
                    differences[1].declared.as_str(),
                    differences[1].actual.as_str()
                ),
                ("5", "2")
            );
        }
        other => panic!("expected drift, got {other:?}"),
    }
    let bucket = Bucket::ensure(&nats, &declared).await.unwrap();
    assert_eq!(bucket.status().await.unwrap().history, 5);
    Bucket::open(&nats, &declared)
        .await
        .expect("no drift after ensure");
    // ensure creates a missing bucket too.
    Bucket::ensure(&nats, &BucketSpec::new("fresh"))
        .await
        .unwrap();
    assert_eq!(Bucket::list_names(&nats).await.unwrap(), ["drift", "fresh"]);
}

/// Writes `schema` into bucket `name`'s metadata, as a hand or an older natskv would.
async fn set_stored_schema(js: &async_nats::jetstream::Context, name: &str, schema: &str) {
    let mut stream = js.get_stream(format!("KV_{name}")).await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    config
        .metadata
        .insert(natskv::SCHEMA_METADATA_KEY.to_owned(), schema.to_owned());
    js.update_stream(config).await.unwrap();
}

#[tokio::test]
async fn schemas_guard_open_and_ensure() {
    use natskv::{Json, MsgPack, Schema, SchemaDifference};
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let msgpack = || Schema::new().family::<String, u32, MsgPack>("a.{x}");
    let json = || Schema::new().family::<String, u32, Json>("a.{x}");
    Bucket::create(&nats, &BucketSpec::new("schema").schema(msgpack()))
        .await
        .unwrap();
    Bucket::open(&nats, &BucketSpec::new("schema").schema(msgpack()))
        .await
        .unwrap();
    for result in [
        Bucket::open(&nats, &BucketSpec::new("schema").schema(json())).await,
        Bucket::ensure(&nats, &BucketSpec::new("schema").schema(json())).await,
    ] {
        match result.unwrap_err() {
            Error::SchemaMismatch {
                expected,
                found,
                differences,
                ..
            } => {
                assert_eq!((expected, found), (json().to_text(), msgpack().to_text()));
                assert_eq!(
                    differences,
                    [SchemaDifference::Codec {
                        pattern: "a.{x}".to_owned(),
                        declared: "json".to_owned(),
                        stored: "msgpack".to_owned(),
                    }]
                );
            }
            other => panic!("expected a schema mismatch, got {other:?}"),
        }
    }

    // A bucket made without a schema, or with one natskv stored before schema 3, gets this
    // declaration's from ensure; a schema that cannot be read is refused as opaque.
    let js = async_nats::jetstream::new(nats.clone());
    for (name, stored) in [("plain", None), ("legacy", Some("v1-00000000000000aa"))] {
        Bucket::create(&nats, &BucketSpec::new(name)).await.unwrap();
        if let Some(stored) = stored {
            set_stored_schema(&js, name, stored).await;
        }
        Bucket::open(&nats, &BucketSpec::new(name).schema(json()))
            .await
            .unwrap();
        let b = Bucket::ensure(&nats, &BucketSpec::new(name).schema(json()))
            .await
            .unwrap();
        let status = b.status().await.unwrap();
        assert!(
            status.metadata.is_empty(),
            "the schema is not user metadata"
        );
        let info = b.stream_info().await.unwrap();
        assert_eq!(
            info.config.metadata.get(natskv::SCHEMA_METADATA_KEY),
            Some(&json().to_text()),
            "{name}"
        );
        let error = Bucket::open(&nats, &BucketSpec::new(name).schema(msgpack()))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::SchemaMismatch);
    }
    set_stored_schema(&js, "plain", "{oops").await;
    let error = Bucket::open(&nats, &BucketSpec::new("plain").schema(json()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::SchemaMismatch { differences, .. }
            if matches!(differences[..], [SchemaDifference::Opaque { .. }])),
        "{error:?}"
    );
    assert!(error.to_string().contains("cannot be read"), "{error}");
}

#[tokio::test]
async fn invalid_names_and_options_fail_before_any_wire_call() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    for name in ["", "a.b", "a b", "a*", "ä"] {
        let err = Bucket::create(&nats, &BucketSpec::new(name))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidBucketName, "{name:?}");
        assert_eq!(
            Bucket::open_name(&nats, name).await.unwrap_err().kind(),
            ErrorKind::InvalidBucketName
        );
    }
    for spec in [
        BucketSpec::new("x").history(0),
        BucketSpec::new("x").history(65),
        BucketSpec::new("x").replicas(6),
    ] {
        assert_eq!(
            Bucket::ensure(&nats, &spec).await.unwrap_err().kind(),
            ErrorKind::InvalidConfig
        );
    }
    assert!(
        Bucket::list_names(&nats).await.unwrap().is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn a_server_without_jetstream_is_reported_as_such() {
    let server = natskv::server::NatsServer::builder()
        .jetstream(false)
        .start()
        .await
        .unwrap();
    let nats = common::connect(&server).await;
    let err = Bucket::create(&nats, &BucketSpec::new("nojs"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStreamNotEnabled, "{err}");
    let err = Bucket::open_name(&nats, "nojs").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStreamNotEnabled, "{err:?}");
    assert!(!err.is_transient(), "a fact, not a passing state");
    assert_eq!(err.bucket(), None);
    let err = Bucket::list_names(&nats).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStreamNotEnabled, "{err:?}");
    assert_eq!(err.bucket(), None, "a listing is about no bucket: {err:?}");
}

#[tokio::test]
async fn replicated_bucket_survives_a_node_loss() {
    let mut cluster = natskv::server::Cluster::start(3).await.unwrap();
    let nats = common::connect_url(&cluster.url(0)).await;
    let spec = BucketSpec::new("replicated").replicas(3).history(3);
    let fam: Family<String, u32> =
        Family::bind(&Bucket::create(&nats, &spec).await.unwrap(), "n.{id}").unwrap();
    let r1 = fam.put(&"a".to_owned(), &1).await.unwrap();
    assert_eq!(fam.bucket().status().await.unwrap().replicas, 3);

    cluster.stop_node(2).await.unwrap();
    let r2 = common::wait_for("a write with one node down", || {
        let fam = fam.clone();
        async move { fam.update(&"a".to_owned(), &2, r1).await.ok() }
    })
    .await;
    assert_eq!(fam.value(&"a".to_owned()).await.unwrap(), Some(2));
    cluster.restart_node(2).await.unwrap();
    let other = common::connect_url(&cluster.url(2)).await;
    let from_restarted: Family<String, u32> =
        Family::bind(&Bucket::open(&other, &spec).await.unwrap(), "n.{id}").unwrap();
    let seen = common::wait_for("the restarted node to serve the latest value", || {
        let f = from_restarted.clone();
        async move {
            f.get(&"a".to_owned())
                .await
                .ok()
                .flatten()
                .filter(|e| e.revision == r2)
        }
    })
    .await;
    assert_eq!(seen.value, 2);
}

#[tokio::test]
async fn an_unresponsive_server_is_a_timeout_and_writes_say_they_may_have_applied() {
    let mut server = common::server().await;
    let nats = common::connect(&server).await;
    let bucket = Bucket::create(&nats, &BucketSpec::new("slow"))
        .await
        .unwrap();
    let ready: Family<String, u32> = Family::bind(&bucket, "n.{id}").unwrap();
    ready.put(&"a".to_owned(), &1).await.unwrap();
    // The same bucket through a JetStream context that waits half a second for answers, and
    // resends an unanswered write for two seconds.
    let mut js = async_nats::jetstream::new(nats.clone());
    js.set_timeout(Duration::from_millis(500));
    let slow = Bucket::open_name(&js, "slow")
        .await
        .unwrap()
        .with_write_retry(natskv::WriteRetry::default().timeout(Duration::from_secs(2)));
    let fam: Family<String, u32> = Family::bind(&slow, "n.{id}").unwrap();

    server.freeze().unwrap();
    let read = fam.get(&"a".to_owned()).await.unwrap_err();
    let write = fam.put(&"a".to_owned(), &2).await.unwrap_err();
    server.thaw().unwrap();
    assert_eq!(read.kind(), ErrorKind::Timeout, "{read:?}");
    assert_eq!(write.kind(), ErrorKind::Timeout, "{write:?}");
    assert!(matches!(
        read,
        Error::Timeout {
            may_have_applied: false,
            ..
        }
    ));
    assert!(matches!(
        write,
        Error::Timeout {
            may_have_applied: true,
            ..
        }
    ));
    assert!(
        write.to_string().contains("may have been applied"),
        "{write}"
    );
    // Once the server answers again, so does the handle.
    let value = common::wait_for("the thawed server to answer", || {
        let fam = fam.clone();
        async move { fam.value(&"a".to_owned()).await.ok().flatten() }
    })
    .await;
    assert!(
        value == 1 || value == 2,
        "the timed-out write may or may not have landed: {value}"
    );
}

#[tokio::test]
async fn a_change_the_server_refuses_is_a_server_error_with_its_code() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    Bucket::create(&nats, &BucketSpec::new("fixed").storage(Storage::File))
        .await
        .unwrap();
    let err = Bucket::ensure(&nats, &BucketSpec::new("fixed").storage(Storage::Memory))
        .await
        .unwrap_err();
    match &err {
        Error::Server {
            code,
            description,
            operation,
            ..
        } => {
            assert!(*code > 10_000, "a JetStream error code: {code}");
            assert!(description.contains("storage"), "{description}");
            assert_eq!(*operation, "update configuration");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    assert!(err.server_code().is_some_and(|c| c > 10_000), "{err:?}");
    assert_eq!(
        Bucket::open_name(&nats, "fixed")
            .await
            .unwrap()
            .status()
            .await
            .unwrap()
            .storage,
        Storage::File
    );
}
