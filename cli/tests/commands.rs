//! Every subcommand against a real server: a bucket natskv wrote (stored schema, MessagePack,
//! JSON and raw families) and one a plain NATS client wrote (JSON, text, bytes).

mod common;

use common::{natskv_bucket, plain_bucket, run, run_with_input, server};
use serde_json::json;

#[tokio::test]
async fn buckets_and_status() {
    let server = server().await;
    let js = common::jetstream(&server).await;
    natskv_bucket(&js, "fleet").await;
    plain_bucket(&js, "plain").await;
    let url = server.url();

    let table = run(&url, &["buckets"]).ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("BUCKET"), "{table:?}");
    assert!(lines[0].contains("SCHEMA"));
    assert!(
        lines[1].starts_with("fleet ") && lines[1].contains("3 families"),
        "{table:?}"
    );
    assert!(
        lines[2].starts_with("plain ") && lines[2].ends_with('-'),
        "{table:?}"
    );

    let listed = run(&url, &["buckets", "--json"]).ok().json_lines();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["bucket"], "fleet");
    assert_eq!(listed[0]["values"], 4);
    assert_eq!(listed[0]["history"], 5);
    assert_eq!(listed[0]["storage"], "file");
    assert_eq!(listed[0]["replicas"], 1);
    assert_eq!(listed[0]["ttl_ms"], serde_json::Value::Null);
    assert_eq!(listed[0]["schema"]["families"][1]["pattern"], "device.{id}");
    assert_eq!(listed[1]["bucket"], "plain");
    assert_eq!(listed[1]["schema"], serde_json::Value::Null);

    let status = run(&url, &["status", "fleet", "--json"]).ok().json();
    assert_eq!(status, listed[0]);
    let human = run(&url, &["status", "fleet"]).ok();
    assert!(human.stdout.contains("history   5"), "{human:?}");
    assert!(human.stdout.contains("device.{id} (msgpack)"), "{human:?}");
    assert!(human.stdout.contains("note.{name} (json)"), "{human:?}");

    run(&url, &["status", "nothing"]).fails(2, "bucket `nothing` not found");
    run(&url, &["status", "bad.name"]).fails(1, "invalid bucket name");
}

#[tokio::test]
async fn get_decodes_every_encoding() {
    let server = server().await;
    let js = common::jetstream(&server).await;
    let fleet = natskv_bucket(&js, "fleet").await;
    plain_bucket(&js, "plain").await;
    let url = server.url();

    // MessagePack, fields in the order the struct declares them.
    let device = run(&url, &["get", "fleet", "device.1", "--json"])
        .ok()
        .json();
    assert_eq!(device["key"], "device.1");
    assert_eq!(device["revision"], 1);
    assert_eq!(device["operation"], "PUT");
    assert_eq!(device["encoding"], "msgpack");
    assert_eq!(
        device["value"],
        json!({"online": true, "firmware": "1.1", "battery": 80, "load": 0.25})
    );
    assert!(device.get("value_base64").is_none());
    assert!(device["created"].as_str().unwrap().ends_with('Z'));
    let human = run(&url, &["get", "fleet", "device.1"]).ok();
    assert!(
        human.stdout.starts_with("key        device.1\n"),
        "{human:?}"
    );
    assert!(
        human
            .stdout
            .contains("{\n  \"online\": true,\n  \"firmware\": \"1.1\""),
        "{human:?}"
    );
    assert!(human.stderr.is_empty());

    // The schema names JSON and raw for these families.
    let note = run(&url, &["get", "fleet", "note.hello", "--json"])
        .ok()
        .json();
    assert_eq!(note["encoding"], "json");
    assert_eq!(note["value"], json!({"text": "hi", "n": [1, 2]}));
    let blob = run(&url, &["get", "fleet", "blob.readme", "--json"])
        .ok()
        .json();
    assert_eq!(blob["encoding"], "text");
    assert_eq!(blob["value"], "plain text");

    // A plain client's JSON, text and bytes.
    let config = run(&url, &["get", "plain", "config.json", "--json"])
        .ok()
        .json();
    assert_eq!(config["encoding"], "json");
    assert_eq!(config["value"], json!({"b": 2, "a": 1}));
    let text = run(&url, &["get", "plain", "text", "--json"]).ok().json();
    assert_eq!(text["encoding"], "bytes");
    assert_eq!(text["value_base64"], "aGVsbG8gd29ybGQ=");
    assert!(text.get("value").is_none());
    let binary = run(&url, &["get", "plain", "binary"]).ok();
    assert!(binary.stdout.ends_with("base64:wQD/EA==\n"), "{binary:?}");
    assert!(
        binary.stderr.contains("neither MessagePack nor JSON"),
        "{binary:?}"
    );
    let raw = run(&url, &["get", "plain", "binary", "--raw"]).ok();
    assert_eq!(raw.bytes, [0xc1, 0x00, 0xff, 0x10]);

    // Revisions.
    fleet
        .put("device.1", rmp_serde::to_vec_named(&1u8).unwrap().into())
        .await
        .unwrap();
    let now = run(&url, &["get", "fleet", "device.1", "--json"])
        .ok()
        .json();
    assert_eq!(now["value"], 1);
    assert_eq!(now["revision"], 5);
    let then = run(
        &url,
        &["get", "fleet", "device.1", "--revision", "1", "--json"],
    )
    .ok()
    .json();
    assert_eq!(then["value"]["battery"], 80);

    run(&url, &["get", "fleet", "device.1", "--revision", "2"])
        .fails(2, "key `device.1` has no revision 2");
    run(&url, &["get", "fleet", "device.9"]).fails(2, "key `device.9` not found in bucket `fleet`");
    run(&url, &["get", "nothing", "a"]).fails(2, "bucket `nothing` not found");
    run(&url, &["get", "fleet", "a..b"]).fails(1, "invalid key");
    run(&url, &["get", "fleet", "a.*"]).fails(1, "invalid key");
}

