//! `put`, `del` and `purge`: writes for operators. Each checks its input before it writes, so
//! a bad key or value changes nothing.

use bytes::Bytes;
use serde::Serialize;

use crate::entry::Operation;
use crate::error::{Error, ErrorKind, Result};
use crate::nats::{Bucket, Nats};
use crate::output::Out;
use crate::value::{self, Codecs};

/// What a write prints with `--json`.
#[derive(Debug, Serialize)]
struct Written<'a> {
    bucket: &'a str,
    key: &'a str,
    operation: &'static str,
    revision: u64,
}

fn report(
    bucket: &Bucket,
    key: &str,
    operation: Operation,
    revision: u64,
    json: bool,
    out: &mut Out,
) -> Result<()> {
    if json {
        return out.json(&Written {
            bucket: bucket.name(),
            key,
            operation: operation.as_str(),
            revision,
        });
    }
    out.line(&format!(
        "{} {key} in {}: revision {revision}",
        operation.as_str(),
        bucket.name()
    ))
}

/// `put BUCKET KEY JSON [--raw]`: the JSON encoded as the key's family stores values
/// (MessagePack unless the stored schema names another codec), or the bytes as they are.
pub(super) async fn put(
    nats: &Nats,
    bucket: &str,
    key: &str,
    text: &str,
    raw: bool,
    json: bool,
    out: &mut Out,
) -> Result<()> {
    natskv_core::names::validate_key(key).map_err(|e| Error::usage(e.to_string()))?;
    let parsed = if raw {
        None
    } else {
        Some(value::parse_json(text)?)
    };
    let bucket = nats.bucket(bucket).await?;
    let bytes = match parsed {
        None => Bytes::copy_from_slice(text.as_bytes()),
        Some(parsed) => {
            let codecs = Codecs::of_schema(bucket.info().schema.as_deref());
            value::encode(&parsed, codecs.write_encoding(key))?
        }
    };
    let revision = bucket.put(key, bytes).await?;
    report(&bucket, key, Operation::Put, revision, json, out)
}

/// `del BUCKET KEY`: a delete marker, when the key has a value.
pub(super) async fn delete(
    nats: &Nats,
    bucket: &str,
    key: &str,
    json: bool,
    out: &mut Out,
) -> Result<()> {
    let bucket = nats.bucket(bucket).await?;
    match bucket.last(key).await? {
        Some(entry) if entry.operation == Operation::Put => {}
        _ => return Err(not_found(&bucket, key)),
    }
    let revision = bucket.delete(key).await?;
    report(&bucket, key, Operation::Delete, revision, json, out)
}

/// `purge BUCKET KEY`: removes the key's history, when it has any.
pub(super) async fn purge(
    nats: &Nats,
    bucket: &str,
    key: &str,
    json: bool,
    out: &mut Out,
) -> Result<()> {
    let bucket = nats.bucket(bucket).await?;
    if bucket.last(key).await?.is_none() {
        return Err(not_found(&bucket, key));
    }
    let revision = bucket.purge(key).await?;
    report(&bucket, key, Operation::Purge, revision, json, out)
}

fn not_found(bucket: &Bucket, key: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("key `{key}` not found in bucket `{}`", bucket.name()),
    )
}
