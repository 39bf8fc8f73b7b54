//! Security keys over HTTPS, for what needs no authenticator: the ceremony options the
//! browser gets, who may start ceremonies, single use of ceremony state, refusals of
//! answers that do not verify (no session, no key), and the switch that turns security
//! keys off. Full ceremonies with a virtual authenticator (Chromium) and hand-built
//! assertions (Python) are in the browser and end-to-end suites.

mod support;

use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};
use support::{spawn_app, spawn_app_with};

fn bogus_registration() -> Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"},
        "extensions": {}
    })
}

fn bogus_assertion() -> Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {
            "authenticatorData": "AAAA",
            "clientDataJSON": "AAAA",
            "signature": "AAAA",
            "userHandle": "AAAAAAAAAAAAAAAAAAAAAA"
        },
        "extensions": {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_options_ask_for_a_verified_discoverable_key_for_this_site() {
    let app = spawn_app().await;
    let login = app.add_user("ada").await;
    let res = app
        .with_cookie(Method::POST, "/api/mfa/webauthn/register/start", &login)
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    let pk = &body["options"]["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["user"]["name"], "ada");
    assert!(
        pk["challenge"].as_str().expect("challenge").len() >= 22,
        "at least 128 bits"
    );
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "preferred");
    assert!(body["ceremony"].as_str().expect("ceremony").len() >= 43);

    // An answer that does not verify adds nothing, and the ceremony is spent.
    let finish = |ceremony: Value| {
        app.with_cookie(Method::POST, "/api/mfa/webauthn/register/finish", &login)
            .json(&json!({
                "ceremony": ceremony,
                "name": "YubiKey 5C",
                "credential": bogus_registration(),
            }))
    };
    let res = finish(body["ceremony"].clone())
        .send()
        .await
        .expect("finish");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: Value = res.json().await.expect("json");
    assert_eq!(err["field"], "credential");
    let res = finish(body["ceremony"].clone())
        .send()
        .await
        .expect("again");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "single use");
    let err: Value = res.json().await.expect("json");
    assert_eq!(err["field"], "ceremony");
    let keys: Value = app
        .with_cookie(Method::GET, "/api/mfa/webauthn", &login)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(keys, json!([]));
    // A malformed answer is a readable 422 naming the field.
    let res = app
        .with_cookie(Method::POST, "/api/mfa/webauthn/register/finish", &login)
        .json(&json!({"ceremony": "x", "name": "k", "credential": {"id": 1}}))
        .send()
        .await
        .expect("malformed");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_ceremony_does_not_finish_for_you() {
    let app = spawn_app().await;
    let ada = app.add_user("ada").await;
    let bob = app.add_user("bob").await;
    let started: Value = app
        .with_cookie(Method::POST, "/api/mfa/webauthn/register/start", &ada)
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let res = app
        .with_cookie(Method::POST, "/api/mfa/webauthn/register/finish", &bob)
        .json(&json!({
            "ceremony": started["ceremony"],
            "name": "stolen",
            "credential": bogus_registration(),
        }))
        .send()
        .await
        .expect("finish");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: Value = res.json().await.expect("json");
    assert_eq!(
        err["field"], "ceremony",
        "not yours: as if it did not exist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_tokens_cannot_start_ceremonies() {
    let app = spawn_app().await;
    let login = app.add_user("cy").await;
    let key: Value = app
        .with_cookie(Method::POST, "/api/api-keys", &login)
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let key = key["key"].as_str().expect("key");
    let res = app
        .with_key(Method::POST, "/api/mfa/webauthn/register/start", key)
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .with_key(Method::GET, "/api/mfa/webauthn", key)
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .with_key(Method::DELETE, "/api/mfa/webauthn/mfa_nope", key)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_sign_in_refuses_answers_that_do_not_verify() {
    let app = spawn_app().await;
    let res = app
        .post("/api/auth/passkey/start")
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    let pk = &body["options"]["publicKey"];
    assert_eq!(pk["rpId"], "localhost");
    assert_eq!(pk["userVerification"], "required");
    assert!(pk["allowCredentials"].as_array().is_none_or(Vec::is_empty));
    assert!(body["options"].get("mediation").is_none());
    let finish = |ceremony: Value| {
        app.post("/api/auth/passkey/finish").json(&json!({
            "ceremony": ceremony,
            "credential": bogus_assertion(),
        }))
    };
    for ceremony in [
        body["ceremony"].clone(),
        body["ceremony"].clone(),
        json!("made-up"),
    ] {
        let res = finish(ceremony).send().await.expect("finish");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(res.headers().get(SET_COOKIE).is_none(), "no session");
        assert_eq!(
            res.json::<Value>().await.expect("json")["error"],
            "invalid_credentials"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_step_of_a_sign_in_needs_the_pending_credential_and_a_key() {
    let app = spawn_app().await;
    let res = app
        .post("/api/auth/login/webauthn/start")
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .post("/api/auth/login/webauthn/finish")
        .header("cookie", "gatehouse.mfa=made-up")
        .json(&json!({"ceremony": "x", "credential": bogus_assertion()}))
        .send()
        .await
        .expect("finish");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_keys_can_be_switched_off() {
    let app = spawn_app_with(&[("GATEHOUSE_MFA__WEBAUTHN_PREVIEW", "false")]).await;
    let login = app.add_user("dee").await;
    let res = app
        .with_cookie(Method::POST, "/api/mfa/webauthn/register/start", &login)
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let status: Value = app
        .with_cookie(Method::GET, "/api/mfa", &login)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["security_keys_available"], false);
    let res = app
        .post("/api/auth/passkey/start")
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
