//! `/api/admin/keys`: the organisation's Keys page — every key of the organisation with
//! its type (members' API keys, Public API Keys, the Team Computer Key, the SCIM Key),
//! Create Key, Duplicate Key, Disable/Enable Key and Delete Key — plus the Team Computer
//! Key and the SCIM key.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::api_key::{ApiKeyKind, ApiKeySecret};
use gatehouse_core::ids::ApiKeyId;
use gatehouse_core::org::KeyExpiration;
use gatehouse_core::service::{ENTERPRISE_ONLY, NewOrgKey};
use gatehouse_core::store::{OrgKeyFilter, OrgKeyRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api::api_keys::{ExpirationOption, PermissionOption};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, JsonOrEmpty, PageParams, double_option};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(options))
        .routes(routes!(show, delete))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(duplicate))
        .routes(routes!(create_team_computer_key))
        .routes(routes!(regenerate_scim_key))
}

/// A key as the Keys page lists it; never its secret or hash.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgKeyResponse {
    id: String,
    /// `personal`, `public`, `team_computer` or `scim`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    kind: ApiKeyKind,
    /// "API Key", "Public API Key", "Team Computer Key" or "SCIM Key".
    type_label: &'static str,
    name: String,
    display_prefix: String,
    /// Who holds it: the member for a personal key, `null` for the organisation's own.
    owner: Option<String>,
    owner_display_name: Option<String>,
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
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<OffsetDateTime>,
}

impl From<&OrgKeyRecord> for OrgKeyResponse {
    fn from(r: &OrgKeyRecord) -> Self {
        let k = &r.key;
        let personal = k.kind == ApiKeyKind::Personal;
        OrgKeyResponse {
            id: k.id.to_string(),
            kind: k.kind,
            type_label: k.kind.label(),
            name: k.name.clone(),
            display_prefix: k.display_prefix.clone(),
            owner: personal.then(|| r.owner_username.clone()),
            owner_display_name: personal.then(|| r.owner_display_name.clone()),
            created_at: k.created_at,
            created_by: k.created_by.clone(),
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            last_used_ip: k.last_used_ip.clone(),
            last_used_user_agent: k.last_used_user_agent.clone(),
            enabled: k.enabled,
            permissions: k.permissions.iter().map(str::to_owned).collect(),
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key: the metadata plus the secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
struct CreatedResponse {
    #[serde(flatten)]
    meta: OrgKeyResponse,
    key: String,
}

fn created(record: &OrgKeyRecord, secret: &ApiKeySecret) -> Response {
    // SECURITY: the one response that carries the secret; `/api` answers are no-store.
    (
        StatusCode::CREATED,
        Json(CreatedResponse {
            meta: record.into(),
            key: secret.expose().to_owned(),
        }),
    )
        .into_response()
}

/// `?type=&owner=&status=` filters.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KeyQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    owner: Option<String>,
    status: Option<String>,
}

/// `POST /api/admin/keys` body: a Public API Key.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Only `public`: the Team Computer Key and the SCIM key have their own routes.
    #[serde(rename = "type", default)]
    kind: Option<String>,
    name: String,
    permissions: Vec<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    expires_in_days: Option<Option<u32>>,
}

/// `POST /api/admin/keys/{id}/duplicate` body (optional): the adjusted draft.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    expires_in_days: Option<Option<u32>>,
}

fn expiration(requested: Option<Option<u32>>) -> ApiResult<Option<KeyExpiration>> {
    requested
        .map(KeyExpiration::from_days)
        .transpose()
        .map_err(ApiError::from)
}

/// `GET /api/admin/keys?type=&owner=&status=enabled|disabled&limit=&cursor=`: every key
/// of the organisation, oldest first. `owner` is a member's username. Requires:
/// `org:keys:read`.
#[utoipa::path(
    get,
    operation_id = "admin_keys_list",
    path = "/api/admin/keys",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(crate::extract::PageQuery, KeyQuery),
    responses((status = 200, description = "A page of the organisation's keys, oldest first", body = Vec<OrgKeyResponse>, headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"), ("X-Next-Cursor" = String, description = "The next page's cursor, when there is one")))),
    extensions(("x-permissions" = json!(["org:keys:read"])))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageParams,
) -> ApiResult<Response> {
    let q: KeyQuery = page.filters("type, owner, status")?;
    let owner = match q.owner.as_deref().filter(|o| !o.is_empty()) {
        None => None,
        Some(name) => Some(state.core.member_named(&caller.actor, name).await?.id),
    };
    let filter = OrgKeyFilter {
        kind: q
            .kind
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(ApiKeyKind::parse)
            .transpose()?,
        owner,
        enabled: match q.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some("enabled") => Some(true),
            Some("disabled") => Some(false),
            Some(_) => {
                return Err(gatehouse_core::Error::invalid(
                    "status",
                    "must be enabled or disabled",
                )
                .into());
            }
        },
    };
    let keys = state
        .core
        .list_org_keys(&caller.actor, &filter, &page.request)
        .await?;
    Ok(page.respond(keys, |k| OrgKeyResponse::from(k)))
}

