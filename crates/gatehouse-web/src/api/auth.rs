//! Sign-in (JSON, or the sign-in page's form post), sign-out, changing one's password,
//! and "who am I".

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::Error as CoreError;
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use gatehouse_core::service::{
    LoginAttempt, LoginStep, MfaChallenge, MfaLoginAttempt, PasswordChange, Proof, SecondFactor,
};
use gatehouse_core::session::LoginOutcome;
use gatehouse_core::session::csrf_token;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{ApiError, ApiResult};
use crate::extract::auth::{is_same_origin, session_cookie};
use crate::extract::{Caller, CallerCredential, FormOrJson, Json, SESSION_COOKIE};
use crate::middleware::client_ip::ClientIp;
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(login_mfa))
        .routes(routes!(reauthenticate))
        .routes(routes!(logout))
        .routes(routes!(logout_everywhere))
        .routes(routes!(change_password))
        .routes(routes!(session))
}

/// `POST /api/auth/login` body: JSON, or the sign-in page's form post (which works
/// without JavaScript and names the page to return to).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// Form posts only: where to go after signing in (a local path).
    #[serde(default)]
    next: Option<String>,
}

/// Where a form sign-in goes: `next` when it passes the site's one rule for it
/// ([`crate::ui::local_next`]: SECURITY, never another origin), else the account page.
fn local_path(next: Option<&str>) -> &str {
    next.and_then(crate::ui::local_next)
        .unwrap_or(crate::ui::HOME)
}

/// A 303 back to the sign-in page with an error code (and the page to return to).
fn back_to_sign_in(code: &str, next: Option<&str>) -> Response {
    let target = match next.and_then(crate::ui::local_next) {
        Some(n) => format!("/login?error={code}&next={}", crate::ui::query_value(n)),
        None => format!("/login?error={code}"),
    };
    Redirect::to(&target).into_response()
}

fn session_cookie_header(token: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax"
    ))
    .map_err(|e| CoreError::internal(e).into())
}

/// The public part of an account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView<'a> {
    id: &'a str,
    username: &'a str,
    email: &'a str,
    display_name: &'a str,
    /// The organisation's id, and the account's role there.
    org_id: &'a str,
    #[schema(value_type = String)]
    role: gatehouse_core::org::Role,
}

/// The API key behind a request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyInfo<'a> {
    id: &'a str,
    name: &'a str,
    permissions: Vec<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
}

/// The token behind a request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenInfo<'a> {
    id: &'a str,
    scopes: Vec<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// Describes the caller and its credential. Borrows from the caller: it is built on
/// every `/api/auth/session` request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionResponse<'a> {
    user: UserView<'a>,
    auth_method: &'static str,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    permissions: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
    /// Cookie sessions: how the sign-in proved who it was (RFC 8176 values).
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<Vec<&'static str>>,
    /// Cookie sessions: when it last proved who it was (sign-in or re-authentication).
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    reauthenticated_at: Option<OffsetDateTime>,
    /// Cookie sessions: the organisation requires 2-step verification and it is not set
    /// up yet, so only the 2-step verification routes answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    mfa_setup_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<KeyInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<TokenInfo<'a>>,
}

impl<'a> SessionResponse<'a> {
    fn of(caller: &'a Caller) -> Self {
        let u = &caller.actor.user;
        SessionResponse {
            user: UserView {
                id: u.id.as_str(),
                username: &u.username,
                email: &u.email,
                display_name: &u.display_name,
                org_id: u.org_id.as_str(),
                role: u.role,
            },
            auth_method: caller.method().as_str(),
            expires_at: caller.expires_at(),
            permissions: caller.actor.scopes.iter().collect(),
            csrf_token: caller.session().map(|(_, cookie)| csrf_token(cookie)),
            amr: caller.session().map(|(s, _)| s.amr.values()),
            reauthenticated_at: caller.session().map(|(s, _)| s.reauthenticated_at),
            mfa_setup_required: caller.session().is_some_and(|(s, _)| s.mfa_setup_required),
            api_key: match &caller.credential {
                CallerCredential::ApiKey(k) => Some(k),
                _ => None,
            }
            .map(|k| KeyInfo {
                id: k.key_id().as_str(),
                name: &k.name,
                permissions: k.permissions().iter().collect(),
                expires_at: k.expires_at(),
            }),
            token: match &caller.credential {
                CallerCredential::Bearer(t) => Some(t),
                _ => None,
            }
            .map(|t| TokenInfo {
                id: t.token_id.as_str(),
                scopes: t.scopes.iter().collect(),
                issued_at: t.issued_at,
                expires_at: t.expires_at,
            }),
        }
    }
}

