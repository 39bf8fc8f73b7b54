//! Liveness and readiness.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
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

/// `GET /readyz`: the store answers, token signing keys are loaded, and how this node
/// learns of other nodes' changes (the change listener and the poll behind it). Ready
/// means it can authenticate: a listener that is reconnecting leaves it ready (the poll
/// carries on) and says so. Public: it names states, never addresses or secrets.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let core = &state.core;
    if !core.check_store().await {
        return ApiError::Core(gatehouse_core::Error::Unavailable { retry_after: 5 })
            .into_response();
    }
    let signing = core.can_sign_tokens();
    let body = json!({
        "status": if signing { "ready" } else { "not_ready" },
        "store": "up",
        "signing_keys": if signing { "loaded" } else { "missing" },
        "invalidations": {
            "listener": core.feed_state(),
            "listener_resyncs": core.feed_resyncs(),
            "last_poll_seconds_ago": core.invalidation_poll_age(),
        },
    });
    if signing {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            Json(body),
        )
            .into_response()
    }
}
