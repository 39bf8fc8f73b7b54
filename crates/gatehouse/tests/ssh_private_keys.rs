//! SSH private keys over HTTPS: upload in every format, each refusal with its field,
//! owner scoping, permissions, body limits, and answers that never carry the key.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Login, TestApp, spawn_app};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            "../../gatehouse-core/src/ssh/private_key/testdata/",
            $name
        ))
    };
}

const PASS: &str = "correct horse fixture";

/// (name, key file, passphrase) of every accepted fixture.
const ACCEPTED: &[(&str, &str, Option<&str>)] = &[
    ("ed25519", fixture!("ed25519"), None),
    ("ed25519_pass", fixture!("ed25519_pass"), Some(PASS)),
    ("ecdsa256", fixture!("ecdsa256"), None),
    ("ecdsa384", fixture!("ecdsa384"), None),
    ("ecdsa521", fixture!("ecdsa521"), None),
    ("rsa2048", fixture!("rsa2048"), None),
    ("rsa3072", fixture!("rsa3072"), None),
    ("rsa2048_pem", fixture!("rsa2048_pem"), None),
    ("rsa2048_pem_pass", fixture!("rsa2048_pem_pass"), Some(PASS)),
    ("rsa2048_pkcs8", fixture!("rsa2048_pkcs8"), None),
    (
        "rsa2048_pkcs8_pass",
        fixture!("rsa2048_pkcs8_pass"),
        Some(PASS),
    ),
    ("ecdsa256_pem", fixture!("ecdsa256_pem"), None),
    ("ecdsa384_pkcs8", fixture!("ecdsa384_pkcs8"), None),
    (
        "ecdsa256_pkcs8_pass",
        fixture!("ecdsa256_pkcs8_pass"),
        Some(PASS),
    ),
];

/// `ssh-keygen -l`'s fingerprint of a fixture.
fn keygen_fingerprint(name: &str) -> &'static str {
    fixture!("fingerprints.txt")
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.split(' ').nth(2))
        .expect("listed")
}

/// The base64 body lines of a key file: none may ever appear in an answer.
fn body_lines(pem: &str) -> Vec<&str> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':') && l.len() > 16)
        .collect()
}

/// Every `public_key` member of an answer (the public half may share base64 runs with
/// the key file, whose header repeats it).
fn public_halves(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(p)) = m.get("public_key") {
                out.push_str(p);
                out.push('\n');
            }
            m.values().for_each(|x| public_halves(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| public_halves(x, out)),
        _ => {}
    }
}

/// Fails if an answer carries private material or the passphrase.
fn assert_clean(text: &str, key: &str) {
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(!text.contains(PASS), "{text}");
    let mut public = String::new();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        public_halves(&v, &mut public);
    }
    for line in body_lines(key) {
        if public.contains(line) {
            continue;
        }
        assert!(!text.contains(line), "key material in {text}");
    }
}

async fn post(app: &TestApp, login: &Login, body: Value) -> (StatusCode, String) {
    let res = app
        .with_cookie(Method::POST, "/api/ssh-private-keys", login)
        .json(&body)
        .send()
        .await
        .expect("post");
    (res.status(), res.text().await.expect("body"))
}

async fn refused(app: &TestApp, login: &Login, body: Value, field: &str) -> String {
    let key = body["private_key"].as_str().unwrap_or("").to_owned();
    let (status, text) = post(app, login, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert_clean(&text, &key);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["error"], "validation_failed");
    assert_eq!(v["field"], field, "{text}");
    v["message"].as_str().expect("message").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_uploads_and_answers_carry_only_the_public_half() {
    let app = spawn_app().await;
    let alice = app.add_user("alice").await;
    for (name, key, pass) in ACCEPTED {
        let body =
            json!({"name": name, "description": "for CI", "private_key": key, "passphrase": pass});
        let (status, text) = post(&app, &alice, body).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {text}");
        assert_clean(&text, key);
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["fingerprint"], keygen_fingerprint(name), "{name}");
        assert_eq!(v["name"], *name);
        assert_eq!(v["description"], "for CI");
        assert_eq!(v["last_used_at"], Value::Null);
        let mut fields: Vec<&str> = v
            .as_object()
            .expect("obj")
            .keys()
            .map(|k| k.as_str())
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "created_at",
                "description",
                "fingerprint",
                "id",
                "key_type",
                "last_used_at",
                "name",
                "public_key"
            ]
        );
        let public = fixture_public(name);
        assert_eq!(v["public_key"], public, "{name}");
        let id = v["id"].as_str().expect("id");
        let shown = app
            .with_cookie(Method::GET, &format!("/api/ssh-private-keys/{id}"), &alice)
            .send()
            .await
            .expect("show");
        assert_eq!(shown.status(), StatusCode::OK);
        assert_clean(&shown.text().await.expect("text"), key);
    }
    let list = app
        .with_cookie(Method::GET, "/api/ssh-private-keys?limit=5", &alice)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), StatusCode::OK);
    assert!(list.headers().contains_key("x-next-cursor"));
    let text = list.text().await.expect("text");
    for (_, key, _) in ACCEPTED {
        assert_clean(&text, key);
    }
    assert_eq!(
        serde_json::from_str::<Value>(&text)
            .expect("json")
            .as_array()
            .expect("array")
            .len(),
        5
    );
}

