//! What every handler can reach: the core and the web settings.

use std::sync::Arc;

use gatehouse_core::Core;

use crate::ip_net::IpNet;

/// Web-layer settings.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The externally visible origin (`https://host[:port]`); when unset, the request's
    /// Host header defines the same-origin check.
    pub public_origin: Option<String>,
    /// The HTTPS port the plain listener redirects to.
    pub https_port: u16,
    /// Where the plain listener sends pages: `public_origin`, else the HTTPS listener's
    /// own address when it is bound to a specific one; `None` for a wildcard bind.
    pub https_origin: Option<String>,
    /// For a wildcard bind: the Host names (this machine's own) a redirect may keep.
    pub redirect_hosts: Vec<String>,
    /// How long a request body may take to arrive once its headers have (`None`: no
    /// limit, for in-process tests).
    pub body_read_timeout: Option<std::time::Duration>,
}

/// The externally visible origin: `public_origin`, else `https://` and the request's
/// Host header when that is a valid authority (else `localhost`).
pub fn origin_of(web: &WebSettings, headers: &axum::http::HeaderMap) -> String {
    if let Some(o) = &web.public_origin {
        return o.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.parse::<axum::http::uri::Authority>().is_ok())
        .unwrap_or("localhost");
    format!("https://{host}")
}

/// Shared state.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub core: Arc<Core>,
    /// Web settings.
    pub web: Arc<WebSettings>,
}
