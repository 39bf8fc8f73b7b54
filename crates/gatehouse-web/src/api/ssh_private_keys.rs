//! `/api/ssh-private-keys`: upload, list, show and delete the SSH private keys the
//! platform signs with on their owner's behalf. Write-only: no answer carries the key,
//! only its public half and fingerprint.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_core::ids::SshPrivateKeyId;
use gatehouse_core::secrecy::SecretString;
use gatehouse_core::service::NewSshPrivateKey;
use gatehouse_core::ssh::SshPrivateKeyRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiResult;
use crate::extract::{Caller, Json, PageParams};
use crate::state::AppState;

/// The routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/ssh-private-keys", get(list).post(add))
        .route("/api/ssh-private-keys/{id}", get(show).delete(delete))
}

/// `POST /api/ssh-private-keys` body. SECURITY: the key and passphrase are
/// `SecretString`s: zeroised when dropped, and `Debug` prints neither.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddPrivateKeyRequest {
    name: String,
    #[serde(default)]
    description: Option<String>,
    private_key: SecretString,
    #[serde(default)]
    passphrase: Option<SecretString>,
}

/// A stored key's metadata and public half (never the private key).
#[derive(Serialize)]
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
