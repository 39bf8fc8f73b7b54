//! Security keys and passkeys (WebAuthn): `/api/mfa/webauthn…` to add, list, rename and
//! remove keys (cookie sessions only), `/api/auth/login/webauthn/…` for a key as the
//! second step of a sign-in (with the pending credential), and `/api/auth/passkey/…` to
//! sign in with a passkey alone. Every `start` answers `{"ceremony": "…", "options":
//! {"publicKey": {...}}}`: the options are WebAuthn's JSON (base64url binary), for
//! `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`,
//! and every `finish` takes the ceremony token and the browser's `credential.toJSON()`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::Error as CoreError;
use gatehouse_core::ids::MfaFactorId;
use gatehouse_core::mfa::webauthn::{AssertionResponse, CeremonyStart, RegistrationResponse};
use gatehouse_core::mfa::{FactorKind, FactorRecord};
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use gatehouse_core::service::{MfaLoginAttempt, PasskeySignIn, SecondFactor};
use gatehouse_core::session::csrf_token;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::auth::{
    CLEAR_PENDING, check_login_origin, pending_cookie, session_json, set_session_cookie,
    user_agent, with_cookie,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::auth::session_cookie;
use crate::extract::{Caller, Json};
use crate::middleware::client_ip::ClientIp;
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(register_start))
        .routes(routes!(register_finish))
        .routes(routes!(show, rename, remove))
        .routes(routes!(second_step_start))
        .routes(routes!(second_step_finish))
        .routes(routes!(passkey_start))
        .routes(routes!(passkey_finish))
}

/// A started ceremony.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StartResponse {
    /// Send it back with the answer.
    ceremony: String,
    /// `{"publicKey": {...}}`.
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

fn started(c: CeremonyStart) -> Response {
    Json(StartResponse {
        ceremony: c.token.expose_secret().to_owned(),
        options: c.options,
    })
    .into_response()
}

/// A security key as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyView {
    id: String,
    name: String,
    /// Whether it can sign in on its own ("Sign in with a passkey").
    passkey: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
}

impl From<&FactorRecord> for KeyView {
    fn from(f: &FactorRecord) -> Self {
        KeyView {
            id: f.id.to_string(),
            name: f.name.clone(),
            passkey: f.key.as_ref().is_some_and(|k| k.discoverable),
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        }
    }
}

/// Why a key or token gets 403 here.
const BROWSER_ONLY: &str = "security keys are managed only in a browser session; API keys and tokens can \
     read them but never change them";

async fn keys(state: &AppState, caller: &Caller) -> ApiResult<Vec<FactorRecord>> {
    caller.require("account:read")?;
    let status = state.core.mfa_status(&caller.actor.user).await?;
    Ok(status
        .factors
        .into_iter()
        .filter(|f| f.kind == FactorKind::WebAuthn)
        .collect())
}

/// `GET /api/mfa/webauthn`: the caller's security keys. Requires: `account:read`.
#[utoipa::path(
    get,
    operation_id = "webauthn_list",
    path = "/api/mfa/webauthn",
    tag = "mfa",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Your security keys", body = Vec<KeyView>)),
    extensions(("x-permissions" = json!(["account:read"])))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let keys = keys(&state, &caller).await?;
    Ok(Json(keys.iter().map(KeyView::from).collect::<Vec<_>>()).into_response())
}

