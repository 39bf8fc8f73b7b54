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
    // SECURITY: the path only; a query string is never logged. The fields are formatted
    // only if the span is enabled, so a quiet log level costs no allocation here.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
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
