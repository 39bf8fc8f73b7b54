//! 2-step verification over HTTPS against the real server: enrolment, the sign-in that
//! asks for a code (JSON and the form post), the pending credential that grants
//! nothing, who may change factors, re-authentication, throttling of codes and the
//! `require_mfa` policy. Codes are computed with totp-rs through the core's verifier
//! from the secret the manual-entry step shows, as an authenticator app would.

mod support;

use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::mfa::{TotpSecret, TotpVerifier};
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use serde_json::{Value, json};
use support::{Login, TestApp, USER_PASSWORD, spawn_app, spawn_app_with};

/// An account with 2-step verification on.
struct Enrolled {
    login: Login,
    verifier: TotpVerifier,
    recovery_codes: Vec<String>,
    factor_id: String,
}

impl Enrolled {
    /// The code for the current step.
    fn code(&self) -> String {
        self.verifier.code_at(SystemClock.now())
    }
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

fn cookie_pair(cookies: &[String], name: &str) -> Option<String> {
    cookies
        .iter()
        .filter_map(|c| c.split(';').next())
        .find(|kv| kv.starts_with(&format!("{name}=")) && kv.len() > name.len() + 1)
        .map(str::to_owned)
}

/// Turns on 2-step verification for `username` (signed in as `login`). The first code is
/// the previous step's, which the server also accepts, so the current step's code is
/// still unused for the test's sign-in.
async fn enrol(app: &TestApp, username: &str, login: Login) -> Enrolled {
    let res = app
        .with_cookie(Method::POST, "/api/mfa/totp", &login)
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let start: Value = res.json().await.expect("json");
    let secret_text = start["secret"].as_str().expect("secret");
    let compact = secret_text.replace(' ', "");
    let uri = start["uri"].as_str().expect("uri");
    assert!(
        uri.starts_with(&format!("otpauth://totp/Gatehouse:{username}?")),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={compact}")), "{uri}");
    assert!(uri.contains("issuer=Gatehouse"), "{uri}");
    assert_eq!(compact.len(), 32, "160 bits in base32");
    assert!(
        start["qr_svg"].as_str().expect("svg").starts_with("<?xml")
            || start["qr_svg"].as_str().expect("svg").contains("<svg")
    );
    let secret = TotpSecret::from_base32(secret_text).expect("base32");
    let verifier = TotpVerifier::new(&secret, "Gatehouse", username).expect("verifier");

    // A wrong code is a readable 422 and turns nothing on.
    let res = app
        .with_cookie(Method::POST, "/api/mfa/totp/confirm", &login)
        .json(&json!({"code": "000000"}))
        .send()
        .await
        .expect("confirm");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["field"], "code");

    let previous = verifier.code_at(SystemClock.now() - time::Duration::seconds(30));
    let res = app
        .with_cookie(Method::POST, "/api/mfa/totp/confirm", &login)
        .json(&json!({"code": previous, "factor_id": start["factor_id"]}))
        .send()
        .await
        .expect("confirm");
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = cookie_pair(&set_cookies(&res), "cloud.sso").expect("re-issued session");
    let body: Value = res.json().await.expect("json");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 19 && c.matches('-').count() == 3)
    );
    // The session that enrolled was replaced.
    assert_eq!(
        app.with_cookie(Method::GET, "/api/auth/session", &login)
            .send()
            .await
            .expect("old")
            .status(),
        StatusCode::UNAUTHORIZED
    );
    Enrolled {
        login: Login {
            cookie,
            csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
        },
        verifier,
        recovery_codes: codes,
        factor_id: start["factor_id"].as_str().expect("id").to_owned(),
    }
}

