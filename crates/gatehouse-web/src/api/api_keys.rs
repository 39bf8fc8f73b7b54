//! `/api/api-keys`: create, list, show, disable, enable, duplicate, delete, and
//! revoke-by-value for leaked keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::api_key::ApiKeyRecord;
use gatehouse_core::ids::ApiKeyId;
use gatehouse_core::org::{KEY_EXPIRATIONS, KeyExpiration};
use gatehouse_core::service::NewApiKey;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, JsonOrEmpty, PageParams, double_option};
use crate::middleware::client_ip::ClientIp;
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(options))
        .routes(routes!(revoke))
        .routes(routes!(show, delete))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(duplicate))
}

/// Most keys one revocation request may carry.
const MAX_REVOKE: usize = 100;

/// `POST /api/api-keys` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    name: String,
    /// Days until it expires; `null` for never (if the policy allows); absent for the
    /// policy's default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    expires_in_days: Option<Option<u32>>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

/// `POST /api/api-keys/{id}/duplicate` body (optional).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateKeyRequest {
    #[serde(default)]
    name: Option<String>,
    /// Days until it expires; `null` for never (if the policy allows); absent for the
    /// policy's default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    expires_in_days: Option<Option<u32>>,
}

/// `POST /api/api-keys/revoke` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    keys: Vec<String>,
}

/// A key's metadata; never its secret or hash.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyResponse {
    id: String,
    name: String,
    display_prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    created_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
    last_used_ip: Option<String>,
    last_used_user_agent: Option<String>,
    enabled: bool,
    permissions: Vec<String>,
    /// The API key or token that made this key (`null`: made in a browser session).
    parent_id: Option<String>,
    /// When the key was revoked because its parent ended (it cannot be enabled again).
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<OffsetDateTime>,
}

impl From<&ApiKeyRecord> for KeyResponse {
    fn from(k: &ApiKeyRecord) -> Self {
        KeyResponse {
            id: k.id.to_string(),
            name: k.name.clone(),
            display_prefix: k.display_prefix.clone(),
            created_at: k.created_at,
            created_by: k.created_by.clone(),
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            last_used_ip: k.last_used_ip.clone(),
            last_used_user_agent: k.last_used_user_agent.clone(),
            enabled: k.enabled,
            permissions: k.permissions.iter().map(str::to_owned).collect(),
            parent_id: k.parent_id.clone(),
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key: the metadata plus the secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedKeyResponse {
    #[serde(flatten)]
    meta: KeyResponse,
    key: String,
}

/// An expiry a policy offers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ExpirationOption {
    /// Days until it expires; `null` for never.
    expires_in_days: Option<u32>,
    label: String,
}

impl ExpirationOption {
    /// The policy's offered expiries.
    pub fn offered(policy: &gatehouse_core::org::OrgPolicy) -> Vec<Self> {
        policy
            .offered_expirations()
            .iter()
            .map(|e| ExpirationOption {
                expires_in_days: e.days(),
                label: e.label(),
            })
            .collect()
    }
}

/// A permission a new key may carry.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PermissionOption {
    name: String,
    description: String,
    /// Whether the caller holds it, and so may grant it.
    grantable: bool,
}

impl PermissionOption {
    /// The catalogue's permissions, marked with what `caller` may grant.
    pub fn all(catalog: Vec<(String, String)>, caller: &Caller) -> Vec<Self> {
        catalog
            .into_iter()
            .map(|(name, description)| PermissionOption {
                grantable: caller.actor.scopes.contains(&name),
                name,
                description,
            })
            .collect()
    }
}

/// `GET /api/api-keys/options` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyOptionsResponse {
    expirations: Vec<ExpirationOption>,
    /// Every expiry the server knows, in days (`null`: never).
    all_expirations: Vec<Option<u32>>,
    default_expires_in_days: Option<u32>,
    user_may_choose: bool,
    require_disable_before_delete: bool,
    default_permissions: Vec<&'static str>,
    permissions: Vec<PermissionOption>,
}

fn expiration(requested: Option<Option<u32>>) -> ApiResult<Option<KeyExpiration>> {
    requested
        .map(KeyExpiration::from_days)
        .transpose()
        .map_err(ApiError::from)
}

fn created(record: &ApiKeyRecord, secret: &gatehouse_core::api_key::ApiKeySecret) -> Response {
    // SECURITY: the one response that carries the secret; `/api` answers are no-store.
    (
        StatusCode::CREATED,
        Json(CreatedKeyResponse {
            meta: record.into(),
            key: secret.expose().to_owned(),
        }),
    )
        .into_response()
}

/// `POST /api/api-keys`. Requires: `api_keys:write`, and every permission granted.
#[utoipa::path(
    post,
    operation_id = "api_keys_create",
    path = "/api/api-keys",
    tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    request_body = CreateKeyRequest,
    responses((status = 201, description = "The new key, with its secret (shown this once)", body = CreatedKeyResponse), (status = 409, description = "You already have a key with that name", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["api_keys:write"])))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateKeyRequest>,
) -> ApiResult<Response> {
    caller.require("api_keys:write")?;
    let (record, secret) = state
        .core
        .create_api_key(
            &caller.actor,
            NewApiKey {
                name: &req.name,
                expiration: expiration(req.expires_in_days)?,
                permissions: req.permissions.as_deref(),
            },
        )
        .await?;
    Ok(created(&record, &secret))
}

