//! What the server delivers, turned into [`RawEntry`]s: a consumer's message (its metadata is in
//! the `$JS.ACK` reply subject, ADR-15) and a direct get's answer (its metadata is in headers).
//!
//! Every read path goes through here once per entry, so only what an entry needs is parsed, and
//! without allocating beyond the key: the reply subject is split in place, numbers are read
//! digit by digit, and the server's RFC 3339 timestamps are converted by hand.

use std::time::{Duration, SystemTime};

use async_nats::HeaderMap;
use async_nats::jetstream::message::StreamMessage;
use bytes::Bytes;

use crate::entry::{KV_OPERATION, MARKER_REASON, Operation, RawEntry};

/// The prefix of a JetStream message's reply subject.
const ACK_PREFIX: &str = "$JS.ACK.";

/// What a consumer's message says about itself, read from its reply subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered<'a> {
    /// The consumer that delivered it.
    pub(crate) consumer: &'a str,
    /// Its stream sequence: the entry's revision.
    pub(crate) stream_sequence: u64,
    /// How many matching messages the consumer has left to deliver after it.
    pub(crate) pending: u64,
    /// When the server stored it (nanoseconds since the Unix epoch).
    pub(crate) published: SystemTime,
}

/// Parses a `$JS.ACK` reply subject, in either ADR-15 form:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>` (7 tokens after the
/// prefix), or `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>`
/// followed by any number of tokens (9 or more after the prefix). `None` for anything else.
///
/// `expected` is the `<stream>.<consumer>.` the caller expects it to start with (its own
/// consumer, the usual case): then only the numbers are read.
pub(crate) fn parse_ack<'r>(reply: &'r str, expected: &Expected<'_>) -> Option<Delivered<'r>> {
    let rest = reply.strip_prefix(ACK_PREFIX)?;
    if let Some(tail) = expected.strip(rest)
        && let Some(([_, sseq, _, tm, pending], None)) = numbers(tail)
    {
        let consumer = rest.get(expected.stream.len() + 1..rest.len() - tail.len() - 1)?;
        return Some(Delivered::new(consumer, sseq, tm, pending));
    }
    // Another consumer (async-nats recreated it), or the longer form: count the tokens.
    let tokens = rest.bytes().filter(|b| *b == b'.').count() + 1;
    let before = match tokens {
        7 => 1,
        9.. => 3,
        _ => return None,
    };
    let mut parts = rest.splitn(before + 2, '.');
    let consumer = parts.nth(before)?;
    let ([_, sseq, _, tm, pending], after) = numbers(parts.next()?)?;
    // The shorter forms end with the pending count; the longer one has more after it.
    let well_formed = match after {
        None => tokens <= 9,
        Some(after) => tokens > 9 && !after.is_empty(),
    };
    well_formed.then(|| Delivered::new(consumer, sseq, tm, pending))
}

/// The start of the reply subjects a consumer's messages have: `<stream>.<consumer>.`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    pub(crate) stream: &'a str,
    pub(crate) consumer: &'a str,
}

impl Expected<'_> {
    /// What follows `<stream>.<consumer>.` in `rest`, when it starts with it.
    fn strip<'r>(&self, rest: &'r str) -> Option<&'r str> {
        rest.strip_prefix(self.stream)?
            .strip_prefix('.')?
            .strip_prefix(self.consumer)?
            .strip_prefix('.')
    }
}

impl<'a> Delivered<'a> {
    fn new(consumer: &'a str, stream_sequence: u64, nanos: u64, pending: u64) -> Self {
        Delivered {
            consumer,
            stream_sequence,
            pending,
            published: SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos),
        }
    }
}

/// The first five `.`-separated decimal numbers of `text`, and what follows them: `None` when
/// the text ends with the fifth, else the text after the `.` that ends it. One pass, digit by
/// digit.
fn numbers(text: &str) -> Option<([u64; 5], Option<&str>)> {
    let mut out = [0u64; 5];
    let mut index = 0;
    let mut number = 0u64;
    let mut digits = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        if byte == b'.' {
            if digits == 0 {
                return None;
            }
            *out.get_mut(index)? = number;
            if index == out.len() - 1 {
                return Some((out, Some(text.get(at + 1..)?)));
            }
            (index, number, digits) = (index + 1, 0, 0);
            continue;
        }
        number = append_digit(number, digits, byte)?;
        digits += 1;
    }
    if digits == 0 || index != out.len() - 1 {
        return None;
    }
    out[index] = number;
    Some((out, None))
}