/// The password step for an account with 2-step verification: the pending cookie pair.
async fn password_step(app: &TestApp, username: &str) -> String {
    let res = app.login(username, USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    assert!(
        cookie_pair(&cookies, "cloud.sso").is_none(),
        "no session before the second step: {cookies:?}"
    );
    let pending = cookies
        .iter()
        .find(|c| c.starts_with("gatehouse.mfa="))
        .expect("pending cookie")
        .clone();
    for attr in [
        "Path=/api/auth/login",
        "Max-Age=300",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(pending.contains(attr), "{attr} missing from {pending}");
    }
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["mfa_required"], true);
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    pending.split(';').next().expect("pair").to_owned()
}

async fn second_step(app: &TestApp, pending: &str, body: Value) -> reqwest::Response {
    app.post("/api/auth/login/mfa")
        .header("cookie", pending)
        .json(&body)
        .send()
        .await
        .expect("second step")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_asks_for_a_code_after_the_password_and_each_code_works_once() {
    let app = spawn_app().await;
    let login = app.add_user("alice").await;
    let off: Value = app
        .with_cookie(Method::GET, "/api/mfa", &login)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(off["enabled"], false);
    let e = enrol(&app, "alice", login).await;
    let on: Value = app
        .with_cookie(Method::GET, "/api/mfa", &e.login)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(on["enabled"], true);
    assert_eq!(on["recovery_codes_left"], 10);
    assert_eq!(on["recovery_codes_low"], false);
    assert_eq!(on["factors"][0]["kind"], "totp");
    assert_eq!(on["factors"][0]["name"], "Authenticator app");
    assert!(on["factors"][0]["last_used_at"].is_string());

    let pending = password_step(&app, "alice").await;
    let res = second_step(&app, &pending, json!({"code": "12345"})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "invalid_code"
    );

    let code = e.code();
    let res = second_step(&app, &pending, json!({"code": code})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    let session = cookie_pair(&cookies, "cloud.sso").expect("session");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("gatehouse.mfa=;") && c.contains("Max-Age=0")),
        "the pending cookie is cleared: {cookies:?}"
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["amr"], json!(["pwd", "otp", "mfa"]));
    let who: Value = app
        .get("/api/auth/session")
        .header("cookie", &session)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    assert_eq!(who["user"]["username"], "alice");
    assert_eq!(who["amr"], json!(["pwd", "otp", "mfa"]));

    // The pending credential was single-use, and the code is spent.
    let res = second_step(&app, &pending, json!({"code": code})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let again = password_step(&app, "alice").await;
    let res = second_step(&app, &again, json!({"code": code})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a replayed code");

    // A recovery code works once, typed any way.
    let typed = e.recovery_codes[0].to_lowercase().replace('-', " ");
    let res = second_step(&app, &again, json!({"recovery_code": typed})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("json")["amr"],
        json!(["pwd", "recovery", "mfa"])
    );
    let third = password_step(&app, "alice").await;
    let res = second_step(&app, &third, json!({"recovery_code": e.recovery_codes[0]})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Both at once, or neither, is a readable 400.
    let res = second_step(&app, &third, json!({})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = second_step(&app, &third, json!({"code": "1", "recovery_code": "2"})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pending_credential_grants_nothing_anywhere_else() {
    let app = spawn_app().await;
    let login = app.add_user("bruno").await;
    let _e = enrol(&app, "bruno", login).await;
    let pending = password_step(&app, "bruno").await;
    let value = pending.trim_start_matches("gatehouse.mfa=").to_owned();
    for path in [
        "/api/auth/session",
        "/api/mfa",
        "/api/api-keys",
        "/api/tokens",
        "/api/ssh-keys",
    ] {
        let tries = [
            app.get(path).header("cookie", &pending),
            app.get(path).header("cookie", format!("cloud.sso={value}")),
            app.get(path).bearer_auth(&value),
            app.get(path).basic_auth(&value, Some("")),
        ];
        for req in tries {
            let res = req.send().await.expect("request");
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        }
    }
    let res = app
        .post("/api/auth/logout-everywhere")
        .header("cookie", format!("cloud.sso={value}"))
        .header("origin", app.origin())
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_tokens_read_the_status_but_never_change_factors() {
    let app = spawn_app().await;
    let login = app.add_user("carla").await;
    let key: Value = app
        .with_cookie(Method::POST, "/api/api-keys", &login)
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let key = key["key"].as_str().expect("key").to_owned();
    let token: Value = app
        .with_cookie(Method::POST, "/api/tokens", &login)
        .json(&json!({"name": "cli"}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["token"].as_str().expect("token").to_owned();
    for (method, path, body) in [
        (Method::POST, "/api/mfa/totp", None),
        (
            Method::POST,
            "/api/mfa/totp/confirm",
            Some(json!({"code": "123456"})),
        ),
        (Method::POST, "/api/mfa/recovery-codes", None),
        (Method::DELETE, "/api/mfa", None),
        (Method::DELETE, "/api/mfa/totp/mfa_x", None),
        (
            Method::POST,
            "/api/auth/reauthenticate",
            Some(json!({"password": USER_PASSWORD})),
        ),
    ] {
        for req in [
            app.with_key(method.clone(), path, &key),
            app.with_bearer(method.clone(), path, &token),
        ] {
            let req = match &body {
                Some(b) => req.json(b),
                None => req,
            };
            let res = req.send().await.expect("request");
            let status = res.status();
            let answer: Value = res.json().await.unwrap_or_default();
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
            assert_eq!(answer["error"], "forbidden", "{method} {path}");
        }
    }
    for req in [
        app.with_key(Method::GET, "/api/mfa", &key),
        app.with_bearer(Method::GET, "/api/mfa", &token),
    ] {
        let res = req.send().await.expect("request");
        assert_eq!(res.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_reissues_the_session_and_factor_changes_are_audited() {
    let app = spawn_app().await;
    let login = app.add_user("dora").await;
    let e = enrol(&app, "dora", login).await;
    let res = app
        .with_cookie(Method::POST, "/api/auth/reauthenticate", &e.login)
        .json(&json!({"password": "not my password at all"}))
        .send()
        .await
        .expect("reauth");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .with_cookie(Method::POST, "/api/auth/reauthenticate", &e.login)
        .json(&json!({"password": USER_PASSWORD}))
        .send()
        .await
        .expect("reauth");
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = cookie_pair(&set_cookies(&res), "cloud.sso").expect("new cookie");
    assert_ne!(cookie, e.login.cookie);
    let body: Value = res.json().await.expect("json");
    let fresh = Login {
        cookie,
        csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
    };
    assert!(body["reauthenticated_at"].is_string());
    let res = app
        .with_cookie(Method::POST, "/api/mfa/recovery-codes", &fresh)
        .send()
        .await
        .expect("regenerate");
    assert_eq!(res.status(), StatusCode::CREATED);
    let codes: Value = res.json().await.expect("json");
    assert_eq!(codes["recovery_codes"].as_array().expect("codes").len(), 10);
    // The old set no longer signs in.
    let pending = password_step(&app, "dora").await;
    let res = second_step(
        &app,
        &pending,
        json!({"recovery_code": e.recovery_codes[3]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let res = app
        .with_cookie(
            Method::DELETE,
            &format!("/api/mfa/totp/{}", e.factor_id),
            &fresh,
        )
        .send()
        .await
        .expect("remove");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // 2-step verification is off: the password alone signs in again.
    assert!(
        cookie_pair(
            &set_cookies(&app.login("dora", USER_PASSWORD).await),
            "cloud.sso"
        )
        .is_some()
    );
    let actions: Vec<String> = app
        .state
        .core
        .recent_audit(None, 100)
        .await
        .expect("audit")
        .into_iter()
        .map(|a| a.action)
        .collect();
    for action in [
        "mfa.totp_setup_started",
        "mfa.totp_enabled",
        "login.mfa_required",
        "user.reauthenticated",
        "mfa.recovery_codes_regenerated",
        "login.mfa_failed",
        "mfa.factor_removed",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_are_throttled_per_account_across_sign_ins() {
    let app = spawn_app_with(&[("GATEHOUSE_RATE_LIMIT__LOGIN_FREE_FAILURES", "2")]).await;
    let login = app.add_user("emil").await;
    let e = enrol(&app, "emil", login).await;
    let first = password_step(&app, "emil").await;
    for _ in 0..2 {
        let res = second_step(&app, &first, json!({"code": "000000"})).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Entering the password again starts a new pending sign-in but not a new count.
    let second = password_step(&app, "emil").await;
    let res = second_step(&app, &second, json!({"code": e.code()})).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()[RETRY_AFTER]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!(wait >= 1);
    assert_eq!(
        res.json::<Value>().await.expect("json")["error"],
        "rate_limited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_mfa_sends_a_member_without_it_to_setup_and_nowhere_else() {
    let app = spawn_app().await;
    let org = app.state.core.default_org().await.expect("org");
    app.state
        .core
        .set_org_policy(
            &org.id,
            &gatehouse_core::org::OrgPolicy {
                require_mfa: true,
                ..Default::default()
            },
        )
        .await
        .expect("policy");
    let login = app.add_user("fritz").await;
    let who: Value = app
        .with_cookie(Method::GET, "/api/auth/session", &login)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    assert_eq!(who["mfa_setup_required"], true);
    for (method, path) in [
        (Method::GET, "/api/api-keys"),
        (Method::POST, "/api/tokens"),
        (Method::GET, "/api/ssh-keys"),
        (Method::POST, "/api/auth/password"),
    ] {
        let res = app
            .with_cookie(method.clone(), path, &login)
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(
            res.json::<Value>().await.expect("json")["error"],
            "mfa_setup_required"
        );
    }
    let status: Value = app
        .with_cookie(Method::GET, "/api/mfa", &login)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["required_by_organization"], true);
    let e = enrol(&app, "fritz", login).await;
    let res = app
        .with_cookie(Method::GET, "/api/api-keys", &e.login)
        .send()
        .await
        .expect("keys");
    assert_eq!(res.status(), StatusCode::OK, "set up, the session is whole");
    let res = app
        .with_cookie(Method::DELETE, "/api/mfa", &e.login)
        .send()
        .await
        .expect("turn off");
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_form_goes_to_the_second_step_page_and_back() {
    let app = spawn_app().await;
    let login = app.add_user("greta").await;
    let e = enrol(&app, "greta", login).await;
    let form = |body: &'static str| {
        app.post("/api/auth/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", app.origin())
            .body(body)
    };
    let res = form("username=greta&password=a+perfectly+long+passphrase&next=%2Faccount%2Fauthentication%2Ftokens")
        .send()
        .await
        .expect("form");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()[LOCATION],
        "/login/mfa?methods=totp,recovery_code&next=/account/authentication/tokens"
    );
    let pending = cookie_pair(&set_cookies(&res), "gatehouse.mfa").expect("pending");
    let step = |body: String| {
        app.post("/api/auth/login/mfa")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", app.origin())
            .header("cookie", &pending)
            .body(body)
    };
    let res = step("code=000000&next=%2Faccount%2Fauthentication%2Ftokens".into())
        .send()
        .await
        .expect("wrong");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()[LOCATION],
        "/login/mfa?error=invalid_code&next=/account/authentication/tokens"
    );
    let res = step(format!(
        "code={}&next=%2Faccount%2Fauthentication%2Ftokens",
        e.code()
    ))
    .send()
    .await
    .expect("right");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/account/authentication/tokens");
    assert!(cookie_pair(&set_cookies(&res), "cloud.sso").is_some());
    // The pending sign-in is over: another try goes back to the password.
    let res = step(format!("code={}", e.code()))
        .send()
        .await
        .expect("again");
    assert_eq!(res.headers()[LOCATION], "/login?error=mfa_expired");
}
