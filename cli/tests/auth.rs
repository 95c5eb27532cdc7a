//! The command's authentication and TLS options end to end, each against a server that
//! requires it: a token, an NKey seed file, a credentials file (a server in operator mode,
//! with JWTs signed here), TLS with a CA and a client certificate. Listing, writing and reading
//! work with the right ones; wrong or missing credentials exit 4 (denied) with one line on
//! stderr, a TLS handshake that fails exits 3, and a seed or credentials file that cannot be
//! used exits 6 before connecting.

mod common;

use std::path::PathBuf;

use async_nats::ConnectOptions;
use async_nats::jetstream::{self, kv};
use common::run;
use natskv_core::server::NatsServer;

async fn server_with(config: String) -> NatsServer {
    match NatsServer::builder().extra_config(config).start().await {
        Ok(server) => server,
        Err(error) => panic!("could not start nats-server: {error}"),
    }
}

/// Creates bucket `secured` holding `k` = 1 (MessagePack) through a client connected with
/// `options`, then lists, writes and reads it with the command run with `auth`.
async fn exercise(url: &str, options: ConnectOptions, auth: &[&str]) {
    let client = options.connect(url).await.expect("connects");
    let js = jetstream::new(client);
    let bucket = js
        .create_key_value(kv::Config {
            bucket: "secured".into(),
            ..Default::default()
        })
        .await
        .expect("creates the bucket");
    bucket.put("k", vec![0x01].into()).await.unwrap();

    let listed = run(url, &[auth, &["buckets"]].concat()).ok();
    assert!(listed.stdout.contains("secured"), "{listed:?}");
    run(url, &[auth, &["put", "secured", "k", "2"]].concat()).ok();
    let got = run(url, &[auth, &["get", "secured", "k", "--json"]].concat())
        .ok()
        .json();
    assert_eq!(
        (got["value"].clone(), got["revision"].clone()),
        (2.into(), 2.into())
    );
    assert_eq!(bucket.get("k").await.unwrap().unwrap().as_ref(), [0x02]);
}

/// A file of `cli/tests/tls`, as a string argument.
fn tls(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "tls", name]
        .iter()
        .collect();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn token() {
    let server = server_with(r#"authorization { token: "t0ken" }"#.to_owned()).await;
    let url = server.url();
    run(&url, &["buckets"]).fails(4, "authorization");
    run(&url, &["--token", "wrong", "buckets"]).fails(4, "authorization");
    let options = ConnectOptions::new().token("t0ken".into());
    exercise(&url, options, &["--token", "t0ken"]).await;
}

#[tokio::test]
async fn nkey_seed_file() {
    let user = nkeys::KeyPair::new_user();
    let config = format!(
        "authorization {{ users: [ {{ nkey: \"{}\" }} ] }}",
        user.public_key()
    );
    let server = server_with(config).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("user.nk");
    std::fs::write(&seed, format!("{}\n", user.seed().unwrap())).unwrap();
    let seed = seed.to_string_lossy().into_owned();

    run(&url, &["buckets"]).fails(4, "authorization");
    let options = ConnectOptions::new().nkey(user.seed().unwrap());
    exercise(&url, options, &["--nkey", &seed]).await;
    // Another user's seed is refused by the server.
    let other = dir.path().join("other.nk");
    std::fs::write(&other, nkeys::KeyPair::new_user().seed().unwrap()).unwrap();
    run(&url, &["--nkey", &other.to_string_lossy(), "buckets"]).fails(4, "authorization");
    // A file that holds no seed, and one that is not there, fail before connecting.
    let junk = dir.path().join("junk.nk");
    std::fs::write(&junk, "not a seed").unwrap();
    run(&url, &["--nkey", &junk.to_string_lossy(), "buckets"]).fails(6, "not an NKey seed");
    let missing = dir.path().join("missing.nk");
    run(&url, &["--nkey", &missing.to_string_lossy(), "buckets"]).fails(6, "cannot read nkey");
}

#[tokio::test]
async fn tls_with_a_client_certificate() {
    let config = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify: true\n}}",
        tls("server-cert.pem"),
        tls("server-key.pem"),
        tls("ca.pem"),
    );
    let server = server_with(config).await;
    let url = server.url();
    let (ca, cert, key) = (tls("ca.pem"), tls("client-cert.pem"), tls("client-key.pem"));

    let options = ConnectOptions::new()
        .add_root_certificates(ca.clone().into())
        .add_client_certificate(cert.clone().into(), key.clone().into())
        .require_tls(true);
    let auth = ["--tlsca", &ca, "--tlscert", &cert, "--tlskey", &key];
    exercise(&url, options, &auth).await;
    // Without the CA the server's certificate is not trusted; without a client certificate
    // the server refuses the handshake; without TLS the server will not talk.
    let untrusted = run(&url, &["--tlscert", &cert, "--tlskey", &key, "buckets"]);
    assert_eq!(untrusted.code, 3, "{untrusted:?}");
    let anonymous = run(&url, &["--tlsca", &ca, "buckets"]);
    assert_eq!(anonymous.code, 3, "{anonymous:?}");
    let plain = run(&url, &["buckets"]);
    assert_eq!(plain.code, 3, "{plain:?}");
    for failed in [untrusted, anonymous, plain] {
        assert_eq!(failed.stderr.lines().count(), 1, "{failed:?}");
        assert!(failed.stdout.is_empty(), "{failed:?}");
    }
}