/// A consumer's message as an entry, and the name of the consumer that delivered it when
/// that is not the `expected` one (async-nats renames the consumers it recreates). `None` when
/// the reply subject is not a JetStream one.
pub(crate) fn consumer_entry(
    prefix: &str,
    message: async_nats::jetstream::Message,
    expected: &Expected<'_>,
) -> Option<(RawEntry, Option<String>)> {
    let message = message.message;
    let delivered = parse_ack(message.reply.as_ref()?.as_str(), expected)?;
    let renamed = (delivered.consumer != expected.consumer).then(|| delivered.consumer.to_owned());
    let entry = RawEntry {
        key: key_of(prefix, message.subject.as_str()),
        operation: operation(message.headers.as_ref()),
        revision: delivered.stream_sequence,
        created: delivered.published,
        delta: delivered.pending,
        payload: message.payload,
    };
    Some((entry, renamed))
}

/// The headers of a direct get's answer (ADR-31), read in one pass over them: what an entry
/// needs, and the counts a batch is followed by.
#[derive(Debug, Default)]
pub(crate) struct DirectReply<'a> {
    subject: Option<&'a str>,
    sequence: Option<&'a str>,
    time: Option<&'a str>,
    operation: Option<&'a str>,
    marker_reason: Option<&'a str>,
    /// `Nats-Num-Pending`: how many matching messages follow (batch answers only).
    pub(crate) pending: Option<u64>,
    /// `Nats-Last-Sequence`: the previous message of the batch (batch answers only).
    pub(crate) previous: Option<u64>,
    /// `Nats-UpTo-Sequence`: the stream sequence a `multi_last` answer is as of (on its end
    /// of batch).
    pub(crate) up_to: Option<u64>,
}

impl<'a> DirectReply<'a> {
    /// Reads one answer's headers.
    pub(crate) fn read(headers: &'a HeaderMap) -> Self {
        let mut reply = DirectReply::default();
        for (name, values) in headers.iter() {
            let Some(value) = values.first().map(async_nats::HeaderValue::as_str) else {
                continue;
            };
            match name.as_ref() {
                NATS_SUBJECT => reply.subject = Some(value),
                NATS_SEQUENCE => reply.sequence = Some(value),
                NATS_TIME_STAMP => reply.time = Some(value),
                NUM_PENDING => reply.pending = parse_u64(value),
                LAST_SEQUENCE => reply.previous = parse_u64(value),
                UP_TO_SEQUENCE => reply.up_to = parse_u64(value),
                KV_OPERATION => reply.operation = Some(value),
                MARKER_REASON => reply.marker_reason = Some(value),
                _ => {}
            }
        }
        reply
    }

    /// The answer as an entry, `delta` 0.
    ///
    /// # Errors
    /// A description of what is missing when the answer lacks the headers ADR-31 gives it.
    pub(crate) fn entry(&self, prefix: &str, payload: Bytes) -> Result<RawEntry, &'static str> {
        let subject = self.subject.ok_or("no Nats-Subject header")?;
        let revision = self
            .sequence
            .and_then(parse_u64)
            .ok_or("no valid Nats-Sequence header")?;
        let created = self
            .time
            .and_then(parse_rfc3339)
            .ok_or("no valid Nats-Time-Stamp header")?;
        Ok(RawEntry {
            key: key_of(prefix, subject),
            operation: Operation::from_values(self.operation, self.marker_reason),
            revision,
            created,
            delta: 0,
            payload,
        })
    }
}

/// The header naming the message's subject.
const NATS_SUBJECT: &str = "Nats-Subject";
/// The header holding the message's stream sequence.
const NATS_SEQUENCE: &str = "Nats-Sequence";
/// The header holding when the message was stored (RFC 3339).
const NATS_TIME_STAMP: &str = "Nats-Time-Stamp";
/// The header holding how many matching messages remain.
pub(crate) const NUM_PENDING: &str = "Nats-Num-Pending";
/// The header giving the stream sequence a `multi_last` answer is as of.
const UP_TO_SEQUENCE: &str = "Nats-UpTo-Sequence";
/// The header naming the previous message of the batch (0 for its first).
const LAST_SEQUENCE: &str = "Nats-Last-Sequence";

/// An async-nats direct get result as an entry, `delta` 0.
pub(crate) fn stream_message_entry(prefix: &str, message: StreamMessage) -> RawEntry {
    RawEntry {
        key: key_of(prefix, message.subject.as_str()),
        operation: operation(Some(&message.headers)),
        revision: message.sequence,
        created: SystemTime::from(message.time),
        delta: 0,
        payload: message.payload,
    }
}