/// `GET /api/admin/keys/options`: the edition and what a Public API Key may carry.
/// Requires: `org:keys:read`.
#[utoipa::path(
    get,
    operation_id = "admin_keys_options",
    path = "/api/admin/keys/options",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "What the policy lets an admin choose", body = OrgKeyOptionsResponse)),
    extensions(("x-permissions" = json!(["org:keys:read", "org:keys:write"])))
)]
pub async fn options(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<OrgKeyOptionsResponse>> {
    caller
        .require("org:keys:read")
        .or_else(|_| caller.require("org:keys:write"))?;
    let org = state.core.actor_org(&caller.actor).await?;
    let policy = state.core.policy_for(&caller.actor).await?;
    Ok(Json(OrgKeyOptionsResponse {
        edition: org.edition,
        public_api_keys: org.edition.has_public_api_keys(),
        edition_note: (!org.edition.has_public_api_keys()).then_some(ENTERPRISE_ONLY),
        permissions: PermissionOption::all(state.core.org_key_permissions(), &caller),
        expirations: ExpirationOption::offered(&policy),
        default_expires_in_days: policy.api_key_default_expiration.days(),
        user_may_choose: policy.api_key_user_choice,
    }))
}

/// `GET /api/admin/keys/options` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgKeyOptionsResponse {
    /// The organisation's edition.
    #[schema(value_type = String)]
    edition: gatehouse_core::org::Edition,
    /// Whether the edition has Public API Keys.
    public_api_keys: bool,
    /// Why not, when it has none.
    edition_note: Option<&'static str>,
    permissions: Vec<PermissionOption>,
    expirations: Vec<ExpirationOption>,
    default_expires_in_days: Option<u32>,
    user_may_choose: bool,
}

