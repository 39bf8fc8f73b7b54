//! `/api/ssh-keys`: add, list, show and delete SSH public keys; and
//! `/api/ssh/authorized-keys/{username}`, which clusters' sshd asks (through
//! `gatehouse ssh authorized-keys`) when someone logs in.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_core::ids::SshKeyId;
use gatehouse_core::ssh::SshKeyRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiResult;
use crate::extract::{Caller, Json, PageParams};
use crate::state::AppState;

/// The routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/ssh-keys", get(list).post(add))
        .route("/api/ssh-keys/{id}", get(show).delete(delete))
        .route("/api/ssh/authorized-keys/{username}", get(authorized_keys))
}

/// `POST /api/ssh-keys` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddKeyRequest {
    name: String,
    key: String,
}

/// A key's metadata and its public key line (for the copy button; not a secret).
#[derive(Serialize)]
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
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SshKeyResponse>> {
    let key = state.core.get_ssh_key(&caller.actor, &SshKeyId(id)).await?;
    Ok(Json(SshKeyResponse::from(&key)))
}

/// `DELETE /api/ssh-keys/{id}`. Requires: `ssh_keys:write`.
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
#[derive(Serialize)]
pub struct AuthorizedKey {
    line: String,
    fingerprint: String,
}

/// The authorized_keys answer for one username.
#[derive(Serialize)]
pub struct AuthorizedKeys {
    username: String,
    keys: Vec<AuthorizedKey>,
}

/// `GET /api/ssh/authorized-keys/{username}`. Requires: `ssh_keys:read_all`.
/// Usernames are case-insensitive and the answer names the canonical form; unknown or
/// disabled accounts get an empty list; a name no account could have is 404. One
/// answer per user: the per-account cap keeps it small.
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
