//! `POST /api/auth/set-password`: a new member sets their first password with the
//! one-time link an admin handed them. The link's secret comes in the body (the page
//! reads it from the URL fragment), never in a URL the server sees.

use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::extract::Json;
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_password))
}

/// The request body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// The `gsp_…` secret of the link.
    #[schema(value_type = String, format = Password)]
    link: SecretString,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// The answer: who can now sign in.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SetPasswordResponse {
    username: String,
}

/// `POST /api/auth/set-password`. No credential: the link is the credential, and it
/// works once. An unknown, expired or used link answers 422 and changes nothing.
#[utoipa::path(
    post,
    operation_id = "set_password_set_password",
    path = "/api/auth/set-password",
    tag = "auth",
    security(()),
    request_body = SetPasswordRequest,
    responses((status = 200, description = "The password is set", body = SetPasswordResponse)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn set_password(
    State(state): State<AppState>,
    Json(req): Json<SetPasswordRequest>,
) -> ApiResult<(StatusCode, Json<SetPasswordResponse>)> {
    let user = state
        .core
        .redeem_password_link(req.link.expose_secret(), req.password.expose_secret())
        .await?;
    Ok((
        StatusCode::OK,
        Json(SetPasswordResponse {
            username: user.username,
        }),
    ))
}
