//! Durations and sizes as written in bucket declarations (`ttl = "7d"`, `max_bytes = "1GiB"`).
//!
//! One definition, used by `natskv-derive` at compile time and by the runtime. No dependencies.

use std::fmt;
use std::time::Duration;

/// Which kind of quantity a [`UnitError`] was parsing.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// A duration, as read by [`parse_duration`].
    Duration,
    /// A size in bytes, as read by [`parse_size`].
    Size,
}

/// Why a duration or size was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnitErrorReason {
    /// The text is empty.
    Empty,
    /// A number was expected at this byte offset.
    ExpectedNumber {
        /// The byte offset.
        at: usize,
    },
    /// A number with no unit (durations need one on every number).
    MissingUnit {
        /// The byte offset after the number.
        at: usize,
    },
    /// A unit that is not one of the accepted ones.
    UnknownUnit {
        /// The unit as written.
        unit: String,
    },
    /// A duration unit used twice, or after a smaller one (`30m1h`).
    UnitOrder {
        /// The unit as written.
        unit: String,
    },
    /// The value does not fit (`u64` bytes, or a [`Duration`]).
    Overflow,
}

/// A duration or size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    kind: UnitKind,
    input: String,
    reason: UnitErrorReason,
}

impl UnitError {
    fn new(kind: UnitKind, input: &str, reason: UnitErrorReason) -> Self {
        Self {
            kind,
            input: input.to_owned(),
            reason,
        }
    }

    /// Whether a duration or a size was being parsed.
    pub fn kind(&self) -> UnitKind {
        self.kind
    }

    /// The refused text.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why it was refused.
    pub fn reason(&self) -> &UnitErrorReason {
        &self.reason
    }
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = match self.kind {
            UnitKind::Duration => "duration",
            UnitKind::Size => "size",
        };
        write!(f, "invalid {noun} {:?}: ", self.input)?;
        match &self.reason {
            UnitErrorReason::Empty => f.write_str("it is empty")?,
            UnitErrorReason::ExpectedNumber { at } => write!(f, "expected a number at byte {at}")?,
            UnitErrorReason::MissingUnit { at } => write!(f, "missing unit at byte {at}")?,
            UnitErrorReason::UnknownUnit { unit } => write!(f, "unknown unit {unit:?}")?,
            UnitErrorReason::UnitOrder { unit } => write!(
                f,
                "unit {unit:?} is repeated or follows a smaller unit; \
                 write units from largest to smallest, each once"
            )?,
            UnitErrorReason::Overflow => f.write_str("the value is too large")?,
        }
        f.write_str("; ")?;
        f.write_str(match self.kind {
            UnitKind::Duration => {
                "write whole numbers with a unit `ms`, `s`, `m`, `h` or `d`, \
                 such as `500ms`, `30s`, `7d` or `1h30m`"
            }
            UnitKind::Size => {
                "write a whole number of bytes, optionally with a unit `B`, `KiB`, `MiB`, \
                 `GiB`, `TiB` (powers of 1024) or `KB`, `MB`, `GB`, `TB` (powers of 1000), \
                 such as `1024`, `64KiB` or `1GB`"
            }
        })
    }
}

impl std::error::Error for UnitError {}