#[tokio::test]
async fn history_and_keys() {
    let server = server().await;
    let js = common::jetstream(&server).await;
    let fleet = natskv_bucket(&js, "fleet").await;
    let url = server.url();
    fleet
        .put(
            "device.2",
            rmp_serde::to_vec_named(&"second").unwrap().into(),
        )
        .await
        .unwrap();
    fleet.delete("device.2").await.unwrap();

    let history = run(&url, &["history", "fleet", "device.2", "--json"])
        .ok()
        .json_lines();
    let revisions: Vec<_> = history.iter().map(|e| e["revision"].clone()).collect();
    assert_eq!(revisions, [json!(2), json!(5), json!(6)]);
    assert_eq!(history[1]["value"], "second");
    assert_eq!(history[2]["operation"], "DEL");
    assert!(history[2].get("value").is_none());
    let table = run(&url, &["history", "fleet", "device.2"]).ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{table:?}");
    assert!(lines[0].starts_with("REVISION  CREATED"), "{table:?}");
    assert!(lines[2].ends_with("PUT  \"second\""), "{table:?}");
    assert!(lines[3].ends_with("DEL"), "{table:?}");
    run(&url, &["history", "fleet", "device.7"]).fails(2, "not found");

    // Deleted keys are left out; filters narrow.
    let keys = run(&url, &["keys", "fleet"]).ok();
    let mut listed: Vec<&str> = keys.stdout.lines().collect();
    listed.sort_unstable();
    assert_eq!(listed, ["blob.readme", "device.1", "note.hello"]);
    let filtered = run(&url, &["keys", "fleet", "device.*", "note.>", "--json"])
        .ok()
        .json_lines();
    assert_eq!(
        filtered,
        [
            json!({"key": "device.1", "revision": 1}),
            json!({"key": "note.hello", "revision": 3})
        ]
    );
    let none = run(&url, &["keys", "fleet", "nothing.>"]).ok();
    assert!(none.stdout.is_empty());
    run(&url, &["keys", "fleet", "a.>.b"]).fails(1, "invalid key filter");
}

