//! Which headers nats-server checks inside an ADR-50 atomic batch, found against a real server
//! with the raw protocol (no natskv in between). natskv's transactions rest on these facts:
//! per-key guards (`Nats-Expected-Last-Subject-Sequence`), guards on another key
//! (`...-Subject`), a whole-stream guard (`Nats-Expected-Last-Sequence`) on the first message
//! only, a guard on a filter (a wildcard subject), the expected stream name, and no guard on a
//! message id. When a server release changes
//! one of them, this test says which.

mod common;

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::stream::Config;
use serde_json::Value;

/// How a batch ended: stored (the last message's sequence and the count), or refused with the
/// server's error code and description.
#[derive(Debug, PartialEq)]
enum Ended {
    Stored { last: u64, count: u64 },
    Refused { code: u64, description: String },
}

struct Probe {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    stream: String,
}

impl Probe {
    /// A server and a probe on it; `None` (the test passes, saying why) on a server older
    /// than 2.12, which has no atomic batches.
    async fn start() -> Option<(natskv::server::NatsServer, Probe)> {
        let server = common::server().await;
        if !common::needs_server(&server, (2, 12, 0), "atomic batches") {
            return None;
        }
        let probe = Probe::new(&server).await;
        Some((server, probe))
    }

    async fn new(server: &natskv::server::NatsServer) -> Probe {
        let client = common::connect(server).await;
        let js = async_nats::jetstream::new(client.clone());
        let stream = common::unique_bucket("batch");
        js.create_stream(Config {
            name: stream.clone(),
            subjects: vec![format!("{stream}.>")],
            allow_atomic_publish: true,
            allow_direct: true,
            ..Config::default()
        })
        .await
        .expect("create the stream");
        Probe { client, js, stream }
    }

    fn subject(&self, key: &str) -> String {
        format!("{}.{key}", self.stream)
    }

    /// The stream's last sequence.
    async fn last(&self) -> u64 {
        let mut stream = self.js.get_stream(&self.stream).await.unwrap();
        stream.info().await.unwrap().state.last_sequence
    }

    /// One plain publish to `key`, acknowledged; its sequence.
    async fn put(&self, key: &str) -> u64 {
        let ack = self
            .js
            .publish(self.subject(key), "v".into())
            .await
            .unwrap();
        ack.await.unwrap().sequence
    }

    /// Sends one batch: message n carries the batch headers and `headers[n]`. The first and
    /// the last are requests (the first is answered empty when the server takes the batch on,
    /// or with an error), the middle ones plain publishes.
    async fn batch(&self, messages: &[(&str, &[(&str, String)])]) -> Ended {
        let id = nuid::next();
        let count = messages.len();
        for (n, (key, extra)) in messages.iter().enumerate() {
            let sequence = n + 1;
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Batch-Id", id.as_str());
            headers.insert("Nats-Batch-Sequence", sequence.to_string());
            if sequence == count {
                headers.insert("Nats-Batch-Commit", "1");
            }
            for (name, value) in *extra {
                headers.insert(*name, value.as_str());
            }
            let subject = self.subject(key);
            if sequence == 1 || sequence == count {
                let request = async_nats::Request::new()
                    .headers(headers)
                    .payload("v".into())
                    .timeout(Some(Duration::from_secs(5)));
                let reply = self.client.send_request(subject, request).await.unwrap();
                if sequence < count && reply.payload.is_empty() {
                    continue;
                }
                return ended(&reply.payload);
            }
            self.client
                .publish_with_headers(subject, headers, "v".into())
                .await
                .unwrap();
        }
        unreachable!("a batch has at least one message")
    }
}

fn ended(payload: &[u8]) -> Ended {
    let answer: Value = serde_json::from_slice(payload).expect("a JSON answer");
    if let Some(error) = answer.get("error") {
        return Ended::Refused {
            code: error["err_code"].as_u64().unwrap_or(0),
            description: error["description"].as_str().unwrap_or("").to_owned(),
        };
    }
    Ended::Stored {
        last: answer["seq"].as_u64().expect("a sequence"),
        count: answer["count"].as_u64().unwrap_or(0),
    }
}

fn stored_at(last: u64, count: u64) -> Ended {
    Ended::Stored { last, count }
}

fn code_of(ended: &Ended) -> u64 {
    match ended {
        Ended::Refused { code, .. } => *code,
        Ended::Stored { .. } => 0,
    }
}

/// No headers but the batch's own.
const NONE: &[(&str, String)] = &[];

const SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
const SUBJECT_SEQUENCE_SUBJECT: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
const LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
const MSG_ID: &str = "Nats-Msg-Id";
const LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";

