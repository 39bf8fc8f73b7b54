//! `/api/ssh-private-keys`: upload, list, show and delete the SSH private keys the
//! platform signs with on their owner's behalf; sign an SSH authentication request with
//! one (`/sign`, what `gatehouse ssh agent` forwards); test a connection with one
//! (`/test`), and forget a pinned host key. Write-only: no answer carries the key, only
//! its public half and fingerprint.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use gatehouse_core::ids::SshPrivateKeyId;
use gatehouse_core::secrecy::SecretString;
use gatehouse_core::service::{
    NewSshPrivateKey, SessionBind, SignRequest, TestReport, TestResult, TestTarget,
};
use gatehouse_core::ssh::SshPrivateKeyRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::context::current_request_id;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, PageParams};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(show, delete))
        .routes(routes!(sign))
        .routes(routes!(test))
        .routes(routes!(forget_host))
}

/// `POST /api/ssh-private-keys` body. SECURITY: the key and passphrase are
/// `SecretString`s: zeroised when dropped, and `Debug` prints neither.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPrivateKeyRequest {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[schema(value_type = String, format = Password)]
    private_key: SecretString,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    passphrase: Option<SecretString>,
}

/// A stored key's metadata and public half (never the private key).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SshPrivateKeyResponse {
    id: String,
    name: String,
    description: Option<String>,
    key_type: String,
    fingerprint: String,
    public_key: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
}

impl From<&SshPrivateKeyRecord> for SshPrivateKeyResponse {
    fn from(k: &SshPrivateKeyRecord) -> Self {
        SshPrivateKeyResponse {
            id: k.id.to_string(),
            name: k.name.clone(),
            description: k.description.clone(),
            key_type: k.key_type.clone(),
            fingerprint: k.fingerprint.clone(),
            public_key: k.public_key.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        }
    }
}

/// `POST /api/ssh-private-keys`. Requires: `ssh_private_keys:write`. An encrypted key
/// without a passphrase is 422 with `field: "passphrase"`, so a client can ask for one.
#[utoipa::path(
    post,
    operation_id = "ssh_private_keys_add",
    path = "/api/ssh-private-keys",
    tag = "ssh-private-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    request_body = AddPrivateKeyRequest,
    responses((status = 201, description = "The stored key's metadata", body = SshPrivateKeyResponse), (status = 409, description = "A key with that fingerprint or name is already stored", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["ssh_private_keys:write"])))
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<AddPrivateKeyRequest>,
) -> ApiResult<Response> {
    let key = state
        .core
        .add_ssh_private_key(
            &caller.actor,
            NewSshPrivateKey {
                name: &req.name,
                description: req.description.as_deref(),
                private_key: &req.private_key,
                passphrase: req.passphrase.as_ref(),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(SshPrivateKeyResponse::from(&key))).into_response())
}

/// `GET /api/ssh-private-keys?limit=&cursor=`: a page of the caller's keys, oldest
/// first. Requires: `ssh_private_keys:read`.
#[utoipa::path(
    get,
    operation_id = "ssh_private_keys_list",
    path = "/api/ssh-private-keys",
    tag = "ssh-private-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, description = "A page of your keys, oldest first", body = Vec<SshPrivateKeyResponse>, headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"), ("X-Next-Cursor" = String, description = "The next page's cursor, when there is one")))),
    extensions(("x-permissions" = json!(["ssh_private_keys:read"])))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageParams,
) -> ApiResult<Response> {
    let keys = state
        .core
        .list_ssh_private_keys(&caller.actor, &page.request)
        .await?;
    Ok(page.respond(keys, |r| SshPrivateKeyResponse::from(r)))
}

