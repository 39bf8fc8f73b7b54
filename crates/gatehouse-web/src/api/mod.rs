//! The JSON API under `/api`, plus health endpoints. Each area keeps its routes beside
//! its handlers (`<area>::router()`, an `OpenApiRouter` whose every route is an annotated
//! handler); this module only merges them, and `openapi.rs` finishes the description.

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod health;
pub mod mfa;
pub mod openapi;
pub mod set_password;
pub mod ssh_keys;
pub mod ssh_private_keys;
pub mod tokens;
pub mod webauthn;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Routes of the JSON API; the first call also renders `/api/openapi.json`.
pub fn routes() -> Router<AppState> {
    let (router, doc) = documented_routes().split_for_parts();
    openapi::publish(doc);
    router
}

/// The API's routes with their description, before they are split apart.
pub fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
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
        .routes(routes!(openapi::serve))
}

/// The finished API description, as served.
pub fn document() -> serde_json::Value {
    openapi::publish(documented_routes().into_openapi())
}