#[tokio::test]
async fn a_credentials_file_that_cannot_be_used() {
    let server = common::server().await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.creds");
    let missing = run(&url, &["--creds", &missing.to_string_lossy(), "buckets"]);
    missing.fails(6, "missing.creds: loading creds file");
    let junk = dir.path().join("junk.creds");
    std::fs::write(&junk, "neither a JWT nor a seed").unwrap();
    run(&url, &["--creds", &junk.to_string_lossy(), "buckets"]).fails(6, "cannot parse user JWT");
}

/// A signed JWT (NATS v2 claims, ed25519-nkey) of `kind` for `subject`, issued by `issuer`.
fn jwt(issuer: &nkeys::KeyPair, subject: &str, kind: &str, mut nats: serde_json::Value) -> String {
    use base64::Engine;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    nats["type"] = kind.into();
    nats["version"] = 2.into();
    let claims = serde_json::json!({
        "jti": claim_id(),
        "iat": 1_700_000_000,
        "iss": issuer.public_key(),
        "sub": subject,
        "name": kind,
        "nats": nats,
    });
    let header = encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = encode(claims.to_string().as_bytes());
    let signed = format!("{header}.{body}");
    let signature = issuer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", encode(&signature))
}

/// A unique claim id.
fn claim_id() -> String {
    nkeys::KeyPair::new_user().public_key()[1..27].to_owned()
}

#[tokio::test]
async fn a_credentials_file_in_operator_mode() {
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let system = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let unlimited = serde_json::json!({
        "limits": {
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
        },
    });
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "operator",
        serde_json::json!({ "system_account": system.public_key() }),
    );
    let account_jwt = jwt(&operator, &account.public_key(), "account", unlimited);
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        "account",
        serde_json::json!({}),
    );
    let user_jwt = jwt(
        &account,
        &user.public_key(),
        "user",
        serde_json::json!({ "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1 }),
    );
    let config = format!(
        "operator: \"{operator_jwt}\"\nsystem_account: \"{}\"\nresolver: MEMORY\n\
         resolver_preload: {{\n  {}: \"{account_jwt}\"\n  {}: \"{system_jwt}\"\n}}",
        system.public_key(),
        account.public_key(),
        system.public_key(),
    );
    let server = server_with(config).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("user.creds");
    std::fs::write(
        &creds,
        format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().unwrap()
        ),
    )
    .unwrap();

    run(&url, &["buckets"]).fails(4, "authorization");
    let options = ConnectOptions::with_credentials_file(&creds).await.unwrap();
    exercise(&url, options, &["--creds", &creds.to_string_lossy()]).await;
}
