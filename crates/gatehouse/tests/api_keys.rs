//! API keys over HTTPS: the lifecycle, HTTP Basic use, permissions, policy, rate limits
//! and revocation by value. Runs on SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE.

mod support;

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use support::{TestApp, spawn_app, spawn_app_with};

impl TestApp {
    /// Signs in as admin and returns the cookie header and CSRF token.
    async fn admin_session(&self) -> (String, String) {
        let login = self.sign_in("admin", &self.admin_password).await;
        (login.cookie, login.csrf)
    }

    async fn create_key(&self, body: Value) -> reqwest::Response {
        let (cookie, csrf) = self.admin_session().await;
        self.post("/api/api-keys")
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .json(&body)
            .send()
            .await
            .expect("create")
    }

    async fn new_key(&self, body: Value) -> (String, String) {
        let res = self.create_key(body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let v: Value = res.json().await.expect("json");
        (
            v["id"].as_str().expect("id").to_owned(),
            v["key"].as_str().expect("key").to_owned(),
        )
    }

    fn as_key(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(key, Some(""))
    }
}

const ALL: &[&str] = &["account:read", "api_keys:read", "api_keys:write"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_shown_once_and_then_listed_without_its_secret() {
    let app = spawn_app().await;
    let res = app
        .create_key(json!({"name": "ci", "expires_in_days": 30}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let v: Value = res.json().await.expect("json");
    let key = v["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("gwk_") && key.len() == 42, "{key}");
    for field in ["id", "name", "created_at", "expires_at", "permissions"] {
        assert!(!v[field].is_null(), "{field}");
    }
    assert_eq!(
        v["permissions"],
        json!(["account:read"]),
        "documented default"
    );

    let (cookie, _) = app.admin_session().await;
    let list = app
        .get("/api/api-keys")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("text");
    assert!(!list.contains(&key), "the secret never appears again");
    assert!(
        !list.contains(&key[10..]),
        "nor any part beyond the display prefix"
    );
    let list: Value = serde_json::from_str(&list).expect("json");
    let item = &list[0];
    assert_eq!(item["display_prefix"], &key[..10]);
    assert_eq!(item["created_by"], "admin");
    assert_eq!(item["enabled"], true);
    for field in ["last_used_at", "last_used_ip"] {
        assert!(item.get(field).is_some(), "{field} is listed");
    }
    assert!(item.get("key").is_none() && item.get("key_hash").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_authenticates_as_basic_username_with_an_empty_password() {
    let app = spawn_app().await;
    let (id, key) = app.new_key(json!({"name": "script"})).await;
    let res = app
        .as_key(reqwest::Method::GET, "/api/auth/session", &key)
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["auth_method"], "api_key");
    assert_eq!(v["user"]["username"], "admin");
    assert_eq!(v["api_key"]["id"], id.as_str());
    assert_eq!(v["api_key"]["name"], "script");
    assert_eq!(v["api_key"]["permissions"], json!(["account:read"]));
    assert!(v["api_key"]["expires_at"].is_string());

    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    );
    let res = app
        .get("/api/auth/session")
        .header("authorization", header)
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_malformed_keys_and_query_string_keys_get_401_basic() {
    let app = spawn_app().await;
    let (_, key) = app.new_key(json!({"name": "k"})).await;
    let mut typo = key.clone().into_bytes();
    typo[12] = if typo[12] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).expect("utf8");
    for (user, pass) in [
        (key.as_str(), "notempty"),
        (typo.as_str(), ""),
        ("gwk_short", ""),
        ("admin", ""),
    ] {
        let res = app
            .get("/api/auth/session")
            .basic_auth(user, Some(pass))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{user}:{pass}");
        assert_eq!(res.headers()[WWW_AUTHENTICATE], "Basic realm=\"gatehouse\"");
        assert_eq!(
            res.json::<Value>().await.expect("json")["error"],
            "invalid_credentials"
        );
    }
    let res = app
        .get(&format!("/api/auth/session?api_key={key}"))
        .send()
        .await
        .expect("req");
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "keys in URLs are never accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_enable_and_delete_take_effect_at_once() {
    let app = spawn_app().await;
    let (id, key) = app.new_key(json!({"name": "k", "permissions": ALL})).await;
    let (cookie, csrf) = app.admin_session().await;
    let post = |path: String| {
        app.post(&path)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .send()
    };
    let session = || {
        app.as_key(reqwest::Method::GET, "/api/auth/session", &key)
            .send()
    };

    assert_eq!(session().await.expect("r").status(), StatusCode::OK);
    let res = post(format!("/api/api-keys/{id}/disable"))
        .await
        .expect("disable");
    assert_eq!(res.json::<Value>().await.expect("json")["enabled"], false);
    let res = session().await.expect("r");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], "Basic realm=\"gatehouse\"");
    post(format!("/api/api-keys/{id}/enable"))
        .await
        .expect("enable");
    assert_eq!(session().await.expect("r").status(), StatusCode::OK);

    let res = app
        .delete(&format!("/api/api-keys/{id}"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("del");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        session().await.expect("r").status(),
        StatusCode::UNAUTHORIZED
    );
    let res = app
        .get(&format!("/api/api-keys/{id}"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_key_is_404_for_every_operation() {
    let app = spawn_app().await;
    let (id, _) = app.new_key(json!({"name": "mine"})).await;
    app.state
        .core
        .create_account(gatehouse_core::service::NewAccount {
            username: "mallory",
            email: "m@example.org",
            display_name: None,
            password: "eve has a long passphrase",
            role: gatehouse_core::org::Role::Member,
            org: None,
        })
        .await
        .expect("user");
    let support::Login { cookie, csrf } = app.sign_in("mallory", "eve has a long passphrase").await;
    for (method, path) in [
        (reqwest::Method::GET, format!("/api/api-keys/{id}")),
        (reqwest::Method::POST, format!("/api/api-keys/{id}/disable")),
        (
            reqwest::Method::POST,
            format!("/api/api-keys/{id}/duplicate"),
        ),
        (reqwest::Method::DELETE, format!("/api/api-keys/{id}")),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(&path))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let list: Value = app
        .get("/api/api-keys")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("j");
    assert_eq!(list, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_keep_permissions_and_get_a_new_secret_and_names_are_unique() {
    let app = spawn_app().await;
    let (id, key) = app
        .new_key(json!({"name": "build", "permissions": ["account:read", "ssh_keys:read"]}))
        .await;
    let res = app.create_key(json!({"name": "build"})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.json::<Value>().await.expect("j")["message"]
            .as_str()
            .expect("m")
            .contains("name")
    );

    let (cookie, csrf) = app.admin_session().await;
    let res = app
        .post(&format!("/api/api-keys/{id}/duplicate"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("dup");
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.expect("j");
    assert_eq!(v["name"], "build (copy)");
    assert_eq!(v["permissions"], json!(["account:read", "ssh_keys:read"]));
    assert_ne!(v["key"].as_str().expect("k"), key);
    let res = app
        .post(&format!("/api/api-keys/{id}/duplicate"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "build 2", "expires_in_days": 7}))
        .send()
        .await
        .expect("dup");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.expect("j")["name"], "build 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_policy_limits_expirations_and_can_require_disable_before_delete() {
    let app = spawn_app().await;
    let org = app.state.core.default_org().await.expect("org");
    use gatehouse_core::org::{KeyExpiration, OrgPolicy};
    app.state
        .core
        .set_org_policy(
            &org.id,
            &OrgPolicy {
                api_key_expirations: vec![KeyExpiration::Days(7), KeyExpiration::Days(30)],
                api_key_user_choice: true,
                api_key_default_expiration: KeyExpiration::Days(7),
                require_disable_before_delete: true,
                ..OrgPolicy::default()
            },
        )
        .await
        .expect("policy");
    for bad in [json!(null), json!(90), json!(31)] {
        let res = app
            .create_key(json!({"name": format!("k{bad}"), "expires_in_days": bad}))
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let msg = res.json::<Value>().await.expect("j")["message"]
            .as_str()
            .expect("m")
            .to_owned();
        assert!(msg.contains("expires_in_days"), "{msg}");
    }
    let res = app.create_key(json!({"name": "default"})).await;
    let v: Value = res.json().await.expect("j");
    let created = time::OffsetDateTime::parse(
        v["created_at"].as_str().expect("c"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("t");
    let expires = time::OffsetDateTime::parse(
        v["expires_at"].as_str().expect("e"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("t");
    assert_eq!((expires - created).whole_days(), 7);

    let (cookie, csrf) = app.admin_session().await;
    let id = v["id"].as_str().expect("id");
    let res = app
        .delete(&format!("/api/api-keys/{id}"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("del");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.json::<Value>().await.expect("j")["message"]
            .as_str()
            .expect("m")
            .contains("disable")
    );
    let opts: Value = app
        .get("/api/api-keys/options")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("o")
        .json()
        .await
        .expect("j");
    assert_eq!(opts["expirations"].as_array().expect("a").len(), 2);
    assert_eq!(opts["require_disable_before_delete"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_permission_gets_403_and_cannot_escalate() {
    let app = spawn_app().await;
    let (_, reader) = app
        .new_key(json!({"name": "reader", "permissions": ["api_keys:read"]}))
        .await;
    let res = app
        .as_key(reqwest::Method::GET, "/api/auth/session", &reader)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.json::<Value>().await.expect("j")["error"],
        "insufficient_permissions"
    );
    let res = app
        .as_key(reqwest::Method::POST, "/api/api-keys", &reader)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (_, writer) = app
        .new_key(json!({"name": "writer", "permissions": ["api_keys:write", "account:read"]}))
        .await;
    let res = app
        .as_key(reqwest::Method::POST, "/api/api-keys", &writer)
        .json(&json!({"name": "escalate", "permissions": ["ssh_keys:write"]}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.json::<Value>().await.expect("j")["error"],
        "insufficient_permissions"
    );
    let res = app
        .as_key(reqwest::Method::POST, "/api/api-keys", &writer)
        .json(&json!({"name": "child"}))
        .send()
        .await
        .expect("r");
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "a key may mint a key with a subset of its permissions"
    );
    let res = app
        .create_key(json!({"name": "bogus", "permissions": ["nope:nope"]}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_use_is_recorded_after_the_periodic_flush() {
    let app = spawn_app().await;
    let (id, key) = app.new_key(json!({"name": "used"})).await;
    let res = app
        .as_key(reqwest::Method::GET, "/api/auth/session", &key)
        .header("user-agent", "gh-test/1.0")
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    app.state.core.flush().await.expect("flush");
    let (cookie, _) = app.admin_session().await;
    let v: Value = app
        .get(&format!("/api/api-keys/{id}"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("j");
    assert!(v["last_used_at"].is_string(), "{v}");
    assert_eq!(v["last_used_ip"], "127.0.0.1");
    assert_eq!(v["last_used_user_agent"], "gh-test/1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_has_a_request_rate_answered_with_429_and_retry_after() {
    let app = spawn_app_with(&[
        ("GATEHOUSE_API_KEYS__RATE_LIMIT_PER_MINUTE", "60"),
        ("GATEHOUSE_API_KEYS__RATE_LIMIT_BURST", "2"),
    ])
    .await;
    let (_, key) = app.new_key(json!({"name": "busy"})).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let res = app
            .as_key(reqwest::Method::GET, "/api/auth/session", &key)
            .send()
            .await
            .expect("r");
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key(RETRY_AFTER));
        }
        statuses.push(res.status());
    }
    assert!(
        statuses[..3].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(
        statuses[3..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_keys_from_one_address_is_throttled_but_a_valid_key_still_gets_through() {
    let app = spawn_app_with(&[("GATEHOUSE_RATE_LIMIT__IP_MAX_FAILURES", "3")]).await;
    let (_, key) = app.new_key(json!({"name": "real"})).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let fake = gatehouse_core::api_key::ApiKeySecret::generate();
        let res = app
            .as_key(reqwest::Method::GET, "/api/auth/session", fake.expose())
            .send()
            .await
            .expect("r");
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key(RETRY_AFTER));
        }
        statuses.push(res.status());
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3], "{statuses:?}");
    assert_eq!(
        statuses[3..],
        [StatusCode::TOO_MANY_REQUESTS; 3],
        "{statuses:?}"
    );
    // The address is over its limit, yet its legitimate key is never refused for it,
    // whether or not this node has cached the key.
    for _ in 0..2 {
        let res = app
            .as_key(reqwest::Method::GET, "/api/auth/session", &key)
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_keys_from_an_address_cannot_lock_out_its_machine_credential_or_sign_in() {
    let app = spawn_app().await;
    let (_, key) = app.new_key(json!({"name": "cluster"})).await;
    let mut last = StatusCode::OK;
    for _ in 0..60 {
        let res = app
            .as_key(reqwest::Method::GET, "/api/auth/session", "gwk_bad")
            .send()
            .await
            .expect("r");
        last = res.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "junk costs the sender");
    // A key that was never used before (not cached) still gets through...
    let res = app
        .as_key(reqwest::Method::GET, "/api/auth/session", &key)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    // ...and so does a password sign-in from the same address: junk credentials do
    // not count against the sign-in limit.
    let res = app.login("admin", &app.admin_password).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaked_keys_are_revoked_by_value_without_revealing_existence() {
    let app = spawn_app().await;
    let (_, key) = app.new_key(json!({"name": "leaked"})).await;
    let fake = gatehouse_core::api_key::ApiKeySecret::generate();
    for keys in [json!([key]), json!([fake.expose()]), json!(["not a key"])] {
        let res = app
            .post("/api/api-keys/revoke")
            .json(&json!({"keys": keys}))
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(
            res.json::<Value>().await.expect("j"),
            json!({"status": "accepted"})
        );
    }
    let res = app
        .as_key(reqwest::Method::GET, "/api/auth/session", &key)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let too_many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    let res = app
        .post("/api/api-keys/revoke")
        .json(&json!({"keys": too_many}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revoke_endpoint_is_rate_limited_per_address() {
    let app = spawn_app().await;
    let mut last = StatusCode::OK;
    for _ in 0..31 {
        last = app
            .post("/api/api-keys/revoke")
            .json(&json!({"keys": []}))
            .send()
            .await
            .expect("r")
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

/// Names that would display as something they are not, and the code point each message
/// must name.
const SPOOFING_NAMES: &[(&str, &str)] = &[
    ("invoice\u{202E}gpj.exe", "U+202E"),
    ("\u{200B}\u{200B}", "U+200B"),
    ("\u{FEFF}deploy", "U+FEFF"),
    ("deploy\u{2028}", "U+2028"),
];

/// A well-formed `ssh-ed25519` public key line.
fn ed25519_line() -> String {
    let mut blob = Vec::new();
    for field in [&b"ssh-ed25519"[..], &[7u8; 32][..]] {
        blob.extend_from_slice(&u32::try_from(field.len()).expect("len").to_be_bytes());
        blob.extend_from_slice(field);
    }
    format!(
        "ssh-ed25519 {} me@laptop",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

async fn assert_spoofing_name_refused(res: reqwest::Response, name: &str, code_point: &str) {
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"], "validation_failed", "{name:?}");
    let msg = v["message"].as_str().expect("message");
    assert!(
        msg.starts_with("name: must ") && msg.contains(code_point),
        "{name:?}: {msg}"
    );
    assert!(v["request_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_and_ssh_key_names_with_bidi_controls_invisible_characters_boms_or_separators_get_422()
 {
    let app = spawn_app().await;
    let (cookie, csrf) = app.admin_session().await;
    let (id, _) = app.new_key(json!({"name": "original"})).await;
    for (name, code_point) in SPOOFING_NAMES {
        let res = app.create_key(json!({ "name": name })).await;
        assert_spoofing_name_refused(res, name, code_point).await;
        let res = app
            .post(&format!("/api/api-keys/{id}/duplicate"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": name }))
            .send()
            .await
            .expect("dup");
        assert_spoofing_name_refused(res, name, code_point).await;
        let res = app
            .post("/api/ssh-keys")
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": name, "key": ed25519_line() }))
            .send()
            .await
            .expect("add ssh key");
        assert_spoofing_name_refused(res, name, code_point).await;
    }
    // The same key under a plain name is fine, so the name was the only problem.
    let res = app
        .post("/api/ssh-keys")
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "name": "laptop 👍", "key": ed25519_line() }))
        .send()
        .await
        .expect("add ssh key");
    assert_eq!(res.status(), StatusCode::CREATED);
    let keys: Value = app
        .get("/api/api-keys")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        keys.as_array().map(Vec::len),
        Some(1),
        "nothing was created"
    );
}