/// `POST /api/auth/login`. Public; throttled per account and per address. A JSON body
/// gets the session JSON; a form post gets a 303 to its `next` page (or back to the
/// sign-in page with `?error=<code>`), with the same CSRF rule. For an account with
/// 2-step verification a correct password opens no session: the answer is
/// `{"mfa_required": true, "methods": [...]}` (a form post: a 303 to `/login/mfa`) with
/// the pending credential in its own cookie, for `POST /api/auth/login/mfa`.
#[utoipa::path(
    post,
    operation_id = "auth_login",
    path = "/api/auth/login",
    tag = "auth",
    security(()),
    request_body(content((LoginRequest = "application/json"), (LoginRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Signed in (with a `cloud.sso` cookie), or a second step is required (with a `gatehouse.mfa` cookie)", body = LoginAnswer), (status = 303, description = "A form post: to its `next` page, or back to the page with `?error=<code>`", headers(("Location" = String, description = "Where to go"))), (status = 401, description = "Wrong username or password (`invalid_credentials`)", body = crate::api::openapi::ErrorBody), (status = 403, description = "A cross-site `Origin` (login CSRF)", body = crate::api::openapi::ErrorBody), (status = 429, description = "Too many failed attempts for the account or the address", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: FormOrJson<LoginRequest>,
) -> Response {
    let form = body.is_form();
    let Some(req) = body.into_inner() else {
        return back_to_sign_in("invalid_request", None);
    };
    let signed_in = sign_in(&state, ip, &headers, &req).await;
    let next = req.next.as_deref();
    match (signed_in, form) {
        (Ok(LoginStep::Done(outcome)), false) => {
            session_json(&state, &outcome).unwrap_or_else(IntoResponse::into_response)
        }
        (Ok(LoginStep::Done(outcome)), true) => signed_in_redirect(&outcome, next),
        (Ok(LoginStep::MfaRequired(challenge)), false) => {
            mfa_required_json(&challenge).unwrap_or_else(IntoResponse::into_response)
        }
        (Ok(LoginStep::MfaRequired(challenge)), true) => {
            // The page offers the ways this account has; the list is not secret (the
            // JSON answer names them too), and the cookie stays the only credential.
            let methods = crate::ui::SecondStepMethods::of(&challenge.methods).query();
            let target = match next.and_then(crate::ui::local_next) {
                Some(n) => format!("/login/mfa?{methods}&next={}", crate::ui::query_value(n)),
                None => format!("/login/mfa?{methods}"),
            };
            with_cookie(
                Redirect::to(&target).into_response(),
                pending_cookie_header(challenge.token.expose(), challenge.expires_in),
            )
        }
        (Err(e), false) => e.into_response(),
        (Err(e), true) => back_to_sign_in(e.code(), next),
    }
}

/// The pending credential's cookie: only ever sent to the sign-in routes.
pub const PENDING_COOKIE: &str = "gatehouse.mfa";

fn pending_cookie_header(token: &str, max_age: i64) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{PENDING_COOKIE}={token}; Path=/api/auth/login; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict"
    ))
    .map_err(|e| CoreError::internal(e).into())
}

pub(crate) const CLEAR_PENDING: &str =
    "gatehouse.mfa=; Path=/api/auth/login; Max-Age=0; Secure; HttpOnly; SameSite=Strict";

pub(crate) fn with_cookie(mut res: Response, cookie: ApiResult<HeaderValue>) -> Response {
    match cookie {
        Ok(c) => {
            res.headers_mut().append(header::SET_COOKIE, c);
            res
        }
        Err(e) => e.into_response(),
    }
}

fn signed_in_redirect(outcome: &LoginOutcome, next: Option<&str>) -> Response {
    let res = Redirect::to(local_path(next)).into_response();
    with_cookie(res, session_cookie_header(outcome.token.expose()))
}

