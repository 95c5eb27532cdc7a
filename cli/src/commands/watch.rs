//! `watch`: the entries of a bucket as they change, until interrupted.

use crate::error::Result;
use crate::nats::{Nats, Start};
use crate::output::{Out, local};
use crate::record::Record;
use crate::value::Codecs;

/// Where a watch starts, from its flags (clap lets at most one through).
pub(super) fn start(history: bool, updates_only: bool, from: Option<u64>) -> Start {
    match (history, updates_only, from) {
        (true, _, _) => Start::All,
        (_, true, _) => Start::New,
        (_, _, Some(revision)) => Start::From(revision),
        _ => Start::Current,
    }
}

/// `watch BUCKET [FILTER...]`: one line per entry, until Ctrl-C (which ends it with success)
/// or a failure.
pub(super) async fn watch(
    nats: &Nats,
    bucket: &str,
    filters: &[String],
    start: Start,
    json: bool,
    out: &mut Out,
) -> Result<()> {
    let bucket = nats.bucket(bucket).await?;
    let codecs = Codecs::of_schema(bucket.info().schema.as_deref());
    let mut entries = bucket.entries(filters, start, false, true).await?;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let entry = tokio::select! {
            _ = &mut interrupted => return Ok(()),
            entry = entries.next() => entry,
        };
        let Some(entry) = entry else {
            return Ok(());
        };
        let entry = entry?;
        if json {
            out.json(&Record::of(&entry, &codecs).0)?;
        } else {
            let line = format!(
                "{}  {:<5}  {}  @{}  {}",
                local(entry.created),
                entry.operation.as_str(),
                entry.key,
                entry.revision,
                super::read::cell(&entry, &codecs),
            );
            out.line(line.trim_end())?;
        }
        out.flush()?;
    }
}
