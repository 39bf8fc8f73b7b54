//! `GET /api/admin/org`: the caller's organisation, its edition and what the caller may
//! do there.

use axum::extract::State;
use serde_json::json;

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
    responses((status = 200, description = "Your organisation", body = Object)),
    extensions(("x-permissions" = json!(["org:members:read", "org:keys:read"])))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller
        .require("org:members:read")
        .or_else(|_| caller.require("org:keys:read"))?;
    let org = state.core.actor_org(&caller.actor).await?;
    Ok(Json(json!({
        "id": org.id,
        "name": org.name,
        "edition": org.edition,
        "public_api_keys": org.edition.has_public_api_keys(),
        "created_at": org.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
        "you": {
            "username": caller.actor.user.username,
            "role": caller.actor.user.role,
            "kind": caller.actor.user.kind,
        },
    })))
}
