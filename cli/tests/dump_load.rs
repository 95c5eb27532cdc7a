//! `dump` then `load` into a new bucket gives the same keys and byte-identical values, for a
//! bucket natskv wrote and one a plain NATS client wrote; a bad line loads nothing.

mod common;

use common::{contents, natskv_bucket, plain_bucket, run, run_with_input, server};
use serde_json::json;

#[tokio::test]
async fn dump_then_load_is_lossless() {
    let server = server().await;
    let js = common::jetstream(&server).await;
    let fleet = natskv_bucket(&js, "fleet").await;
    let plain = plain_bucket(&js, "plain").await;
    // MessagePack that JSON cannot give back exactly: a float32, binary, an integer key.
    let mut odd = Vec::new();
    rmpv::encode::write_value(
        &mut odd,
        &rmpv::Value::Array(vec![
            rmpv::Value::F32(1.5),
            rmpv::Value::Binary(vec![1, 2]),
            rmpv::Value::Map(vec![(rmpv::Value::from(7), rmpv::Value::Nil)]),
        ]),
    )
    .unwrap();
    fleet.put("device.9", odd.into()).await.unwrap();
    fleet.delete("device.2").await.unwrap();
    let url = server.url();

    for (name, store) in [("fleet", &fleet), ("plain", &plain)] {
        let dump = run(&url, &["dump", name]).ok();
        let copy = format!("{name}_copy");
        let loaded = run_with_input(
            &url,
            &["load", &copy, "--create", "--json"],
            dump.stdout.as_bytes(),
        )
        .ok()
        .json();
        let entries = dump.stdout.lines().count();
        assert_eq!(loaded["entries"], entries);
        assert_eq!(loaded["puts"], entries);
        let restored = js.get_key_value(&copy).await.unwrap();
        assert_eq!(contents(&restored).await, contents(store).await, "{name}");
        // And the copy dumps to the same values. (Not the fleet: the copy has no stored
        // schema, so its raw text is bytes there.)
        if name == "fleet" {
            continue;
        }
        let again = run(&url, &["dump", &copy]).ok();
        let strip = |text: &str| -> Vec<serde_json::Value> {
            let mut lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    let o = v.as_object_mut().unwrap();
                    o.remove("revision");
                    o.remove("created");
                    v
                })
                .collect();
            lines.sort_by_key(|v| v["key"].as_str().unwrap().to_owned());
            lines
        };
        assert_eq!(strip(&again.stdout), strip(&dump.stdout));
    }

    // What the fleet dump says about each value.
    let dump = run(&url, &["dump", "fleet", "device.*"]).ok().json_lines();
    let keys: Vec<_> = dump.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["device.1", "device.9"]);
    assert_eq!(dump[0]["encoding"], "msgpack");
    assert_eq!(dump[0]["value"]["firmware"], "1.1");
    assert!(dump[0].get("value_base64").is_none());
    assert_eq!(dump[1]["encoding"], "msgpack");
    assert_eq!(dump[1]["value"], json!([1.5, [1, 2], {"7": null}]));
    assert!(dump[1]["value_base64"].is_string());
    // Spaced JSON: readable, and exact through value_base64.
    let spaced = run(&url, &["dump", "plain", "config.spaced"]).ok().json();
    assert_eq!(spaced["encoding"], "json");
    assert_eq!(spaced["value"], json!({"a": [1, 2]}));
    assert!(spaced["value_base64"].is_string());
}