/// The `<type> <base64>` of a fixture's `.pub` file.
fn fixture_public(name: &str) -> String {
    let file = match name {
        "ed25519" => fixture!("ed25519.pub"),
        "ed25519_pass" => fixture!("ed25519_pass.pub"),
        "ecdsa256" => fixture!("ecdsa256.pub"),
        "ecdsa384" => fixture!("ecdsa384.pub"),
        "ecdsa521" => fixture!("ecdsa521.pub"),
        "rsa2048" => fixture!("rsa2048.pub"),
        "rsa3072" => fixture!("rsa3072.pub"),
        "rsa2048_pem" => fixture!("rsa2048_pem.pub"),
        "rsa2048_pem_pass" => fixture!("rsa2048_pem_pass.pub"),
        "rsa2048_pkcs8" => fixture!("rsa2048_pkcs8.pub"),
        "rsa2048_pkcs8_pass" => fixture!("rsa2048_pkcs8_pass.pub"),
        "ecdsa256_pem" => fixture!("ecdsa256_pem.pub"),
        "ecdsa384_pkcs8" => fixture!("ecdsa384_pkcs8.pub"),
        "ecdsa256_pkcs8_pass" => fixture!("ecdsa256_pkcs8_pass.pub"),
        other => panic!("no .pub for {other}"),
    };
    file.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_is_a_422_naming_its_field() {
    let app = spawn_app().await;
    let alice = app.add_user("alice").await;
    let body = |key: &str, pass: Option<&str>| json!({"name": "k", "private_key": key, "passphrase": pass});

    let m = refused(&app, &alice, body(fixture!("dsa"), None), "private_key").await;
    assert!(m.contains("DSA"), "{m}");
    let m = refused(&app, &alice, body(fixture!("rsa1024"), None), "private_key").await;
    assert!(m.contains("1024") && m.contains("2048"), "{m}");
    let m = refused(
        &app,
        &alice,
        body(fixture!("ed25519.pub"), None),
        "private_key",
    )
    .await;
    assert_eq!(
        m,
        "private_key: this is a public key; paste the private key file, e.g. ~/.ssh/id_ed25519"
    );
    let m = refused(
        &app,
        &alice,
        body(fixture!("ed25519-cert.pub"), None),
        "private_key",
    )
    .await;
    assert!(m.contains("certificate"), "{m}");
    for encrypted in [
        fixture!("ed25519_pass"),
        fixture!("rsa2048_pem_pass"),
        fixture!("ecdsa256_pkcs8_pass"),
    ] {
        let m = refused(&app, &alice, body(encrypted, None), "passphrase").await;
        assert!(m.contains("protected by a passphrase"), "{m}");
        let m = refused(
            &app,
            &alice,
            body(encrypted, Some("not the passphrase")),
            "passphrase",
        )
        .await;
        assert!(m.contains("does not decrypt"), "{m}");
    }
    let key = fixture!("ed25519");
    let lines: Vec<&str> = key.lines().collect();
    let truncated = lines[..lines.len() - 2].join("\n");
    let m = refused(&app, &alice, body(&truncated, None), "private_key").await;
    assert!(m.contains("damaged or cut short"), "{m}");
    let m = refused(&app, &alice, body("not a key at all", None), "private_key").await;
    assert!(m.contains("not a private key file"), "{m}");
    let big = format!("{key}{}", " ".repeat(16 * 1024));
    let m = refused(&app, &alice, body(&big, None), "private_key").await;
    assert!(m.contains("too long"), "{m}");
    let m = refused(
        &app,
        &alice,
        json!({"name": "k", "description": "x".repeat(501), "private_key": key}),
        "description",
    )
    .await;
    assert!(m.contains("500"), "{m}");

    // Nothing was stored by any of them.
    let list = app
        .with_cookie(Method::GET, "/api/ssh-private-keys", &alice)
        .send()
        .await
        .expect("list");
    assert_eq!(list.json::<Value>().await.expect("json"), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_16_kib_key_fits_in_a_body_and_a_larger_body_is_a_clear_413() {
    let app = spawn_app().await;
    let alice = app.add_user("alice").await;
    let key = fixture!("rsa3072");
    // CRLF and padding up to the limit: the body is larger than 16 KiB once
    // JSON-escaped, and must still arrive.
    let crlf = key.replace('\n', "\r\n");
    let padded = format!("{crlf}{}", " ".repeat(16 * 1024 - crlf.len()));
    assert_eq!(padded.len(), 16 * 1024);
    let (status, text) = post(&app, &alice, json!({"name": "big", "private_key": padded})).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");

    let huge = "A".repeat(80 * 1024);
    let (status, text) = post(&app, &alice, json!({"name": "huge", "private_key": huge})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["error"], "payload_too_large");
    assert!(!text.contains("AAAAAAAA"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_key_is_404_and_delete_removes_it() {
    let app = spawn_app().await;
    let alice = app.add_user("alice").await;
    let bob = app.add_user("bob").await;
    let (status, text) = post(
        &app,
        &alice,
        json!({"name": "k", "private_key": fixture!("ed25519")}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = serde_json::from_str::<Value>(&text).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/ssh-private-keys/{id}");
    for method in [Method::GET, Method::DELETE] {
        let res = app
            .with_cookie(method, &path, &bob)
            .send()
            .await
            .expect("bob");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let list = app
        .with_cookie(Method::GET, "/api/ssh-private-keys", &bob)
        .send()
        .await
        .expect("list");
    assert_eq!(list.json::<Value>().await.expect("json"), json!([]));
    let res = app
        .with_cookie(Method::DELETE, &path, &alice)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .with_cookie(Method::GET, &path, &alice)
        .send()
        .await
        .expect("gone");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_scopes_is_403_and_the_scopes_are_in_the_catalogue() {
    let app = spawn_app().await;
    let alice = app.add_user("alice").await;
    let make_key = |permissions: Value| {
        app.with_cookie(Method::POST, "/api/api-keys", &alice)
            .json(&json!({"name": format!("k{}", permissions), "permissions": permissions}))
            .send()
    };
    let res = make_key(json!(["account:read"])).await.expect("key");
    assert_eq!(res.status(), StatusCode::CREATED);
    let narrow = res.json::<Value>().await.expect("json")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let upload = json!({"name": "k", "private_key": fixture!("ed25519")});
    let res = app
        .with_key(Method::POST, "/api/ssh-private-keys", &narrow)
        .json(&upload)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_clean(&res.text().await.expect("text"), fixture!("ed25519"));
    let res = app
        .with_key(Method::GET, "/api/ssh-private-keys", &narrow)
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Read alone lists but cannot upload; write uploads.
    let res = make_key(json!(["ssh_private_keys:read"]))
        .await
        .expect("key");
    let read = res.json::<Value>().await.expect("json")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let res = app
        .with_key(Method::GET, "/api/ssh-private-keys", &read)
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .with_key(Method::POST, "/api/ssh-private-keys", &read)
        .json(&upload)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = make_key(json!(["ssh_private_keys:write"]))
        .await
        .expect("key");
    let write = res.json::<Value>().await.expect("json")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let res = app
        .with_key(Method::POST, "/api/ssh-private-keys", &write)
        .json(&upload)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::CREATED);

    // A member cannot mint the admin-only scope.
    let res = make_key(json!(["ssh_private_keys:use_all"]))
        .await
        .expect("key");
    assert!(res.status().is_client_error(), "{}", res.status());
    let res = make_key(json!(["ssh_private_keys:use"]))
        .await
        .expect("key");
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_delete_are_audited_with_the_fingerprint_and_no_key() {
    let app = spawn_app().await;
    let alice = app.add_user("alice").await;
    let key = fixture!("ed25519_pass");
    let (status, text) = post(
        &app,
        &alice,
        json!({"name": "k", "private_key": key, "passphrase": PASS}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let v: Value = serde_json::from_str(&text).expect("json");
    let id = v["id"].as_str().expect("id").to_owned();
    let res = app
        .with_cookie(
            Method::DELETE,
            &format!("/api/ssh-private-keys/{id}"),
            &alice,
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let events = app.state.core.recent_audit(None, 50).await.expect("audit");
    let ours: Vec<_> = events
        .iter()
        .filter(|e| e.action.starts_with("ssh_private_key."))
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    for e in ours {
        let detail = e.detail.clone().unwrap_or_default();
        assert!(
            detail.contains(&id) && detail.contains(v["fingerprint"].as_str().expect("fp")),
            "{detail}"
        );
        assert_clean(&format!("{e:?}"), key);
    }
}
