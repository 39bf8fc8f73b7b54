//! The JSON API under `/api`, plus health endpoints.

pub mod auth;
pub mod health;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Routes of the JSON API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/session", get(auth::session))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}
