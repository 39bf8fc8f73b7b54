//! What the request being served carries wherever its future runs: its id and client
//! address, set by the edge middleware and read by every error body and by the
//! extractors (a task-local rather than request extensions: no map is allocated for it). A module of its own so that the error
//! type and the middleware both depend on it rather than on each other.
//!
//! The id is in the `X-Request-Id` response header, in every error body, in the access
//! log line and (at `debug`) in the tracing span of the request, so a user's report can
//! be matched to the log. It is a random per-process prefix and a counter, kept inline
//! (16 ASCII hex digits): no syscall and no allocation per request.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;

/// One request's id.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId([u8; 16]);

impl RequestId {
    /// The next id of this process.
    pub fn next() -> Self {
        static PREFIX: OnceLock<[u8; 4]> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = PREFIX.get_or_init(gatehouse_core::secret::random_bytes::<4>);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) as u32;
        let mut raw = [0u8; 8];
        raw[..4].copy_from_slice(prefix);
        raw[4..].copy_from_slice(&n.to_be_bytes());
        let mut id = [0u8; 16];
        for (i, b) in raw.iter().enumerate() {
            id[2 * i] = HEX[usize::from(b >> 4)];
            id[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        RequestId(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or("-")
    }

    /// The id as a header value.
    pub fn header_value(&self) -> Option<HeaderValue> {
        HeaderValue::from_bytes(&self.0).ok()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The addresses of the connection a request came on, as the listener knows them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Connection {
    /// The TCP peer (a proxy's address when there is one in front).
    pub peer: Option<std::net::SocketAddr>,
    /// Our address the peer reached (kept by the plain listener only).
    pub local: Option<std::net::SocketAddr>,
}

/// What the edge layer knows of the request being served.
#[derive(Clone, Copy)]
pub(crate) struct RequestContext {
    /// Its id.
    pub id: RequestId,
    /// The client's address as far as it can be trusted (see `middleware::client_ip`).
    pub client_ip: Option<std::net::IpAddr>,
    /// The connection it came on.
    pub connection: Connection,
}

tokio::task_local! {
    pub(crate) static REQUEST: RequestContext;
}

/// The id of the request being handled, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST
        .try_with(|r| r.id.as_str().to_owned())
        .unwrap_or_else(|_| "-".to_owned())
}

/// The connection of the request being handled (empty outside a request).
pub fn current_connection() -> Connection {
    REQUEST.try_with(|r| r.connection).unwrap_or_default()
}

/// The client address of the request being handled (`None` outside a request, or when
/// unknown).
pub fn current_client_ip() -> Option<std::net::IpAddr> {
    REQUEST.try_with(|r| r.client_ip).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_share_the_process_prefix_and_differ() {
        let (a, b) = (RequestId::next(), RequestId::next());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 16);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.as_str()[..8], b.as_str()[..8]);
        assert_eq!(
            a.header_value().expect("value").to_str().ok(),
            Some(a.as_str())
        );
    }
}
