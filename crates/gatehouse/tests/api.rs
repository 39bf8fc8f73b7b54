//! Integration tests: the real server on port 0, spoken to over HTTPS with a client
//! that trusts only the server's generated certificate. Each test has its own store:
//! SQLite by default, PostgreSQL when `GATEHOUSE_TEST_DATABASE=postgres`.

mod support;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use support::{TestApp, spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_without_credentials_is_401_json_with_www_authenticate() {
    let app = spawn_app().await;
    let res = app.get("/api/auth/session").send().await.expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key(WWW_AUTHENTICATE));
    let request_id = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "unauthenticated");
    assert_eq!(body["request_id"], request_id.as_str());
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_secure_host_only_cookie_and_the_session_reports_it() {
    let app = spawn_app().await;
    let res = app.login("admin", &app.admin_password).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()[SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(cookie.starts_with("cloud.sso="), "{cookie}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing from {cookie}");
    }
    assert!(!cookie.to_lowercase().contains("domain="), "{cookie}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let value = cookie_value(&cookie);
    assert!(value.len() >= 43, "at least 128 bits");

    let body: Value = app
        .get("/api/auth/session")
        .header("cookie", format!("cloud.sso={value}"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["auth_method"], "cookie");
    assert_eq!(body["user"]["username"], "admin");
    for key in ["id", "email", "display_name"] {
        assert!(body["user"][key].is_string(), "{key}");
    }
    assert!(
        body["expires_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_out_cookie_no_longer_authenticates() {
    let app = spawn_app().await;
    let cookie = app.session_cookie().await;
    let res = app
        .post("/api/auth/logout")
        .header("cookie", format!("cloud.sso={cookie}"))
        .header("origin", app.origin())
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        res.headers()[SET_COOKIE]
            .to_str()
            .expect("c")
            .contains("Max-Age=0")
    );
    let res = app.get_with_cookie("/api/auth/session", &cookie).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_state_changes_need_a_same_origin_header_or_the_csrf_token() {
    let app = spawn_app().await;
    let res = app.login("admin", &app.admin_password).await;
    let cookie = cookie_value(res.headers()[SET_COOKIE].to_str().expect("c"));
    let csrf = res.json::<Value>().await.expect("json")["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();
    let logout = |extra: Option<(&'static str, String)>| {
        let mut req = app
            .post("/api/auth/logout")
            .header("cookie", format!("cloud.sso={cookie}"));
        if let Some((k, v)) = extra {
            req = req.header(k, v);
        }
        req.send()
    };
    for refused in [
        None,
        Some(("origin", "https://evil.example".to_owned())),
        Some(("origin", app.origin().replace("https", "http"))),
        Some(("x-csrf-token", "forged".to_owned())),
    ] {
        let res = logout(refused.clone()).await.expect("request");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{refused:?}");
        assert_eq!(
            res.json::<Value>().await.expect("json")["error"],
            "csrf_failed"
        );
    }
    let res = logout(Some(("x-csrf-token", csrf))).await.expect("request");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_sign_in_is_refused() {
    let app = spawn_app().await;
    let res = app
        .post("/api/auth/login")
        .header("origin", "https://evil.example")
        .json(&json!({"username": "admin", "password": app.admin_password}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!res.headers().contains_key(SET_COOKIE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_credentials_in_one_request_are_refused() {
    let app = spawn_app().await;
    let cookie = app.session_cookie().await;
    let res = app
        .get("/api/auth/session")
        .header("cookie", format!("cloud.sso={cookie}"))
        .header("authorization", "Bearer something")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "multiple_auth_methods"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_and_wrong_passwords_get_identical_responses() {
    let app = spawn_app().await;
    let a = app.login("admin", "not the right password").await;
    let b = app.login("no-such-user", "not the right password").await;
    assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(a.status(), b.status());
    let strip = |mut v: Value| {
        v.as_object_mut().expect("object").remove("request_id");
        v
    };
    let (a, b): (Value, Value) = (a.json().await.expect("a"), b.json().await.expect("b"));
    assert_eq!(strip(a), strip(b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_for_one_account_are_throttled_with_retry_after() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_eq!(
            app.login("admin", "wrong wrong wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = app.login("admin", &app.admin_password).await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let wait: u64 = res.headers()[RETRY_AFTER]
        .to_str()
        .expect("s")
        .parse()
        .expect("secs");
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "rate_limited"
    );
    // The counter lives in the store: the audit trail shows each failure.
    let audit = app.state.core.recent_audit(None, 50).await.expect("audit");
    assert_eq!(
        audit.iter().filter(|e| e.action == "login.failed").count(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_one_address_are_throttled_across_usernames() {
    let app = spawn_app_with(&[("GATEHOUSE_RATE_LIMIT__IP_MAX_FAILURES", "3")]).await;
    for name in ["u1", "u2", "u3"] {
        assert_eq!(
            app.login(name, "wrong wrong wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = app.login("u4", "wrong wrong wrong").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(RETRY_AFTER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_is_shed_with_503_while_other_routes_answer() {
    let app = spawn_app_with(&[
        ("GATEHOUSE_PASSWORD__HASH_CONCURRENCY", "1"),
        ("GATEHOUSE_PASSWORD__HASH_QUEUE", "2"),
        ("GATEHOUSE_RATE_LIMIT__IP_MAX_FAILURES", "1000"),
    ])
    .await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (client, url) = (app.client.clone(), app.url("/api/auth/login"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"username": format!("flood{i}"), "password": "wrong wrong wrong"}))
                .send()
                .await
                .map(|r| (r.status(), r.headers().get(RETRY_AFTER).is_some()))
        }));
    }
    let health = app
        .get("/healthz")
        .send()
        .await
        .expect("healthz during flood");
    assert_eq!(health.status(), StatusCode::OK);
    let mut shed = 0;
    for t in tasks {
        let (status, retry) = t.await.expect("join").expect("response");
        match status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry, "503 carries Retry-After");
                shed += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(shed > 0, "a queue of 2 cannot hold 24 concurrent hashes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_abandoned_while_queued_do_not_switch_sign_in_off() {
    // One slow hash at a time, four waiting: a few abandoned waves would fill the queue
    // for good if abandoned places were never given back.
    let app = spawn_app_with(&[
        ("GATEHOUSE_PASSWORD__HASH_CONCURRENCY", "1"),
        ("GATEHOUSE_PASSWORD__HASH_QUEUE", "4"),
        ("GATEHOUSE_PASSWORD__ARGON2_ITERATIONS", "60"),
        ("GATEHOUSE_RATE_LIMIT__IP_MAX_FAILURES", "1000"),
    ])
    .await;
    for wave in 0..3 {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (client, url) = (app.client.clone(), app.url("/api/auth/login"));
            tasks.push(tokio::spawn(async move {
                // The client gives up long before its hash could run: the connection
                // is dropped while the sign-in waits in the queue, as load generators do.
                client
                    .post(url)
                    .timeout(std::time::Duration::from_millis(150))
                    .json(&json!({"username": format!("gone{wave}x{i}"), "password": "wrong wrong wrong"}))
                    .send()
                    .await
                    .map(|r| r.status())
            }));
        }
        let mut abandoned = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(status) => assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "wave {wave}"),
                Err(e) => {
                    assert!(e.is_timeout(), "{e}");
                    abandoned += 1;
                }
            }
        }
        assert!(
            abandoned >= 2,
            "wave {wave}: only {abandoned} requests waited"
        );
    }
    let res = app
        .post("/api/auth/login")
        .timeout(std::time::Duration::from_secs(30))
        .json(&json!({"username": "admin", "password": app.admin_password}))
        .send()
        .await
        .expect("login");
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "sign-in still works after abandoned waits: {:?}",
        res.text().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers_and_html_a_strict_csp() {
    let app = spawn_app().await;
    for path in ["/healthz", "/login", "/api/auth/session", "/nope"] {
        let res = app.get(path).send().await.expect("request");
        let h = res.headers();
        assert!(
            h["strict-transport-security"]
                .to_str()
                .expect("s")
                .contains("max-age="),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(!h.contains_key("server"), "{path}");
    }
    let res = app.get("/login").send().await.expect("request");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_json_errors() {
    let app = spawn_app().await;
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            app.get("/no/such/route"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            app.post("/api/auth/session"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            app.post("/api/auth/login")
                .header(CONTENT_TYPE, "text/plain")
                .body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            app.post("/api/auth/login")
                .header(CONTENT_TYPE, "application/json")
                .body("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            app.post("/api/auth/login")
                .json(&json!({"username": "admin"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            app.post("/api/auth/login")
                .json(&json!({"username": "admin", "password": "x".repeat(129)})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            app.post("/api/auth/login")
                .header(CONTENT_TYPE, "application/json")
                .body(format!(
                    "{{\"username\":\"{}\",\"password\":\"x\"}}",
                    "a".repeat(100_000)
                )),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.expect("request");
        assert_eq!(res.status(), status, "{code}");
        let body: Value = res.json().await.expect("json body");
        assert_eq!(body["error"], code);
        assert!(body["request_id"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_our_json_with_security_headers_and_no_rust_names() {
    let app = spawn_app().await;
    let cookie = format!("cloud.sso={}", app.session_cookie().await);
    let json_post = |path: &str, body: &str| {
        app.post(path)
            .header("cookie", &cookie)
            .header("origin", app.origin())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned())
    };
    let mut many = reqwest::header::HeaderMap::new();
    // Over our limit (90) and within hyper's (100), which answers beyond it by itself.
    for i in 0..95 {
        many.insert(
            reqwest::header::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).expect("name"),
            "v".parse().expect("value"),
        );
    }
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, Option<&str>)> = vec![
        (
            app.get("/api/api-keys/%ff").header("cookie", &cookie),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            json_post("/api/api-keys", "null"),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (
            json_post("/api/api-keys", r#"{"name": 5}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("name"),
        ),
        (
            json_post(
                "/api/api-keys",
                r#"{"name": "k", "expires_in_days": "soon"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("expires_in_days"),
        ),
        (
            json_post(
                "/api/auth/login",
                r#"{"username": "a", "password": "b", "x": 1}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("x"),
        ),
        (
            app.get(&format!("/api/auth/session?q={}", "a".repeat(9 * 1024))),
            StatusCode::URI_TOO_LONG,
            None,
        ),
        (
            app.get("/api/auth/session").headers(many),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            None,
        ),
        (
            app.get("/healthz").header("x-big", "b".repeat(40 * 1024)),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            None,
        ),
    ];
    for (i, (req, status, field)) in cases.into_iter().enumerate() {
        let res = req.send().await.expect("request");
        assert_eq!(res.status(), status, "case {i}");
        let h = res.headers().clone();
        assert_eq!(h[CONTENT_TYPE], "application/json", "case {i}");
        assert!(
            h.contains_key("strict-transport-security"),
            "case {i}: HSTS"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "case {i}");
        let text = res.text().await.expect("body");
        let body: Value = serde_json::from_str(&text).expect("json");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "case {i}: {text}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "case {i}: {text}"
        );
        assert_eq!(
            body["request_id"],
            h["x-request-id"].to_str().expect("id"),
            "case {i}"
        );
        assert_eq!(body["field"].as_str(), field, "case {i}: {text}");
        for internal in ["struct", "::", "line 1 column", "Request", "Invalid URL"] {
            assert!(
                !text.contains(internal),
                "case {i} names {internal:?}: {text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_http_listener_refuses_credentials_and_redirects_pages() {
    let app = spawn_app().await;
    let http = app.http_base.clone().expect("http listener");
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let cookie = app.session_cookie().await;
    for req in [
        plain
            .get(format!("{http}/api/auth/session"))
            .basic_auth("somekey", Some("")),
        plain
            .get(format!("{http}/api/auth/session"))
            .header("cookie", format!("cloud.sso={cookie}")),
        plain
            .post(format!("{http}/api/auth/login"))
            .json(&json!({"username": "admin", "password": app.admin_password})),
    ] {
        let res = req.send().await.expect("request");
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(!res.headers().contains_key(SET_COOKIE));
        assert_eq!(
            res.json::<Value>().await.expect("json")["error"],
            "https_required"
        );
    }
    let res = plain
        .get(format!("{http}/login?next=1"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    let port = app.base.rsplit(':').next().expect("port");
    assert_eq!(
        res.headers()["location"],
        format!("https://127.0.0.1:{port}/login?next=1")
    );
    // The Host header never chooses the target: that would be an open redirect.
    for host in ["evil.example", "evil.example:443", "localhost"] {
        let res = plain
            .get(format!("{http}/login"))
            .header("host", host)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT, "{host}");
        let location = res.headers()["location"].to_str().expect("ascii");
        assert_eq!(
            location,
            format!("https://127.0.0.1:{port}/login"),
            "{host}"
        );
        assert!(!location.contains("evil"), "{location}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    // Untrusted peer: X-Forwarded-For is ignored, and the plain listener stays closed.
    let app = spawn_app().await;
    let res = app
        .post("/api/auth/login")
        .header("x-forwarded-for", "203.0.113.50")
        .json(&json!({"username": "admin", "password": "wrong wrong wrong"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let audit = app.state.core.recent_audit(None, 5).await.expect("audit");
    let failed = audit
        .iter()
        .find(|e| e.action == "login.failed")
        .expect("audited");
    assert_eq!(failed.ip.as_deref(), Some("127.0.0.1"));
    let http = app.http_base.clone().expect("http");
    let res = reqwest::Client::new()
        .post(format!("{http}/api/auth/login"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"username": "admin", "password": app.admin_password}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Trusted proxy (127.0.0.1): the forwarded address is recorded, and TLS terminated
    // by the proxy counts as HTTPS.
    let app = spawn_app_with(&[("GATEHOUSE_SERVER__TRUSTED_PROXIES", "127.0.0.1")]).await;
    let http = app.http_base.clone().expect("http");
    let res = reqwest::Client::new()
        .post(format!("{http}/api/auth/login"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "198.51.100.23")
        .json(&json!({"username": "admin", "password": app.admin_password}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    let audit = app.state.core.recent_audit(None, 5).await.expect("audit");
    let ok = audit
        .iter()
        .find(|e| e.action == "login.succeeded")
        .expect("audited");
    assert_eq!(ok.ip.as_deref(), Some("198.51.100.23"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/healthz").send().await.expect("r").status(),
        StatusCode::OK
    );
    let res = app.get("/readyz").send().await.expect("r");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("json")["store"], "up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_pages_need_a_session_and_show_every_authentication_tab() {
    let app = spawn_app().await;
    let res = app
        .get("/account/authentication/api-keys")
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        "/login?next=/account/authentication/api-keys",
        "sign in, then come back"
    );
    let cookie = app.session_cookie().await;
    let tabs = [
        ("api-keys", "API Keys"),
        ("tokens", "Tokens"),
        ("ssh-keys", "SSH Keys"),
        ("ssh-private-keys", "SSH Private Keys"),
        ("2-step-verification", "Manage MFA Settings"),
    ];
    for (slug, heading) in tabs {
        let res = app
            .get_with_cookie(&format!("/account/authentication/{slug}"), &cookie)
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{slug}");
        let html = res.text().await.expect("html");
        assert!(
            html.contains(&format!("<h2 id=\"tab-title\">{heading}</h2>")),
            "{slug}"
        );
        for (other, _) in tabs {
            assert!(
                html.contains(&format!("data-tab=\"{other}\"")),
                "{slug} links {other}"
            );
        }
        assert!(
            !html.contains(&cookie),
            "the cookie value never appears in a page"
        );
    }
    let res = app
        .get_with_cookie("/account/authentication/nope", &cookie)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "not_found"
    );
    for path in ["/account/authentication/nope", "/account/nope"] {
        let res = app
            .get(path)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let h = res.headers();
        assert!(
            h["content-type"]
                .to_str()
                .expect("ct")
                .starts_with("text/html"),
            "{path}"
        );
        assert!(
            h["content-security-policy"]
                .to_str()
                .expect("csp")
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert!(
            res.text().await.expect("html").contains("Page not found"),
            "{path}"
        );
    }
    let res = app
        .get("/api/nope")
        .header("accept", "text/html")
        .send()
        .await
        .expect("r");
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "not_found"
    );
    let res = app.get_with_cookie("/login", &cookie).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "signed-in users skip the sign-in page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sign_in_replaces_the_old_session_id() {
    let app = spawn_app().await;
    let old = app.session_cookie().await;
    let res = app
        .post("/api/auth/login")
        .header("cookie", format!("cloud.sso={old}"))
        .json(&json!({"username": "admin", "password": app.admin_password}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK);
    let new = cookie_value(res.headers()[SET_COOKIE].to_str().expect("c"));
    assert_ne!(new, old);
    assert_eq!(
        app.get_with_cookie("/api/auth/session", &old)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_with_cookie("/api/auth/session", &new)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_their_session_at_once() {
    let app = spawn_app().await;
    let cookie = app.add_user("dora").await.cookie;
    app.state
        .core
        .set_account_disabled("dora", true)
        .await
        .expect("disable");
    assert_eq!(
        app.get_with_cookie("/api/auth/session", &cookie)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("cookie value")
}

impl TestApp {
    async fn session_cookie(&self) -> String {
        let res = self.login("admin", &self.admin_password).await;
        assert_eq!(res.status(), StatusCode::OK);
        cookie_value(res.headers()[SET_COOKIE].to_str().expect("cookie"))
    }
}

/// The page a form sign-in was sent to, and the session cookie it set (if any).
async fn form_sign_in(
    app: &TestApp,
    fields: &[(&str, &str)],
    origin: Option<&str>,
) -> (String, Option<String>) {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut req = app
        .post("/api/auth/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = req.send().await.expect("form post");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let cookie = res
        .headers()
        .get(SET_COOKIE)
        .map(|v| cookie_value(v.to_str().expect("ascii")));
    (location, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_form_works_without_javascript_and_never_redirects_off_site() {
    let app = spawn_app().await;
    let pw = app.admin_password.clone();
    let next = "/account/authentication/tokens";
    let (to, cookie) = form_sign_in(
        &app,
        &[("username", "admin"), ("password", &pw), ("next", next)],
        Some(&app.origin()),
    )
    .await;
    assert_eq!(to, next);
    let cookie = cookie.expect("a session cookie");
    assert_eq!(
        app.get_with_cookie("/api/auth/session", &cookie)
            .await
            .status(),
        StatusCode::OK
    );

    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "/a b",
        "javascript:alert(1)",
    ] {
        let (to, _) = form_sign_in(
            &app,
            &[("username", "admin"), ("password", &pw), ("next", evil)],
            None,
        )
        .await;
        assert_eq!(to, "/account/authentication/api-keys", "{evil}");
    }
    let (to, cookie) = form_sign_in(
        &app,
        &[
            ("username", "admin"),
            ("password", "not the password at all"),
            ("next", next),
        ],
        None,
    )
    .await;
    assert_eq!(to, format!("/login?error=invalid_credentials&next={next}"));
    assert!(cookie.is_none());
    // The same login-CSRF rule as JSON: a post from another site is refused.
    let (to, cookie) = form_sign_in(
        &app,
        &[("username", "admin"), ("password", &pw)],
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(to, "/login?error=csrf_failed");
    assert!(cookie.is_none());
    let (to, _) = form_sign_in(&app, &[("username", "admin")], None).await;
    assert_eq!(to, "/login?error=invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_your_password_needs_the_current_one_and_rotates_the_session() {
    let app = spawn_app().await;
    let user = app.add_user("carol").await;
    let other_browser = app.sign_in("carol", support::USER_PASSWORD).await;
    let token: Value = app
        .with_cookie(reqwest::Method::POST, "/api/tokens", &user)
        .json(&json!({}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["token"].as_str().expect("token").to_owned();
    let change = |login: &support::Login, body: Value| {
        app.with_cookie(reqwest::Method::POST, "/api/auth/password", login)
            .json(&body)
            .send()
    };
    let new_pw = "a brand new and longer passphrase";

    let res = change(
        &user,
        json!({"current_password": "wrong wrong wrong", "new_password": new_pw}),
    )
    .await
    .expect("r");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["field"], "current_password", "{v}");
    let res = change(
        &user,
        json!({"current_password": support::USER_PASSWORD, "new_password": "password1234"}),
    )
    .await
    .expect("r");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["field"], "new_password", "{v}");
    // Without the CSRF token, or with a bearer token, nothing changes.
    let res = app
        .post("/api/auth/password")
        .header("cookie", &user.cookie)
        .json(&json!({"current_password": support::USER_PASSWORD, "new_password": new_pw}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .with_bearer(reqwest::Method::POST, "/api/auth/password", &token)
        .json(&json!({"current_password": support::USER_PASSWORD, "new_password": new_pw}))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = change(
        &user,
        json!({"current_password": support::USER_PASSWORD, "new_password": new_pw}),
    )
    .await
    .expect("r");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let fresh = cookie_value(res.headers()[SET_COOKIE].to_str().expect("ascii"));
    assert_ne!(
        format!("cloud.sso={fresh}"),
        user.cookie,
        "a new session id"
    );
    assert_eq!(
        app.get_with_cookie("/api/auth/session", &fresh)
            .await
            .status(),
        StatusCode::OK
    );
    for (cookie, which) in [
        (&user.cookie, "the old id"),
        (&other_browser.cookie, "another browser"),
    ] {
        let res = app
            .get("/api/auth/session")
            .header("cookie", cookie)
            .send()
            .await
            .expect("r");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{which}");
    }
    let res = app
        .with_bearer(reqwest::Method::GET, "/api/auth/session", &token)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "tokens end too");
    assert_eq!(
        app.login("carol", support::USER_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again = app.sign_in("carol", new_pw).await;

    // Keeping the other sessions is a choice.
    let keep = app.sign_in("carol", new_pw).await;
    let res = change(
        &again,
        json!({"current_password": new_pw, "new_password": "yet another long passphrase", "sign_out_other_sessions": false}),
    )
    .await
    .expect("r");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .get("/api/auth/session")
        .header("cookie", &keep.cookie)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_count_as_failed_sign_ins() {
    let app = spawn_app_with(&[("GATEHOUSE_RATE_LIMIT__LOGIN_FREE_FAILURES", "2")]).await;
    let user = app.add_user("dave").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = app
            .with_cookie(reqwest::Method::POST, "/api/auth/password", &user)
            .json(&json!({"current_password": "guess guess guess", "new_password": "a brand new and longer passphrase"}))
            .send()
            .await
            .expect("r");
        statuses.push(res.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(
        app.login("dave", support::USER_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
