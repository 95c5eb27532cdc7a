//! Keys of any depth against a real nats-server: a tail parameter `{name..}` typed as a
//! `KeyPath`, written and read back at several depths, listed and watched through prefix
//! filters, beside a literal key the tail does not cover, and against keys another client
//! wrote that do not have the family's shape.

mod common;

use bytes::Bytes;
use natskv::{Family, KeyFilter, KeyPath, KvBucket, KvKey, Operation, Single, StreamExt};

#[derive(KvKey, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TenantPath {
    tenant: String,
    path: KeyPath,
}

#[derive(KvBucket)]
#[kv(bucket = "settings", history = 5)]
struct Settings {
    #[kv(key = "config.{path..}")]
    config: Family<KeyPath, u32>,
    #[kv(key = "config")]
    root: Single<u32>,
    #[kv(key = "tenant.{tenant}.{path..}")]
    tenants: Family<TenantPath, String>,
}

fn path(text: &str) -> KeyPath {
    KeyPath::parse(text).unwrap()
}

fn tenant(tenant: &str, text: &str) -> TenantPath {
    TenantPath {
        tenant: tenant.to_owned(),
        path: path(text),
    }
}

#[tokio::test]
async fn paths_of_any_depth_are_written_listed_and_read_back() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let name = common::unique_bucket("paths");
    let settings = Settings::create_named(&nats, &name).await.unwrap();

    let depths = [
        "limits",
        "eu.limits",
        "eu.paris.limits",
        "eu.paris.7.limits",
        "us.limits",
    ];
    let mut revisions = Vec::new();
    for (value, text) in (1..).zip(depths) {
        revisions.push(settings.config.put(&path(text), &value).await.unwrap());
    }
    settings.root.put(&100).await.unwrap();

    for (value, text) in (1..).zip(depths) {
        assert_eq!(
            settings.config.value(&path(text)).await.unwrap(),
            Some(value),
            "{text}"
        );
    }
    assert_eq!(settings.root.value().await.unwrap(), Some(100));

    // The family's keys are the paths under `config.`, never the literal `config` beside it.
    let mut all = depths.map(path).to_vec();
    all.sort();
    assert_eq!(common::sorted_keys(&settings.config).await, all);
    let raw = settings.config.bucket().keys([">"]).await.unwrap();
    assert_eq!(common::sorted(raw).await.len(), depths.len() + 1);

    // Under a prefix: one token or more below it, not the prefix itself.
    let under_eu = settings
        .config
        .keys(KeyFilter::any().under(&path("eu")))
        .await
        .unwrap();
    assert_eq!(
        common::sorted(under_eu).await,
        [
            path("eu.limits"),
            path("eu.paris.7.limits"),
            path("eu.paris.limits")
        ]
    );
    let under_paris = settings
        .config
        .keys(KeyFilter::any().under(&path("eu.paris")))
        .await
        .unwrap();
    assert_eq!(
        common::sorted(under_paris).await,
        [path("eu.paris.7.limits"), path("eu.paris.limits")]
    );
    let exact = settings.config.keys(&path("eu.limits")).await.unwrap();
    assert_eq!(common::sorted(exact).await, [path("eu.limits")]);

    // A deep key's history and delete marker, with its revisions.
    let deep = path("eu.paris.7.limits");
    let again = settings.config.put(&deep, &40).await.unwrap();
    let deleted = settings.config.delete(&deep).await.unwrap();
    let history: Vec<_> = settings
        .config
        .history(&deep)
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        history
            .iter()
            .map(|e| (e.key.clone(), e.revision, e.operation, e.value))
            .collect::<Vec<_>>(),
        [
            (deep.clone(), revisions[3], Operation::Put, Some(4)),
            (deep.clone(), again, Operation::Put, Some(40)),
            (deep.clone(), deleted, Operation::Delete, None),
        ]
    );
    assert_eq!(settings.config.value(&deep).await.unwrap(), None);
}

#[tokio::test]
async fn a_tail_beside_other_parameters_filters_and_watches_by_prefix() {
    let server = common::server().await;
    let nats = common::connect(&server).await;
    let js = async_nats::jetstream::new(nats.clone());
    let name = common::unique_bucket("paths");
    let settings = Settings::create_named(&nats, &name).await.unwrap();
    let tenants = &settings.tenants;

    let acme_eu = tenants
        .watch(TenantPath::filter().tenant("acme").under(&path("eu")))
        .await
        .unwrap();
    let keys = [
        tenant("acme", "eu.paris"),
        tenant("acme", "eu.paris.limit"),
        tenant("acme", "us.nyc"),
        tenant("acme", "eu"),
        tenant("globex", "eu.paris"),
    ];
    let mut revisions = Vec::new();
    for key in &keys {
        revisions.push(tenants.put(key, &key.path.to_string()).await.unwrap());
    }
    // Keys another client wrote under `tenant.`: one without a path, one that is not a key
    // this family writes (`tenant` alone); neither has the family's shape.
    for subject in ["tenant.acme", "tenant"] {
        js.publish(format!("$KV.{name}.{subject}"), Bytes::from_static(b"x"))
            .await
            .unwrap()
            .await
            .unwrap();
    }

    // The watch sees the keys under acme's `eu`, in revision order, and nothing else.
    let seen: Vec<_> = acme_eu
        .take(2)
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.key, entry.revision, entry.value)
        })
        .collect()
        .await;
    assert_eq!(
        seen,
        [
            (keys[0].clone(), revisions[0], Some("eu.paris".to_owned())),
            (
                keys[1].clone(),
                revisions[1],
                Some("eu.paris.limit".to_owned())
            ),
        ]
    );

    let acme = tenants
        .keys(TenantPath::filter().tenant("acme"))
        .await
        .unwrap();
    assert_eq!(
        common::sorted(acme).await,
        [
            keys[3].clone(),
            keys[0].clone(),
            keys[1].clone(),
            keys[2].clone()
        ]
    );
    let paris = tenants
        .keys(TenantPath::filter().path(path("eu.paris")))
        .await
        .unwrap();
    assert_eq!(
        common::sorted(paris).await,
        [keys[0].clone(), keys[4].clone()]
    );
    let everyone = common::sorted_keys(tenants).await;
    assert_eq!(
        everyone.len(),
        keys.len(),
        "the foreign keys are not the family's"
    );
}
