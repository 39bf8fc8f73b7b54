//! Rules that hold across every kind of credential, over HTTPS: a credential that mints
//! another never outlives or out-ranks it and ends its children when it ends; per-account
//! caps; cursor pagination of every list; the permission that signing out everywhere
//! needs; canonical usernames on the authorized-keys route; and the client's address and
//! user agent on credential events. Runs on SQLite, or PostgreSQL with
//! GATEHOUSE_TEST_DATABASE.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Login, TestApp, spawn_app, spawn_app_with};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("time"), &Rfc3339).expect("rfc3339")
}

impl TestApp {
    /// Creates an API key with `auth` and returns the 201 body (with `key`).
    async fn key_via(&self, auth: reqwest::RequestBuilder, body: Value) -> Value {
        let res = auth.json(&body).send().await.expect("create key");
        let status = res.status();
        let v: Value = res.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v
    }

    async fn token_via(&self, auth: reqwest::RequestBuilder, body: Value) -> Value {
        let res = auth.json(&body).send().await.expect("create token");
        let status = res.status();
        let v: Value = res.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v
    }

    async fn status_with_key(&self, key: &str) -> StatusCode {
        self.with_key(Method::GET, "/api/auth/session", key)
            .send()
            .await
            .expect("r")
            .status()
    }

    async fn key_record(&self, login: &Login, id: &str) -> Value {
        self.with_cookie(Method::GET, &format!("/api/api-keys/{id}"), login)
            .send()
            .await
            .expect("r")
            .json()
            .await
            .expect("json")
    }
}