/// `POST /api/admin/keys`: a new Public API Key, its secret shown once. Requires:
/// `org:keys:write`, every permission it grants, and the Enterprise edition.
#[utoipa::path(
    post,
    operation_id = "admin_keys_create",
    path = "/api/admin/keys",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    request_body = CreateRequest,
    responses((status = 201, description = "The new Public API Key, with its secret (shown this once)", body = CreatedResponse), (status = 409, description = "The organisation has a key with that name", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:keys:write"])))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateRequest>,
) -> ApiResult<Response> {
    caller.require("org:keys:write")?;
    match req.kind.as_deref() {
        None | Some("public") => {}
        Some("team_computer") => {
            return Err(gatehouse_core::Error::invalid(
                "type",
                "the Team Computer Key is made with POST /api/admin/team-computer-key",
            )
            .into());
        }
        Some("scim") => {
            return Err(gatehouse_core::Error::invalid(
                "type",
                "the SCIM key is made with POST /api/admin/scim-key",
            )
            .into());
        }
        Some(_) => {
            return Err(gatehouse_core::Error::invalid(
                "type",
                "must be public (members make their own API keys)",
            )
            .into());
        }
    }
    let (record, secret) = state
        .core
        .create_public_api_key(
            &caller.actor,
            NewOrgKey {
                name: &req.name,
                permissions: &req.permissions,
                expiration: expiration(req.expires_in_days)?,
            },
        )
        .await?;
    Ok(created(&record, &secret))
}

/// `GET /api/admin/keys/{id}`. Requires: `org:keys:read`.
#[utoipa::path(
    get,
    operation_id = "admin_keys_show",
    path = "/api/admin/keys/{id}",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The key", body = OrgKeyResponse)),
    extensions(("x-permissions" = json!(["org:keys:read"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OrgKeyResponse>> {
    let key = state.core.get_org_key(&caller.actor, &ApiKeyId(id)).await?;
    Ok(Json((&key).into()))
}

/// `POST /api/admin/keys/{id}/duplicate`: a new Public API Key with the original's (or
/// the adjusted) permissions; the original is unchanged. Requires: `org:keys:write`.
#[utoipa::path(
    post,
    operation_id = "admin_keys_duplicate",
    path = "/api/admin/keys/{id}/duplicate",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    request_body = Option<DuplicateRequest>,
    responses((status = 201, description = "The copy, with its secret (shown this once)", body = CreatedResponse), (status = 409, description = "The organisation has a key with that name", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:keys:write"])))
)]
pub async fn duplicate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonOrEmpty(req): JsonOrEmpty<DuplicateRequest>,
) -> ApiResult<Response> {
    caller.require("org:keys:write")?;
    let (record, secret) = state
        .core
        .duplicate_public_api_key(
            &caller.actor,
            &ApiKeyId(id),
            req.name.as_deref(),
            req.permissions.as_deref(),
            expiration(req.expires_in_days)?,
        )
        .await?;
    Ok(created(&record, &secret))
}

/// `POST /api/admin/keys/{id}/disable`. Requires: `org:keys:write`.
#[utoipa::path(
    post,
    operation_id = "admin_keys_disable",
    path = "/api/admin/keys/{id}/disable",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The key, disabled", body = OrgKeyResponse)),
    extensions(("x-permissions" = json!(["org:keys:write"])))
)]
pub async fn disable(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<Json<OrgKeyResponse>> {
    set_enabled(state, caller, id, false).await
}

/// `POST /api/admin/keys/{id}/enable`. Requires: `org:keys:write`.
#[utoipa::path(
    post,
    operation_id = "admin_keys_enable",
    path = "/api/admin/keys/{id}/enable",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 200, description = "The key, enabled", body = OrgKeyResponse), (status = 409, description = "The key was revoked and cannot be enabled again", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:keys:write"])))
)]
pub async fn enable(
    state: State<AppState>,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<Json<OrgKeyResponse>> {
    set_enabled(state, caller, id, true).await
}

async fn set_enabled(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    enabled: bool,
) -> ApiResult<Json<OrgKeyResponse>> {
    caller.require("org:keys:write")?;
    let key = state
        .core
        .set_org_key_enabled(&caller.actor, &ApiKeyId(id), enabled)
        .await?;
    Ok(Json((&key).into()))
}

/// `DELETE /api/admin/keys/{id}`: irreversible. The organisation's own keys must be
/// disabled first (409 otherwise). Requires: `org:keys:write`.
#[utoipa::path(
    delete,
    operation_id = "admin_keys_delete",
    path = "/api/admin/keys/{id}",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The object's id")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "The policy requires disabling a key before deleting it", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:keys:write"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require("org:keys:write")?;
    state
        .core
        .delete_org_key(&caller.actor, &ApiKeyId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/team-computer-key`: the organisation's Team Computer Key, shown
/// once; 409 while one exists (delete it first). Requires: `org:keys:write`.
#[utoipa::path(
    post,
    operation_id = "admin_keys_create_team_computer_key",
    path = "/api/admin/team-computer-key",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 201, description = "The Team Computer Key, with its secret (shown this once)", body = CreatedResponse), (status = 409, description = "One exists already", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:keys:write"])))
)]
pub async fn create_team_computer_key(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    caller.require("org:keys:write")?;
    let (record, secret) = state.core.create_team_computer_key(&caller.actor).await?;
    Ok(created(&record, &secret))
}

/// `POST /api/admin/scim-key`: a new SCIM key, shown once; the previous one stops
/// working at once. Requires: `org:keys:write`.
#[utoipa::path(
    post,
    operation_id = "admin_keys_regenerate_scim_key",
    path = "/api/admin/scim-key",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 201, description = "The new SCIM key, with its secret (shown this once)", body = CreatedResponse), (status = 409, description = "A concurrent change of the SCIM key won", body = crate::api::openapi::ErrorBody)),
    extensions(("x-permissions" = json!(["org:keys:write"])))
)]
pub async fn regenerate_scim_key(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    caller.require("org:keys:write")?;
    let (record, secret) = state.core.regenerate_scim_key(&caller.actor).await?;
    Ok(created(&record, &secret))
}
