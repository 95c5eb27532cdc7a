//! `get`, `history` and `keys`.

use serde::Serialize;

use crate::entry::{Entry, Operation};
use crate::error::{Error, ErrorKind, Result};
use crate::nats::{Nats, Start};
use crate::output::{Out, Table, cut, local, value_line};
use crate::record::Record;
use crate::value::{self, Codecs, Encoding};

/// The widest value a table shows.
const VALUE_WIDTH: usize = 80;

/// How `get` reads and prints.
#[derive(Debug, Clone, Copy)]
pub(super) struct GetOptions {
    /// The revision to read instead of the current one.
    pub(super) revision: Option<u64>,
    /// Print the bytes as they are.
    pub(super) raw: bool,
    /// Print the entry's JSON record.
    pub(super) json: bool,
}

/// `get BUCKET KEY [--revision N] [--raw]`.
pub(super) async fn get(
    nats: &Nats,
    bucket: &str,
    key: &str,
    options: GetOptions,
    out: &mut Out,
) -> Result<()> {
    let bucket = nats.bucket(bucket).await?;
    let name = bucket.name();
    let entry = if let Some(revision) = options.revision {
        bucket.at_revision(key, revision).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("key `{key}` has no revision {revision} in bucket `{name}`"),
            )
        })?
    } else {
        let entry = bucket.last(key).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("key `{key}` not found in bucket `{name}`"),
            )
        })?;
        if entry.operation != Operation::Put {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "key `{key}` not found in bucket `{name}` (deleted at revision {})",
                    entry.revision
                ),
            ));
        }
        entry
    };
    if options.raw {
        return out.bytes(&entry.value);
    }
    let codecs = Codecs::of_schema(bucket.info().schema.as_deref());
    let (record, decoded) = Record::of(&entry, &codecs);
    if options.json {
        return out.json(&record);
    }
    let mut table = Table::new(&["key", &entry.key]);
    table.row(vec!["revision".into(), entry.revision.to_string()]);
    table.row(vec!["operation".into(), entry.operation.as_str().into()]);
    table.row(vec!["created".into(), local(entry.created)]);
    if let Some(decoded) = decoded {
        table.row(vec!["encoding".into(), decoded.encoding.as_str().into()]);
        table.print(out)?;
        if let Some(value) = &decoded.value {
            out.line(&serde_json::to_string_pretty(value).unwrap_or_default())?;
        } else {
            out.line(&value_line(&decoded, &entry.value))?;
            eprintln!(
                "natskv: note: the value is neither MessagePack nor JSON: shown as base64 \
                 (--raw prints the bytes)"
            );
        }
        return Ok(());
    }
    table.print(out)
}

/// `history BUCKET KEY`: every revision the bucket keeps, oldest first.
pub(super) async fn history(
    nats: &Nats,
    bucket: &str,
    key: &str,
    json: bool,
    out: &mut Out,
) -> Result<()> {
    natskv_core::names::validate_key(key).map_err(|e| Error::usage(e.to_string()))?;
    let bucket = nats.bucket(bucket).await?;
    let codecs = Codecs::of_schema(bucket.info().schema.as_deref());
    let mut entries = bucket
        .entries(&[key.to_owned()], Start::All, false, false)
        .await?;
    if entries.pending() == 0 {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("key `{key}` not found in bucket `{}`", bucket.name()),
        ));
    }
    let mut table = Table::new(&["REVISION", "CREATED", "OP", "VALUE"]);
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        if json {
            out.json(&Record::of(&entry, &codecs).0)?;
        } else {
            table.row(vec![
                entry.revision.to_string(),
                local(entry.created),
                entry.operation.as_str().to_owned(),
                cell(&entry, &codecs),
            ]);
        }
    }
    if json { Ok(()) } else { table.print(out) }
}

/// A key as `keys --json` prints it.
#[derive(Debug, Serialize)]
struct KeyLine<'a> {
    key: &'a str,
    revision: u64,
}

/// `keys BUCKET [FILTER...]`: the keys that have a value.
pub(super) async fn keys(
    nats: &Nats,
    bucket: &str,
    filters: &[String],
    json: bool,
    out: &mut Out,
) -> Result<()> {
    let bucket = nats.bucket(bucket).await?;
    let mut entries = bucket.entries(filters, Start::Current, true, false).await?;
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        if entry.operation != Operation::Put {
            continue;
        }
        if json {
            out.json(&KeyLine {
                key: &entry.key,
                revision: entry.revision,
            })?;
        } else {
            out.line(&entry.key)?;
        }
    }
    Ok(())
}

/// An entry's value in a table cell: one line of JSON, cut, or nothing for a marker.
pub(super) fn cell(entry: &Entry, codecs: &Codecs) -> String {
    if entry.operation != Operation::Put {
        return String::new();
    }
    let decoded = value::decode(&entry.value, codecs.for_key(&entry.key));
    let line = value_line(&decoded, &entry.value);
    if decoded.encoding == Encoding::Bytes {
        line
    } else {
        cut(&line, VALUE_WIDTH)
    }
}
