//! `/api/admin/scim`: the SCIM section of the admin panel over JSON — the base URL to
//! paste into the identity provider, the SCIM Key's last use, the recent SCIM
//! operations with their results, and the group-to-role mappings.

use axum::extract::State;
use axum::http::HeaderMap;
use gatehouse_core::org::Role;
use gatehouse_core::scim::detail;
use gatehouse_core::scope;
use gatehouse_core::service::ScimOverview;
use gatehouse_core::store::RoleMapping;
use serde::{Deserialize, Serialize};

use super::audit::AuditRecord;
use super::keys::OrgKeyResponse;
use crate::error::ApiResult;
use crate::extract::{Caller, Json};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show))
        .routes(routes!(set_role_mappings))
}

/// A group name and the role its members get.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleMappingBody {
    group: String,
    /// `owner`, `admin` or `member`.
    role: String,
}

/// One recent SCIM operation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScimOperation {
    #[serde(flatten)]
    record: AuditRecord,
    /// The user or group id the operation named, if any.
    target: Option<String>,
    /// `ok` or `refused`.
    result: &'static str,
}

/// `GET /api/admin/scim` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScimResponse {
    /// Paste into the identity provider as the SCIM base URL (tenant URL).
    base_url: String,
    /// The SCIM Key (never its secret), or `null` before one is generated.
    key: Option<OrgKeyResponse>,
    role_mappings: Vec<RoleMappingBody>,
    /// The display names of the organisation's SCIM groups (up to 200), oldest first.
    groups: Vec<String>,
    /// Newest first.
    recent: Vec<ScimOperation>,
}

fn respond(state: &AppState, headers: &HeaderMap, o: &ScimOverview) -> ScimResponse {
    ScimResponse {
        base_url: crate::scim::base_url(state, headers),
        groups: o.groups.clone(),
        key: o.key.as_ref().map(OrgKeyResponse::from),
        role_mappings: o
            .role_mappings
            .iter()
            .map(|m| RoleMappingBody {
                group: m.group.clone(),
                role: m.role.as_str().to_owned(),
            })
            .collect(),
        recent: o
            .recent
            .iter()
            .map(|e| {
                let fields = detail::fields(e.detail.as_deref().unwrap_or_default());
                ScimOperation {
                    result: if detail::value(&fields, "result") == Some("refused") {
                        "refused"
                    } else {
                        "ok"
                    },
                    target: detail::value(&fields, "target").map(str::to_owned),
                    record: AuditRecord::from(e),
                }
            })
            .collect(),
    }
}

/// `GET /api/admin/scim`. Requires: `org:keys:read`.
#[utoipa::path(
    get,
    operation_id = "admin_scim_show",
    path = "/api/admin/scim",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The SCIM settings and recent operations", body = ScimResponse)),
    extensions(("x-permissions" = json!(["org:keys:read", "org:keys:write"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Json<ScimResponse>> {
    caller.require_any(&[scope::ORG_KEYS_READ, scope::ORG_KEYS_WRITE])?;
    let overview = state.core.scim_overview(&caller.actor).await?;
    Ok(Json(respond(&state, &headers, &overview)))
}

/// `PUT /api/admin/scim/role-mappings` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleMappingsRequest {
    role_mappings: Vec<RoleMappingBody>,
}

/// `PUT /api/admin/scim/role-mappings`: replaces the mappings and applies them to every
/// member SCIM manages at once. Requires: `org:members:write` (an owner for the owner
/// role).
#[utoipa::path(
    put,
    operation_id = "admin_scim_set_role_mappings",
    path = "/api/admin/scim/role-mappings",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    request_body = RoleMappingsRequest,
    responses((status = 200, description = "The SCIM settings with the new mappings", body = ScimResponse)),
    extensions(("x-permissions" = json!(["org:members:write"])))
)]
pub async fn set_role_mappings(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<RoleMappingsRequest>,
) -> ApiResult<Json<ScimResponse>> {
    caller.require(scope::ORG_MEMBERS_WRITE)?;
    let mappings = body
        .role_mappings
        .into_iter()
        .map(|m| {
            Ok(RoleMapping {
                group: m.group,
                role: Role::parse(&m.role)?,
            })
        })
        .collect::<gatehouse_core::Result<_>>()?;
    state
        .core
        .set_scim_role_mappings(&caller.actor, mappings)
        .await?;
    let overview = state.core.scim_overview(&caller.actor).await?;
    Ok(Json(respond(&state, &headers, &overview)))
}