/// Splits `text` into its leading run of ASCII digits and the rest.
fn split_digits(text: &str) -> (&str, &str) {
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

/// Parses a duration: one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d` from
/// largest to smallest, each once: `500ms`, `30s`, `5m`, `2h`, `7d`, `1h30m`, `1m30s500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let fail = |reason| Err(UnitError::new(UnitKind::Duration, text, reason));
    if text.is_empty() {
        return fail(UnitErrorReason::Empty);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    // The rank of the last unit seen: each unit must be strictly smaller than the one before.
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let at = text.len() - rest.len();
        let (digits, tail) = split_digits(rest);
        if digits.is_empty() {
            return fail(UnitErrorReason::ExpectedNumber { at });
        }
        let Ok(value) = digits.parse::<u64>() else {
            return fail(UnitErrorReason::Overflow);
        };
        let unit_len = tail
            .bytes()
            .position(|b| b.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        if unit.is_empty() {
            return fail(UnitErrorReason::MissingUnit {
                at: at + digits.len(),
            });
        }
        let (rank, part) = match unit {
            "d" => (4, value.checked_mul(86_400).map(Duration::from_secs)),
            "h" => (3, value.checked_mul(3_600).map(Duration::from_secs)),
            "m" => (2, value.checked_mul(60).map(Duration::from_secs)),
            "s" => (1, Some(Duration::from_secs(value))),
            "ms" => (0, Some(Duration::from_millis(value))),
            _ => {
                return fail(UnitErrorReason::UnknownUnit {
                    unit: unit.to_owned(),
                });
            }
        };
        if rank >= last_rank {
            return fail(UnitErrorReason::UnitOrder {
                unit: unit.to_owned(),
            });
        }
        last_rank = rank;
        let Some(sum) = part.and_then(|p| total.checked_add(p)) else {
            return fail(UnitErrorReason::Overflow);
        };
        total = sum;
        rest = tail;
    }
    Ok(total)
}

/// Writes a duration the way [`parse_duration`] reads it (`7d`, `1h30m`, `1m30s500ms`), for
/// people: `none` for zero; below a millisecond, what is left is shown in `µs`/`ns` (which
/// `parse_duration` does not read, as bucket options never need it).
pub fn format_duration(duration: Duration) -> String {
    use std::fmt::Write as _;
    if duration.is_zero() {
        return "none".to_owned();
    }
    let mut out = String::new();
    let mut secs = duration.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            let _ = write!(out, "{}{unit}", secs / size);
            secs %= size;
        }
    }
    let nanos = duration.subsec_nanos();
    let (millis, rest) = (nanos / 1_000_000, nanos % 1_000_000);
    if millis > 0 {
        let _ = write!(out, "{millis}ms");
    }
    if rest > 0 {
        if rest % 1_000 == 0 {
            let _ = write!(out, "{}µs", rest / 1_000);
        } else {
            let _ = write!(out, "{rest}ns");
        }
    }
    out
}

