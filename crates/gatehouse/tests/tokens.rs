//! Bearer tokens over HTTPS: issuing, listing and revoking, lifetimes and policy,
//! permissions, the session they describe, revocation paths, key rotation and the JWKS,
//! and forged tokens. Runs on SQLite, or PostgreSQL with GATEHOUSE_TEST_DATABASE.

mod support;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::header::{CACHE_CONTROL, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Login, TestApp, USER_PASSWORD, spawn_app, spawn_app_with};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The challenge on every refused bearer token.
const CHALLENGE: &str = "Bearer realm=\"gatehouse\", error=\"invalid_token\"";

impl TestApp {
    async fn admin_session(&self) -> Login {
        self.sign_in("admin", &self.admin_password).await
    }

    async fn mint(&self, login: &Login, body: Value) -> reqwest::Response {
        self.with_cookie(Method::POST, "/api/tokens", login)
            .json(&body)
            .send()
            .await
            .expect("create token")
    }

    /// Mints a token as `login` and returns the whole 201 body.
    async fn new_token(&self, login: &Login, body: Value) -> Value {
        let res = self.mint(login, body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.expect("json")
    }

    async fn bearer_session(&self, token: &str) -> reqwest::Response {
        self.with_bearer(Method::GET, "/api/auth/session", token)
            .send()
            .await
            .expect("session")
    }

    async fn jwks(&self) -> Vec<Value> {
        let res = self
            .get("/.well-known/jwks.json")
            .send()
            .await
            .expect("jwks");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[CACHE_CONTROL], "public, max-age=60");
        res.json::<Value>().await.expect("json")["keys"]
            .as_array()
            .expect("keys")
            .clone()
    }
}

fn token_of(created: &Value) -> String {
    created["token"].as_str().expect("token").to_owned()
}

fn id_of(created: &Value) -> String {
    created["id"].as_str().expect("id").to_owned()
}

fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("time"), &Rfc3339).expect("rfc3339")
}

/// The lifetime in whole hours between two RFC 3339 fields.
fn hours_between(from: &Value, to: &Value) -> i64 {
    (at(to) - at(from)).whole_hours()
}

/// Decodes one base64url JSON segment of a JWT.
fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("segment");
    serde_json::from_slice(&B64.decode(part).expect("b64")).expect("json")
}

fn b64_json(v: &Value) -> String {
    B64.encode(serde_json::to_vec(v).expect("json"))
}

/// Asserts a refused bearer token: 401, the exact challenge, the usual error body.
async fn assert_refused(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(res.headers()[WWW_AUTHENTICATE], CHALLENGE, "{what}");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"], "invalid_credentials", "{what}");
}