#[tokio::test]
async fn history_deleted_files_and_hand_written_lines() {
    let server = server().await;
    let js = common::jetstream(&server).await;
    let fleet = natskv_bucket(&js, "fleet").await;
    fleet.delete("device.2").await.unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.jsonl");
    let file = file.to_str().unwrap();

    let summary = run(
        &url,
        &["dump", "fleet", "--history", "--deleted", "-o", file],
    )
    .ok();
    assert_eq!(
        summary.stdout,
        "dumped 5 entries (4 puts, 1 deletes, 0 purges) from fleet\n"
    );
    let dumped = std::fs::read_to_string(file).unwrap();
    let ops: Vec<String> = dumped
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["operation"].to_string())
        .collect();
    assert_eq!(ops.last().unwrap(), "\"DEL\"");
    js.create_key_value(async_nats::jetstream::kv::Config {
        bucket: "restored".into(),
        history: 5,
        ..Default::default()
    })
    .await
    .unwrap();
    let loaded = run(&url, &["load", "restored", "-i", file]).ok();
    assert_eq!(
        loaded.stdout,
        "loaded 5 entries (4 puts, 1 deletes, 0 purges) into restored\n"
    );
    run(&url, &["get", "restored", "device.2"]).fails(2, "deleted at revision");
    let history = run(&url, &["history", "restored", "device.2", "--json"])
        .ok()
        .json_lines();
    assert_eq!(history.len(), 2);

    // Hand-written lines: the value is encoded as MessagePack, or as the record says.
    let lines = concat!(
        "{\"key\":\"a\",\"value\":{\"x\":1}}\n",
        "\n",
        "{\"key\":\"b\",\"value\":[1],\"encoding\":\"json\"}\n",
        "{\"key\":\"c\",\"value\":null}\n",
        "{\"key\":\"a\",\"operation\":\"PURGE\"}\n",
    );
    run_with_input(&url, &["load", "restored"], lines.as_bytes()).ok();
    let restored = js.get_key_value("restored").await.unwrap();
    assert_eq!(restored.get("b").await.unwrap().unwrap().as_ref(), b"[1]");
    assert_eq!(restored.get("c").await.unwrap().unwrap().as_ref(), [0xc0]);
    run(&url, &["get", "restored", "a"]).fails(2, "not found");
}

#[tokio::test]
async fn a_bad_line_loads_nothing() {
    let server = server().await;
    let js = common::jetstream(&server).await;
    let url = server.url();
    let good = "{\"key\":\"a\",\"value\":1}\n";
    for (bad, message) in [
        ("not json", "line 2: not a dump entry"),
        ("{\"key\":\"a b\",\"value\":1}", "line 2: invalid key"),
        (
            "{\"key\":\"a\"}",
            "line 2: a PUT needs `value` or `value_base64`",
        ),
        (
            "{\"key\":\"a\",\"operation\":\"SET\"}",
            "line 2: unknown operation `SET`",
        ),
        (
            "{\"key\":\"a\",\"value_base64\":\"%%\"}",
            "line 2: invalid value_base64",
        ),
        (
            "{\"key\":\"a\",\"value\":1,\"encoding\":\"yaml\"}",
            "line 2: unknown encoding",
        ),
    ] {
        let input = format!("{good}{bad}\n");
        run_with_input(&url, &["load", "empty", "--create"], input.as_bytes()).fails(1, message);
    }
    let status = run(&url, &["status", "empty", "--json"]).ok().json();
    assert_eq!(status["values"], 0);
    run_with_input(&url, &["load", "missing"], good.as_bytes())
        .fails(2, "bucket `missing` not found");
    run(&url, &["dump", "missing"]).fails(2, "bucket `missing` not found");
    drop(js);
}

#[tokio::test]
async fn a_thousand_entries_round_trip() {
    let server = server().await;
    let url = server.url();
    let mut lines = String::new();
    for i in 0..1000 {
        lines.push_str(&json!({"key": format!("k.{i}"), "value": {"i": i}}).to_string());
        lines.push('\n');
    }
    let loaded = run_with_input(
        &url,
        &["load", "many", "--create", "--json"],
        lines.as_bytes(),
    )
    .ok()
    .json();
    assert_eq!(loaded["puts"], 1000);
    let dump = run(&url, &["dump", "many"]).ok().json_lines();
    assert_eq!(dump.len(), 1000);
    assert_eq!(
        dump[999],
        json!({
            "key": "k.999",
            "revision": 1000,
            "operation": "PUT",
            "created": dump[999]["created"],
            "encoding": "msgpack",
            "value": {"i": 999}
        })
    );
}
