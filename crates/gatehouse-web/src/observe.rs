//! Request metrics for the Prometheus endpoint (`server.metrics_listen`): the latency
//! of every request by route, method and status, and every authentication decision by
//! method and outcome. They go to the `metrics` facade; the `gatehouse` crate installs
//! the exporter and calls [`enable`]. Until then (the default: metrics are off) each
//! request pays one relaxed atomic load here.
//!
//! Label values are `&'static str`s from small, fixed sets — the route *pattern*
//! (`/api/api-keys/{id}`, never the path a client sent), the method, the status code —
//! so the number of series is bounded and recording allocates nothing after the first
//! sight of a label value.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Request latency, by `route`, `method` and `status`.
pub const REQUEST_SECONDS: &str = "gatehouse_http_request_duration_seconds";
/// Authentication decisions, by `method` and `outcome`.
pub const AUTH_DECISIONS: &str = "gatehouse_auth_decisions_total";

/// Turns recording on (once the exporter is installed).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether metrics are recorded.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Where a route writes its pattern for the edge, which runs before routing and records
/// the request once it is answered. Put into a request only while metrics are on.
#[derive(Clone, Default)]
pub struct RouteSlot(Arc<OnceLock<&'static str>>);

impl RouteSlot {
    /// The pattern of the route that answered, if a route did.
    pub fn route(&self) -> Option<&'static str> {
        self.0.get().copied()
    }
}

/// The per-route layer (only while metrics are on): notes the matched pattern.
pub async fn note_route(req: Request, next: Next) -> Response {
    if let (Some(slot), Some(route)) = (
        req.extensions().get::<RouteSlot>(),
        req.extensions().get::<MatchedPath>(),
    ) {
        let _ = slot.0.set(intern_route(route.as_str()));
    }
    next.run(req).await
}

/// Records one answered request (`route`: its pattern, `None` when no route matched).
pub fn request(route: Option<&'static str>, method: &Method, status: u16, took: Duration) {
    let route = route.unwrap_or("unmatched");
    metrics::histogram!(
        REQUEST_SECONDS,
        "route" => route,
        "method" => method_label(method),
        "status" => status_label(status),
    )
    .record(took.as_secs_f64());
}

/// Records one authentication decision: `method` is what the request presented
/// (`api_key`, `bearer`, `session`, `none`, `other`), `outcome` `accepted` or the
/// refusal's error code.
pub fn auth(method: &'static str, outcome: &'static str) {
    metrics::counter!(AUTH_DECISIONS, "method" => method, "outcome" => outcome).increment(1);
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The status code as a static string (each made once).
fn status_label(status: u16) -> &'static str {
    static LABELS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| {
        (100..600u16)
            .map(|s| &*Box::leak(s.to_string().into_boxed_str()))
            .collect()
    });
    status
        .checked_sub(100)
        .and_then(|i| labels.get(usize::from(i)).copied())
        .unwrap_or("other")
}

/// A route pattern as a static string: the set of patterns is the router's, so each is
/// made once and kept.
fn intern_route(route: &str) -> &'static str {
    static ROUTES: OnceLock<RwLock<HashMap<Box<str>, &'static str>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(r) = routes.read().unwrap_or_else(|e| e.into_inner()).get(route) {
        return r;
    }
    let mut w = routes.write().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = w.get(route) {
        return r;
    }
    let leaked: &'static str = Box::leak(route.into());
    w.insert(route.into(), leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(599), "599");
        assert_eq!(status_label(42), "other");
        assert_eq!(status_label(600), "other");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").expect("m")),
            "other"
        );
        let a = intern_route("/api/api-keys/{id}");
        let b = intern_route("/api/api-keys/{id}");
        assert!(std::ptr::eq(a, b), "one copy per route");
    }
}
