//! `/api/mfa`: the account's 2-step verification. Any credential with `account:read`
//! may read the status; only a cookie session — recently re-authenticated
//! (`POST /api/auth/reauthenticate`) — may change factors: an API key or token never can.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::ids::MfaFactorId;
use gatehouse_core::mfa::{FactorKind, FactorRecord, RECOVERY_LOW, RecoveryCode};
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use gatehouse_core::session::csrf_token;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiResult;
use crate::extract::{Caller, Json};
use crate::middleware::client_ip::ClientIp;
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status, turn_off))
        .routes(routes!(start_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(remove_totp))
        .routes(routes!(regenerate_codes))
}

/// A factor as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FactorView {
    id: String,
    kind: &'static str,
    name: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
}

impl From<&FactorRecord> for FactorView {
    fn from(f: &FactorRecord) -> Self {
        FactorView {
            id: f.id.to_string(),
            kind: f.kind.as_str(),
            name: f.name.clone(),
            created_at: f.confirmed_at.unwrap_or(f.created_at),
            last_used_at: f.last_used_at,
        }
    }
}

/// `GET /api/mfa` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StatusResponse {
    enabled: bool,
    factors: Vec<FactorView>,
    recovery_codes_left: u64,
    recovery_codes_low: bool,
    required_by_organization: bool,
    /// "Enforce Security Key MFA": sign-ins must finish with a security key or passkey.
    security_key_required_by_organization: bool,
    /// Whether this account's organisation allows signing in with a passkey alone.
    passkey_sign_in_allowed: bool,
    /// Whether security keys (a Feature Preview) are on for this server.
    security_keys_available: bool,
}

/// `GET /api/mfa`: whether 2-step verification is on, the factors (name, created, last
/// used) and how many recovery codes are left. Requires: `account:read`.
#[utoipa::path(
    get,
    operation_id = "mfa_status",
    path = "/api/mfa",
    tag = "mfa",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "2-step verification status", body = StatusResponse)),
    extensions(("x-permissions" = json!(["account:read"])))
)]
pub async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require("account:read")?;
    let s = state.core.mfa_status(&caller.actor.user).await?;
    Ok(Json(StatusResponse {
        enabled: s.enabled,
        factors: s.factors.iter().map(FactorView::from).collect(),
        recovery_codes_left: s.recovery_codes_left,
        recovery_codes_low: s.enabled && s.recovery_codes_left <= RECOVERY_LOW,
        required_by_organization: s.required_by_org,
        security_key_required_by_organization: s.security_key_required_by_org,
        passkey_sign_in_allowed: s.passkey_sign_in_allowed,
        security_keys_available: state.core.webauthn_enabled(),
    })
    .into_response())
}

/// Why a key or token gets 403 here.
const BROWSER_ONLY: &str = "2-step verification is changed only in a browser session signed in with \
     your password; API keys and tokens can read it but never change it";

/// `POST /api/mfa/totp` answer: shown once, on the setup page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrolmentResponse {
    factor_id: String,
    /// The `otpauth://totp/...` URI the QR code carries.
    uri: String,
    /// The same secret in base32, grouped in fours, for "Can't scan the QR code?".
    secret: String,
    /// The QR code of `uri`, as an inline SVG.
    qr_svg: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// `POST /api/mfa/totp`: starts setting up an authenticator app (a pending enrolment for
/// 10 minutes). Requires: a recently re-authenticated cookie session.
#[utoipa::path(
    post,
    operation_id = "mfa_start_totp",
    path = "/api/mfa/totp",
    tag = "mfa",
    security(("session" = [])),
    responses((status = 201, description = "The pending enrolment (shown once)", body = EnrolmentResponse)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn start_totp(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let (session, _) = caller.browser_session(BROWSER_ONLY)?;
    let e = state.core.start_totp(session).await?;
    let qr_svg = crate::qr::svg(e.uri.expose_secret())?;
    // SECURITY: the one response that carries the secret; `/api` answers are no-store.
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentResponse {
            factor_id: e.factor_id.to_string(),
            uri: e.uri.expose_secret().to_owned(),
            secret: e.secret.expose_secret().to_owned(),
            qr_svg,
            expires_at: e.expires_at,
        }),
    )
        .into_response())
}

