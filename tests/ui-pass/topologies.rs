//! Mirrors and aggregates: a mirror with `ReadOnly` families, a read-only aggregate and a
//! writable aggregate with `ReadWrite` families compile, their `spec()` is the hand-built one,
//! and the origins are configuration, not part of the schema fingerprint.

use natskv::{BucketSpec, Family, KvBucket, MsgPack, Origin, ReadOnly, Single};

/// A read-only copy of the Paris keys of `fleet`, in the hub's domain.
#[derive(KvBucket)]
#[kv(
    bucket = "fleet_paris",
    history = 5,
    mirror(
        bucket = "fleet",
        keys = ["site.paris.>", "maintenance"],
        api_prefix = "$JS.hub.API",
        deliver_prefix = "deliver.hub",
        stream = "KV_fleet"
    )
)]
pub struct FleetParis {
    #[kv(key = "site.{site}")]
    pub sites: Family<String, u32, MsgPack, ReadOnly>,
    #[kv(key = "maintenance")]
    pub maintenance: Single<bool, MsgPack, ReadOnly>,
}

/// The same mirror of other keys.
#[derive(KvBucket)]
#[kv(bucket = "fleet_paris", history = 5, mirror(bucket = "fleet", keys = ["site.lyon.>"]))]
pub struct FleetLyon {
    #[kv(key = "site.{site}")]
    pub sites: Family<String, u32, MsgPack, ReadOnly>,
    #[kv(key = "maintenance")]
    pub maintenance: Single<bool, MsgPack, ReadOnly>,
}

/// Not a mirror: the same bucket name and families.
#[derive(KvBucket)]
#[kv(bucket = "fleet_paris", history = 5)]
pub struct FleetPlain {
    #[kv(key = "site.{site}")]
    pub sites: Family<String, u32, MsgPack, ReadOnly>,
    #[kv(key = "maintenance")]
    pub maintenance: Single<bool, MsgPack, ReadOnly>,
}

/// Two fleets in one bucket that also takes writes.
#[derive(KvBucket)]
#[kv(
    bucket = "all_sites",
    source(bucket = "fleet", keys = ["site.*"]),
    source(bucket = "depot"),
    writable
)]
pub struct AllSites {
    #[kv(key = "site.{site}")]
    pub sites: Family<String, u32>,
}

/// The same aggregate with its origins in another order, read-only.
#[derive(KvBucket)]
#[kv(bucket = "all_sites", source(bucket = "depot"), source(bucket = "fleet", keys = ["site.*"]))]
pub struct AllSitesReadOnly {
    #[kv(key = "site.{site}")]
    pub sites: Family<String, u32, MsgPack, ReadOnly>,
}

fn schema(spec: &BucketSpec) -> natskv::Schema {
    spec.schema_value().expect("a derived spec has a schema").clone()
}

fn main() {
    let paris = FleetParis::spec();
    let expected = BucketSpec::new("fleet_paris")
        .history(5)
        .mirror(
            Origin::bucket("fleet")
                .keys(["site.paris.>", "maintenance"])
                .api_prefix("$JS.hub.API")
                .deliver_prefix("deliver.hub")
                .stream("KV_fleet"),
        )
        .schema(schema(&paris));
    assert_eq!(paris, expected);
    assert!(!paris.is_writable());
    assert!(paris.validate().is_ok());

    let all = AllSites::spec();
    let expected = BucketSpec::new("all_sites")
        .source(Origin::bucket("fleet").keys(["site.*"]))
        .source(Origin::bucket("depot"))
        .writable(true)
        .schema(schema(&all));
    assert_eq!(all, expected);
    assert!(all.is_writable());
    assert!(all.validate().is_ok());

    let read_only = AllSitesReadOnly::spec();
    assert!(!read_only.is_writable());

    // Origins, filters and `writable` are configuration that `ensure` updates: the same
    // families give the same schema.
    assert_eq!(schema(&paris), schema(&FleetLyon::spec()));
    assert_eq!(schema(&paris), schema(&FleetPlain::spec()));
    assert_eq!(schema(&all), schema(&read_only));
}
