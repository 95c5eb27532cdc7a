//! Helpers shared by the command's tests: a development server per test, the `natskv` binary
//! run against it, and buckets filled by natskv's encoding and by a plain NATS client.
#![allow(dead_code)]

use std::process::{Command, Output};

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use natskv_core::server::NatsServer;
use serde::Serialize;

/// Starts a nats-server (JetStream on, free port, temporary store) for one test.
pub(crate) async fn server() -> NatsServer {
    match NatsServer::start().await {
        Ok(server) => server,
        Err(error) => panic!("could not start nats-server: {error}"),
    }
}

/// The `natskv` binary, with no connection settings from the environment.
pub(crate) fn natskv(url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_natskv"));
    for name in [
        "NATS_URL",
        "NATS_CREDS",
        "NATS_USER",
        "NATS_PASSWORD",
        "NATS_TOKEN",
        "NATS_NKEY",
        "NATS_CA",
        "NATS_CERT",
        "NATS_KEY",
    ] {
        command.env_remove(name);
    }
    command.env("NATS_URL", url).env("TZ", "UTC");
    command
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code.
    pub(crate) code: i32,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
    /// Standard output's bytes.
    pub(crate) bytes: Vec<u8>,
}

impl Run {
    /// Each line of standard output parsed as JSON.
    pub(crate) fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    /// Standard output parsed as one JSON value.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).expect("JSON output")
    }

    /// Asserts success and returns self.
    #[track_caller]
    pub(crate) fn ok(self) -> Self {
        assert_eq!(self.code, 0, "failed: {self:?}");
        self
    }

    /// Asserts the exit code and a one-line error on stderr, and that nothing went to stdout.
    #[track_caller]
    pub(crate) fn fails(self, code: i32, message: &str) -> Self {
        assert_eq!(self.code, code, "exit code: {self:?}");
        assert!(self.stdout.is_empty(), "stdout on failure: {self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "one line: {self:?}");
        assert!(self.stderr.starts_with("natskv: error: "), "{self:?}");
        assert!(
            self.stderr.contains(message),
            "expected {message:?}: {self:?}"
        );
        self
    }
}

/// Runs `natskv ARGS` against `url`.
pub(crate) fn run(url: &str, args: &[&str]) -> Run {
    finish(natskv(url).args(args).output().expect("runs natskv"))
}

/// Runs `natskv ARGS` with `input` on standard input.
pub(crate) fn run_with_input(url: &str, args: &[&str], input: &[u8]) -> Run {
    use std::io::Write;
    let mut child = natskv(url)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs natskv");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("writes input");
    finish(child.wait_with_output().expect("natskv ends"))
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        bytes: output.stdout,
    }
}

/// A JetStream context on `server`.
pub(crate) async fn jetstream(server: &NatsServer) -> jetstream::Context {
    let client = async_nats::connect(server.url()).await.expect("connects");
    jetstream::new(client)
}

/// The value a natskv family stores (MessagePack with named fields, in declaration order).
#[derive(Debug, Serialize)]
pub(crate) struct Device {
    pub(crate) online: bool,
    pub(crate) firmware: String,
    pub(crate) battery: u8,
    pub(crate) load: f64,
}

/// A stored schema as natskv writes it: `device.{id}` in MessagePack, `note.{name}` in JSON,
/// `blob.{name}` raw.
pub(crate) const SCHEMA: &str = r#"{"natskv":3,"families":[{"pattern":"blob.{name}","params":["str"],"codec":"raw"},{"pattern":"device.{id}","params":["u32"],"codec":"msgpack"},{"pattern":"note.{name}","params":["str"],"codec":"json"}]}"#;

/// A bucket as natskv writes it: a stored schema, MessagePack devices, a JSON note, raw text,
/// history 5.
pub(crate) async fn natskv_bucket(js: &jetstream::Context, name: &str) -> kv::Store {
    let store = js
        .create_key_value(kv::Config {
            bucket: name.to_owned(),
            history: 5,
            ..kv::Config::default()
        })
        .await
        .expect("creates the bucket");
    let mut config = js
        .get_stream(format!("KV_{name}"))
        .await
        .expect("the stream")
        .cached_info()
        .config
        .clone();
    config.metadata.insert(
        natskv_core::SCHEMA_METADATA_KEY.to_owned(),
        SCHEMA.to_owned(),
    );
    js.update_stream(config).await.expect("stores the schema");
    for (id, battery) in [(1, 80), (2, 35)] {
        let device = Device {
            online: true,
            firmware: format!("1.{id}"),
            battery,
            load: 0.25,
        };
        let bytes = rmp_serde::to_vec_named(&device).expect("encodes");
        store
            .put(format!("device.{id}"), Bytes::from(bytes))
            .await
            .expect("puts");
    }
    store
        .put(
            "note.hello",
            Bytes::from_static(br#"{"text":"hi","n":[1,2]}"#),
        )
        .await
        .expect("puts");
    store
        .put("blob.readme", Bytes::from_static(b"plain text"))
        .await
        .expect("puts");
    store
}

/// A bucket written by a plain NATS client: JSON, text and arbitrary bytes, no schema.
pub(crate) async fn plain_bucket(js: &jetstream::Context, name: &str) -> kv::Store {
    let store = js
        .create_key_value(kv::Config {
            bucket: name.to_owned(),
            history: 3,
            ..kv::Config::default()
        })
        .await
        .expect("creates the bucket");
    let values: [(&str, &[u8]); 5] = [
        ("config.json", br#"{"b":2,"a":1}"#),
        ("config.spaced", b"{ \"a\" : [1, 2] }\n"),
        ("text", b"hello world"),
        ("binary", &[0xc1, 0x00, 0xff, 0x10]),
        ("empty", b""),
    ];
    for (key, value) in values {
        store
            .put(key, Bytes::copy_from_slice(value))
            .await
            .expect("puts");
    }
    store
}

/// Every key's current bytes in `store`.
pub(crate) async fn contents(store: &kv::Store) -> Vec<(String, Bytes)> {
    use futures::TryStreamExt;
    let mut keys: Vec<String> = store
        .keys()
        .await
        .expect("keys")
        .try_collect()
        .await
        .expect("keys");
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let value = store.get(&key).await.expect("get").expect("a value");
        out.push((key, value));
    }
    out
}