#[tokio::test]
async fn which_key_and_stream_guards_a_batch_checks() {
    let Some((_server, probe)) = Probe::start().await else {
        return;
    };
    let a = probe.put("a").await;

    // The per-subject guard, on any message: checked, a wrong one stores nothing.
    let good = [(SUBJECT_SEQUENCE, a.to_string())];
    let stored = probe.batch(&[("b", NONE), ("a", &good)]).await;
    assert_eq!(stored, stored_at(a + 2, 2));
    let a = probe.last().await;
    let before = a;
    let stale = [(SUBJECT_SEQUENCE, (a - 1).to_string())];
    let lost = probe.batch(&[("b", NONE), ("a", &stale)]).await;
    assert_eq!(code_of(&lost), 10071, "{lost:?}");
    assert_eq!(probe.last().await, before, "a lost guard stores nothing");

    // The guard on another subject: checked.
    let other = [
        (SUBJECT_SEQUENCE, a.to_string()),
        (SUBJECT_SEQUENCE_SUBJECT, probe.subject("a")),
    ];
    let stored = probe.batch(&[("c", &other), ("d", NONE)]).await;
    assert_eq!(stored, stored_at(a + 2, 2));
    let before = probe.last().await;
    let stale_other = [
        (SUBJECT_SEQUENCE, (a - 1).to_string()),
        (SUBJECT_SEQUENCE_SUBJECT, probe.subject("a")),
    ];
    let lost = probe.batch(&[("c", &stale_other), ("d", NONE)]).await;
    assert_eq!(code_of(&lost), 10071, "{lost:?}");
    assert_eq!(probe.last().await, before);

    // A guard on a subject an earlier message of the same batch writes: refused as such.
    let before = probe.last().await;
    let after_write = [(SUBJECT_SEQUENCE, before.to_string())];
    let refused = probe.batch(&[("e", NONE), ("e", &after_write)]).await;
    assert_eq!(code_of(&refused), 10164, "{refused:?}");
    assert_eq!(probe.last().await, before);

    // The whole-stream guard on the first message: checked.
    let current = [(LAST_SEQUENCE, before.to_string())];
    let stored = probe.batch(&[("f", &current), ("g", NONE)]).await;
    assert_eq!(stored, stored_at(before + 2, 2));
    let before = probe.last().await;
    let behind = [(LAST_SEQUENCE, (before - 1).to_string())];
    let lost = probe.batch(&[("f", &behind), ("g", NONE)]).await;
    assert_eq!(code_of(&lost), 10071, "{lost:?}");
    assert_eq!(probe.last().await, before);

    // On a later message it cannot pass: the stream's current last sequence is wrong (an
    // earlier message is ahead of it), and the one after is a guard after a write.
    let later = [(LAST_SEQUENCE, before.to_string())];
    let lost = probe.batch(&[("f", NONE), ("g", &later)]).await;
    assert_eq!(code_of(&lost), 10071, "{lost:?}");
    let ahead = [(LAST_SEQUENCE, (before + 1).to_string())];
    let lost = probe.batch(&[("f", NONE), ("g", &ahead)]).await;
    assert_eq!(code_of(&lost), 10164, "{lost:?}");
    assert_eq!(probe.last().await, before);
}

#[tokio::test]
async fn which_other_headers_a_batch_takes() {
    let Some((_server, probe)) = Probe::start().await else {
        return;
    };
    let before = probe.put("a").await;

    // The expected stream name: checked.
    let right = [(EXPECTED_STREAM, probe.stream.clone())];
    let stored = probe.batch(&[("h", &right)]).await;
    assert_eq!(stored, stored_at(before + 1, 1));
    let before = probe.last().await;
    let wrong = [(EXPECTED_STREAM, "another".to_owned())];
    let refused = probe.batch(&[("h", &wrong)]).await;
    assert_eq!(code_of(&refused), 10060, "{refused:?}");
    assert_eq!(probe.last().await, before);

    // A message id is taken (natskv sends none: the batch id tells a resend apart); a guard on
    // the last message id is refused as a header a batch does not support.
    let id = [(MSG_ID, nuid::next().to_string())];
    let stored = probe.batch(&[("i", &id), ("j", NONE)]).await;
    assert_eq!(stored, stored_at(before + 2, 2));
    let before = probe.last().await;
    let last_id = [(LAST_MSG_ID, "one".to_owned())];
    let refused = probe.batch(&[("i", &last_id), ("j", NONE)]).await;
    let Ended::Refused { code, description } = refused else {
        panic!("a guard on the last message id was taken: {refused:?}");
    };
    assert_eq!(code, 10177, "{description}");
    assert!(description.contains(LAST_MSG_ID), "{description}");
    assert_eq!(probe.last().await, before);
}

#[tokio::test]
async fn a_batch_checks_a_guard_on_a_filter() {
    let Some((_server, probe)) = Probe::start().await else {
        return;
    };

    // A guard on a filter (a wildcard in `...-Subject`): the last sequence of any subject it
    // matches, checked against the stream as it was before the batch, wherever the guard is
    // and whatever the batch writes under the filter. A key created under it moves it on.
    let w1 = probe.put("w.1").await;
    probe.put("elsewhere").await;
    let filter = |at: u64| {
        [
            (SUBJECT_SEQUENCE, at.to_string()),
            (SUBJECT_SEQUENCE_SUBJECT, probe.subject("w.*")),
        ]
    };
    let before = probe.last().await;
    assert_eq!(
        code_of(&probe.batch(&[("k", &filter(w1 - 1))]).await),
        10071
    );
    assert_eq!(
        code_of(&probe.batch(&[("k", &filter(w1 + 1))]).await),
        10071
    );
    let empty = [
        (SUBJECT_SEQUENCE, "0".to_owned()),
        (SUBJECT_SEQUENCE_SUBJECT, probe.subject("nothing.>")),
    ];
    assert_eq!(code_of(&probe.batch(&[("k", &empty)]).await), 0);
    assert_eq!(code_of(&probe.batch(&[("k", &filter(w1))]).await), 0);
    let w2 = probe.put("w.2").await;
    assert_eq!(code_of(&probe.batch(&[("k", &filter(w1))]).await), 10071);
    assert_eq!(probe.last().await, before + 3);
    let stored = probe.batch(&[("w.3", NONE), ("k", &filter(w2))]).await;
    assert_eq!(code_of(&stored), 0, "{stored:?}");
    let Ended::Stored { last, .. } = stored else {
        unreachable!()
    };
    let lost = probe
        .batch(&[("w.4", NONE), ("k", &filter(last - 2))])
        .await;
    assert_eq!(code_of(&lost), 10071, "{lost:?}");
    let stored = probe
        .batch(&[("w.4", &filter(last - 1)), ("w.5", &filter(last - 1))])
        .await;
    assert_eq!(code_of(&stored), 0, "{stored:?}");
}
