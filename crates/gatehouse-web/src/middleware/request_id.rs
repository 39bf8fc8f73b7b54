//! A random id per request: in the `X-Request-Id` response header, in every error body,
//! and in the tracing span, so a user's report can be matched to the log.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::client_ip::ClientIp;
pub use crate::context::current_request_id;

/// Displays an optional address as itself or nothing, without allocating.
struct MaybeIp(Option<std::net::IpAddr>);

impl std::fmt::Display for MaybeIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => Ok(()),
        }
    }
}

/// Displays a request path with any path segment that holds an API key replaced by
/// `<redacted>`. SECURITY: a key pasted into a URL by mistake (or by a client that reuses
/// the value it authenticates with) never reaches the log; other paths are written as
/// they are, without allocating.
struct LoggedPath<'a>(&'a str);

impl LoggedPath<'_> {
    fn holds_key(segment: &str) -> bool {
        use gatehouse_core::api_key::{KEY_LEN, PREFIX, is_well_formed};
        segment.len() >= KEY_LEN
            && segment
                .match_indices(PREFIX)
                .any(|(i, _)| segment.get(i..i + KEY_LEN).is_some_and(is_well_formed))
    }
}

impl std::fmt::Display for LoggedPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.0.split('/').any(Self::holds_key) {
            return f.write_str(self.0);
        }
        for (n, segment) in self.0.split('/').enumerate() {
            if n > 0 {
                f.write_str("/")?;
            }
            f.write_str(if Self::holds_key(segment) {
                "<redacted>"
            } else {
                segment
            })?;
        }
        Ok(())
    }
}

/// A unique id: a random per-process prefix and a counter (no syscall per request).
fn next_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| hex::encode(gatehouse_core::secret::random_bytes::<4>()));
    format!("{prefix}{:08x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Assigns the id, logs one line per request (method, path without query, status,
/// duration, client address; never headers or bodies).
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = next_request_id();
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
    // SECURITY: the path only (with any API key in it redacted); a query string is never
    // logged. The fields are formatted
    // only if the span is enabled, so a quiet log level costs no allocation here.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %LoggedPath(req.uri().path()),
        client_ip = %MaybeIp(ip),
    );
    let started = Instant::now();
    let mut res = crate::context::REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::LoggedPath;

    #[test]
    fn a_path_segment_holding_an_api_key_is_redacted_in_the_log() {
        let key = gatehouse_core::api_key::ApiKeySecret::generate();
        let key = key.expose();
        let path = format!("/api/ssh-keys/{key}");
        assert_eq!(LoggedPath(&path).to_string(), "/api/ssh-keys/<redacted>");
        let path = format!("/api/x/a{key}b/disable");
        assert_eq!(LoggedPath(&path).to_string(), "/api/x/<redacted>/disable");
        // Ids, and strings that merely look like a key, stay as they are.
        for plain in [
            "/api/api-keys/key_0123/disable",
            "/healthz",
            "/api/x/gwk_short",
            "/",
        ] {
            assert_eq!(LoggedPath(plain).to_string(), plain);
        }
        let wrong_check = format!("/api/x/{}0", &key[..key.len() - 1]);
        if !gatehouse_core::api_key::is_well_formed(&wrong_check[7..]) {
            assert_eq!(LoggedPath(&wrong_check).to_string(), wrong_check);
        }
    }
}