/// `GET /api/ssh-private-keys/{id}`. Requires: `ssh_private_keys:read`; another
/// account's key is 404.
#[utoipa::path(
    get,
    operation_id = "ssh_private_keys_show",
    path = "/api/ssh-private-keys/{id}",
    tag = "ssh-private-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The key's metadata", body = SshPrivateKeyResponse)),
    extensions(("x-permissions" = json!(["ssh_private_keys:read"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SshPrivateKeyResponse>> {
    let key = state
        .core
        .get_ssh_private_key(&caller.actor, &SshPrivateKeyId(id))
        .await?;
    Ok(Json(SshPrivateKeyResponse::from(&key)))
}

/// `DELETE /api/ssh-private-keys/{id}`. Requires: `ssh_private_keys:write`; another
/// account's key is 404.
#[utoipa::path(
    delete,
    operation_id = "ssh_private_keys_delete",
    path = "/api/ssh-private-keys/{id}",
    tag = "ssh-private-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 204, description = "Deleted")),
    extensions(("x-permissions" = json!(["ssh_private_keys:write"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .delete_ssh_private_key(&caller.actor, &SshPrivateKeyId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/ssh-private-keys/{id}/sign` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignBody {
    /// Base64 of the SSH user-authentication request to sign.
    data: String,
    /// ssh-agent sign flags: 2 `rsa-sha2-256`, 4 `rsa-sha2-512` (required for RSA).
    #[serde(default)]
    flags: u32,
    /// The account whose key signs (with `ssh_private_keys:use_all`); default: yours.
    #[serde(default)]
    account: Option<String>,
    /// OpenSSH's `session-bind@openssh.com` proof, base64 fields.
    #[serde(default)]
    session_bind: Option<SessionBindBody>,
}

/// A `session-bind@openssh.com` proof, each field base64.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBindBody {
    host_key: String,
    session_id: String,
    signature: String,
}

/// The answer to a sign request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SignResponse {
    /// Base64 of the signature in the SSH wire form (what `SSH_AGENT_SIGN_RESPONSE`
    /// carries).
    signature: String,
    algorithm: String,
    key: SshPrivateKeyResponse,
}

fn base64_field(field: &'static str, value: &str) -> Result<Vec<u8>, gatehouse_core::Error> {
    B64.decode(value.trim())
        .map_err(|_| gatehouse_core::Error::invalid(field, "must be standard base64"))
}

/// `POST /api/ssh-private-keys/{id}/sign`. Requires: `ssh_private_keys:use` (your own
/// keys) or `ssh_private_keys:use_all` with `account` (administrators). Signs only an
/// SSH authentication request naming this key (422 otherwise).
#[utoipa::path(
    post,
    operation_id = "ssh_private_keys_sign",
    path = "/api/ssh-private-keys/{id}/sign",
    tag = "ssh-private-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    request_body = SignBody,
    responses((status = 200, description = "The signature", body = SignResponse)),
    extensions(("x-permissions" = json!(["ssh_private_keys:use", "ssh_private_keys:use_all"])))
)]
pub async fn sign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<SignBody>,
) -> ApiResult<Json<SignResponse>> {
    let data = base64_field("data", &req.data)?;
    let bind = match &req.session_bind {
        None => None,
        Some(b) => Some((
            base64_field("session_bind.host_key", &b.host_key)?,
            base64_field("session_bind.session_id", &b.session_id)?,
            base64_field("session_bind.signature", &b.signature)?,
        )),
    };
    let signed = state
        .core
        .sign_with_ssh_private_key(
            &caller.actor,
            SignRequest {
                account: req.account.as_deref(),
                id: &SshPrivateKeyId(id),
                data: &data,
                flags: req.flags,
                session_bind: bind.as_ref().map(|(h, s, g)| SessionBind {
                    host_key: h,
                    session_id: s,
                    signature: g,
                }),
            },
        )
        .await?;
    Ok(Json(SignResponse {
        signature: B64.encode(&signed.signature),
        algorithm: signed.algorithm,
        key: SshPrivateKeyResponse::from(&signed.key),
    }))
}

/// `POST /api/ssh-private-keys/{id}/test` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    username: String,
    /// The fingerprint (`SHA256:…`) you confirm for a host tested for the first time.
    #[serde(default)]
    trust_host_key: Option<String>,
}

fn default_port() -> u16 {
    22
}

/// A finished test.
#[derive(Serialize, utoipa::ToSchema)]
struct TestResponse<'a> {
    result: &'a str,
    message: String,
    host: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_key_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_key_fingerprint: Option<&'a str>,
    pinned: bool,
}

/// A test that needs the user: an unknown or changed host key (409).
#[derive(Serialize, utoipa::ToSchema)]
struct HostKeyProblem<'a> {
    error: &'a str,
    message: String,
    request_id: String,
    host: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_type: Option<&'a str>,
    /// What the host presents.
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presented: Option<&'a str>,
}

/// `POST /api/ssh-private-keys/{id}/test`: Gatehouse connects to `host:port` and
/// authenticates as `username` with the key (no command runs). Requires:
/// `ssh_private_keys:use`. 200 with `result` `success`, `authentication_refused`,
/// `unreachable` or `timeout`; 409 `host_key_unknown` (confirm `fingerprint` by sending
/// it as `trust_host_key`) or `host_key_mismatch` (the pinned key changed).
#[utoipa::path(
    post,
    operation_id = "ssh_private_keys_test",
    path = "/api/ssh-private-keys/{id}/test",
    tag = "ssh-private-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    request_body = TestBody,
    responses((status = 200, description = "The test ran to an end (see `result`)", body = TestResponse), (status = 409, description = "The host key is unknown (`host_key_unknown`) or changed (`host_key_mismatch`)", body = HostKeyProblem)),
    extensions(("x-permissions" = json!(["ssh_private_keys:use"])))
)]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<TestBody>,
) -> ApiResult<Response> {
    let report = state
        .core
        .test_ssh_private_key(
            &caller.actor,
            &SshPrivateKeyId(id),
            TestTarget {
                host: &req.host,
                port: req.port,
                username: &req.username,
                trust_host_key: req.trust_host_key.as_deref(),
            },
        )
        .await?;
    Ok(test_response(&report, &req.username))
}

fn test_response(r: &TestReport, user: &str) -> Response {
    let (key_type, fp) = match &r.host_key {
        Some((t, f)) => (Some(t.as_str()), Some(f.as_str())),
        None => (None, None),
    };
    let at = format!("{}:{}", r.host, r.port);
    let conflict = |error, message, expected| {
        (
            StatusCode::CONFLICT,
            Json(HostKeyProblem {
                error,
                message,
                request_id: current_request_id(),
                host: &r.host,
                port: r.port,
                key_type,
                fingerprint: fp,
                expected,
                presented: fp,
            }),
        )
            .into_response()
    };
    let message = match &r.result {
        TestResult::HostKeyUnknown => {
            return conflict(
                "host_key_unknown",
                format!(
                    "the authenticity of {at} can't be established: its host key is {} {}; if \
                     that is the host's key, test again with trust_host_key set to this \
                     fingerprint to pin it",
                    key_type.unwrap_or("?"),
                    fp.unwrap_or("?")
                ),
                None,
            );
        }
        TestResult::HostKeyMismatch { expected } => {
            return conflict(
                "host_key_mismatch",
                format!(
                    "WARNING: the host key of {at} has changed: {} was pinned, {} is presented \
                     now. Someone may be intercepting the connection, or the host was \
                     reinstalled; the key was not used. If the change is expected, remove the \
                     pin and test again",
                    expected,
                    fp.unwrap_or("?")
                ),
                Some(expected.as_str()),
            );
        }
        TestResult::Success => format!("{user}@{at} accepted the key"),
        TestResult::AuthenticationRefused => format!(
            "{at} refused the key for {user}: add the key's public half to \
             ~{user}/.ssh/authorized_keys on that host"
        ),
        TestResult::Unreachable(why) => format!("{at} could not be reached: {why}"),
        TestResult::Timeout => format!("{at} did not answer in time"),
    };
    Json(TestResponse {
        result: r.result.as_str(),
        message,
        host: &r.host,
        port: r.port,
        host_key_type: key_type,
        host_key_fingerprint: fp,
        pinned: r.pinned,
    })
    .into_response()
}

/// `DELETE /api/ssh-private-keys/known-hosts?host=&port=` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KnownHostQuery {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
}

/// `DELETE /api/ssh-private-keys/known-hosts?host=&port=`: removes your pinned host key
/// for that host, after a legitimate host key change. Requires:
/// `ssh_private_keys:write`; 404 when nothing is pinned.
#[utoipa::path(
    delete,
    operation_id = "ssh_private_keys_forget_host",
    path = "/api/ssh-private-keys/known-hosts",
    tag = "ssh-private-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(KnownHostQuery),
    responses((status = 204, description = "Forgotten"), (status = 404, description = "No host key is pinned for that host and port", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["ssh_private_keys:write"])))
)]
pub async fn forget_host(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<KnownHostQuery>,
) -> ApiResult<StatusCode> {
    state
        .core
        .forget_ssh_host_key(&caller.actor, &q.host, q.port)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