fn secret(v: &Value) -> String {
    v["key"]
        .as_str()
        .or(v["token"].as_str())
        .expect("secret")
        .to_owned()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

const MINTER: &[&str] = &[
    "account:read",
    "api_keys:read",
    "api_keys:write",
    "tokens:write",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_cannot_make_a_key_that_outlives_or_outranks_it_and_the_key_ends_with_it() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let token = app
        .token_via(
            app.with_cookie(Method::POST, "/api/tokens", &admin),
            json!({"expires_in_hours": 1, "permissions": MINTER}),
        )
        .await;
    let bearer = secret(&token);

    // Asking for a key that never expires gets one that expires with the token.
    let child = app
        .key_via(
            app.with_bearer(Method::POST, "/api/api-keys", &bearer),
            json!({"name": "from-token", "expires_in_days": null, "permissions": MINTER}),
        )
        .await;
    assert_eq!(at(&child["expires_at"]), at(&token["expires_at"]));
    assert_eq!(child["parent_id"], token["id"]);

    // It cannot grant what the token lacks (an admin-only permission included).
    let res = app
        .with_bearer(Method::POST, "/api/api-keys", &bearer)
        .json(&json!({"name": "wider", "permissions": ["ssh_keys:read_all"]}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A key made by that key is a grandchild; a duplicate made by it is one too.
    let grandchild = app
        .key_via(
            app.with_key(Method::POST, "/api/api-keys", &secret(&child)),
            json!({"name": "grandchild", "permissions": ["account:read"]}),
        )
        .await;
    assert_eq!(grandchild["parent_id"], child["id"]);
    let dup = app
        .key_via(
            app.with_key(
                Method::POST,
                &format!("/api/api-keys/{}/duplicate", id(&grandchild)),
                &secret(&child),
            ),
            json!({"expires_in_days": null}),
        )
        .await;
    assert!(at(&dup["expires_at"]) <= at(&token["expires_at"]), "{dup}");
    for k in [&child, &grandchild, &dup] {
        assert_eq!(app.status_with_key(&secret(k)).await, StatusCode::OK);
    }

    // Revoking the token ends every key down the chain, for good.
    let res = app
        .with_cookie(
            Method::DELETE,
            &format!("/api/tokens/{}", id(&token)),
            &admin,
        )
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for k in [&child, &grandchild, &dup] {
        assert_eq!(
            app.status_with_key(&secret(k)).await,
            StatusCode::UNAUTHORIZED
        );
        let rec = app.key_record(&admin, &id(k)).await;
        assert_eq!(rec["enabled"], false, "{rec}");
        assert!(!rec["revoked_at"].is_null(), "{rec}");
    }
    let res = app
        .with_cookie(
            Method::POST,
            &format!("/api/api-keys/{}/enable", id(&child)),
            &admin,
        )
        .send()
        .await
        .expect("enable");
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "a revoked key stays revoked"
    );
    assert_eq!(
        app.status_with_key(&secret(&child)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_cannot_make_a_longer_lived_key_and_disabling_or_deleting_it_ends_its_children() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    for action in ["disable", "delete"] {
        let parent = app
            .key_via(
                app.with_cookie(Method::POST, "/api/api-keys", &admin),
                json!({"name": format!("week-{action}"), "expires_in_days": 7, "permissions": MINTER}),
            )
            .await;
        assert!(
            parent["parent_id"].is_null(),
            "a session is the account itself"
        );
        let child = app
            .key_via(
                app.with_key(Method::POST, "/api/api-keys", &secret(&parent)),
                json!({"name": format!("forever-{action}"), "expires_in_days": null, "permissions": ["account:read", "tokens:write"]}),
            )
            .await;
        assert_eq!(at(&child["expires_at"]), at(&parent["expires_at"]));
        let token = app
            .token_via(
                app.with_key(Method::POST, "/api/tokens", &secret(&child)),
                json!({"expires_in_hours": 24}),
            )
            .await;
        let res = if action == "disable" {
            app.with_cookie(
                Method::POST,
                &format!("/api/api-keys/{}/disable", id(&parent)),
                &admin,
            )
        } else {
            app.with_cookie(
                Method::DELETE,
                &format!("/api/api-keys/{}", id(&parent)),
                &admin,
            )
        }
        .send()
        .await
        .expect("end parent");
        assert!(res.status().is_success(), "{action}");
        assert_eq!(
            app.status_with_key(&secret(&child)).await,
            StatusCode::UNAUTHORIZED
        );
        let res = app
            .with_bearer(Method::GET, "/api/auth/session", &secret(&token))
            .send()
            .await
            .expect("r");
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{action}: grandchild token"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_made_by_tokens_end_when_the_account_signs_out_everywhere() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let browser_key = app
        .key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin),
            json!({"name": "browser"}),
        )
        .await;
    let token = app
        .token_via(
            app.with_cookie(Method::POST, "/api/tokens", &admin),
            json!({"permissions": MINTER}),
        )
        .await;
    let child = app
        .key_via(
            app.with_bearer(Method::POST, "/api/api-keys", &secret(&token)),
            json!({"name": "from-token"}),
        )
        .await;
    let res = app
        .with_cookie(Method::POST, "/api/auth/logout-everywhere", &admin)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.status_with_key(&secret(&child)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.status_with_key(&secret(&browser_key)).await,
        StatusCode::OK,
        "keys made in the browser are separate credentials and stay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabling_a_key_needs_every_permission_it_holds() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let wide = app
        .key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin),
            json!({"name": "wide", "permissions": ["account:read", "ssh_keys:read_all"]}),
        )
        .await;
    let narrow = app
        .key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin),
            json!({"name": "narrow", "permissions": ["account:read", "api_keys:write"]}),
        )
        .await;
    let path = |what: &str| format!("/api/api-keys/{}/{what}", id(&wide));
    let res = app
        .with_cookie(Method::POST, &path("disable"), &admin)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .with_key(Method::POST, &path("enable"), &secret(&narrow))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.status_with_key(&secret(&wide)).await,
        StatusCode::UNAUTHORIZED
    );
    let res = app
        .with_cookie(Method::POST, &path("enable"), &admin)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_needs_a_session_or_the_dedicated_permission() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let narrow = app
        .key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin),
            json!({"name": "ssh-reader", "permissions": ["ssh_keys:read"]}),
        )
        .await;
    let res = app
        .with_key(
            Method::POST,
            "/api/auth/logout-everywhere",
            &secret(&narrow),
        )
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("sessions:revoke_all")),
        "{body}"
    );
    let res = app
        .get("/api/auth/session")
        .header("cookie", &admin.cookie)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK, "the session survived");

    let allowed = app
        .key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin),
            json!({"name": "panic-button", "permissions": ["sessions:revoke_all"]}),
        )
        .await;
    let res = app
        .with_key(
            Method::POST,
            "/api/auth/logout-everywhere",
            &secret(&allowed),
        )
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .get("/api/auth/session")
        .header("cookie", &admin.cookie)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_has_a_cap_on_live_keys_tokens_and_ssh_keys() {
    let app = spawn_app_with(&[
        ("GATEHOUSE_API_KEYS__MAX_PER_ACCOUNT", "2"),
        ("GATEHOUSE_TOKENS__MAX_PER_ACCOUNT", "2"),
        ("GATEHOUSE_SSH_KEYS__MAX_PER_ACCOUNT", "1"),
    ])
    .await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let mut first_key = String::new();
    for (path, body, field) in [
        ("/api/api-keys", json!({"name": "k"}), "api_keys"),
        ("/api/tokens", json!({}), "tokens"),
    ] {
        for i in 0..2 {
            let mut body = body.clone();
            if field == "api_keys" {
                body["name"] = json!(format!("k{i}"));
            }
            let res = app
                .with_cookie(Method::POST, path, &admin)
                .json(&body)
                .send()
                .await
                .expect("r");
            assert_eq!(res.status(), StatusCode::CREATED, "{path} {i}");
            if field == "api_keys" && i == 0 {
                first_key = id(&res.json().await.expect("json"));
            }
        }
        let mut body = body.clone();
        if field == "api_keys" {
            body["name"] = json!("one too many");
        }
        let res = app
            .with_cookie(Method::POST, path, &admin)
            .json(&body)
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["field"], field, "{v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains("most")),
            "{v}"
        );
    }
    let res = app
        .with_cookie(Method::POST, "/api/ssh-keys", &admin)
        .json(&json!({"name": "laptop", "key": ED25519}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .with_cookie(Method::POST, "/api/ssh-keys", &admin)
        .json(&json!({"name": "desktop", "key": ED25519}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Deleting a key makes room again.
    let res = app
        .with_cookie(
            Method::DELETE,
            &format!("/api/api-keys/{first_key}"),
            &admin,
        )
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .with_cookie(Method::POST, "/api/api-keys", &admin)
        .json(&json!({"name": "room again"}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
}

/// Follows a list route's `X-Next-Cursor` with pages of `limit`, checking the `Link`
/// header; returns every item's name, in order.
async fn walk(app: &TestApp, login: &Login, path: &str, limit: u32) -> Vec<String> {
    let mut names = Vec::new();
    let mut url = format!("{path}?limit={limit}");
    for _ in 0..100 {
        let res = app
            .with_cookie(Method::GET, &url, login)
            .send()
            .await
            .expect("page");
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        let next = res
            .headers()
            .get("x-next-cursor")
            .map(|v| v.to_str().expect("ascii").to_owned());
        if let Some(n) = &next {
            let link = res.headers()["link"].to_str().expect("ascii").to_owned();
            assert_eq!(
                link,
                format!("<{path}?limit={limit}&cursor={n}>; rel=\"next\"")
            );
        }
        let page: Vec<Value> = res.json().await.expect("json");
        assert!(page.len() <= limit as usize);
        names.extend(
            page.iter()
                .map(|v| v["name"].as_str().expect("name").to_owned()),
        );
        match next {
            Some(n) => url = format!("{path}?limit={limit}&cursor={n}"),
            None => return names,
        }
    }
    panic!("too many pages")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_pages_with_a_cursor_without_repeating_or_skipping() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let mut want_keys = Vec::new();
    for i in 0..7 {
        let name = format!("key-{i}");
        app.key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin),
            json!({"name": name}),
        )
        .await;
        want_keys.push(name);
    }
    let mut want_tokens = Vec::new();
    for i in 0..5 {
        let name = format!("token-{i}");
        app.token_via(
            app.with_cookie(Method::POST, "/api/tokens", &admin),
            json!({"name": name}),
        )
        .await;
        want_tokens.push(name);
    }
    // Rows made in the same second tie on time and the id breaks the tie, so the order
    // is stable but within a second not the creation order: small pages must give
    // exactly the sequence one big page gives, with every row once.
    for (path, want, small) in [
        ("/api/api-keys", &want_keys, 3),
        ("/api/tokens", &want_tokens, 2),
    ] {
        let whole = walk(&app, &admin, path, 200).await;
        assert_eq!(walk(&app, &admin, path, small).await, whole, "{path}");
        let mut sorted = whole.clone();
        sorted.sort();
        let mut expected = want.clone();
        expected.sort();
        assert_eq!(sorted, expected, "{path}: every row once");
    }
    let res = app
        .with_cookie(Method::POST, "/api/ssh-keys", &admin)
        .json(&json!({"name": "laptop", "key": ED25519}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(walk(&app, &admin, "/api/ssh-keys", 1).await, vec!["laptop"]);

    for bad in [
        "limit=0",
        "limit=201",
        "limit=x",
        "cursor=forged",
        "cursor=MTIzLi4v",
    ] {
        let res = app
            .with_cookie(Method::GET, &format!("/api/api-keys?{bad}"), &admin)
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let v: Value = res.json().await.expect("json");
        assert!(
            v["field"] == "limit" || v["field"] == "cursor",
            "{bad}: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_keys_use_the_canonical_username_and_refuse_impossible_names() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let res = app
        .with_cookie(Method::POST, "/api/ssh-keys", &admin)
        .json(&json!({"name": "laptop", "key": ED25519}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
    let machine = app
        .key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin),
            json!({"name": "cluster", "permissions": ["ssh_keys:read_all"]}),
        )
        .await;
    let ask = |name: &str| {
        app.with_key(
            Method::GET,
            &format!("/api/ssh/authorized-keys/{name}"),
            &secret(&machine),
        )
        .send()
    };
    let lower: Value = ask("admin").await.expect("r").json().await.expect("json");
    assert_eq!(lower["username"], "admin");
    assert_eq!(lower["keys"].as_array().map(Vec::len), Some(1));
    let upper = ask("ADMIN").await.expect("r");
    assert_eq!(upper.status(), StatusCode::OK);
    assert_eq!(
        upper.json::<Value>().await.expect("json"),
        lower,
        "one canonical form"
    );
    for bad in [
        "..%2Fadmin",
        "admin%00",
        "%2E%2E",
        "admin%20",
        "a",
        "-admin",
    ] {
        let res = ask(bad).await.expect("r");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bad}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["error"], "not_found", "{bad}: {v}");
    }
    let nobody: Value = ask("nobody").await.expect("r").json().await.expect("json");
    assert_eq!(nobody["keys"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_events_record_the_client_address_and_user_agent() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let key = app
        .key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin)
                .header("user-agent", "audit-probe/1.0"),
            json!({"name": "audited"}),
        )
        .await;
    for what in ["disable", "enable"] {
        let res = app
            .with_cookie(
                Method::POST,
                &format!("/api/api-keys/{}/{what}", id(&key)),
                &admin,
            )
            .header("user-agent", "audit-probe/1.0")
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::OK);
    }
    for junk in ["gwk_bad", "gwk_bad2"] {
        assert_eq!(app.status_with_key(junk).await, StatusCode::UNAUTHORIZED);
    }
    app.state.core.flush_final().await.expect("flush");
    let events = app.state.core.recent_audit(None, 100).await.expect("audit");
    for action in ["api_key.created", "api_key.disabled", "api_key.enabled"] {
        let ev = events
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action} recorded"));
        assert_eq!(ev.ip.as_deref(), Some("127.0.0.1"), "{action}");
        assert_eq!(
            ev.user_agent.as_deref(),
            Some("audit-probe/1.0"),
            "{action}"
        );
    }
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "auth.failed")
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "junk is tallied, not one row per request: {failed:?}"
    );
    let detail = failed[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("prefix=malformed count=2"), "{detail}");
    assert_eq!(failed[0].ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_names_the_permission_the_route_needs() {
    let app = spawn_app().await;
    let admin = app.sign_in("admin", &app.admin_password).await;
    let reader = app
        .key_via(
            app.with_cookie(Method::POST, "/api/api-keys", &admin),
            json!({"name": "reader", "permissions": ["account:read"]}),
        )
        .await;
    for (method, path, needs) in [
        (Method::GET, "/api/api-keys", "api_keys:read"),
        (Method::GET, "/api/ssh-keys", "ssh_keys:read"),
        (Method::POST, "/api/tokens", "tokens:write"),
    ] {
        let res = app
            .with_key(method, path, &secret(&reader))
            .json(&json!({}))
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let v: Value = res.json().await.expect("json");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(needs), "{path}: {v}");
        assert!(!message.contains('`'), "{path}: {v}");
    }
}