/// `GET /api/api-keys?limit=&cursor=`: a page of the caller's keys, oldest first.
/// Requires: `api_keys:read`.
#[utoipa::path(
    get,
    operation_id = "api_keys_list",
    path = "/api/api-keys",
    tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, description = "A page of your keys, oldest first", body = Vec<KeyResponse>, headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"), ("X-Next-Cursor" = String, description = "The next page's cursor, when there is one")))),
    extensions(("x-permissions" = json!(["api_keys:read"])))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageParams,
) -> ApiResult<Response> {
    let keys = state
        .core
        .list_api_keys(&caller.actor, &page.request)
        .await?;
    Ok(page.respond(keys, |r| KeyResponse::from(r)))
}

/// `GET /api/api-keys/{id}`. Requires: `api_keys:read`; another user's key is 404.
#[utoipa::path(
    get,
    operation_id = "api_keys_show",
    path = "/api/api-keys/{id}",
    tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The key", body = KeyResponse)),
    extensions(("x-permissions" = json!(["api_keys:read"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyResponse>> {
    let key = state.core.get_api_key(&caller.actor, &ApiKeyId(id)).await?;
    Ok(Json((&key).into()))
}

/// `POST /api/api-keys/{id}/disable`. Requires: `api_keys:write`.
#[utoipa::path(
    post,
    operation_id = "api_keys_disable",
    path = "/api/api-keys/{id}/disable",
    tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The key, now disabled", body = KeyResponse)),
    extensions(("x-permissions" = json!(["api_keys:write"])))
)]
pub async fn disable(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<Json<KeyResponse>> {
    set_enabled(state, caller, id, false).await
}

/// `POST /api/api-keys/{id}/enable`. Requires: `api_keys:write`.
#[utoipa::path(
    post,
    operation_id = "api_keys_enable",
    path = "/api/api-keys/{id}/enable",
    tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The key, now enabled", body = KeyResponse), (status = 409, description = "The key was revoked and cannot be enabled again", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["api_keys:write"])))
)]
pub async fn enable(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<Json<KeyResponse>> {
    set_enabled(state, caller, id, true).await
}

async fn set_enabled(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    enabled: bool,
) -> ApiResult<Json<KeyResponse>> {
    caller.require("api_keys:write")?;
    let key = state
        .core
        .set_api_key_enabled(&caller.actor, &ApiKeyId(id), enabled)
        .await?;
    Ok(Json((&key).into()))
}

/// `POST /api/api-keys/{id}/duplicate`. Requires: `api_keys:write`.
#[utoipa::path(
    post,
    operation_id = "api_keys_duplicate",
    path = "/api/api-keys/{id}/duplicate",
    tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    request_body = Option<DuplicateKeyRequest>,
    responses((status = 201, description = "The copy, with its secret (shown this once)", body = CreatedKeyResponse), (status = 409, description = "You already have a key with that name", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["api_keys:write"])))
)]
pub async fn duplicate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonOrEmpty(req): JsonOrEmpty<DuplicateKeyRequest>,
) -> ApiResult<Response> {
    caller.require("api_keys:write")?;
    let (record, secret) = state
        .core
        .duplicate_api_key(
            &caller.actor,
            &ApiKeyId(id),
            req.name.as_deref(),
            expiration(req.expires_in_days)?,
        )
        .await?;
    Ok(created(&record, &secret))
}

/// `DELETE /api/api-keys/{id}`. Requires: `api_keys:write`.
#[utoipa::path(
    delete,
    operation_id = "api_keys_delete",
    path = "/api/api-keys/{id}",
    tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "The organisation requires disabling a key before deleting it", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["api_keys:write"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require("api_keys:write")?;
    state
        .core
        .delete_api_key(&caller.actor, &ApiKeyId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/api-keys/revoke`. Public, rate-limited per address. Revokes leaked keys
/// by value and never says whether any existed.
#[utoipa::path(
    post,
    operation_id = "api_keys_revoke",
    path = "/api/api-keys/revoke",
    tag = "api-keys",
    security(()),
    request_body = RevokeRequest,
    responses((status = 202, description = "Accepted (whether or not any key existed)", body = crate::api::openapi::StatusBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<RevokeRequest>,
) -> ApiResult<Response> {
    if req.keys.len() > MAX_REVOKE {
        return Err(gatehouse_core::Error::invalid(
            "keys",
            format!("at most {MAX_REVOKE} keys per request"),
        )
        .into());
    }
    state.core.revoke_leaked_keys(&req.keys, ip).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"status": "accepted"}))).into_response())
}

/// `GET /api/api-keys/options`: what the caller's policy lets them choose.
/// Requires: `api_keys:read`.
#[utoipa::path(
    get,
    operation_id = "api_keys_options",
    path = "/api/api-keys/options",
    tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "What your policy lets you choose", body = KeyOptionsResponse)),
    extensions(("x-permissions" = json!(["api_keys:read", "api_keys:write"])))
)]
pub async fn options(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<KeyOptionsResponse>> {
    caller
        .require("api_keys:read")
        .or_else(|_| caller.require("api_keys:write"))?;
    let policy = state.core.policy_for(&caller.actor).await?;
    Ok(Json(KeyOptionsResponse {
        expirations: ExpirationOption::offered(&policy),
        all_expirations: KEY_EXPIRATIONS.iter().map(|e| e.days()).collect(),
        default_expires_in_days: policy.api_key_default_expiration.days(),
        user_may_choose: policy.api_key_user_choice,
        require_disable_before_delete: policy.require_disable_before_delete,
        default_permissions: gatehouse_core::scope::DEFAULT_KEY_SCOPES.to_vec(),
        permissions: PermissionOption::all(state.core.scope_catalog(), &caller),
    }))
}