#[tokio::test]
async fn put_del_purge() {
    let server = server().await;
    let js = common::jetstream(&server).await;
    let fleet = natskv_bucket(&js, "fleet").await;
    let plain = plain_bucket(&js, "plain").await;
    let url = server.url();

    // MessagePack by default, in the order given.
    let put = run(
        &url,
        &[
            "put",
            "fleet",
            "device.3",
            r#"{"online":false,"battery":3}"#,
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        put,
        json!({"bucket": "fleet", "key": "device.3", "operation": "PUT", "revision": 5})
    );
    let stored = fleet.get("device.3").await.unwrap().unwrap();
    let expected = rmp_serde::to_vec_named(&Partial {
        online: false,
        battery: 3,
    })
    .unwrap();
    assert_eq!(stored.as_ref(), expected.as_slice());
    // The schema's codec for the family: JSON, and raw text.
    run(&url, &["put", "fleet", "note.new", r#"{"text": "x"}"#]).ok();
    assert_eq!(
        fleet.get("note.new").await.unwrap().unwrap().as_ref(),
        br#"{"text":"x"}"#
    );
    run(&url, &["put", "fleet", "blob.new", r#""some text""#]).ok();
    assert_eq!(
        fleet.get("blob.new").await.unwrap().unwrap().as_ref(),
        b"some text"
    );
    run(&url, &["put", "fleet", "blob.new", "1"]).fails(1, "give a JSON string");
    // No schema: MessagePack; --raw stores the argument.
    let human = run(&url, &["put", "plain", "n", "42"]).ok();
    assert_eq!(human.stdout, "PUT n in plain: revision 6\n");
    assert_eq!(plain.get("n").await.unwrap().unwrap().as_ref(), [42]);
    run(&url, &["put", "plain", "r", "not json", "--raw"]).ok();
    assert_eq!(plain.get("r").await.unwrap().unwrap().as_ref(), b"not json");

    // Bad input changes nothing.
    let before = fleet.status().await.unwrap().info.state.messages;
    run(&url, &["put", "fleet", "device.4", "{oops"]).fails(1, "invalid JSON value");
    run(&url, &["put", "fleet", "device.4", "1 2"]).fails(1, "invalid JSON value");
    run(&url, &["put", "fleet", "_kv.x", "1"]).fails(1, "invalid key");
    run(&url, &["put", "fleet", "bad key", "1"]).fails(1, "invalid key");
    run(&url, &["put", "nothing", "a", "1"]).fails(2, "bucket `nothing` not found");
    run(&url, &["del", "fleet", "device.9"]).fails(2, "key `device.9` not found");
    run(&url, &["purge", "fleet", "device.9"]).fails(2, "key `device.9` not found");
    assert_eq!(fleet.status().await.unwrap().info.state.messages, before);

    let del = run(&url, &["del", "fleet", "device.3", "--json"])
        .ok()
        .json();
    assert_eq!(del["operation"], "DEL");
    run(&url, &["get", "fleet", "device.3"]).fails(2, "deleted at revision");
    run(&url, &["del", "fleet", "device.3"]).fails(2, "not found");
    let purged = run(&url, &["purge", "fleet", "device.3"]).ok();
    assert!(
        purged
            .stdout
            .starts_with("PURGE device.3 in fleet: revision "),
        "{purged:?}"
    );
    let history = run(&url, &["history", "fleet", "device.3", "--json"])
        .ok()
        .json_lines();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["operation"], "PURGE");
}

#[derive(serde::Serialize)]
struct Partial {
    online: bool,
    battery: u8,
}

/// `natskv watch ARGS` on `url`, and its lines as they come.
fn spawn_watch(
    url: &str,
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};

    let mut child = common::natskv(url)
        .arg("watch")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs natskv");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, received)
}

/// The next line within 10 seconds.
fn next_line(lines: &std::sync::mpsc::Receiver<String>) -> String {
    lines
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a watch line within 10s")
}

/// Waits until the bucket's stream has more than `than` consumers: the watch has started.
async fn wait_for_consumers(js: &async_nats::jetstream::Context, bucket: &str, than: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut stream = js.get_stream(format!("KV_{bucket}")).await.unwrap();
    while stream.info().await.unwrap().state.consumer_count <= than {
        assert!(std::time::Instant::now() < deadline, "no watch consumer");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn watch_streams_until_killed() {
    let server = server().await;
    let js = common::jetstream(&server).await;
    let fleet = natskv_bucket(&js, "fleet").await;
    let plain = plain_bucket(&js, "plain").await;
    let url = server.url();

    // The current entries first, then each change as it happens.
    let (mut child, lines) = spawn_watch(&url, &["fleet", "device.*", "--json"]);
    let next = || -> serde_json::Value { serde_json::from_str(&next_line(&lines)).expect("JSON") };
    assert_eq!(next()["key"], "device.1");
    assert_eq!(next()["key"], "device.2");
    fleet
        .put("device.5", rmp_serde::to_vec_named(&"new").unwrap().into())
        .await
        .unwrap();
    let put = next();
    assert_eq!(put["key"], "device.5");
    assert_eq!(put["value"], "new");
    fleet.put("note.x", b"{}".as_slice().into()).await.unwrap();
    fleet.delete("device.1").await.unwrap();
    let deleted = next();
    assert_eq!(deleted["key"], "device.1");
    assert_eq!(deleted["operation"], "DEL");
    child.kill().expect("kills natskv");
    child.wait().expect("natskv ends");

    // --history from the first revision; --from a revision.
    let (mut child, lines) = spawn_watch(&url, &["fleet", "device.1", "--history", "--json"]);
    let first: serde_json::Value = serde_json::from_str(&next_line(&lines)).unwrap();
    assert_eq!(first["revision"], 1);
    child.kill().expect("kills natskv");
    child.wait().expect("natskv ends");
    let (mut child, lines) = spawn_watch(&url, &["fleet", "--from", "5", "--json"]);
    let from: serde_json::Value = serde_json::from_str(&next_line(&lines)).unwrap();
    assert_eq!(from["revision"], 5);
    child.kill().expect("kills natskv");
    child.wait().expect("natskv ends");

    // --updates-only starts after what is there; human lines.
    let (mut child, lines) = spawn_watch(&url, &["plain", "--updates-only"]);
    wait_for_consumers(&js, "plain", 0).await;
    plain
        .put("later", rmp_serde::to_vec_named(&true).unwrap().into())
        .await
        .unwrap();
    let line = next_line(&lines);
    assert!(line.contains("  PUT    later  @6  true"), "{line:?}");
    child.kill().expect("kills natskv");
    child.wait().expect("natskv ends");

    // Ctrl-C ends a watch with success.
    let (mut child, lines) = spawn_watch(&url, &["fleet", "device.2"]);
    assert!(next_line(&lines).contains("device.2"));
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("runs kill");
    assert!(interrupted.success());
    assert_eq!(child.wait().expect("natskv ends").code(), Some(0));

    run(&url, &["watch", "nothing"]).fails(2, "bucket `nothing` not found");
    let both = run(&url, &["watch", "fleet", "--history", "--from", "3"]);
    assert_eq!(both.code, 1, "{both:?}");
    assert!(both.stderr.contains("cannot be used with"), "{both:?}");
}

#[tokio::test]
async fn exit_codes_for_connection_and_auth() {
    use natskv_core::server::{NatsServer, User};

    // Nothing listens on the port of a stopped server.
    let mut stopped = server().await;
    let url = stopped.url();
    stopped.stop().await.unwrap();
    run(&url, &["buckets"]).fails(3, "cannot connect to");

    let server = NatsServer::builder()
        .user(User::new("admin", "s3cret"))
        .user(User::new("reader", "s3cret").deny_publish("$KV.fleet.>"))
        .start()
        .await
        .expect("starts");
    let url = server.url();
    run(&url, &["buckets"]).fails(4, "cannot connect to");
    run(&url, &["--user", "admin", "--password", "wrong", "buckets"]).fails(4, "authorization");
    let admin = run(
        &url,
        &["--user", "admin", "--password", "s3cret", "buckets"],
    )
    .ok();
    assert_eq!(admin.stdout.lines().count(), 1, "{admin:?}");
    let client = async_nats::ConnectOptions::new()
        .user_and_password("admin".into(), "s3cret".into())
        .connect(server.url())
        .await
        .unwrap();
    natskv_bucket(&async_nats::jetstream::new(client), "fleet").await;
    // A write the server refuses is a permission error, not a lost one.
    let reader = ["--user", "reader", "--password", "s3cret", "--timeout", "1"];
    let read = run(&url, &[&reader[..], &["get", "fleet", "device.1"]].concat()).ok();
    assert!(read.stdout.contains("device.1"));
    run(
        &url,
        &[&reader[..], &["put", "fleet", "device.1", "1"]].concat(),
    )
    .fails(4, "permission denied");
}

#[tokio::test]
async fn usage_errors_exit_1_and_help_exits_0() {
    let url = "nats://127.0.0.1:1";
    let unknown = run(url, &["frobnicate"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(unknown.stderr.contains("unrecognized subcommand"));
    let missing = run(url, &["get", "bucket"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    let help = run(url, &["--help"]);
    assert_eq!(help.code, 0);
    for command in [
        "buckets", "status", "get", "history", "keys", "watch", "dump", "load", "put", "del",
        "purge",
    ] {
        assert!(help.stdout.contains(command), "{command} in {help:?}");
    }
    let raw_json = run(url, &["get", "b", "k", "--raw", "--json"]);
    assert_eq!(raw_json.code, 1, "{raw_json:?}");
    let _ = run_with_input;
}
