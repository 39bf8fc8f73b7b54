//! The JSON API under `/api`, plus health endpoints. Each area keeps its routes beside
//! its handlers (`<area>::router()`); this module only merges them.

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod health;
pub mod mfa;
pub mod set_password;
pub mod ssh_keys;
pub mod ssh_private_keys;
pub mod tokens;
pub mod webauthn;

use axum::Router;

use crate::state::AppState;

/// Routes of the JSON API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(tokens::router())
        .merge(ssh_keys::router())
        .merge(ssh_private_keys::router())
        .merge(api_keys::router())
        .merge(admin::router())
        .merge(mfa::router())
        .merge(set_password::router())
        .merge(webauthn::router())
        .merge(health::router())
}