/// The key of a subject of the bucket whose subjects start with `prefix`.
fn key_of(prefix: &str, subject: &str) -> String {
    subject.strip_prefix(prefix).unwrap_or(subject).to_owned()
}

/// A decimal `u64`: ASCII digits only, at least one, no overflow.
fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut number = 0;
    for (digits, byte) in text.bytes().enumerate() {
        number = append_digit(number, digits, byte)?;
    }
    Some(number)
}

/// `number`, which has `digits` decimal digits, with the digit `byte` appended; `None` when
/// `byte` is not a digit or the result overflows. Nineteen digits cannot overflow a `u64`, so
/// only longer numbers pay for the checks.
fn append_digit(number: u64, digits: usize, byte: u8) -> Option<u64> {
    let digit = u64::from(byte.wrapping_sub(b'0'));
    if digit > 9 {
        return None;
    }
    if digits < 19 {
        Some(number * 10 + digit)
    } else {
        number.checked_mul(10)?.checked_add(digit)
    }
}

/// An RFC 3339 timestamp as the server writes them (`2026-12-04T14:44:51.776054123Z`, or with
/// a numeric offset), at or after the Unix epoch.
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| parse_u64(text.get(range)?);
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // A leap second (60) is read as the next second, as the server's clock never shows it.
    if second > 60 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0u64;
    if b[at] == b'.' {
        let start = at + 1;
        at = start;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        let fraction = text.get(start..at)?;
        if fraction.is_empty() {
            return None;
        }
        // Nanoseconds: the first nine digits, scaled up when there are fewer.
        let kept = &fraction[..fraction.len().min(9)];
        nanos = parse_u64(kept)? * 10u64.pow(u32::try_from(9 - kept.len()).ok()?);
    }
    let offset: i64 = match text.get(at..)? {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && zone.as_bytes()[3] == b':' => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours = i64::try_from(parse_u64(&zone[1..3])?).ok()?;
            let minutes = i64::try_from(parse_u64(&zone[4..6])?).ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day)?;
    let seconds = days * 86_400 + i64::try_from(hour * 3600 + minute * 60 + second).ok()? - offset;
    let seconds = u64::try_from(seconds).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(seconds, u32::try_from(nanos).ok()?))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<i64> {
    let year = i64::try_from(year).ok()? - i64::from(month <= 2);
    let month = i64::try_from(month).ok()?;
    let day = i64::try_from(day).ok()?;
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// The operation a message's headers record: `KV-Operation`, or a server limit marker's
/// `Nats-Marker-Reason`.
fn operation(headers: Option<&HeaderMap>) -> Operation {
    let (mut operation, mut reason) = (None, None);
    // One pass over the few headers a message has: cheaper than two hashed lookups, and every
    // entry read pays it.
    for (name, values) in headers.into_iter().flat_map(HeaderMap::iter) {
        let first = || values.first().map(async_nats::HeaderValue::as_str);
        match name.as_ref() {
            KV_OPERATION => operation = first(),
            MARKER_REASON => reason = first(),
            _ => {}
        }
    }
    Operation::from_values(operation, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_the_operation_or_the_limit_marker() {
        let headers = |name: &'static str, value: &'static str| {
            let mut map = HeaderMap::new();
            map.insert(name, value);
            map
        };
        assert_eq!(operation(None), Operation::Put);
        assert_eq!(
            operation(Some(&headers(KV_OPERATION, "DEL"))),
            Operation::Delete
        );
        assert_eq!(
            operation(Some(&headers(KV_OPERATION, "PURGE"))),
            Operation::Purge
        );
        assert_eq!(
            operation(Some(&headers(MARKER_REASON, "MaxAge"))),
            Operation::Purge
        );
        assert_eq!(
            operation(Some(&headers(MARKER_REASON, "Remove"))),
            Operation::Delete
        );
        assert_eq!(operation(Some(&headers("Other", "x"))), Operation::Put);
    }

    const OURS: Expected<'static> = Expected {
        stream: "KV_b",
        consumer: "natskv_x",
    };
    const OTHER: Expected<'static> = Expected {
        stream: "KV_b",
        consumer: "natskv_x_1",
    };

    #[test]
    fn both_ack_subject_forms_parse() {
        let v1 = "$JS.ACK.KV_b.natskv_x.1.42.7.1700000000123456789.3";
        let parsed = Some(Delivered {
            consumer: "natskv_x",
            stream_sequence: 42,
            pending: 3,
            published: SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
        });
        // The expected consumer, another one, and the longer forms read the same.
        for expected in [OURS, OTHER] {
            for reply in [
                v1,
                "$JS.ACK.hub.ACCHASH.KV_b.natskv_x.1.42.7.1700000000123456789.3.tok",
                "$JS.ACK.hub.ACCHASH.KV_b.natskv_x.1.42.7.1700000000123456789.3.t.u.v",
                "$JS.ACK._.ACCHASH.KV_b.natskv_x.1.42.7.1700000000123456789.3",
            ] {
                assert_eq!(parse_ack(reply, &expected), parsed, "{reply}");
            }
        }
        let renamed = "$JS.ACK.KV_b.natskv_x_1.1.42.7.1700000000123456789.3";
        assert_eq!(
            parse_ack(renamed, &OURS).map(|d| d.consumer),
            Some("natskv_x_1")
        );
    }

    #[test]
    fn malformed_ack_subjects_are_refused() {
        for reply in [
            "",
            "_INBOX.abc",
            "$JS.ACK.KV_b.natskv_x.1.42.7.170",
            "$JS.ACK.KV_b.natskv_x.1.42.7.170.3.x",
            "$JS.ACK.KV_b.natskv_x.1.42.7.170.3.",
            "$JS.ACK.KV_b.natskv_x.1.x42.7.170.3",
            "$JS.ACK.KV_b.natskv_x.1.42.7.170.-3",
            "$JS.ACK.KV_b.natskv_x.1.99999999999999999999.7.170.3",
            "$JS.ACK.KV_b.natskv_x.1..7.170.3",
            "$JS.ACK.hub.ACCHASH.KV_b.natskv_x.1.42.7.170.3.",
            "$JS.ACK.hub.KV_b.natskv_x.1.42.7.170.3",
        ] {
            assert_eq!(parse_ack(reply, &OURS), None, "{reply}");
            assert_eq!(parse_ack(reply, &OTHER), None, "{reply}");
        }
    }

    #[test]
    fn server_timestamps_parse_exactly() {
        let at = |secs, nanos| Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), at(0, 0));
        assert_eq!(
            parse_rfc3339("2026-12-04T14:44:51.776054123Z"),
            at(1_796_395_491, 776_054_123)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T23:59:59.5Z"),
            at(1_709_251_199, 500_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-03-01T01:00:00+01:00"),
            at(1_709_251_200, 0)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T23:00:00-01:00"),
            at(1_709_251_200, 0)
        );
        assert_eq!(
            parse_rfc3339("2000-01-01T00:00:00.1234567891Z"),
            at(946_684_800, 123_456_789)
        );
        for bad in [
            "",
            "2024-02-29",
            "2024-13-01T00:00:00Z",
            "2024-02-29T24:00:00Z",
            "2024-02-29T23:00:00",
            "2024-02-29T23:00:00.Z",
            "1969-12-31T23:59:59Z",
            "2024-02-29T23:00:00+0100",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_direct_answer_is_read_in_one_pass() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("Nats-Stream", "KV_b"),
            ("Nats-Subject", "$KV.b.site.s1"),
            ("Nats-Sequence", "42"),
            ("Nats-Time-Stamp", "1970-01-01T00:00:01.5Z"),
            ("Nats-Num-Pending", "3"),
            ("Nats-Last-Sequence", "40"),
            ("KV-Operation", "DEL"),
        ] {
            headers.insert(name, value);
        }
        let reply = DirectReply::read(&headers);
        assert_eq!((reply.pending, reply.previous), (Some(3), Some(40)));
        let entry = reply.entry("$KV.b.", Bytes::from_static(b"v")).unwrap();
        assert_eq!(entry.key, "site.s1");
        assert_eq!((entry.revision, entry.delta), (42, 0));
        assert_eq!(entry.operation, Operation::Delete);
        assert_eq!(
            entry.created,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_500)
        );
        let mut incomplete = HeaderMap::new();
        incomplete.insert("Nats-Subject", "$KV.b.k");
        let missing = DirectReply::read(&incomplete).entry("$KV.b.", Bytes::new());
        assert_eq!(missing.unwrap_err(), "no valid Nats-Sequence header");
    }

    #[test]
    fn days_agree_with_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2026, 12, 4), Some(20_791));
    }
}
