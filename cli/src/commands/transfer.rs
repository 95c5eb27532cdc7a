//! `dump` and `load`: a bucket's entries to JSON Lines and back, for backups, diffs and
//! restores. The line format is [`Record`]'s; `load` checks every line before it writes one.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Serialize;

use crate::entry::Operation;
use crate::error::{Error, ErrorKind, Result};
use crate::nats::{Bucket, Nats, Start};
use crate::output::{Out, progress};
use crate::record::Record;
use crate::value::Codecs;

/// How `dump` reads and writes.
#[derive(Debug)]
pub(super) struct DumpOptions {
    /// The file to write; standard output when `None`.
    pub(super) output: Option<PathBuf>,
    /// Every revision, not only the current ones.
    pub(super) history: bool,
    /// Include delete and purge markers.
    pub(super) deleted: bool,
    /// Print the summary (with `output`) as JSON.
    pub(super) json: bool,
}

/// What `dump` to a file and `load` print.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    bucket: &'a str,
    entries: u64,
    puts: u64,
    deletes: u64,
    purges: u64,
}

impl Summary<'_> {
    fn count(&mut self, operation: Operation) {
        self.entries += 1;
        match operation {
            Operation::Put => self.puts += 1,
            Operation::Delete => self.deletes += 1,
            Operation::Purge => self.purges += 1,
        }
    }

    fn print(&self, verb: &str, json: bool, out: &mut Out) -> Result<()> {
        if json {
            return out.json(self);
        }
        out.line(&format!(
            "{verb} {} entries ({} puts, {} deletes, {} purges) {} {}",
            self.entries,
            self.puts,
            self.deletes,
            self.purges,
            if verb == "loaded" { "into" } else { "from" },
            self.bucket
        ))
    }
}

/// `dump BUCKET [FILTER...]`: the current entry of each key (or every revision), as JSON Lines.
pub(super) async fn dump(
    nats: &Nats,
    bucket: &str,
    filters: &[String],
    options: DumpOptions,
    out: &mut Out,
) -> Result<()> {
    let bucket = nats.bucket(bucket).await?;
    let codecs = Codecs::of_schema(bucket.info().schema.as_deref());
    let start = if options.history {
        Start::All
    } else {
        Start::Current
    };
    let mut entries = bucket.entries(filters, start, false, false).await?;
    let bar = progress(entries.pending(), "dump", false);
    let mut file = match &options.output {
        Some(path) => {
            Some(BufWriter::new(File::create(path).map_err(|e| {
                Error::io(format!("cannot create {}", path.display()), e)
            })?))
        }
        None => None,
    };
    let mut summary = Summary {
        bucket: bucket.name(),
        entries: 0,
        puts: 0,
        deletes: 0,
        purges: 0,
    };
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        bar.inc(1);
        if entry.operation != Operation::Put && !options.deleted {
            continue;
        }
        let (record, _) = Record::of(&entry, &codecs);
        match &mut file {
            Some(file) => {
                serde_json::to_writer(&mut *file, &record)
                    .map_err(io::Error::from)
                    .and_then(|()| file.write_all(b"\n"))
                    .map_err(|e| Error::io("cannot write the dump", e))?;
            }
            None => out.json(&record)?,
        }
        summary.count(entry.operation);
    }
    bar.finish_and_clear();
    if let Some(mut file) = file {
        file.flush()
            .map_err(|e| Error::io("cannot write the dump", e))?;
        summary.print("dumped", options.json, out)?;
    }
    Ok(())
}

/// `load BUCKET [--input FILE] [--create]`: writes each line's entry, in order (new
/// revisions; the dump's revisions and times are not kept). Every line is read and checked
/// first: a bad one fails the load before anything is written.
pub(super) async fn load(
    nats: &Nats,
    bucket: &str,
    input: Option<&Path>,
    create: Option<i64>,
    json: bool,
    out: &mut Out,
) -> Result<()> {
    let (reader, size): (Box<dyn BufRead>, u64) = match input {
        Some(path) => {
            let file = File::open(path)
                .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
            let size = file.metadata().map_or(0, |m| m.len());
            (Box::new(BufReader::new(file)), size)
        }
        None => (Box::new(BufReader::new(io::stdin())), 0),
    };
    let bucket = open_or_create(nats, bucket, create).await?;
    let codecs = Codecs::of_schema(bucket.info().schema.as_deref());
    let writes = read_lines(reader, size, &codecs)?;
    let bar = progress(writes.len() as u64, "load", false);
    let mut summary = Summary {
        bucket: bucket.name(),
        entries: 0,
        puts: 0,
        deletes: 0,
        purges: 0,
    };
    bucket
        .write_all(writes, |operation| {
            summary.count(operation);
            bar.inc(1);
        })
        .await?;
    bar.finish_and_clear();
    summary.print("loaded", json, out)
}

async fn open_or_create(nats: &Nats, name: &str, create: Option<i64>) -> Result<Bucket> {
    match (nats.bucket(name).await, create) {
        (Err(e), Some(history)) if e.kind() == ErrorKind::NotFound => {
            nats.create_bucket(name, history).await
        }
        (result, _) => result,
    }
}

/// Every line's write: its key, operation and bytes. Blank lines are skipped.
fn read_lines(
    reader: Box<dyn BufRead>,
    size: u64,
    codecs: &Codecs,
) -> Result<Vec<(String, Operation, Bytes)>> {
    let bar = progress(size, "read", true);
    let mut writes = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io("cannot read the input", e))?;
        bar.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: Error| Error::with_source(ErrorKind::Usage, format!("line {}", index + 1), e);
        let record: Record = serde_json::from_str(&line).map_err(|e| {
            Error::with_source(
                ErrorKind::Usage,
                format!("line {}: not a dump entry", index + 1),
                e,
            )
        })?;
        natskv_core::names::validate_key(&record.key)
            .map_err(|e| at(Error::usage(e.to_string())))?;
        let operation = record.operation().map_err(at)?;
        let bytes = match operation {
            Operation::Put => record.bytes(codecs).map_err(at)?,
            Operation::Delete | Operation::Purge => Bytes::new(),
        };
        writes.push((record.key, operation, bytes));
    }
    bar.finish_and_clear();
    Ok(writes)
}
