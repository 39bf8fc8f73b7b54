//! `POST /api/auth/set-password`: a new member sets their first password with the
//! one-time link an admin handed them. The link's secret comes in the body (the page
//! reads it from the URL fragment), never in a URL the server sees.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::extract::Json;
use crate::state::AppState;

/// The routes of this area.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/auth/set-password", post(set_password))
}

/// The request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// The `gsp_…` secret of the link.
    link: SecretString,
    password: SecretString,
}

/// The answer: who can now sign in.
#[derive(Serialize)]
pub struct SetPasswordResponse {
    username: String,
}

/// `POST /api/auth/set-password`. No credential: the link is the credential, and it
/// works once. An unknown, expired or used link answers 422 and changes nothing.
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