/// Parses a size in bytes: a whole number, optionally followed by a unit, case-insensitive:
/// `B`; `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024); `KB`, `MB`, `GB`, `TB` (powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let fail = |reason| Err(UnitError::new(UnitKind::Size, text, reason));
    if text.is_empty() {
        return fail(UnitErrorReason::Empty);
    }
    let (digits, unit) = split_digits(text);
    if digits.is_empty() {
        return fail(UnitErrorReason::ExpectedNumber { at: 0 });
    }
    let Ok(value) = digits.parse::<u64>() else {
        return fail(UnitErrorReason::Overflow);
    };
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return fail(UnitErrorReason::UnknownUnit {
                unit: unit.to_owned(),
            });
        }
    };
    match value.checked_mul(factor) {
        Some(bytes) => Ok(bytes),
        None => fail(UnitErrorReason::Overflow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("2h"), Duration::from_secs(7_200));
        assert_eq!(ok("7d"), Duration::from_secs(7 * 86_400));
        assert_eq!(ok("1h30m"), Duration::from_secs(5_400));
        assert_eq!(ok("1d2h3m4s5ms"), Duration::from_millis(93_784_005));
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("1500ms"), Duration::from_millis(1_500));
    }

    #[test]
    fn durations_are_written_as_they_are_read() {
        assert_eq!(format_duration(Duration::ZERO), "none");
        for text in [
            "500ms",
            "30s",
            "5m",
            "2h",
            "7d",
            "1h30m",
            "1d2h3m4s5ms",
            "1s500ms",
        ] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_micros(1_500)), "1ms500µs");
        assert_eq!(format_duration(Duration::from_nanos(7)), "7ns");
    }

    #[test]
    fn bad_durations() {
        let reason = |s: &str| parse_duration(s).unwrap_err().reason().clone();
        assert_eq!(reason(""), UnitErrorReason::Empty);
        assert_eq!(reason("30"), UnitErrorReason::MissingUnit { at: 2 });
        assert_eq!(reason("1h30"), UnitErrorReason::MissingUnit { at: 4 });
        assert_eq!(reason("s"), UnitErrorReason::ExpectedNumber { at: 0 });
        assert_eq!(reason("-1s"), UnitErrorReason::ExpectedNumber { at: 0 });
        assert_eq!(reason(" 1s"), UnitErrorReason::ExpectedNumber { at: 0 });
        assert_eq!(
            reason("1.5h"),
            UnitErrorReason::UnknownUnit { unit: ".".into() }
        );
        assert_eq!(
            reason("3w"),
            UnitErrorReason::UnknownUnit { unit: "w".into() }
        );
        assert_eq!(
            reason("1H"),
            UnitErrorReason::UnknownUnit { unit: "H".into() }
        );
        assert_eq!(
            reason("1s "),
            UnitErrorReason::UnknownUnit { unit: "s ".into() }
        );
        assert_eq!(
            reason("30m1h"),
            UnitErrorReason::UnitOrder { unit: "h".into() }
        );
        assert_eq!(
            reason("1m1m"),
            UnitErrorReason::UnitOrder { unit: "m".into() }
        );
        assert_eq!(reason("99999999999999999999s"), UnitErrorReason::Overflow);
        assert_eq!(reason("18446744073709551615d"), UnitErrorReason::Overflow);
        assert_eq!(
            reason("18446744073709551615s999999999999ms"),
            UnitErrorReason::Overflow
        );
    }

    #[test]
    fn sizes() {
        let ok = |s: &str| parse_size(s).unwrap();
        assert_eq!(ok("1024"), 1024);
        assert_eq!(ok("512B"), 512);
        assert_eq!(ok("64KiB"), 64 * 1024);
        assert_eq!(ok("1MiB"), 1 << 20);
        assert_eq!(ok("2GiB"), 2 << 30);
        assert_eq!(ok("1TiB"), 1 << 40);
        assert_eq!(ok("1KB"), 1_000);
        assert_eq!(ok("1MB"), 1_000_000);
        assert_eq!(ok("1GB"), 1_000_000_000);
        assert_eq!(ok("3kib"), 3 * 1024);
        assert_eq!(ok("3mB"), 3_000_000);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("18446744073709551615"), u64::MAX);
    }

    #[test]
    fn bad_sizes() {
        let reason = |s: &str| parse_size(s).unwrap_err().reason().clone();
        assert_eq!(reason(""), UnitErrorReason::Empty);
        assert_eq!(reason("KiB"), UnitErrorReason::ExpectedNumber { at: 0 });
        assert_eq!(
            reason("1K"),
            UnitErrorReason::UnknownUnit { unit: "K".into() }
        );
        assert_eq!(
            reason("1 KiB"),
            UnitErrorReason::UnknownUnit {
                unit: " KiB".into()
            }
        );
        assert_eq!(
            reason("1.5GB"),
            UnitErrorReason::UnknownUnit {
                unit: ".5GB".into()
            }
        );
        assert_eq!(reason("18446744073709551616"), UnitErrorReason::Overflow);
        assert_eq!(reason("16777216TiB"), UnitErrorReason::Overflow);
    }

    #[test]
    fn messages_list_the_accepted_forms() {
        let text = parse_duration("3w").unwrap_err().to_string();
        assert!(text.contains("\"w\"") && text.contains("1h30m"), "{text}");
        let text = parse_size("1K").unwrap_err().to_string();
        assert!(text.contains("KiB") && text.contains("KB"), "{text}");
    }
}
