//! What the command prints: aligned tables and local times for people, JSON for scripts.

use std::fmt::Write as _;
use std::io::{self, BufWriter, IsTerminal, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::sync::OnceLock;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::error::{Error, Result};
use crate::value::Decoded;

/// The local UTC offset, found before the runtime starts threads (the `time` crate cannot
/// read it safely later); `None` shows times in UTC.
static LOCAL_OFFSET: OnceLock<Option<UtcOffset>> = OnceLock::new();

/// Reads the local UTC offset. Call while the process has one thread.
pub(crate) fn init_local_offset() {
    LOCAL_OFFSET.get_or_init(|| UtcOffset::current_local_offset().ok());
}

/// `time` in RFC 3339, UTC (`2026-01-02T03:04:05.123456Z`).
pub(crate) fn rfc3339(time: OffsetDateTime) -> String {
    time.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| time.to_string())
}

/// `time` in local time to the second (`2026-01-02 04:04:05 +01:00`), or UTC with `Z` when the
/// local offset is unknown.
pub(crate) fn local(time: OffsetDateTime) -> String {
    let offset = LOCAL_OFFSET.get().copied().flatten();
    let time = time.to_offset(offset.unwrap_or(UtcOffset::UTC));
    let zone = match offset {
        Some(offset) if !offset.is_utc() => {
            let (hours, minutes, _) = offset.as_hms();
            let sign = if offset.is_negative() { '-' } else { '+' };
            format!(
                " {sign}{:02}:{:02}",
                hours.unsigned_abs(),
                minutes.unsigned_abs()
            )
        }
        _ => "Z".to_owned(),
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{zone}",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// A decoded value in one line: compact JSON, `base64:...` for bytes.
pub(crate) fn value_line(decoded: &Decoded, bytes: &[u8]) -> String {
    if let Some(value) = &decoded.value {
        serde_json::to_string(value).unwrap_or_default()
    } else {
        format!("base64:{}", STANDARD.encode(bytes))
    }
}

/// Cuts `text` to `max` characters, marking the cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Standard output, buffered.
#[derive(Debug)]
pub(crate) struct Out {
    out: BufWriter<io::Stdout>,
}

impl Out {
    /// Standard output.
    pub(crate) fn stdout() -> Self {
        Self {
            out: BufWriter::new(io::stdout()),
        }
    }

    /// Writes `text` and a newline.
    pub(crate) fn line(&mut self, text: &str) -> Result<()> {
        writeln!(self.out, "{text}").map_err(write_failed)
    }

    /// Writes `value` as one line of JSON.
    pub(crate) fn json(&mut self, value: &impl Serialize) -> Result<()> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(|e| write_failed(io::Error::from(e)))?;
        self.out.write_all(b"\n").map_err(write_failed)
    }

    /// Writes `bytes` as they are.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(write_failed)
    }

    /// Writes out what is buffered.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(write_failed)
    }
}

fn write_failed(error: io::Error) -> Error {
    Error::io("cannot write the output", error)
}

/// A table: a header row and rows, printed with aligned columns.
#[derive(Debug)]
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|&h| h.to_owned()).collect()],
        }
    }

    /// Adds a row.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Prints the table: each column as wide as its widest cell, the last one as it is.
    pub(crate) fn print(&self, out: &mut Out) -> Result<()> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
                }
            }
            out.line(line.trim_end())?;
        }
        Ok(())
    }
}

/// A progress bar on standard error for `total` entries (or bytes), shown only on a terminal.
pub(crate) fn progress(total: u64, verb: &str, bytes: bool) -> indicatif::ProgressBar {
    if !io::stderr().is_terminal() || total < 2 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let counts = if bytes {
        "{bytes}/{total_bytes}"
    } else {
        "{pos}/{len} entries"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{verb} {{bar:40}} {counts} ({{eta}} left)"
    )) {
        bar.set_style(style);
    }
    bar
}
