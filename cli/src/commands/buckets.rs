//! `buckets` and `status`: what a bucket is configured to keep, how much it holds, and the
//! schema natskv stored on it.

use std::fmt::Write as _;
use std::time::Duration;

use indicatif::HumanBytes;
use natskv_core::Schema;
use serde::Serialize;

use crate::error::Result;
use crate::nats::{BucketInfo, Nats};
use crate::output::{Out, Table, local, rfc3339};

/// A bucket's status as `--json` prints it.
#[derive(Debug, Serialize)]
struct Status<'a> {
    bucket: &'a str,
    description: &'a str,
    values: u64,
    bytes: u64,
    history: i64,
    /// Milliseconds; `null` when entries are kept for ever.
    ttl_ms: Option<u128>,
    storage: &'a str,
    replicas: usize,
    created: String,
    /// The stored schema as JSON (a string when it is not JSON); `null` without one.
    schema: Option<serde_json::Value>,
}

impl<'a> Status<'a> {
    fn of(info: &'a BucketInfo) -> Self {
        Self {
            bucket: &info.name,
            description: &info.description,
            values: info.values,
            bytes: info.bytes,
            history: info.history,
            ttl_ms: (!info.ttl.is_zero()).then_some(info.ttl.as_millis()),
            storage: info.storage,
            replicas: info.replicas,
            created: rfc3339(info.created),
            schema: info.schema.as_ref().map(|text| {
                serde_json::from_str(text)
                    .unwrap_or_else(|_| serde_json::Value::from(text.as_str()))
            }),
        }
    }
}

/// `buckets`: every bucket with its status.
pub(super) async fn list(nats: &Nats, json: bool, out: &mut Out) -> Result<()> {
    let buckets = nats.buckets().await?;
    if json {
        for info in &buckets {
            out.json(&Status::of(info))?;
        }
        return Ok(());
    }
    let mut table = Table::new(&[
        "BUCKET", "VALUES", "BYTES", "HISTORY", "TTL", "STORAGE", "REPLICAS", "SCHEMA",
    ]);
    for info in &buckets {
        table.row(vec![
            info.name.clone(),
            info.values.to_string(),
            HumanBytes(info.bytes).to_string(),
            info.history.to_string(),
            ttl(info.ttl),
            info.storage.to_owned(),
            info.replicas.to_string(),
            schema_summary(info.schema.as_deref()),
        ]);
    }
    table.print(out)
}

/// `status BUCKET`.
pub(super) async fn status(nats: &Nats, bucket: &str, json: bool, out: &mut Out) -> Result<()> {
    let bucket = nats.bucket(bucket).await?;
    let info = bucket.info();
    if json {
        return out.json(&Status::of(info));
    }
    let mut table = Table::new(&["bucket", &info.name]);
    if !info.description.is_empty() {
        table.row(vec!["description".into(), info.description.clone()]);
    }
    table.row(vec!["values".into(), info.values.to_string()]);
    table.row(vec!["bytes".into(), HumanBytes(info.bytes).to_string()]);
    table.row(vec!["history".into(), info.history.to_string()]);
    table.row(vec!["ttl".into(), ttl(info.ttl)]);
    table.row(vec!["storage".into(), info.storage.to_owned()]);
    table.row(vec!["replicas".into(), info.replicas.to_string()]);
    table.row(vec!["created".into(), local(info.created)]);
    table.row(vec![
        "schema".into(),
        schema_summary(info.schema.as_deref()),
    ]);
    if let Some(Ok(Some(schema))) = info.schema.as_deref().map(Schema::parse) {
        for family in schema.families() {
            table.row(vec![
                String::new(),
                format!("{} ({})", family.pattern(), family.codec()),
            ]);
        }
    }
    table.print(out)
}

/// `-` for none, else the largest units that say it exactly (`7d`, `1h30m`, `1.5s`).
fn ttl(ttl: Duration) -> String {
    if ttl.is_zero() {
        return "-".to_owned();
    }
    let secs = ttl.as_secs();
    if ttl.subsec_nanos() != 0 {
        return format!("{}s", ttl.as_secs_f64());
    }
    let parts = [
        ("d", secs / 86_400),
        ("h", secs % 86_400 / 3_600),
        ("m", secs % 3_600 / 60),
        ("s", secs % 60),
    ];
    let mut out = String::new();
    for (unit, count) in parts {
        if count > 0 {
            let _ = write!(out, "{count}{unit}");
        }
    }
    out
}

/// `-` without a schema, else how many families it has.
fn schema_summary(schema: Option<&str>) -> String {
    match schema.map(Schema::parse) {
        None => "-".to_owned(),
        Some(Ok(Some(schema))) => match schema.families().len() {
            1 => "1 family".to_owned(),
            n => format!("{n} families"),
        },
        Some(Ok(None)) => "natskv (old format)".to_owned(),
        Some(Err(_)) => "unreadable".to_owned(),
    }
}