const BAD_LIFETIMES: [&str; 7] = ["0", "25", "1.5", "2.0", "\"3\"", "true", "-1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_shown_once_listed_without_its_secret_and_revoked_only_by_its_owner() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;
    let res = app.mint(&admin, json!({"name": "laptop"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let created: Value = res.json().await.expect("json");
    let token = token_of(&created);
    let id = id_of(&created);
    for field in [
        "id",
        "name",
        "scopes",
        "created_at",
        "expires_at",
        "created_via",
    ] {
        assert!(!created[field].is_null(), "{field}: {created}");
    }
    assert_eq!(created["name"], "laptop");
    assert_eq!(created["created_via"], "session");
    assert_eq!(
        hours_between(&created["created_at"], &created["expires_at"]),
        24,
        "the default lifetime"
    );
    let header = segment(&token, 0);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "JWT");
    assert!(header["kid"].is_string(), "{header}");
    let claims = segment(&token, 1);
    assert_eq!(claims["jti"], id.as_str());
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        24 * 3600
    );

    let cookie_only = app
        .post("/api/tokens")
        .header("cookie", &admin.cookie)
        .json(&json!({}))
        .send()
        .await
        .expect("r");
    assert_eq!(cookie_only.status(), StatusCode::FORBIDDEN, "CSRF applies");
    assert_eq!(
        cookie_only.json::<Value>().await.expect("j")["error"],
        "csrf_failed"
    );

    let list = app
        .with_cookie(Method::GET, "/api/tokens", &admin)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), StatusCode::OK);
    let text = list.text().await.expect("text");
    assert!(!text.contains(&token), "the token never appears again");
    let signature = token.rsplit('.').next().expect("sig");
    assert!(!text.contains(signature), "nor its signature");
    let list: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(list.as_array().expect("a").len(), 1);
    let item = &list[0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["name"], "laptop");
    assert!(
        item.get("token").is_none() && item.get("token_hash").is_none(),
        "{item}"
    );
    assert_eq!(app.bearer_session(&token).await.status(), StatusCode::OK);

    let mallory = app.add_user("mallory").await;
    let res = app
        .with_cookie(Method::DELETE, &format!("/api/tokens/{id}"), &mallory)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "another user's token");
    let theirs: Value = app
        .with_cookie(Method::GET, "/api/tokens", &mallory)
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("j");
    assert_eq!(theirs, json!([]));
    assert_eq!(app.bearer_session(&token).await.status(), StatusCode::OK);
    let res = app
        .with_cookie(Method::DELETE, "/api/tokens/tok_doesnotexist", &admin)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "unknown id");

    let res = app
        .with_cookie(Method::DELETE, &format!("/api/tokens/{id}"), &admin)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_refused(app.bearer_session(&token).await, "revoked").await;
    let list: Value = app
        .with_cookie(Method::GET, "/api/tokens", &admin)
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("j");
    assert_eq!(list, json!([]), "revoked tokens are not listed");
    let again = app
        .with_cookie(Method::DELETE, &format!("/api/tokens/{id}"), &admin)
        .send()
        .await
        .expect("r");
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "already revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifetimes_are_whole_hours_from_1_to_24() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;
    for bad in BAD_LIFETIMES {
        let value: Value = serde_json::from_str(bad).expect("literal");
        let res = app.mint(&admin, json!({"expires_in_hours": value})).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["error"], "validation_failed", "{bad}");
        let msg = v["message"].as_str().expect("message");
        assert!(
            msg.contains("expires_in_hours") && msg.contains("1 to 24"),
            "{bad}: {msg}"
        );
    }
    for (hours, name) in [(1, "short"), (24, "long")] {
        let v = app
            .new_token(&admin, json!({"expires_in_hours": hours, "name": name}))
            .await;
        assert_eq!(hours_between(&v["created_at"], &v["expires_at"]), hours);
    }
    let v = app
        .new_token(&admin, json!({"expires_in_hours": null}))
        .await;
    assert_eq!(hours_between(&v["created_at"], &v["expires_at"]), 24);
    assert_eq!(v["name"], "token", "the default name");
    let res = app
        .mint(&admin, json!({"expires_in_hours": 2, "lifetime": 3}))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field"
    );
    let res = app.mint(&admin, json!({"name": "a\nb"})).await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "control characters"
    );

    let opts: Value = app
        .with_cookie(Method::GET, "/api/tokens/options", &admin)
        .send()
        .await
        .expect("options")
        .json()
        .await
        .expect("j");
    assert_eq!(opts["hours"], json!((1..=24).collect::<Vec<u32>>()));
    assert_eq!(opts["default_hours"], 24);
    assert_eq!(opts["max_hours"], 24);
    assert_eq!(opts["user_may_choose"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_names_with_bidi_controls_invisible_characters_boms_or_separators_get_422() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;
    for (name, code_point) in [
        ("invoice\u{202E}gpj.exe", "U+202E"),
        ("\u{200B}\u{200B}", "U+200B"),
        ("\u{FEFF}deploy", "U+FEFF"),
        ("deploy\u{2028}", "U+2028"),
    ] {
        let res = app.mint(&admin, json!({ "name": name })).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["error"], "validation_failed", "{name:?}");
        let msg = v["message"].as_str().expect("message");
        assert!(
            msg.starts_with("name: must ") && msg.contains(code_point),
            "{name:?}: {msg}"
        );
    }
    // Absent or blank still means the default name.
    let v = app.new_token(&admin, json!({"name": "  "})).await;
    assert_eq!(v["name"], "token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_policy_caps_lifetimes_and_can_impose_its_default() {
    use gatehouse_core::org::OrgPolicy;
    let app = spawn_app().await;
    let org = app.state.core.default_org().await.expect("org");
    let set = |policy: OrgPolicy| {
        let core = app.state.core.clone();
        let org = org.id.clone();
        async move { core.set_org_policy(&org, &policy).await.expect("policy") }
    };
    set(OrgPolicy {
        token_max_hours: 12,
        token_user_choice: true,
        token_default_hours: 4,
        ..OrgPolicy::default()
    })
    .await;
    let admin = app.admin_session().await;
    let options = || async {
        app.with_cookie(Method::GET, "/api/tokens/options", &admin)
            .send()
            .await
            .expect("options")
            .json::<Value>()
            .await
            .expect("j")
    };

    let res = app.mint(&admin, json!({"expires_in_hours": 13})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let msg = res.json::<Value>().await.expect("j")["message"]
        .as_str()
        .expect("m")
        .to_owned();
    assert!(msg.contains("at most 12"), "{msg}");
    let v = app.new_token(&admin, json!({"expires_in_hours": 12})).await;
    assert_eq!(hours_between(&v["created_at"], &v["expires_at"]), 12);
    let v = app.new_token(&admin, json!({})).await;
    assert_eq!(hours_between(&v["created_at"], &v["expires_at"]), 4);
    let opts = options().await;
    assert_eq!(opts["hours"], json!((1..=12).collect::<Vec<u32>>()));
    assert_eq!(opts["default_hours"], 4);
    assert_eq!(opts["max_hours"], 12);
    assert_eq!(opts["user_may_choose"], true);

    set(OrgPolicy {
        token_max_hours: 12,
        token_user_choice: false,
        token_default_hours: 4,
        ..OrgPolicy::default()
    })
    .await;
    let res = app.mint(&admin, json!({"expires_in_hours": 2})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let msg = res.json::<Value>().await.expect("j")["message"]
        .as_str()
        .expect("m")
        .to_owned();
    assert!(
        msg.contains("expires_in_hours") && msg.contains('4'),
        "{msg}"
    );
    let v = app.new_token(&admin, json!({"expires_in_hours": 4})).await;
    assert_eq!(hours_between(&v["created_at"], &v["expires_at"]), 4);
    let v = app.new_token(&admin, json!({})).await;
    assert_eq!(hours_between(&v["created_at"], &v["expires_at"]), 4);
    let opts = options().await;
    assert_eq!(opts["hours"], json!([4]));
    assert_eq!(opts["user_may_choose"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_never_holds_more_than_its_creator() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;

    // Narrowed at creation: the token may read the account but not mint.
    let v = app
        .new_token(&admin, json!({"permissions": ["account:read"]}))
        .await;
    assert_eq!(v["scopes"], json!(["account:read"]));
    let narrow = token_of(&v);
    assert_eq!(app.bearer_session(&narrow).await.status(), StatusCode::OK);
    let res = app
        .with_bearer(Method::POST, "/api/tokens", &narrow)
        .json(&json!({}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.json::<Value>().await.expect("j")["error"],
        "insufficient_permissions"
    );
    let res = app
        .with_bearer(Method::GET, "/api/tokens", &narrow)
        .send()
        .await
        .expect("r");
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "listing needs tokens:write"
    );
    let res = app
        .mint(&admin, json!({"permissions": ["nope:nope"]}))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown permission"
    );

    // A token minted by a token, within the minter's scopes.
    let v = app
        .new_token(
            &admin,
            json!({"permissions": ["account:read", "tokens:write"]}),
        )
        .await;
    let minter = token_of(&v);
    let res = app
        .with_bearer(Method::POST, "/api/tokens", &minter)
        .json(&json!({"permissions": ["api_keys:write"]}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.json::<Value>().await.expect("j")["error"],
        "insufficient_permissions"
    );
    // (Shorter than the minter: a token may not outlive the one that makes it.)
    let res = app
        .with_bearer(Method::POST, "/api/tokens", &minter)
        .json(&json!({"expires_in_hours": 1}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
    let child: Value = res.json().await.expect("j");
    assert_eq!(child["scopes"], json!(["account:read", "tokens:write"]));
    assert_eq!(child["created_via"], "token");

    // An API key mints tokens holding at most the key's permissions.
    let key_for = |permissions: Value, name: &'static str| {
        let req = app
            .with_cookie(Method::POST, "/api/api-keys", &admin)
            .json(&json!({"name": name, "permissions": permissions}));
        async move {
            let res = req.send().await.expect("key");
            assert_eq!(res.status(), StatusCode::CREATED);
            res.json::<Value>().await.expect("j")["key"]
                .as_str()
                .expect("key")
                .to_owned()
        }
    };
    let writer = key_for(json!(["account:read", "tokens:write"]), "minter").await;
    let as_key = |body: Value| {
        app.post("/api/tokens")
            .basic_auth(&writer, Some(""))
            .json(&body)
            .send()
    };
    let res = as_key(json!({"expires_in_hours": 1})).await.expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.expect("j");
    assert_eq!(
        v["scopes"],
        json!(["account:read", "tokens:write"]),
        "exactly the key's"
    );
    assert_eq!(v["created_via"], "api_key");
    let res = app.bearer_session(&token_of(&v)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("j")["permissions"],
        json!(["account:read", "tokens:write"])
    );
    for more in [
        json!(["ssh_keys:write"]),
        json!(["account:read", "api_keys:read"]),
    ] {
        let res = as_key(json!({"permissions": more})).await.expect("r");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{more}");
        assert_eq!(
            res.json::<Value>().await.expect("j")["error"],
            "insufficient_permissions"
        );
    }
    let reader = key_for(json!(["account:read"]), "reader").await;
    let res = app
        .post("/api/tokens")
        .basic_auth(&reader, Some(""))
        .json(&json!({}))
        .send()
        .await
        .expect("r");
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a key without tokens:write"
    );
    assert_eq!(
        res.json::<Value>().await.expect("j")["error"],
        "insufficient_permissions"
    );

    // A non-administrator's token never carries administrator-only permissions.
    let alice = app.add_user("alice").await;
    let v = app.new_token(&alice, json!({})).await;
    let scopes = v["scopes"].as_array().expect("scopes");
    assert!(scopes.contains(&json!("tokens:write")), "{scopes:?}");
    assert!(!scopes.contains(&json!("ssh_keys:read_all")), "{scopes:?}");
    let res = app
        .mint(&alice, json!({"permissions": ["ssh_keys:read_all"]}))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_session_describes_the_token() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;
    let created = app
        .new_token(&admin, json!({"name": "ci", "expires_in_hours": 3}))
        .await;
    let res = app.bearer_session(&token_of(&created)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["auth_method"], "bearer");
    assert_eq!(v["user"]["username"], "admin");
    assert_eq!(segment(&token_of(&created), 1)["sub"], v["user"]["id"]);
    assert!(
        v.get("csrf_token").is_none(),
        "no CSRF token for bearer callers"
    );
    assert!(v.get("api_key").is_none());
    let t = &v["token"];
    assert_eq!(t["id"], created["id"]);
    assert_eq!(t["scopes"], created["scopes"]);
    assert_eq!(v["permissions"], created["scopes"]);
    assert_eq!(at(&t["expires_at"]), at(&created["expires_at"]));
    assert_eq!(at(&t["issued_at"]), at(&created["created_at"]));
    assert_eq!(at(&v["expires_at"]), at(&t["expires_at"]));
    let keys: Vec<&str> = t
        .as_object()
        .expect("o")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.len(),
        4,
        "exactly id, scopes, issued_at, expires_at: {keys:?}"
    );

    // The scheme is case-insensitive; a bearer caller needs no CSRF token to change state.
    let res = app
        .get("/api/auth/session")
        .header("authorization", format!("bearer {}", token_of(&created)))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .with_bearer(Method::POST, "/api/tokens", &token_of(&created))
        .json(&json!({"expires_in_hours": 1}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_ends_every_session_and_token_of_that_user_only() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;
    let other_browser = app.admin_session().await;
    let t1 = token_of(&app.new_token(&admin, json!({"name": "one"})).await);
    let t2 = token_of(&app.new_token(&admin, json!({"name": "two"})).await);
    let mallory = app.add_user("mallory").await;
    let m1 = token_of(&app.new_token(&mallory, json!({})).await);
    let m2 = token_of(&app.new_token(&mallory, json!({})).await);

    let res = app
        .with_cookie(Method::POST, "/api/auth/logout-everywhere", &admin)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = res.headers()[SET_COOKIE].to_str().expect("c");
    assert!(
        cleared.starts_with("cloud.sso=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    for (token, which) in [(&t1, "t1"), (&t2, "t2")] {
        assert_refused(app.bearer_session(token).await, which).await;
    }
    for login in [&admin, &other_browser] {
        let res = app
            .get("/api/auth/session")
            .header("cookie", &login.cookie)
            .send()
            .await
            .expect("r");
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "the cookie session ended"
        );
    }
    let res = app
        .get("/api/auth/session")
        .header("cookie", &mallory.cookie)
        .send()
        .await
        .expect("r");
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "other users keep their sessions"
    );
    assert_eq!(app.bearer_session(&m1).await.status(), StatusCode::OK);

    // A fresh sign-in and new tokens work again, and the old ones stay dead.
    let admin = app.admin_session().await;
    let list: Value = app
        .with_cookie(Method::GET, "/api/tokens", &admin)
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("j");
    assert_eq!(list, json!([]));
    let fresh = token_of(&app.new_token(&admin, json!({})).await);
    assert_eq!(app.bearer_session(&fresh).await.status(), StatusCode::OK);
    assert_refused(app.bearer_session(&t1).await, "t1 after a new sign-in").await;

    // A token holding `sessions:revoke_all` (as tokens made in the browser do by
    // default) may sign its account out everywhere.
    let res = app
        .with_bearer(Method::POST, "/api/auth/logout-everywhere", &m1)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(!res.headers().contains_key(SET_COOKIE));
    assert_refused(app.bearer_session(&m1).await, "m1").await;
    assert_refused(app.bearer_session(&m2).await, "m2").await;
    let res = app
        .get("/api/auth/session")
        .header("cookie", &mallory.cookie)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.bearer_session(&fresh).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_or_resetting_their_password_revokes_their_tokens() {
    let app = spawn_app().await;
    let mallory = app.add_user("mallory").await;
    let theirs = token_of(&app.new_token(&mallory, json!({})).await);
    let admin = app.admin_session().await;
    let ours = token_of(&app.new_token(&admin, json!({})).await);
    assert_eq!(app.bearer_session(&theirs).await.status(), StatusCode::OK);

    app.state
        .core
        .set_account_disabled("mallory", true)
        .await
        .expect("disable");
    assert_refused(app.bearer_session(&theirs).await, "disabled owner").await;
    assert_eq!(app.bearer_session(&ours).await.status(), StatusCode::OK);
    app.state
        .core
        .set_account_disabled("mallory", false)
        .await
        .expect("enable");
    assert_refused(app.bearer_session(&theirs).await, "re-enabled owner").await;

    let mallory = app.sign_in("mallory", USER_PASSWORD).await;
    let fresh = token_of(&app.new_token(&mallory, json!({})).await);
    assert_eq!(app.bearer_session(&fresh).await.status(), StatusCode::OK);
    app.state
        .core
        .set_password("mallory", "an entirely different passphrase")
        .await
        .expect("reset");
    assert_refused(app.bearer_session(&fresh).await, "after a password reset").await;
    assert_eq!(app.bearer_session(&ours).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;
    let before = app.jwks().await;
    assert_eq!(before.len(), 1, "{before:?}");
    let jwk = &before[0];
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(
        B64.decode(jwk["x"].as_str().expect("x"))
            .expect("b64")
            .len(),
        32
    );
    assert!(jwk.get("d").is_none(), "never the private half");
    let old_kid = jwk["kid"].as_str().expect("kid").to_owned();
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        jwk["x"].as_str().expect("x")
    );
    assert_eq!(
        old_kid,
        B64.encode(<sha2::Sha256 as sha2::Digest>::digest(canonical)),
        "the kid is the RFC 7638 thumbprint"
    );
    let old = app.new_token(&admin, json!({"name": "old"})).await;
    assert_eq!(segment(&token_of(&old), 0)["kid"], old_kid.as_str());

    let rotated = app.state.core.rotate_signing_key().await.expect("rotate");
    assert_ne!(rotated.kid, old_kid);
    let after = app.jwks().await;
    let kids: Vec<&str> = after.iter().filter_map(|k| k["kid"].as_str()).collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&rotated.kid.as_str()));

    let new = app.new_token(&admin, json!({"name": "new"})).await;
    assert_eq!(segment(&token_of(&new), 0)["kid"], rotated.kid.as_str());
    for (created, which) in [(&old, "old"), (&new, "new")] {
        let res = app.bearer_session(&token_of(created)).await;
        assert_eq!(res.status(), StatusCode::OK, "{which}");
        assert_eq!(
            res.json::<Value>().await.expect("j")["token"]["id"],
            created["id"]
        );
    }

    // Anyone can verify a token offline with the published key of its kid.
    for created in [&old, &new] {
        let token = token_of(created);
        let kid = segment(&token, 0)["kid"].as_str().expect("kid").to_owned();
        let jwk = after
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .expect("published");
        let key = jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().expect("x"))
            .expect("key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_audience(&["gatehouse"]);
        let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
            .expect("verifies offline")
            .claims;
        let mut names: Vec<&str> = claims
            .as_object()
            .expect("o")
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["aud", "exp", "iat", "iss", "jti", "nbf", "scope", "sub"]
        );
        assert_eq!(claims["jti"], created["id"]);
        assert_eq!(claims["iat"], claims["nbf"]);
        let scopes: Vec<&str> = created["scopes"]
            .as_array()
            .expect("a")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(claims["scope"], scopes.join(" "));
        let other = after
            .iter()
            .find(|k| k["kid"] != kid.as_str())
            .expect("other");
        let wrong = jsonwebtoken::DecodingKey::from_ed_components(other["x"].as_str().expect("x"))
            .expect("key");
        assert!(jsonwebtoken::decode::<Value>(&token, &wrong, &validation).is_err());
    }

    // A second rotation: three keys verify, the newest signs.
    let third = app.state.core.rotate_signing_key().await.expect("rotate");
    assert_eq!(app.jwks().await.len(), 3);
    let newest = app.new_token(&admin, json!({"name": "newest"})).await;
    assert_eq!(segment(&token_of(&newest), 0)["kid"], third.kid.as_str());
    for created in [&old, &new, &newest] {
        let res = app.bearer_session(&token_of(created)).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", created["name"]);
    }
}

/// An attacker's Ed25519 key pair.
struct Attacker(Ed25519KeyPair);

impl Attacker {
    fn new() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
        Attacker(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("pair"))
    }

    fn x(&self) -> String {
        B64.encode(self.0.public_key().as_ref())
    }

    /// A compact JWS of `header` and `claims` signed with this key.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let sig = self.0.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_tokens_are_refused_with_the_bearer_challenge() {
    let app = spawn_app_with(&[("GATEHOUSE_RATE_LIMIT__IP_MAX_FAILURES", "1000")]).await;
    let admin = app.admin_session().await;
    let real = token_of(
        &app.new_token(&admin, json!({"permissions": ["account:read"]}))
            .await,
    );
    let jwks = app.jwks().await;
    let kid = jwks[0]["kid"].as_str().expect("kid").to_owned();
    let x = jwks[0]["x"].as_str().expect("x").to_owned();
    let public_key = B64.decode(&x).expect("x");
    let claims = segment(&real, 1);
    let parts: Vec<&str> = real.split('.').collect();
    let (real_header, real_payload, real_sig) = (parts[0], parts[1], parts[2]);
    let attacker = Attacker::new();
    let hs256 = |secret: &[u8]| {
        let header = jsonwebtoken::Header {
            kid: Some(kid.clone()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        };
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .expect("hs256")
    };
    let ours = |extra: Value| {
        let mut h = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
        for (k, v) in extra.as_object().expect("o") {
            h[k] = v.clone();
        }
        h
    };
    let mut escalated = claims.clone();
    escalated["scope"] = json!("account:read api_keys:write ssh_keys:read_all tokens:write");
    let mut extended = claims.clone();
    extended["exp"] = json!(claims["exp"].as_i64().expect("exp") + 3600);
    let mut flipped = real.clone().into_bytes();
    let last = flipped.len() - 3;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let mut padded = claims.clone();
    padded["pad"] = json!("p".repeat(4200));

    let forged: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!("{}.{real_payload}.", b64_json(&json!({"alg": "none", "typ": "JWT", "kid": kid}))),
        ),
        (
            "alg None",
            format!("{}.{real_payload}.", b64_json(&json!({"alg": "None", "kid": kid}))),
        ),
        (
            "alg none with the real signature",
            format!("{}.{real_payload}.{real_sig}", b64_json(&json!({"alg": "none", "kid": kid}))),
        ),
        ("HS256 keyed with the public key", hs256(&public_key)),
        ("HS256 keyed with the public key's x", hs256(x.as_bytes())),
        (
            "embedded jwk",
            attacker.sign(
                &ours(json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": attacker.x()}})),
                &claims,
            ),
        ),
        (
            "jku",
            attacker.sign(&ours(json!({"jku": "https://evil.example/jwks.json"})), &claims),
        ),
        (
            "x5u",
            attacker.sign(&ours(json!({"x5u": "https://evil.example/cert.pem"})), &claims),
        ),
        (
            "embedded jwk without a kid",
            attacker.sign(
                &json!({"alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": attacker.x()}}),
                &claims,
            ),
        ),
        (
            "unknown kid",
            attacker.sign(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "attacker-key"}), &claims),
        ),
        ("no kid", attacker.sign(&json!({"alg": "EdDSA", "typ": "JWT"}), &claims)),
        ("attacker key with the real kid", attacker.sign(&ours(json!({})), &claims)),
        (
            "escalated scope with the original signature",
            format!("{real_header}.{}.{real_sig}", b64_json(&escalated)),
        ),
        (
            "extended expiry with the original signature",
            format!("{real_header}.{}.{real_sig}", b64_json(&extended)),
        ),
        ("a flipped signature bit", String::from_utf8(flipped).expect("utf8")),
        ("signature removed", format!("{real_header}.{real_payload}.")),
        ("two parts", format!("{real_header}.{real_payload}")),
        ("four parts", format!("{real}.{real_sig}")),
        ("garbage", "garbage".into()),
        ("dots", "...".into()),
        ("not base64", "!!!.e30.e30".into()),
        ("empty JSON parts", "e30.e30.e30".into()),
        ("oversize noise", "a".repeat(5000)),
        (
            "oversize but well-formed",
            attacker.sign(&ours(json!({})), &padded),
        ),
    ];
    for (what, token) in &forged {
        if what.starts_with("oversize") {
            assert!(token.len() > 4096, "{what}");
        }
        assert_refused(app.bearer_session(token).await, what).await;
    }
    for (what, value) in [("empty bearer", "Bearer"), ("unknown scheme", "Token abc")] {
        let res = app
            .get("/api/auth/session")
            .header("authorization", value)
            .send()
            .await
            .expect("r");
        assert_refused(res, what).await;
    }
    let res = app
        .get(&format!("/api/auth/session?access_token={real}"))
        .send()
        .await
        .expect("r");
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "tokens in URLs are never accepted"
    );
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        "Bearer realm=\"gatehouse\""
    );

    let res = app.bearer_session(&real).await;
    assert_eq!(res.status(), StatusCode::OK, "the real token still works");
    assert_eq!(
        res.json::<Value>().await.expect("j")["permissions"],
        json!(["account:read"]),
        "and still holds only its own scopes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_and_a_bearer_token_together_are_a_400_and_plain_http_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;
    let token = token_of(&app.new_token(&admin, json!({})).await);
    for req in [
        app.with_bearer(Method::GET, "/api/auth/session", &token)
            .header("cookie", &admin.cookie),
        app.with_bearer(Method::GET, "/api/auth/session", &token)
            .header("authorization", format!("Bearer {token}")),
        app.with_bearer(Method::POST, "/api/tokens", &token)
            .header("cookie", &admin.cookie)
            .header("x-csrf-token", &admin.csrf)
            .json(&json!({})),
    ] {
        let res = req.send().await.expect("r");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            res.json::<Value>().await.expect("j")["error"],
            "multiple_auth_methods"
        );
    }
    let http = app.http_base.clone().expect("http listener");
    let res = reqwest::Client::new()
        .get(format!("{http}/api/auth/session"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.json::<Value>().await.expect("j")["error"],
        "https_required"
    );
    assert_eq!(app.bearer_session(&token).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_token_neither_outlives_nor_survives_the_credential_that_made_it() {
    let app = spawn_app().await;
    let admin = app.admin_session().await;

    // No body at all: every field is optional.
    let res = app
        .with_cookie(Method::POST, "/api/tokens", &admin)
        .send()
        .await
        .expect("empty body");
    assert_eq!(res.status(), StatusCode::CREATED);

    // A one-hour token cannot mint a longer one: a longer ask is clamped to its own
    // expiry.
    let parent_body = app.new_token(&admin, json!({"expires_in_hours": 1})).await;
    let parent = token_of(&parent_body);
    let res = app
        .with_bearer(Method::POST, "/api/tokens", &parent)
        .json(&json!({"expires_in_hours": 24}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
    let clamped: Value = res.json().await.expect("json");
    assert!(
        at(&clamped["expires_at"]) <= at(&parent_body["expires_at"]),
        "{clamped} outlives {parent_body}"
    );
    assert!(segment(&token_of(&clamped), 1)["exp"].as_i64() <= segment(&parent, 1)["exp"].as_i64());
    let res = app
        .with_bearer(Method::POST, "/api/tokens", &parent)
        .json(&json!({"expires_in_hours": 1}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::CREATED);
    let child: Value = res.json().await.expect("json");
    let child = token_of(&child);
    let grandchild = app
        .with_bearer(Method::POST, "/api/tokens", &child)
        .json(&json!({"expires_in_hours": 1}))
        .send()
        .await
        .expect("r");
    assert_eq!(grandchild.status(), StatusCode::CREATED);
    let grandchild = token_of(&grandchild.json().await.expect("json"));

    // Revoking the parent revokes what it minted, down the chain.
    let parent_id = segment(&parent, 1)["jti"].as_str().expect("jti").to_owned();
    let res = app
        .with_cookie(Method::DELETE, &format!("/api/tokens/{parent_id}"), &admin)
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for t in [&parent, &child, &grandchild] {
        assert_refused(app.bearer_session(t).await, "descendant of a revoked token").await;
    }

    // Tokens minted with an API key die when the key is disabled or deleted.
    for action in ["disable", "delete"] {
        let res = app
            .with_cookie(Method::POST, "/api/api-keys", &admin)
            .json(&json!({"name": format!("minter-{action}"), "permissions": ["account:read", "tokens:write"]}))
            .send()
            .await
            .expect("key");
        assert_eq!(res.status(), StatusCode::CREATED);
        let key: Value = res.json().await.expect("json");
        let secret = key["key"].as_str().expect("key").to_owned();
        let res = app
            .client
            .post(app.url("/api/tokens"))
            .basic_auth(&secret, Some(""))
            .json(&json!({"expires_in_hours": 2}))
            .send()
            .await
            .expect("mint");
        assert_eq!(res.status(), StatusCode::CREATED);
        let minted = token_of(&res.json().await.expect("json"));
        assert_eq!(app.bearer_session(&minted).await.status(), StatusCode::OK);
        let key_id = key["id"].as_str().expect("id");
        let res = if action == "disable" {
            app.with_cookie(
                Method::POST,
                &format!("/api/api-keys/{key_id}/disable"),
                &admin,
            )
        } else {
            app.with_cookie(Method::DELETE, &format!("/api/api-keys/{key_id}"), &admin)
        }
        .send()
        .await
        .expect("action");
        assert!(res.status().is_success(), "{action}");
        assert_refused(app.bearer_session(&minted).await, action).await;
    }
}
