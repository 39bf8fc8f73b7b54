//! The client's address: the TCP peer, unless the peer is a configured proxy, in which
//! case the nearest untrusted hop of `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::Request;

use crate::ip_net::{IpNet, is_trusted};

/// The client's address as far as we can trust it (`None` in in-process tests). An
/// extractor: handlers take it as an argument.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The address of the request being served.
    pub fn current() -> Self {
        ClientIp(crate::context::current_client_ip())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::current())
    }
}

/// Resolves the client address from the peer and, for trusted peers only, `X-Forwarded-For`.
pub fn resolve(
    proxies: &[IpNet],
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
) -> Option<IpAddr> {
    let peer = peer?;
    if !is_trusted(proxies, peer) {
        return Some(peer);
    }
    // Walk from the right: each trusted hop vouches for the one before it.
    let mut client = peer;
    if let Some(xff) = forwarded_for {
        for hop in xff.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !is_trusted(proxies, ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    Some(client)
}

/// Resolves the request's [`ClientIp`] from the connection's `peer` (and, for HTTP/2,
/// puts a `Host` from `:authority` into its headers), and returns the origin every
/// audit record of the request carries.
pub fn prepare(
    proxies: &[IpNet],
    peer: Option<SocketAddr>,
    req: &mut Request,
) -> gatehouse_core::audit::Origin {
    let peer = peer.map(|p| p.ip());
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = resolve(proxies, peer, xff);
    // HTTP/2 carries the host in `:authority`, which hyper puts in the URI; the
    // same-origin checks and redirects read `Host`, so it is filled in from there.
    if req.version() == axum::http::Version::HTTP_2
        && !req.headers().contains_key(axum::http::header::HOST)
        && let Some(host) = req
            .uri()
            .authority()
            .and_then(|a| axum::http::HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(axum::http::header::HOST, host);
    }
    gatehouse_core::audit::Origin {
        ip,
        user_agent: req
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|u| truncate(u, 256).to_owned()),
        ..Default::default()
    }
}

/// At most `max` bytes of `s`, cut on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let proxies = ["10.0.0.0/8".parse().expect("net")];
        assert_eq!(
            resolve(&proxies, Some(ip("203.0.113.9")), Some("1.2.3.4")),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn forwarded_for_from_a_trusted_proxy_yields_the_nearest_untrusted_hop() {
        let proxies = ["10.0.0.0/8".parse().expect("net")];
        assert_eq!(
            resolve(
                &proxies,
                Some(ip("10.0.0.5")),
                Some("6.6.6.6, 198.51.100.7, 10.0.0.9")
            ),
            Some(ip("198.51.100.7")),
            "a client-supplied leftmost entry cannot spoof the address"
        );
        assert_eq!(
            resolve(&proxies, Some(ip("10.0.0.5")), Some("garbage")),
            Some(ip("10.0.0.5"))
        );
    }
}
