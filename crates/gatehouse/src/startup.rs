//! `Application`: opens the store, builds the core, binds the listeners (port 0 works,
//! for tests) and runs until told to stop, then drains and flushes.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::Handle;
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use gatehouse_core::Core;
use gatehouse_core::clock::SystemClock;
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use gatehouse_core::service::BootstrapOutcome;
use gatehouse_web::{AppState, WebSettings};

use crate::config::Config;
use crate::listener::{ConnectionLimit, ConnectionSettings, TagLocalAddr};
use crate::tls::{self, TlsMaterial};
use gatehouse_web::middleware::edge::PerConnection;

/// A built, bound, not yet running server.
pub struct Application {
    https: TcpListener,
    http: Option<TcpListener>,
    metrics: Option<TcpListener>,
    state: AppState,
    tls: TlsMaterial,
    bootstrap: Option<SecretString>,
    bootstrapped: bool,
    grace: Duration,
    connections: ConnectionSettings,
}

impl Application {
    /// Opens everything. `bootstrap_password` is the operator's choice for the first
    /// account; without it a random one is generated (see [`Application::bootstrap_password`]).
    pub async fn build(
        config: &Config,
        bootstrap_password: Option<SecretString>,
    ) -> anyhow::Result<Self> {
        // The listeners first: a port already taken stops the first start before the
        // bootstrap account exists, so its one-time password is never created unseen.
        let https = TcpListener::bind(config.listen_addr()?)
            .with_context(|| format!("binding {}", config.server.listen))?;
        let http = config
            .http_listen_addr()?
            .map(|a| TcpListener::bind(a).with_context(|| format!("binding {a}")))
            .transpose()?;
        let metrics = config
            .metrics_listen_addr()?
            .map(|a| TcpListener::bind(a).with_context(|| format!("binding {a}")))
            .transpose()?;
        // SECURITY: the data folder is checked and made private before anything in it
        // is read or created (see `data_dir.rs`).
        let store = crate::data_dir::open_store(config).await?;
        let tls = tls::load_or_generate(
            &config.server.data_dir,
            non_empty(&config.server.tls_cert).map(Path::new),
            non_empty(&config.server.tls_key).map(Path::new),
        )?;
        let key_file = config.master_key_path();
        let master = crate::secrets::load_or_generate(&key_file)?;
        let mut core = Core::new(store, Arc::new(SystemClock), config.core_settings())?
            .with_reloadable_master_keys(crate::secrets::reloading(&key_file, master));
        if let Some(rp) = config.webauthn_relying_party()? {
            core = core.with_webauthn(Arc::new(rp));
        }
        let core = Arc::new(core);
        core.init_tokens()
            .await
            .context("loading the token signing keys and revocations")?;
        let outcome = core
            .bootstrap(bootstrap_password.as_ref().map(|p| p.expose_secret()))
            .await
            .context("creating the bootstrap account")?;
        let (bootstrap, bootstrapped) = match outcome {
            BootstrapOutcome::AlreadyInitialised => (None, false),
            BootstrapOutcome::Created => (None, true),
            BootstrapOutcome::CreatedWithPassword(p) => (Some(p), true),
        };

        let https_addr = https.local_addr()?;
        let state = AppState {
            core,
            web: Arc::new(WebSettings {
                trusted_proxies: config.trusted_proxies()?,
                public_origin: non_empty(&config.server.public_origin).map(str::to_owned),
                https_port: https_addr.port(),
                // SECURITY: redirects from the plain listener go to our own address (or
                // the public origin), never to whatever the Host header names.
                https_origin: (!https_addr.ip().is_unspecified())
                    .then(|| format!("https://{https_addr}")),
                redirect_hosts: tls::machine_names(),
                body_read_timeout: Some(Duration::from_secs(
                    config.server.body_read_timeout_seconds,
                )),
            }),
        };
        Ok(Application {
            https,
            http,
            metrics,
            state,
            tls,
            bootstrap,
            bootstrapped,
            grace: Duration::from_secs(config.server.shutdown_grace_seconds),
            connections: ConnectionSettings {
                header_read_timeout: Duration::from_secs(config.server.header_read_timeout_seconds),
                handshake_timeout: Duration::from_secs(config.server.handshake_timeout_seconds),
                max_connections: config.server.max_connections,
            },
        })
    }

