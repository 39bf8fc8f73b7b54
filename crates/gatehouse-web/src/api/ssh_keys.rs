//! `/api/ssh-keys`: add, list, show and delete SSH public keys; and
//! `/api/ssh/authorized-keys/{username}`, which clusters' sshd asks (through
//! `gatehouse ssh authorized-keys`) when someone logs in.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::ids::SshKeyId;
use gatehouse_core::ssh::SshKeyRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiResult;
use crate::extract::{Caller, Json, PageParams};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(show, delete))
        .routes(routes!(authorized_keys))
}

/// `POST /api/ssh-keys` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddKeyRequest {
    name: String,
    key: String,
}

/// A key's metadata and its public key line (for the copy button; not a secret).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SshKeyResponse {
    id: String,
    name: String,
    key_type: String,
    bits: u32,
    fingerprint: String,
    comment: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    public_key: String,
}

impl From<&SshKeyRecord> for SshKeyResponse {
    fn from(k: &SshKeyRecord) -> Self {
        SshKeyResponse {
            id: k.id.to_string(),
            name: k.name.clone(),
            key_type: k.key_type.clone(),
            bits: k.bits,
            fingerprint: k.fingerprint.clone(),
            comment: k.comment.clone(),
            created_at: k.created_at,
            public_key: k.authorized_keys_line(),
        }
    }
}

/// `POST /api/ssh-keys`. Requires: `ssh_keys:write`.
#[utoipa::path(
    post,
    operation_id = "ssh_keys_add",
    path = "/api/ssh-keys",
    tag = "ssh-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    request_body = AddKeyRequest,
    responses((status = 201, description = "The added key", body = SshKeyResponse), (status = 409, description = "The key is already registered", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["ssh_keys:write"])))
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<AddKeyRequest>,
) -> ApiResult<Response> {
    let key = state
        .core
        .add_ssh_key(&caller.actor, &req.name, &req.key)
        .await?;
    Ok((StatusCode::CREATED, Json(SshKeyResponse::from(&key))).into_response())
}

/// `GET /api/ssh-keys?limit=&cursor=`: a page of the caller's keys, oldest first.
/// Requires: `ssh_keys:read`.
#[utoipa::path(
    get,
    operation_id = "ssh_keys_list",
    path = "/api/ssh-keys",
    tag = "ssh-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, description = "A page of your keys, oldest first", body = Vec<SshKeyResponse>, headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"), ("X-Next-Cursor" = String, description = "The next page's cursor, when there is one")))),
    extensions(("x-permissions" = json!(["ssh_keys:read"])))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageParams,
) -> ApiResult<Response> {
    let keys = state
        .core
        .list_ssh_keys(&caller.actor, &page.request)
        .await?;
    Ok(page.respond(keys, |r| SshKeyResponse::from(r)))
}

/// `GET /api/ssh-keys/{id}` (with the public key line, for the copy button).
/// Requires: `ssh_keys:read`; another user's key is 404.
#[utoipa::path(
    get,
    operation_id = "ssh_keys_show",
    path = "/api/ssh-keys/{id}",
    tag = "ssh-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The key", body = SshKeyResponse)),
    extensions(("x-permissions" = json!(["ssh_keys:read"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SshKeyResponse>> {
    let key = state.core.get_ssh_key(&caller.actor, &SshKeyId(id)).await?;
    Ok(Json(SshKeyResponse::from(&key)))
}

/// `DELETE /api/ssh-keys/{id}`. Requires: `ssh_keys:write`.
#[utoipa::path(
    delete,
    operation_id = "ssh_keys_delete",
    path = "/api/ssh-keys/{id}",
    tag = "ssh-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 204, description = "Deleted")),
    extensions(("x-permissions" = json!(["ssh_keys:write"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .core
        .delete_ssh_key(&caller.actor, &SshKeyId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One line of an authorized_keys answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuthorizedKey {
    line: String,
    fingerprint: String,
}

/// The authorized_keys answer for one username.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuthorizedKeys {
    username: String,
    keys: Vec<AuthorizedKey>,
}

/// `GET /api/ssh/authorized-keys/{username}`. Requires: `ssh_keys:read_all`.
/// Usernames are case-insensitive and the answer names the canonical form; unknown or
/// disabled accounts get an empty list; a name no account could have is 404. One
/// answer per user: the per-account cap keeps it small.
#[utoipa::path(
    get,
    operation_id = "ssh_keys_authorized_keys",
    path = "/api/ssh/authorized-keys/{username}",
    tag = "ssh-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("username" = String, Path, description = "The account's username (case-insensitive)")),
    responses((status = 200, description = "The account's keys (empty for an unknown or disabled account)", body = AuthorizedKeys)),
    extensions(("x-permissions" = json!(["ssh_keys:read_all"])))
)]
pub async fn authorized_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> ApiResult<Json<AuthorizedKeys>> {
    let (username, keys) = state.core.authorized_keys(&caller.actor, &username).await?;
    Ok(Json(AuthorizedKeys {
        username: username.as_str().to_owned(),
        keys: keys
            .iter()
            .map(|k| AuthorizedKey {
                line: k.authorized_keys_line(),
                fingerprint: k.fingerprint.clone(),
            })
            .collect(),
    }))
}
