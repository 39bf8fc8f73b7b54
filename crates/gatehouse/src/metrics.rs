//! The Prometheus endpoint: `GET /metrics` on `server.metrics_listen`, a plain-HTTP
//! listener of its own (off by default). It answers nothing else, authenticates nothing
//! and carries no secret or personal data: bind it to loopback or a monitoring network.
//!
//! The `metrics` facade holds what the web layer records as requests happen (latency
//! per route, authentication decisions: `gatehouse_web::observe`); the state of the
//! core (caches, the password-hash pool, the change feed, the store's pool) is read
//! at each scrape and set as gauges and counters, so it costs requests nothing.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use gatehouse_core::Core;
use gatehouse_core::service::FeedState;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of the request-latency histogram, in seconds: most answers take well under
/// a millisecond, a sign-in tens of milliseconds (the password hash).
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the recorder (once per process: later calls return the same handle) and
/// turns request metrics on.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(gatehouse_web::observe::REQUEST_SECONDS.to_owned()),
            LATENCY_BUCKETS,
        )
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    describe();
    gatehouse_web::observe::enable();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Serves `/metrics` on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    handle: PrometheusHandle,
    core: Arc<Core>,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let upkeep = handle.clone();
    // The exporter's histograms need their upkeep (at least as often as scrapes).
    let _upkeep = AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    }));
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let (handle, core) = (handle.clone(), core.clone());
                async move {
                    observe_core(&core);
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        handle.render(),
                    )
                }
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics is served here\n") });
    axum::serve(listener, app).await.context("metrics listener")
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sets the gauges and counters read from the core.
fn observe_core(core: &Core) {
    let caches = core.cache_stats();
    for (name, c) in [
        ("api_keys", caches.api_keys),
        ("sessions", caches.sessions),
        ("tokens", caches.tokens),
        ("token_owners", caches.token_owners),
    ] {
        gauge!("gatehouse_cache_entries", "cache" => name).set(c.entries as f64);
        gauge!("gatehouse_cache_capacity", "cache" => name).set(c.capacity as f64);
        counter!("gatehouse_cache_hits_total", "cache" => name).absolute(c.hits);
        counter!("gatehouse_cache_misses_total", "cache" => name).absolute(c.misses);
        counter!("gatehouse_cache_evictions_total", "cache" => name).absolute(c.evictions);
    }

    let pool = core.hash_pool_stats();
    gauge!("gatehouse_password_hash_running").set(pool.running as f64);
    gauge!("gatehouse_password_hash_concurrency").set(pool.concurrency as f64);
    gauge!("gatehouse_password_hash_queued").set(pool.queued as f64);
    gauge!("gatehouse_password_hash_queue_limit").set(pool.max_queue as f64);
    counter!("gatehouse_password_hash_rejected_total").absolute(pool.rejected);

    let store = core.store_stats();
    gauge!("gatehouse_store_connections").set(f64::from(store.connections));
    gauge!("gatehouse_store_connections_idle").set(f64::from(store.idle));
    gauge!("gatehouse_store_connections_max").set(f64::from(store.max_connections));
    counter!("gatehouse_store_errors_total", "kind" => "conflict").absolute(store.conflicts);
    counter!("gatehouse_store_errors_total", "kind" => "unavailable").absolute(store.unavailable);
    counter!("gatehouse_store_errors_total", "kind" => "other").absolute(store.failed);

    let feed = core.feed_state();
    let poll_age = core.invalidation_poll_age();
    gauge!("gatehouse_change_feed_connected").set(match feed {
        FeedState::Connected => 1.0,
        _ => 0.0,
    });
    counter!("gatehouse_change_feed_resyncs_total")
        .absolute(u64::try_from(core.feed_resyncs()).unwrap_or(0));
    if let Some(age) = poll_age {
        gauge!("gatehouse_invalidation_poll_age_seconds").set(age as f64);
    }
    // How stale this node's view of revocations can be: nothing beyond delivery while
    // the change feed is live, else the time since the last poll of the table.
    let lag = match (feed, poll_age) {
        (FeedState::Connected | FeedState::NotUsed, _) => 0.0,
        (_, Some(age)) => age as f64,
        (_, None) => f64::NAN,
    };
    gauge!("gatehouse_invalidation_lag_seconds").set(lag);

    counter!("gatehouse_access_log_dropped_total")
        .absolute(gatehouse_web::middleware::access_log::dropped());
}

fn describe() {
    describe_histogram!(
        gatehouse_web::observe::REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "Time to answer a request, by route pattern, method and status."
    );
    describe_counter!(
        gatehouse_web::observe::AUTH_DECISIONS,
        "Authentication decisions, by what the request presented (method) and the outcome \
         (accepted, or the refusal's error code)."
    );
    describe_gauge!(
        "gatehouse_password_hash_running",
        "Password hashes running now."
    );
    describe_gauge!(
        "gatehouse_password_hash_concurrency",
        "Password hashes that may run at once."
    );
    describe_gauge!(
        "gatehouse_password_hash_queued",
        "Requests waiting for a password hash."
    );
    describe_gauge!(
        "gatehouse_password_hash_queue_limit",
        "Requests that may wait for a password hash before more are refused."
    );
    describe_counter!(
        "gatehouse_password_hash_rejected_total",
        "Requests refused (503) because the password-hash queue was full."
    );
    describe_gauge!("gatehouse_store_connections", "Store connections open.");
    describe_gauge!(
        "gatehouse_store_connections_idle",
        "Store connections open and idle."
    );
    describe_gauge!("gatehouse_store_connections_max", "The store pool's limit.");
    describe_counter!(
        "gatehouse_store_errors_total",
        "Store operations that failed, by kind (conflict, unavailable, other)."
    );
    describe_gauge!(
        "gatehouse_change_feed_connected",
        "1 while the PostgreSQL change feed (LISTEN) is connected."
    );
    describe_counter!(
        "gatehouse_change_feed_resyncs_total",
        "Full resyncs from the invalidation tables after the change feed (re)connected."
    );
    describe_gauge!(
        "gatehouse_invalidation_poll_age_seconds",
        metrics::Unit::Seconds,
        "Seconds since the invalidation tables were last polled."
    );
    describe_gauge!(
        "gatehouse_invalidation_lag_seconds",
        metrics::Unit::Seconds,
        "How far behind other nodes' revocations this node can be: 0 while the change feed \
         is live (or on a single node), else the age of the last poll."
    );
    describe_counter!(
        "gatehouse_access_log_dropped_total",
        "Access log lines dropped because the log could not keep up."
    );
}
