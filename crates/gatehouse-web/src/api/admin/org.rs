//! `GET /api/admin/org`: the caller's organisation, its edition and what the caller may
//! do there.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::json;

use crate::error::ApiResult;
use crate::extract::{Caller, Json};
use crate::state::AppState;

/// The routes of this area.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/org", get(show))
}

/// `GET /api/admin/org`. Requires: `org:members:read` or `org:keys:read`.
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