    /// The bound HTTPS address.
    pub fn https_addr(&self) -> SocketAddr {
        self.https
            .local_addr()
            .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into())
    }

    /// The bound plain-HTTP address, if any.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bound metrics address, if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The certificate fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.tls.fingerprint
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.tls.cert_path
    }

    /// Whether this start created the first account.
    pub fn bootstrapped(&self) -> bool {
        self.bootstrapped
    }

    /// The generated bootstrap password; `Some` once, on the first start.
    pub fn bootstrap_password(&mut self) -> Option<SecretString> {
        self.bootstrap.take()
    }

    /// The shared state (for tests that need the core).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains requests in flight (up to the grace
    /// period) and flushes buffered writes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        // Metrics first: the router adds its per-route label layer only while they are on.
        let metrics_handle = match &self.metrics {
            Some(_) => Some(crate::metrics::install()?),
            None => None,
        };
        let app = gatehouse_web::app(self.state.clone());
        let handle: Handle<SocketAddr> = Handle::new();
        let settings = self.connections;
        // One cap over both listeners: it protects the process's file descriptors.
        let limit = ConnectionLimit::new(settings.max_connections);
        let tls = RustlsAcceptor::new(RustlsConfig::from_config(self.tls.config.clone()))
            .handshake_timeout(settings.handshake_timeout)
            .acceptor(limit.wrap(DefaultAcceptor));
        let https = settings
            .configure(axum_server::from_tcp(self.https)?.acceptor(tls))
            .handle(handle.clone())
            .serve(PerConnection(app.clone()));
        let http_handle: Handle<SocketAddr> = Handle::new();
        let http = self.http.map(|l| -> anyhow::Result<_> {
            let plain = gatehouse_web::plain_app(self.state.clone(), app.clone());
            Ok(settings
                .configure(axum_server::from_tcp(l)?.acceptor(limit.wrap(TagLocalAddr)))
                .handle(http_handle.clone())
                .serve(PerConnection(plain)))
        });
        let http = http.transpose()?;

        let core = self.state.core.clone();
        let metrics = match (self.metrics, metrics_handle) {
            (Some(listener), Some(handle)) => {
                let core = core.clone();
                Some(tokio::spawn(async move {
                    if let Err(e) = crate::metrics::serve(listener, handle, core).await {
                        tracing::error!(error = %e, "the metrics listener stopped");
                    }
                }))
            }
            _ => None,
        };
        let jobs = tokio::spawn(background_jobs(core.clone()));
        // Other nodes' changes as they commit (PostgreSQL); nothing to follow on SQLite.
        let follower = tokio::spawn(core.clone().follow_changes());
        let grace = self.grace;
        let stopper = {
            let (h1, h2) = (handle.clone(), http_handle.clone());
            async move {
                shutdown.await;
                tracing::info!("shutting down: draining requests in flight");
                h1.graceful_shutdown(Some(grace));
                h2.graceful_shutdown(Some(grace));
            }
        };
        let serve_all = async {
            match http {
                Some(http) => {
                    let (a, b) = tokio::join!(https, http);
                    a.and(b)
                }
                None => https.await,
            }
        };
        let (served, ()) = tokio::join!(serve_all, stopper);
        jobs.abort();
        follower.abort();
        if let Some(m) = metrics {
            m.abort();
        }
        // Buffered activity (session last-seen times) is written before exit.
        if let Err(e) = core.flush_final().await {
            tracing::error!(error = %e, "final flush failed");
        }
        served.context("server error")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// While the change feed is live, the invalidation and revocation poll (its fallback)
/// runs at one tick in this many.
const POLL_TICKS_WITH_FEED: u64 = 3;

/// Periodic work: flush buffered writes, watch the store, pick up rotated signing keys,
/// revocations and other nodes' cache invalidations (every 5 s, or every 15 s while the
/// change feed delivers them at once), sweep expired sessions and tokens.
async fn background_jobs(core: Arc<Core>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        if core.check_store().await {
            if let Err(e) = core.flush().await {
                tracing::warn!(error = %e, "flush failed");
            }
            if let Err(e) = core.refresh_signing_keys().await {
                tracing::error!(error = %e, "reloading token signing keys failed");
            }
            let feed_live = core.feed_state() == gatehouse_core::service::FeedState::Connected;
            if !feed_live || n.is_multiple_of(POLL_TICKS_WITH_FEED) {
                if let Err(e) = core.refresh_revocations().await {
                    tracing::warn!(error = %e, "reading token revocations failed");
                }
                if let Err(e) = core.refresh_invalidations().await {
                    tracing::warn!(error = %e, "reading cache invalidations failed");
                }
            }
            if n.is_multiple_of(12)
                && let Err(e) = core.sweep().await
            {
                tracing::warn!(error = %e, "sweep failed");
            }
        }
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}
