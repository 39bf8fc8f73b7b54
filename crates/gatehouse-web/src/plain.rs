//! The optional plain-HTTP listener. It authenticates nothing and sets no cookie:
//! a request carrying a credential is refused before the credential is looked at;
//! a bare page GET is redirected to HTTPS. Requests from a trusted TLS-terminating
//! proxy that say `X-Forwarded-Proto: https` are handed to the full application.
//!
//! The redirect target never comes from the request alone (that would be an open
//! redirect): it is `server.public_origin`, else the HTTPS listener's own address; for a
//! wildcard bind, the Host name only if it is one of this machine's names, else the
//! address the client reached this listener at.

use std::net::IpAddr;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::App;
use crate::error::ApiError;
use crate::ip_net::is_trusted;
use crate::state::{AppState, WebSettings};

#[derive(Clone)]
struct PlainState {
    app: AppState,
    full: App,
}

/// The application of the plain listener; `full` is the HTTPS application. The
/// listener gives each connection's copy its local address
/// ([`App::with_local_addr`]), used for the redirect when the HTTPS listener has a
/// wildcard address.
pub fn plain_app(state: AppState, full: App) -> App {
    let routes = Router::new().fallback(gate).with_state(PlainState {
        app: state.clone(),
        full,
    });
    tower::Layer::layer(&crate::middleware::edge::EdgeLayer::plain(state), routes)
}

async fn gate(State(s): State<PlainState>, req: Request) -> Response {
    let connection = crate::context::current_connection();
    let peer = connection.peer.map(|p| p.ip());
    let via_tls_proxy = peer.is_some_and(|p| is_trusted(&s.app.web.trusted_proxies, p))
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if via_tls_proxy {
        // The HTTPS application's edge resolves the client from this connection's peer.
        return match s.full.for_connection(connection).oneshot(req).await {
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
        let local = connection.local.map(|a| a.ip());
        let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
        if let Some(target) = https_url(&s.app.web, host, local, req.uri())
            && let Ok(v) = HeaderValue::from_str(&target)
        {
            let mut res = StatusCode::PERMANENT_REDIRECT.into_response();
            res.headers_mut().insert(header::LOCATION, v);
            return res;
        }
    }
    ApiError::HttpsRequired.into_response()
}

/// The HTTPS URL for a page asked for over plain HTTP, or `None` when no safe target
/// is known.
fn https_url(
    web: &WebSettings,
    host: Option<&str>,
    local: Option<IpAddr>,
    uri: &axum::http::Uri,
) -> Option<String> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    // SECURITY: the configured origin, or the listener's own address, wins over any
    // Host header, so `Host: evil.example` cannot choose where a browser is sent.
    if let Some(origin) = web.public_origin.as_ref().or(web.https_origin.as_ref()) {
        return Some(format!("{}{path}", origin.trim_end_matches('/')));
    }
    let port = web.https_port;
    let name = host.map(host_name).filter(|n| {
        web.redirect_hosts
            .iter()
            .any(|known| known.eq_ignore_ascii_case(n))
    });
    if let Some(name) = name {
        return Some(format!("https://{name}:{port}{path}"));
    }
    // Wildcard bind and an unknown Host: the address this client reached us at is ours.
    let ip = local?.to_canonical();
    Some(match ip {
        IpAddr::V4(v4) => format!("https://{v4}:{port}{path}"),
        IpAddr::V6(v6) => format!("https://[{v6}]:{port}{path}"),
    })
}

/// A Host header without its port (IPv6 literals keep their brackets).
fn host_name(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri() -> axum::http::Uri {
        axum::http::Uri::from_static("/login?next=1")
    }

    fn wildcard() -> WebSettings {
        WebSettings {
            https_port: 8443,
            redirect_hosts: vec!["localhost".into(), "sso-host".into()],
            ..WebSettings::default()
        }
    }

    #[test]
    fn the_configured_origin_or_listener_address_wins_over_the_host_header() {
        let public = WebSettings {
            public_origin: Some("https://sso.example.org/".into()),
            https_origin: Some("https://127.0.0.1:8443".into()),
            ..wildcard()
        };
        assert_eq!(
            https_url(&public, Some("evil.example"), None, &uri()).as_deref(),
            Some("https://sso.example.org/login?next=1")
        );
        let bound = WebSettings {
            https_origin: Some("https://127.0.0.1:8443".into()),
            ..wildcard()
        };
        assert_eq!(
            https_url(&bound, Some("evil.example:80"), None, &uri()).as_deref(),
            Some("https://127.0.0.1:8443/login?next=1")
        );
    }

    #[test]
    fn a_wildcard_bind_keeps_only_this_machines_names_from_the_host_header() {
        let local = Some("192.0.2.7".parse().expect("ip"));
        assert_eq!(
            https_url(&wildcard(), Some("SSO-host:8080"), local, &uri()).as_deref(),
            Some("https://SSO-host:8443/login?next=1")
        );
        for evil in ["evil.example", "evil.example:8080", "[2001:db8::1]:80"] {
            assert_eq!(
                https_url(&wildcard(), Some(evil), local, &uri()).as_deref(),
                Some("https://192.0.2.7:8443/login?next=1"),
                "{evil}"
            );
        }
        let mapped = Some("::ffff:192.0.2.7".parse().expect("ip"));
        assert_eq!(
            https_url(&wildcard(), Some("evil.example"), mapped, &uri()).as_deref(),
            Some("https://192.0.2.7:8443/login?next=1")
        );
        let v6 = Some("2001:db8::5".parse().expect("ip"));
        assert_eq!(
            https_url(&wildcard(), None, v6, &uri()).as_deref(),
            Some("https://[2001:db8::5]:8443/login?next=1")
        );
        assert_eq!(
            https_url(&wildcard(), Some("evil.example"), None, &uri()),
            None
        );
    }
}
