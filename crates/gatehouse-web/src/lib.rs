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

pub use error::ApiError;
pub use plain::plain_app;
pub use state::{AppState, WebSettings};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest body of a SCIM request (a group's whole member list fits).
pub const MAX_SCIM_BODY_BYTES: usize = 1024 * 1024;

/// The application: the routes inside the edge layer (see `middleware::edge`), as one
/// service that the listeners copy per connection.
pub type App = middleware::edge::Edge<Router>;

/// The HTTPS application: the routes, wrapped once (not route by route) in the edge
/// layer, so a request passes one layer on its way to its handler. With metrics on
/// (`observe::enable` before this is called), each route also notes its pattern for the
/// latency histogram. Bodies are bounded by the edge (see `middleware::limits`).
pub fn app(state: AppState) -> App {
    let mut routes = Router::new()
        .merge(api::routes())
        .merge(scim::router())
        .merge(ui::routes())
        .fallback(ui::not_found)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    if observe::enabled() {
        routes = routes.layer(axum::middleware::from_fn(observe::note_route));
    }
    tower::Layer::layer(
        &middleware::edge::EdgeLayer::new(state.clone()),
        routes.with_state(state),
    )
}