/// `POST /api/mfa/totp/confirm` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The 6-digit code the app shows.
    #[schema(value_type = String, format = Password)]
    code: SecretString,
    /// The enrolment to confirm (default: the latest).
    #[serde(default)]
    factor_id: Option<String>,
}

/// Recovery codes, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodesResponse {
    recovery_codes: Vec<String>,
}

fn codes_view(codes: &[RecoveryCode]) -> Vec<String> {
    codes.iter().map(|c| c.expose().to_owned()).collect()
}

/// `POST /api/mfa/totp/confirm` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConfirmResponse {
    enabled: bool,
    /// Present when this turned 2-step verification on: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
    /// The re-issued session's CSRF token.
    csrf_token: String,
}

/// `POST /api/mfa/totp/confirm`: the first code confirms the authenticator app. Turning
/// 2-step verification on answers the recovery codes (once). The session is re-issued
/// (new cookie) recording the second factor. Requires: a cookie session.
#[utoipa::path(
    post,
    operation_id = "mfa_confirm_totp",
    path = "/api/mfa/totp/confirm",
    tag = "mfa",
    security(("session" = [])),
    request_body = ConfirmRequest,
    responses((status = 200, description = "Confirmed; the session is re-issued (new cookie)", body = ConfirmResponse), (status = 401, description = "The code is incorrect (`invalid_code`)", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn confirm_totp(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    caller: Caller,
    Json(req): Json<ConfirmRequest>,
) -> ApiResult<Response> {
    let (session, cookie) = caller.browser_session(BROWSER_ONLY)?;
    let factor_id = req.factor_id.map(MfaFactorId);
    let done = state
        .core
        .confirm_totp(
            session,
            cookie,
            factor_id.as_ref(),
            req.code.expose_secret(),
            ip,
            headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        )
        .await?;
    let body = ConfirmResponse {
        enabled: true,
        recovery_codes: done.recovery_codes.as_deref().map(codes_view),
        csrf_token: csrf_token(done.session.token.expose()),
    };
    Ok(super::auth::set_session_cookie(
        Json(body).into_response(),
        &done.session,
    ))
}

/// `DELETE /api/mfa/totp/{id}`: removes the authenticator app ("Remove Authenticator
/// app"); the last factor takes the recovery codes with it. Requires: a recently
/// re-authenticated cookie session.
#[utoipa::path(
    delete,
    operation_id = "mfa_remove_totp",
    path = "/api/mfa/totp/{id}",
    tag = "mfa",
    security(("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 204, description = "Removed"), (status = 409, description = "The organisation requires 2-step verification and this is the last factor", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn remove_totp(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (session, _) = caller.browser_session(BROWSER_ONLY)?;
    state
        .core
        .remove_factor(session, FactorKind::Totp, &MfaFactorId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/mfa`: turns 2-step verification off ("Turn off 2-Step Verification").
/// Requires: a recently re-authenticated cookie session.
#[utoipa::path(
    delete,
    operation_id = "mfa_turn_off",
    path = "/api/mfa",
    tag = "mfa",
    security(("session" = [])),
    responses((status = 204, description = "Turned off"), (status = 409, description = "The organisation requires 2-step verification", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn turn_off(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    let (session, _) = caller.browser_session(BROWSER_ONLY)?;
    state.core.turn_off_mfa(session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/mfa/recovery-codes`: a new set of recovery codes (shown once; the old set
/// stops working). Requires: a recently re-authenticated cookie session.
#[utoipa::path(
    post,
    operation_id = "mfa_regenerate_codes",
    path = "/api/mfa/recovery-codes",
    tag = "mfa",
    security(("session" = [])),
    responses((status = 201, description = "The new recovery codes (shown once)", body = RecoveryCodesResponse), (status = 409, description = "2-step verification is off", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn regenerate_codes(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    let (session, _) = caller.browser_session(BROWSER_ONLY)?;
    let codes = state.core.regenerate_recovery_codes(session).await?;
    Ok((
        StatusCode::CREATED,
        Json(RecoveryCodesResponse {
            recovery_codes: codes_view(&codes),
        }),
    )
        .into_response())
}
