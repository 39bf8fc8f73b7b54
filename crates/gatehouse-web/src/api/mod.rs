//! The JSON API under `/api`, plus health endpoints.

pub mod api_keys;
pub mod auth;
pub mod health;
pub mod ssh_keys;
pub mod tokens;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::state::AppState;

/// Routes of the JSON API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/logout-everywhere", post(auth::logout_everywhere))
        .route("/api/auth/password", post(auth::change_password))
        .route("/api/auth/session", get(auth::session))
        .route("/api/tokens", get(tokens::list).post(tokens::create))
        .route("/api/tokens/options", get(tokens::options))
        .route("/api/tokens/{id}", delete(tokens::revoke))
        .route("/.well-known/jwks.json", get(tokens::jwks))
        .route("/api/ssh-keys", get(ssh_keys::list).post(ssh_keys::add))
        .route(
            "/api/ssh-keys/{id}",
            get(ssh_keys::show).delete(ssh_keys::delete),
        )
        .route(
            "/api/ssh/authorized-keys/{username}",
            get(ssh_keys::authorized_keys),
        )
        .route("/api/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api/api-keys/options", get(api_keys::options))
        .route("/api/api-keys/revoke", post(api_keys::revoke))
        .route(
            "/api/api-keys/{id}",
            get(api_keys::show).delete(api_keys::delete),
        )
        .route("/api/api-keys/{id}/disable", post(api_keys::disable))
        .route("/api/api-keys/{id}/enable", post(api_keys::enable))
        .route("/api/api-keys/{id}/duplicate", post(api_keys::duplicate))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}
