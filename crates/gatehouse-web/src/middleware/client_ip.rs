//! The client's address: the TCP peer, unless the peer is a configured proxy, in which
//! case the nearest untrusted hop of `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The client's address as far as we can trust it (`None` in in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

/// An address range such as `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Whether a peer is one of the configured proxies.
pub fn is_trusted(proxies: &[IpNet], ip: IpAddr) -> bool {
    proxies.iter().any(|n| n.contains(ip))
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

/// Puts a [`ClientIp`] into the request's extensions.
pub async fn client_ip(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = resolve(&state.web.trusted_proxies, peer, xff);
    req.extensions_mut().insert(ClientIp(ip));
    // Every audit record the request writes carries its address and user agent.
    let origin = gatehouse_core::audit::Origin {
        ip,
        user_agent: req
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|u| u.chars().take(256).collect()),
    };
    gatehouse_core::audit::with_origin(origin, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges_parse_and_match() {
        let n: IpNet = "10.0.0.0/8".parse().expect("net");
        assert!(n.contains(ip("10.1.2.3")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(!n.contains(ip("::1")));
        let one: IpNet = "127.0.0.1".parse().expect("net");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: IpNet = "fd00::/8".parse().expect("net");
        assert!(v6.contains(ip("fd12::1")));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("nonsense".parse::<IpNet>().is_err());
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
