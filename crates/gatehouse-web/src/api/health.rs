//! Liveness and readiness.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// The routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `GET /healthz`: the process answers. Public.
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: the store answers too. Public.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.core.check_store().await {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "store": "up"})),
        )
            .into_response()
    } else {
        ApiError::Core(gatehouse_core::Error::Unavailable { retry_after: 5 }).into_response()
    }
}