/// `GET /api/mfa/webauthn/{id}`. Requires: `account:read`.
#[utoipa::path(
    get,
    operation_id = "webauthn_show",
    path = "/api/mfa/webauthn/{id}",
    tag = "mfa",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The security key", body = KeyView)),
    extensions(("x-permissions" = json!(["account:read"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let keys = keys(&state, &caller).await?;
    let key = keys
        .iter()
        .find(|k| k.id.as_str() == id)
        .ok_or(CoreError::NotFound)?;
    Ok(Json(KeyView::from(key)).into_response())
}

/// `POST /api/mfa/webauthn/register/start`: starts adding a key (5 minutes). Requires: a
/// recently re-authenticated cookie session.
#[utoipa::path(
    post,
    operation_id = "webauthn_register_start",
    path = "/api/mfa/webauthn/register/start",
    tag = "mfa",
    security(("session" = [])),
    responses((status = 200, description = "The ceremony and the `navigator.credentials.create()` options", body = StartResponse), (status = 409, description = "No more keys may be added", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn register_start(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let (session, _) = caller.browser_session(BROWSER_ONLY)?;
    Ok(started(state.core.start_key_registration(session).await?))
}

/// `POST /api/mfa/webauthn/register/finish` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    #[schema(value_type = String, format = Password)]
    ceremony: SecretString,
    /// What the user calls the key ("YubiKey 5C").
    name: String,
    /// `credential.toJSON()` of `navigator.credentials.create`.
    /// The authenticator\'s answer, as WebAuthn\'s `PublicKeyCredential` JSON.
    #[schema(value_type = Object)]
    credential: Box<RegistrationResponse>,
}

/// `POST /api/mfa/webauthn/register/finish` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RegisterFinished {
    key: KeyView,
    /// Present when this turned 2-step verification on: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
    /// The re-issued session's CSRF token.
    csrf_token: String,
}

/// `POST /api/mfa/webauthn/register/finish`: verifies the key's answer and adds it; the
/// session is re-issued (new cookie) recording the key. Requires: a cookie session.
#[utoipa::path(
    post,
    operation_id = "webauthn_register_finish",
    path = "/api/mfa/webauthn/register/finish",
    tag = "mfa",
    security(("session" = [])),
    request_body = RegisterFinish,
    responses((status = 201, description = "The key was added; the session is re-issued (new cookie)", body = RegisterFinished), (status = 409, description = "The key is already registered", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn register_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    caller: Caller,
    Json(req): Json<RegisterFinish>,
) -> ApiResult<Response> {
    let (session, cookie) = caller.browser_session(BROWSER_ONLY)?;
    let added = state
        .core
        .finish_key_registration(
            session,
            cookie,
            req.ceremony.expose_secret(),
            &req.name,
            &req.credential,
            ip,
            user_agent(&headers),
        )
        .await?;
    let body = RegisterFinished {
        key: KeyView::from(&added.factor),
        recovery_codes: added
            .recovery_codes
            .as_ref()
            .map(|c| c.iter().map(|c| c.expose().to_owned()).collect()),
        csrf_token: csrf_token(added.session.token.expose()),
    };
    Ok(set_session_cookie(
        (StatusCode::CREATED, Json(body)).into_response(),
        &added.session,
    ))
}

/// `PATCH /api/mfa/webauthn/{id}` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    name: String,
}

/// `PATCH /api/mfa/webauthn/{id}`: renames a key. Requires: a cookie session.
#[utoipa::path(
    patch,
    operation_id = "webauthn_rename",
    path = "/api/mfa/webauthn/{id}",
    tag = "mfa",
    security(("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    request_body = RenameRequest,
    responses((status = 204, description = "Renamed")),
    extensions(("x-permissions" = json!([])))
)]
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<RenameRequest>,
) -> ApiResult<StatusCode> {
    let (session, _) = caller.browser_session(BROWSER_ONLY)?;
    let keys = keys(&state, &caller).await?;
    if !keys.iter().any(|k| k.id.as_str() == id) {
        return Err(CoreError::NotFound.into());
    }
    state
        .core
        .rename_factor(session, &MfaFactorId(id), &req.name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/mfa/webauthn/{id}`: removes a key (the last factor of an account whose
/// organisation requires 2-step verification or security keys cannot go: 409).
/// Requires: a recently re-authenticated cookie session.
#[utoipa::path(
    delete,
    operation_id = "webauthn_remove",
    path = "/api/mfa/webauthn/{id}",
    tag = "mfa",
    security(("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 204, description = "Removed"), (status = 409, description = "The last factor of an account whose organisation requires it", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (session, _) = caller.browser_session(BROWSER_ONLY)?;
    state
        .core
        .remove_factor(session, FactorKind::WebAuthn, &MfaFactorId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/login/webauthn/start`: the security-key option of a sign-in's second
/// step. Requires: the pending credential (cookie `gatehouse.mfa`).
#[utoipa::path(
    post,
    operation_id = "webauthn_second_step_start",
    path = "/api/auth/login/webauthn/start",
    tag = "auth",
    security(()),
    responses((status = 200, description = "The ceremony and the `navigator.credentials.get()` options", body = StartResponse), (status = 401, description = "No or an expired pending sign-in (cookie `gatehouse.mfa`)", body = crate::api::openapi::ErrorBody), (status = 403, description = "A cross-site `Origin`", body = crate::api::openapi::ErrorBody), (status = 429, description = "Too many attempts", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn second_step_start(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_login_origin(&state, &headers)?;
    let pending = pending_cookie(&headers).ok_or(CoreError::Unauthenticated)?;
    Ok(started(state.core.start_second_step_key(pending).await?))
}

/// A ceremony's finish body for a sign-in.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertionFinish {
    #[schema(value_type = String, format = Password)]
    ceremony: SecretString,
    /// `credential.toJSON()` of `navigator.credentials.get`.
    /// The authenticator\'s answer, as WebAuthn\'s `PublicKeyCredential` JSON.
    #[schema(value_type = Object)]
    credential: Box<AssertionResponse>,
}

/// `POST /api/auth/login/webauthn/finish`: completes a sign-in with the key's answer,
/// exactly as a code does (same pending credential, same count of failures); the session
/// records `hwk`. Requires: the pending credential.
#[utoipa::path(
    post,
    operation_id = "webauthn_second_step_finish",
    path = "/api/auth/login/webauthn/finish",
    tag = "auth",
    security(()),
    request_body = AssertionFinish,
    responses((status = 200, description = "Signed in: the session (and its `cloud.sso` cookie)", body = crate::api::auth::SessionResponse), (status = 401, description = "The answer was refused or the pending sign-in expired", body = crate::api::openapi::ErrorBody), (status = 403, description = "A cross-site `Origin`", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn second_step_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<AssertionFinish>,
) -> ApiResult<Response> {
    check_login_origin(&state, &headers)?;
    let pending = pending_cookie(&headers).ok_or(CoreError::Unauthenticated)?;
    let outcome = state
        .core
        .login_mfa(MfaLoginAttempt {
            pending,
            factor: SecondFactor::SecurityKey {
                ceremony: req.ceremony.expose_secret(),
                answer: &req.credential,
            },
            ip,
            user_agent: user_agent(&headers),
            previous_session: session_cookie(&headers),
        })
        .await?;
    Ok(with_cookie(
        session_json(&state, &outcome)?,
        Ok(HeaderValue::from_static(CLEAR_PENDING)),
    ))
}

/// `POST /api/auth/passkey/start`: starts "Sign in with a passkey". Public.
#[utoipa::path(
    post,
    operation_id = "webauthn_passkey_start",
    path = "/api/auth/passkey/start",
    tag = "auth",
    security(()),
    responses((status = 200, description = "The ceremony and the `navigator.credentials.get()` options", body = StartResponse), (status = 403, description = "A cross-site `Origin`", body = crate::api::openapi::ErrorBody), (status = 429, description = "Too many attempts", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn passkey_start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> ApiResult<Response> {
    check_login_origin(&state, &headers)?;
    Ok(started(state.core.start_passkey_sign_in(ip).await?))
}

/// `POST /api/auth/passkey/finish`: signs in with a discoverable key and its user
/// verification, no password (both factors in one). Public; 401 `invalid_credentials`
/// for any refusal, 403 when the organisation turned passkey sign-in off.
#[utoipa::path(
    post,
    operation_id = "webauthn_passkey_finish",
    path = "/api/auth/passkey/finish",
    tag = "auth",
    security(()),
    request_body = AssertionFinish,
    responses((status = 200, description = "Signed in: the session (and its `cloud.sso` cookie)", body = crate::api::auth::SessionResponse), (status = 401, description = "Refused (`invalid_credentials`)", body = crate::api::openapi::ErrorBody), (status = 403, description = "Passkey sign-in is off for the organisation, or a cross-site `Origin`", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn passkey_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<AssertionFinish>,
) -> ApiResult<Response> {
    check_login_origin(&state, &headers)?;
    let outcome = state
        .core
        .finish_passkey_sign_in(PasskeySignIn {
            ceremony: req.ceremony.expose_secret(),
            answer: &req.credential,
            ip,
            user_agent: user_agent(&headers),
            previous_session: session_cookie(&headers),
        })
        .await
        .map_err(ApiError::from)?;
    session_json(&state, &outcome)
}
