//! The optional plain-HTTP listener. It authenticates nothing and sets no cookie:
//! a request carrying a credential is refused before the credential is looked at;
//! a bare page GET is redirected to HTTPS. Requests from a trusted TLS-terminating
//! proxy that say `X-Forwarded-Proto: https` are handed to the full application.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::error::ApiError;
use crate::middleware::client_ip::is_trusted;
use crate::middleware::request_id::request_id;
use crate::state::AppState;

#[derive(Clone)]
struct PlainState {
    app: AppState,
    full: Router,
}

/// The router for the plain listener; `full` is the HTTPS application.
pub fn plain_router(state: AppState, full: Router) -> Router {
    Router::new()
        .fallback(gate)
        .with_state(PlainState { app: state, full })
        .layer(axum::middleware::from_fn(request_id))
}

async fn gate(State(s): State<PlainState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let via_tls_proxy = peer.is_some_and(|p| is_trusted(&s.app.web.trusted_proxies, p))
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if via_tls_proxy {
        return match s.full.oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        };
    }
    let h = req.headers();
    // SECURITY: refuse before any lookup, so a credential sent in clear is never used.
    if h.contains_key(header::AUTHORIZATION) || h.contains_key(header::COOKIE) {
        return ApiError::HttpsRequired.into_response();
    }
    let path = req.uri().path();
    if (req.method() == Method::GET || req.method() == Method::HEAD) && path == "/healthz" {
        return crate::api::health::healthz().await;
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        let target = https_url(
            &s.app,
            h.get(header::HOST).and_then(|v| v.to_str().ok()),
            req.uri(),
        );
        if let Ok(v) = HeaderValue::from_str(&target) {
            let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
            res.headers_mut().insert(header::LOCATION, v);
            return res;
        }
    }
    ApiError::HttpsRequired.into_response()
}

fn https_url(app: &AppState, host: Option<&str>, uri: &axum::http::Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if let Some(origin) = &app.web.public_origin {
        return format!("{}{path}", origin.trim_end_matches('/'));
    }
    let host = host.unwrap_or("localhost");
    // Strip a port (IPv6 literals keep their brackets).
    let name = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    };
    format!("https://{name}:{}{path}", app.web.https_port)
}
