//! `GET /api/admin/org`: the caller's organisation, its edition and what the caller may
//! do there.

use axum::extract::State;

use crate::error::ApiResult;
use crate::extract::{Caller, Json};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show))
}

/// `GET /api/admin/org`. Requires: `org:members:read` or `org:keys:read`.
#[utoipa::path(
    get,
    operation_id = "admin_org_show",
    path = "/api/admin/org",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Your organisation", body = OrgResponse)),
    extensions(("x-permissions" = json!(["org:members:read", "org:keys:read"])))
)]
pub async fn show(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<OrgResponse>> {
    caller
        .require("org:members:read")
        .or_else(|_| caller.require("org:keys:read"))?;
    let org = state.core.actor_org(&caller.actor).await?;
    Ok(Json(OrgResponse {
        id: org.id.to_string(),
        name: org.name.clone(),
        edition: org.edition,
        public_api_keys: org.edition.has_public_api_keys(),
        created_at: org
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .ok(),
        you: You {
            username: caller.actor.user.username.clone(),
            role: caller.actor.user.role,
            kind: caller.actor.user.kind,
        },
    }))
}

/// `GET /api/admin/org` answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OrgResponse {
    id: String,
    name: String,
    /// The organisation's edition.
    #[schema(value_type = String)]
    edition: gatehouse_core::org::Edition,
    /// Whether the edition has Public API Keys.
    public_api_keys: bool,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    /// The caller.
    you: You,
}

/// The caller, as the admin panel shows it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct You {
    username: String,
    #[schema(value_type = String)]
    role: gatehouse_core::org::Role,
    /// `person`, or `org` for the organisation's own principal.
    #[schema(value_type = String)]
    kind: gatehouse_core::account::AccountKind,
}
