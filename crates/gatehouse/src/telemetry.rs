//! Logging: JSON lines (or pretty text) on stderr, filtered by configuration or RUST_LOG.
//! The access log (one line per request, target `gatehouse::access`) has a writer thread
//! of its own (`gatehouse_web::middleware::access_log`), started here when that target
//! is enabled at `info`.
//! SECURITY: nothing in Gatehouse logs headers, bodies, query strings or secrets.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn,hyper=warn,rustls=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let pretty = format == "pretty";
    let installed = if pretty {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
    if installed.is_ok() && tracing::enabled!(target: "gatehouse::access", tracing::Level::INFO) {
        use gatehouse_web::middleware::access_log::{Format, install};
        let format = if pretty { Format::Pretty } else { Format::Json };
        if let Err(e) = install(format) {
            tracing::error!(error = %e, "the access log cannot start; requests are not logged");
        }
    }
}