/// What a JSON sign-in answers (for the API description): the session, or the second
/// step it needs.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum LoginAnswer<'a> {
    /// Signed in.
    Session(Box<SessionResponse<'a>>),
    /// A second step is required.
    Mfa(MfaRequired<'a>),
}

/// `{"mfa_required": true, ...}` and the pending credential's cookie.
#[derive(Serialize, utoipa::ToSchema)]
struct MfaRequired<'a> {
    mfa_required: bool,
    #[schema(value_type = Vec<String>)]
    methods: &'a [&'static str],
    expires_in: i64,
}

fn mfa_required_json(challenge: &MfaChallenge) -> ApiResult<Response> {
    let res = Json(MfaRequired {
        mfa_required: true,
        methods: &challenge.methods,
        expires_in: challenge.expires_in,
    })
    .into_response();
    Ok(with_cookie(
        res,
        pending_cookie_header(challenge.token.expose(), challenge.expires_in),
    ))
}

async fn sign_in(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    req: &LoginRequest,
) -> ApiResult<LoginStep> {
    check_login_origin(state, headers)?;
    if req.username.len() > 256 {
        return Err(ApiError::BadRequest("username is too long".into()));
    }
    state
        .core
        .login(LoginAttempt {
            username: &req.username,
            password: req.password.expose_secret(),
            ip,
            user_agent: user_agent(headers),
            previous_session: session_cookie(headers),
        })
        .await
        .map_err(|e| match e {
            // An oversize password is a malformed request, refused before hashing.
            CoreError::Invalid { reason, .. } => {
                ApiError::BadRequest(format!("password: {reason}"))
            }
            other => other.into(),
        })
}

/// SECURITY: login CSRF. A browser always sends Origin on a cross-site POST; refuse one
/// from elsewhere. Non-browser clients send none.
pub(crate) fn check_login_origin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !is_same_origin(headers, origin, state.web.public_origin.as_deref())
    {
        return Err(ApiError::CsrfFailed);
    }
    Ok(())
}

pub(crate) fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// The pending credential's cookie value, if any.
pub(crate) fn pending_cookie(headers: &HeaderMap) -> Option<&str> {
    crate::extract::auth::cookie_named(headers, PENDING_COOKIE)
}

/// `POST /api/auth/login/mfa` body: one of `code` (from the authenticator app) and
/// `recovery_code`; JSON, or the second-step page's form post.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaLoginRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    code: Option<SecretString>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    recovery_code: Option<SecretString>,
    /// Form posts only: where to go after signing in (a local path).
    #[serde(default)]
    next: Option<String>,
    /// Form posts only: the ways the page offered (`webauthn,totp,recovery_code`), so
    /// that an error shows the same choices again.
    #[serde(default)]
    methods: Option<String>,
}

