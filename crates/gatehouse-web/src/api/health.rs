//! Liveness and readiness.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// `GET /healthz`: the process answers. Public.
#[utoipa::path(
    get,
    operation_id = "health_healthz",
    path = "/healthz",
    tag = "health",
    security(()),
    responses((status = 200, description = "The process answers", body = crate::api::openapi::StatusBody)),
    extensions(("x-permissions" = json!([])))
)]
pub async fn healthz() -> Response {
    // A fixed answer, sent as it is: the probe costs no serialisation or allocation.
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// The readiness answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`, or `not_ready` (with 503).
    status: &'static str,
    /// `up` (an unreachable store answers 503 with the error body instead).
    store: &'static str,
    /// `loaded` or `missing`.
    signing_keys: &'static str,
    invalidations: Invalidations,
}

/// How this node learns of other nodes' changes.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Invalidations {
    /// The change listener's state (SQLite has none).
    #[schema(value_type = String)]
    listener: gatehouse_core::service::FeedState,
    /// How often the listener reconnected and re-read the tables.
    listener_resyncs: i64,
    /// Seconds since the invalidation poll last ran (`null`: not yet).
    last_poll_seconds_ago: Option<i64>,
}

/// `GET /readyz`: the store answers, token signing keys are loaded, and how this node
/// learns of other nodes' changes (the change listener and the poll behind it). Ready
/// means it can authenticate: a listener that is reconnecting leaves it ready (the poll
/// carries on) and says so. Public: it names states, never addresses or secrets.
#[utoipa::path(
    get,
    operation_id = "health_readyz",
    path = "/readyz",
    tag = "health",
    security(()),
    responses((status = 200, description = "Ready", body = Readiness), (status = 503, description = "Not ready: the store is unreachable (the error body) or the signing keys are missing (the readiness body)", body = Object, headers(("Retry-After" = u32, description = "Seconds to wait")))),
    extensions(("x-permissions" = json!([])))
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let core = &state.core;
    if !core.check_store().await {
        return ApiError::Core(gatehouse_core::Error::Unavailable { retry_after: 5 })
            .into_response();
    }
    let signing = core.can_sign_tokens();
    let body = Readiness {
        status: if signing { "ready" } else { "not_ready" },
        store: "up",
        signing_keys: if signing { "loaded" } else { "missing" },
        invalidations: Invalidations {
            listener: core.feed_state(),
            listener_resyncs: core.feed_resyncs(),
            last_poll_seconds_ago: core.invalidation_poll_age(),
        },
    };
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
