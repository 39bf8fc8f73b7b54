//! Gatehouse's HTTP layer: the only crate that knows axum. It turns requests into calls
//! on [`gatehouse_core::Core`] and domain errors into JSON.
//!
//! # Layout
//! - `state.rs`: [`AppState`] and [`WebSettings`].
//! - `error/`: [`ApiError`], the JSON error format, and readable messages for bodies
//!   that do not fit their request type.
//! - `context.rs`: the request id, readable wherever the request's future runs.
//! - `extract/`: the JSON body extractor, the authenticated [`extract::Caller`] and the
//!   page a list asks for.
//! - `middleware/`: the edge layer every request passes (client address, request id,
//!   access log, request limits, our JSON for every error, security headers).
//! - `observe.rs`: request and authentication metrics (off unless the exporter is on).
//! - `api/`: the JSON API, one router per area beside its handlers. `ui/`:
//!   server-rendered pages and static assets.
//! - `scim/`: the SCIM 2.0 service provider at `/scim/v2`, with its own router, error
//!   format and credential (the SCIM Key).
//! - `plain.rs`: the plain-HTTP listener that never authenticates.

pub mod api;
pub mod context;
pub mod error;
pub mod extract;
pub use gatehouse_core::ip_net;
pub mod middleware;
pub mod observe;
pub mod plain;
pub mod qr;
pub mod scim;
pub mod state;
pub mod ui;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use error::ApiError;
pub use plain::plain_router;
pub use state::{AppState, WebSettings};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest body of a SCIM request (a group's whole member list fits).
pub const MAX_SCIM_BODY_BYTES: usize = 1024 * 1024;

/// The HTTPS application: the routes, wrapped once (not route by route) in the edge
/// layer and the body limit, so a request passes one layer on its way to its handler.
/// With metrics on (`observe::enable` before this is called), each route also notes its
/// pattern for the latency histogram.
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new()
        .merge(api::routes())
        .merge(scim::router())
        .merge(ui::routes())
        .fallback(ui::not_found)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    if observe::enabled() {
        routes = routes.layer(axum::middleware::from_fn(observe::note_route));
    }
    let app = tower::ServiceBuilder::new()
        .layer(middleware::edge::EdgeLayer::new(state.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .service(routes.with_state(state));
    Router::new().fallback_service(app)
}
