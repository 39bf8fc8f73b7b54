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
}

/// Shared state.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub core: Arc<Core>,
    /// Web settings.
    pub web: Arc<WebSettings>,
}
