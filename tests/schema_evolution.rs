//! Schema evolution against a real nats-server: two declarations of one bucket (v1 and v2 of
//! a service), each change of the policy table in `natskv::schema`, in both orders (v1 then v2,
//! v2 then v1), and a rolling deploy where both versions write and watch the bucket at once.

// The declarations are opened to compare schemas; not every family is read.
#![allow(dead_code)]

mod common;

use natskv::{
    Error, ErrorKind, Family, Json, KvBucket, KvKey, SCHEMA_METADATA_KEY, Schema, SchemaDifference,
    Single, StreamExt,
};
use serde::{Deserialize, Serialize};

#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
struct DeviceKey {
    site: String,
    id: u32,
}

/// The same key under other Rust names: a refactor.
#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
struct GadgetKey {
    place: String,
    number: u32,
}

#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
struct NamedDevice {
    site: String,
    id: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct StateV1 {
    online: bool,
    battery: u8,
}

/// `StateV1` renamed, with a field renamed in Rust and kept on the wire.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct GadgetStatus {
    online: bool,
    #[serde(rename = "battery")]
    charge: u8,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct StateOptional {
    online: bool,
    battery: u8,
    note: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct StateRequired {
    online: bool,
    battery: u8,
    channel: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Config {
    interval_s: u32,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct V1 {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, StateV1>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct Renamed {
    #[kv(key = "site.{place}.device.{number}")]
    gadgets: Family<GadgetKey, GadgetStatus>,
    #[kv(key = "maintenance")]
    switch: Single<bool>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct AddFamily {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, StateV1>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
    #[kv(key = "site.{site}.device.{id}.config")]
    configs: Family<DeviceKey, Config>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct AddOptional {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, StateOptional>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct LeaveOut {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, StateV1>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo", removed = ["maintenance"])]
struct Remove {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, StateV1>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct PatternChange {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<NamedDevice, StateV1>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct CodecChange {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, StateV1, Json>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct ValueChange {
    #[kv(key = "site.{site}.device.{id}")]
    devices: Family<DeviceKey, StateRequired>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct ValueChangeOptedIn {
    #[kv(key = "site.{site}.device.{id}", breaking)]
    devices: Family<DeviceKey, StateRequired>,
    #[kv(key = "maintenance")]
    maintenance: Single<bool>,
}

#[derive(KvKey, Clone, Debug, PartialEq, Eq, Hash)]
struct Route {
    from: String,
    to: String,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct Routes {
    #[kv(key = "route.{from}.{to}")]
    routes: Family<Route, u32>,
}

#[derive(KvBucket)]
#[kv(bucket = "evo")]
struct RoutesSwapped {
    #[kv(key = "route.{to}.{from}")]
    routes: Family<Route, u32>,
}

/// What `ensure` (or `open`) of a declaration gave: `Ok`, or the kinds of difference refused.
#[derive(Debug, PartialEq)]
enum Outcome {
    Fits,
    Refused(Vec<&'static str>),
}

fn outcome<T>(result: natskv::Result<T>) -> Outcome {
    match result {
        Ok(_) => Outcome::Fits,
        Err(Error::SchemaMismatch { differences, .. }) => Outcome::Refused(
            differences
                .iter()
                .map(|d| match d {
                    SchemaDifference::Removed { .. } => "removed",
                    SchemaDifference::Changed { .. } => "changed",
                    SchemaDifference::Codec { .. } => "codec",
                    SchemaDifference::Pattern { .. } => "pattern",
                    SchemaDifference::ParamOrder { .. } => "order",
                    _ => "other",
                })
                .collect(),
        ),
        Err(other) => panic!("expected a schema outcome, got {other}"),
    }
}

const FITS: Outcome = Outcome::Fits;

fn refused(kind: &'static str) -> Outcome {
    Outcome::Refused(vec![kind])
}

/// Runs one policy row in both orders, each on a fresh bucket: the first declaration
/// `ensure`s, then the second `open`s and `ensure`s, then the first opens again.
macro_rules! row {
    ($nats:expr, $first:ident then $second:ident => $second_outcome:expr, then $first_again:expr) => {{
        let name = common::unique_bucket("evo");
        $first::ensure_named($nats, &name).await.unwrap();
        let opened = outcome($second::open_named($nats, &name).await);
        let ensured = outcome($second::ensure_named($nats, &name).await);
        let again = outcome($first::open_named($nats, &name).await);
        assert_eq!(
            (opened, ensured, again),
            ($second_outcome, $second_outcome, $first_again),
            "{} then {}",
            stringify!($first),
            stringify!($second)
        );
    }};
}

#[tokio::test]
async fn compatible_changes_open_in_both_orders() {
    let server = common::server().await;
    let nats = &common::connect(&server).await;
    row!(nats, V1 then Renamed => FITS, then FITS);
    row!(nats, Renamed then V1 => FITS, then FITS);
    row!(nats, V1 then AddFamily => FITS, then FITS);
    row!(nats, AddFamily then V1 => FITS, then FITS);
    row!(nats, V1 then AddOptional => FITS, then FITS);
    row!(nats, AddOptional then V1 => FITS, then FITS);
    row!(nats, V1 then LeaveOut => FITS, then FITS);
    row!(nats, LeaveOut then V1 => FITS, then FITS);
}

#[tokio::test]
async fn opt_ins_change_the_stored_schema_and_refuse_the_old_declaration() {
    let server = common::server().await;
    let nats = &common::connect(&server).await;
    // Removing a family: the old declaration, which still has it, is refused afterwards.
    row!(nats, V1 then Remove => FITS, then refused("removed"));
    // Removing a family the bucket never had is remembered too.
    row!(nats, Remove then V1 => refused("removed"), then FITS);

    // A value old readers cannot decode: refused without the opt-in, stored with it.
    row!(nats, V1 then ValueChange => refused("changed"), then FITS);
    row!(nats, ValueChange then V1 => refused("changed"), then FITS);
    row!(nats, V1 then ValueChangeOptedIn => FITS, then refused("changed"));
    row!(nats, ValueChangeOptedIn then V1 => refused("changed"), then FITS);
}

#[tokio::test]
async fn pattern_order_and_codec_changes_are_always_refused() {
    let server = common::server().await;
    let nats = &common::connect(&server).await;
    row!(nats, V1 then PatternChange => refused("pattern"), then FITS);
    row!(nats, PatternChange then V1 => refused("pattern"), then FITS);
    row!(nats, V1 then CodecChange => refused("codec"), then FITS);
    row!(nats, CodecChange then V1 => refused("codec"), then FITS);
    row!(nats, Routes then RoutesSwapped => refused("order"), then FITS);
    row!(nats, RoutesSwapped then Routes => refused("order"), then FITS);
}

#[tokio::test]
async fn mismatches_say_which_family_what_changed_and_what_to_do() {
    let server = common::server().await;
    let nats = &common::connect(&server).await;
    let name = common::unique_bucket("evo");
    V1::ensure_named(nats, &name).await.unwrap();
    let Err(error) = ValueChange::open_named(nats, &name).await else {
        panic!("a value old readers cannot decode is refused");
    };
    assert_eq!(error.kind(), ErrorKind::SchemaMismatch);
    let text = error.to_string();
    for part in [
        "family `site.{site}.device.{id}`",
        "field `channel` is new and required",
        "#[kv(key = \"site.{site}.device.{id}\", breaking)]",
        "natskv::Migration",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    let Err(error) = CodecChange::open_named(nats, &name).await else {
        panic!("a codec change is refused");
    };
    let text = error.to_string();
    assert!(
        text.contains("stored with codec `msgpack`, declared with `json`"),
        "{text}"
    );
}

/// The schema text bucket `name` stores.
async fn stored_schema(nats: &async_nats::Client, name: &str) -> Schema {
    let js = async_nats::jetstream::new(nats.clone());
    let mut stream = js.get_stream(format!("KV_{name}")).await.unwrap();
    let info = stream.info().await.unwrap();
    let text = info.config.metadata.get(SCHEMA_METADATA_KEY).unwrap();
    Schema::parse(text).unwrap().unwrap()
}

#[tokio::test]
async fn ensure_widens_the_stored_schema_and_an_older_declaration_never_narrows_it() {
    let server = common::server().await;
    let nats = &common::connect(&server).await;
    let name = common::unique_bucket("evo");
    V1::ensure_named(nats, &name).await.unwrap();
    AddOptional::ensure_named(nats, &name).await.unwrap();
    AddFamily::ensure_named(nats, &name).await.unwrap();
    let widened = stored_schema(nats, &name).await;
    // The older declarations ensure again: nothing is taken away.
    V1::ensure_named(nats, &name).await.unwrap();
    LeaveOut::ensure_named(nats, &name).await.unwrap();
    let after = stored_schema(nats, &name).await;
    assert_eq!(after, widened);
    let patterns: Vec<&str> = after
        .families()
        .iter()
        .map(natskv::FamilySchema::pattern)
        .collect();
    assert_eq!(
        patterns,
        [
            "maintenance",
            "site.{site}.device.{id}",
            "site.{site}.device.{id}.config"
        ]
    );
    let devices = after.families()[1].value().unwrap().to_string();
    assert_eq!(
        devices,
        r#"{"struct":{"battery":"u8","note":{"option":"str"},"online":"bool"}}"#
    );
}

#[tokio::test]
async fn a_rolling_deploy_writes_and_watches_with_both_versions() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("evo");
    let v1 = V1::ensure_named(&nats, &name).await.unwrap();
    let v2 = AddOptional::ensure_named(&nats, &name).await.unwrap();
    // v1 instances keep starting while v2 runs.
    let v1_again = V1::open_named(&nats, &name).await.unwrap();

    let each: u32 = 50;
    let mut watch_v1 = v1_again
        .devices
        .watch_with(DeviceKey::filter())
        .updates_only()
        .start()
        .await
        .unwrap();
    let mut watch_v2 = v2
        .devices
        .watch_with(DeviceKey::filter())
        .updates_only()
        .start()
        .await
        .unwrap();
    let key = |site: &str, id| DeviceKey {
        site: site.to_owned(),
        id,
    };
    let writer_v1 = tokio::spawn({
        let devices = v1.devices.clone();
        async move {
            for id in 0..each {
                let state = StateV1 {
                    online: true,
                    battery: 1,
                };
                devices.put(&key("v1", id), &state).await.unwrap();
            }
        }
    });
    let writer_v2 = tokio::spawn({
        let devices = v2.devices.clone();
        async move {
            for id in 0..each {
                let state = StateOptional {
                    online: false,
                    battery: 2,
                    note: Some(format!("n{id}")),
                };
                devices.put(&key("v2", id), &state).await.unwrap();
            }
        }
    });
    writer_v1.await.unwrap();
    writer_v2.await.unwrap();

    // Each version decodes every entry, its own and the other's, without an error.
    let mut seen_v1 = Vec::new();
    while seen_v1.len() < 2 * each as usize {
        let entry = watch_v1.next().await.unwrap().unwrap();
        seen_v1.push((entry.key.site, entry.value.unwrap().battery));
    }
    let mut seen_v2 = Vec::new();
    while seen_v2.len() < 2 * each as usize {
        let entry = watch_v2.next().await.unwrap().unwrap();
        let value = entry.value.unwrap();
        seen_v2.push((entry.key.site, value.battery, value.note.is_some()));
    }
    for site in ["v1", "v2"] {
        let battery = if site == "v1" { 1 } else { 2 };
        let count = seen_v1
            .iter()
            .filter(|(s, b)| s == site && *b == battery)
            .count();
        assert_eq!(count, each as usize, "v1 reads {site}'s writes");
        let count = seen_v2
            .iter()
            .filter(|(s, b, note)| s == site && *b == battery && *note == (site == "v2"))
            .count();
        assert_eq!(count, each as usize, "v2 reads {site}'s writes");
    }
}