/// `POST /api/auth/login/mfa`: completes a sign-in with the pending credential (its own
/// cookie, set by `POST /api/auth/login`) and a code or a recovery code. Wrong codes
/// count against the account; the answer is a fresh `cloud.sso` session.
#[utoipa::path(
    post,
    operation_id = "auth_login_mfa",
    path = "/api/auth/login/mfa",
    tag = "auth",
    security(()),
    request_body(content((MfaLoginRequest = "application/json"), (MfaLoginRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Signed in: the session (and its `cloud.sso` cookie)", body = SessionResponse), (status = 303, description = "A form post: to its `next` page, or back to the page with `?error=<code>`", headers(("Location" = String, description = "Where to go"))), (status = 401, description = "A wrong code, or no or an expired pending sign-in", body = crate::api::openapi::ErrorBody), (status = 403, description = "A cross-site `Origin` (login CSRF)", body = crate::api::openapi::ErrorBody), (status = 429, description = "Too many wrong codes", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn login_mfa(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: FormOrJson<MfaLoginRequest>,
) -> Response {
    let form = body.is_form();
    let Some(req) = body.into_inner() else {
        return back_to_second_step("invalid_request", None, false, None);
    };
    let next = req.next.clone();
    let recovery = req.recovery_code.is_some();
    let result = second_step(&state, ip, &headers, &req).await;
    match (result, form) {
        (Ok(outcome), false) => match session_json(&state, &outcome) {
            Ok(res) => with_cookie(res, Ok(HeaderValue::from_static(CLEAR_PENDING))),
            Err(e) => e.into_response(),
        },
        (Ok(outcome), true) => with_cookie(
            signed_in_redirect(&outcome, next.as_deref()),
            Ok(HeaderValue::from_static(CLEAR_PENDING)),
        ),
        (Err(e), false) => e.into_response(),
        (Err(e), true) => match e.code() {
            // The pending sign-in is over: start again with the password.
            "unauthenticated" => back_to_sign_in("mfa_expired", next.as_deref()),
            code => back_to_second_step(code, next.as_deref(), recovery, req.methods.as_deref()),
        },
    }
}

async fn second_step(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    req: &MfaLoginRequest,
) -> ApiResult<LoginOutcome> {
    check_login_origin(state, headers)?;
    let factor = match (&req.code, &req.recovery_code) {
        (Some(c), None) => SecondFactor::Code(c.expose_secret()),
        (None, Some(r)) => SecondFactor::RecoveryCode(r.expose_secret()),
        _ => {
            return Err(ApiError::BadRequest(
                "send either code (from your authenticator app) or recovery_code".into(),
            ));
        }
    };
    let pending = pending_cookie(headers).ok_or(CoreError::Unauthenticated)?;
    Ok(state
        .core
        .login_mfa(MfaLoginAttempt {
            pending,
            factor,
            ip,
            user_agent: user_agent(headers),
            previous_session: session_cookie(headers),
        })
        .await?)
}

/// A 303 back to the second-step page with an error code, showing the form that was
/// used (the recovery code's, or the authenticator code's).
fn back_to_second_step(
    code: &str,
    next: Option<&str>,
    recovery: bool,
    methods: Option<&str>,
) -> Response {
    let listed = crate::ui::SecondStepMethods::parse(methods).query();
    let method = match (recovery, listed.is_empty()) {
        (true, true) => "&method=recovery".to_owned(),
        (true, false) => format!("&method=recovery&{listed}"),
        (false, true) => String::new(),
        (false, false) => format!("&method=totp&{listed}"),
    };
    let target = match next.and_then(crate::ui::local_next) {
        Some(n) => format!(
            "/login/mfa?error={code}{method}&next={}",
            crate::ui::query_value(n)
        ),
        None => format!("/login/mfa?error={code}{method}"),
    };
    Redirect::to(&target).into_response()
}

/// `POST /api/auth/reauthenticate` body: `password`, or `code` from the authenticator
/// app.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<SecretString>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    code: Option<SecretString>,
}

/// `POST /api/auth/reauthenticate`: proves the holder of a cookie session is still its
/// owner. The session is re-issued under a new id (new cookie, in the answer's session
/// JSON a new CSRF token), and for 10 minutes 2-step verification changes are allowed.
/// Requires: a cookie session (and the CSRF rule).
#[utoipa::path(
    post,
    operation_id = "auth_reauthenticate",
    path = "/api/auth/reauthenticate",
    tag = "auth",
    security(("session" = [])),
    request_body = ReauthRequest,
    responses((status = 200, description = "Re-authenticated: the re-issued session (new cookie)", body = SessionResponse), (status = 401, description = "A wrong password or code", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn reauthenticate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    caller: Caller,
    Json(req): Json<ReauthRequest>,
) -> ApiResult<Response> {
    let (session, cookie) = caller.browser_session(
        "re-authentication is for browser sessions; API keys and tokens cannot change \
         2-step verification",
    )?;
    let proof = match (&req.password, &req.code) {
        (Some(p), None) => Proof::Password(p.expose_secret()),
        (None, Some(c)) => Proof::Code(c.expose_secret()),
        _ => {
            return Err(ApiError::BadRequest(
                "send either password or code (from your authenticator app)".into(),
            ));
        }
    };
    let outcome = state
        .core
        .reauthenticate(session, cookie, proof, ip, user_agent(&headers))
        .await?;
    session_json(&state, &outcome)
}

/// The session JSON and cookie of a fresh session.
pub(crate) fn session_json(state: &AppState, outcome: &LoginOutcome) -> ApiResult<Response> {
    let caller = Caller {
        actor: state.core.session_actor(&outcome.principal),
        credential: CallerCredential::Cookie {
            session: outcome.principal.clone(),
            cookie: SecretString::from(outcome.token.expose()),
        },
    };
    let res = Json(SessionResponse::of(&caller)).into_response();
    Ok(with_cookie(
        res,
        session_cookie_header(outcome.token.expose()),
    ))
}

/// The session cookie of a re-issued session, for other areas' handlers.
pub fn set_session_cookie(res: Response, outcome: &LoginOutcome) -> Response {
    with_cookie(res, session_cookie_header(outcome.token.expose()))
}

/// `POST /api/auth/password` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
    #[serde(default = "yes")]
    sign_out_other_sessions: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/auth/password`: changes the signed-in account's password. Requires: a
/// cookie session (and the CSRF rule) and the current password. Answers 204 with a new
/// session cookie (the id rotates); with `sign_out_other_sessions` (the default) every
/// other session and every token of the account ends too.
#[utoipa::path(
    post,
    operation_id = "auth_change_password",
    path = "/api/auth/password",
    tag = "auth",
    security(("session" = [])),
    request_body = PasswordChangeRequest,
    responses((status = 204, description = "Changed; the session is re-issued (new cookie)"), (status = 401, description = "The current password is wrong", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    caller: Caller,
    Json(req): Json<PasswordChangeRequest>,
) -> ApiResult<Response> {
    let (session, cookie) = caller.browser_session(
        "changing your password needs a browser session: sign in with your password first",
    )?;
    let outcome = state
        .core
        .change_password(
            session,
            PasswordChange {
                current: req.current_password.expose_secret(),
                new: req.new_password.expose_secret(),
                sign_out_others: req.sign_out_other_sessions,
                cookie,
                ip,
                user_agent: headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok()),
            },
        )
        .await?;
    Ok(with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        session_cookie_header(outcome.token.expose()),
    ))
}

/// `POST /api/auth/logout`. Requires: a cookie session (and the CSRF rule).
#[utoipa::path(
    post,
    operation_id = "auth_logout",
    path = "/api/auth/logout",
    tag = "auth",
    security(("session" = [])),
    responses((status = 204, description = "Signed out; the cookie is cleared")),
    extensions(("x-permissions" = json!([])))
)]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let Some((_, cookie)) = caller.session() else {
        return Err(ApiError::BadRequest(
            "logout ends cookie sessions; revoke other credentials where they were made".into(),
        ));
    };
    state.core.logout(cookie).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("cloud.sso=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(res)
}

/// `POST /api/auth/logout-everywhere`. Ends every session and revokes every token of
/// the account, and the API keys those tokens made (keys made in the browser are
/// separate credentials and stay). Requires: `sessions:revoke_all`, which a browser
/// session holds and a key or token holds only if it was given it. A cookie caller's
/// own cookie is cleared too.
#[utoipa::path(
    post,
    operation_id = "auth_logout_everywhere",
    path = "/api/auth/logout-everywhere",
    tag = "auth",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 204, description = "Every session and token of the account ended")),
    extensions(("x-permissions" = json!(["sessions:revoke_all"])))
)]
pub async fn logout_everywhere(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    state.core.sign_out_everywhere(&caller.actor).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    if caller.session().is_some() {
        res.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "cloud.sso=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
            ),
        );
    }
    Ok(res)
}

/// `GET /api/auth/session`. Requires: `account:read`.
#[utoipa::path(
    get,
    operation_id = "auth_session",
    path = "/api/auth/session",
    tag = "auth",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Who is calling, and with which credential", body = SessionResponse)),
    extensions(("x-permissions" = json!(["account:read"])))
)]
pub async fn session(caller: Caller) -> ApiResult<Response> {
    caller.require("account:read")?;
    // A token's description never changes while it is cached: render it once. A key's is
    // rendered per request, as a session's is: a cached key carries no rendering, which
    // would be the largest part of its memory.
    let memo = match &caller.credential {
        CallerCredential::Bearer(t) => Some(&t.memo),
        CallerCredential::ApiKey(_) | CallerCredential::Cookie { .. } => None,
    };
    let render = || {
        // Sized for the whole description at once (axum's `Json` starts at 128 bytes
        // and grows it twice on the way).
        let mut body = Vec::with_capacity(SESSION_JSON_CAPACITY);
        serde_json::to_writer(&mut body, &SessionResponse::of(&caller)).map(|()| body)
    };
    let body = match memo {
        Some(memo) => {
            axum::body::Bytes::from_owner(memo.get_or_init(|| render().unwrap_or_default()))
        }
        None => axum::body::Bytes::from(render().map_err(CoreError::internal)?),
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// Room for a session description without growing: about 400 bytes for an API key,
/// a little more for a cookie session.
const SESSION_JSON_CAPACITY: usize = 640;
