//! `gatehouse serve`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use gatehouse_core::secrecy::{ExposeSecret, SecretString};

use crate::config::{Config, Overrides};
use crate::startup::Application;

/// Flags of `serve` (they override the file and the environment).
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// HTTPS listen address.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Plain-HTTP listener that never authenticates (redirects pages to HTTPS).
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// Data folder.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (sqlite://… or postgres://…).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// File holding the password for the first "admin" account (first start only).
    #[arg(long, value_name = "FILE")]
    pub bootstrap_password_file: Option<PathBuf>,
}

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn run(config_file: Option<&std::path::Path>, args: &ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(
        config_file,
        &Overrides {
            listen: args.listen.clone(),
            http_listen: args.http_listen.clone(),
            data_dir: args.data_dir.clone(),
            database_url: args.database_url.clone().map(Into::into),
        },
    )?;
    crate::telemetry::init(&config.log.format, &config.log.level);
    crate::data_dir::restrict_umask();
    let bootstrap = args
        .bootstrap_password_file
        .as_ref()
        .map(|p| read_secret_file(p))
        .transpose()?;
    let mut app = Application::build(&config, bootstrap).await?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "Gatehouse listening on https://{}", app.https_addr())?;
    writeln!(
        out,
        "TLS certificate SHA-256 fingerprint: {}",
        app.fingerprint()
    )?;
    if let Some(http) = app.http_addr() {
        writeln!(
            out,
            "Plain HTTP listener (never authenticates): http://{http}"
        )?;
    }
    if let Some(m) = app.metrics_addr() {
        writeln!(out, "Prometheus metrics: http://{m}/metrics")?;
    }
    if let Some(pw) = app.bootstrap_password() {
        writeln!(
            out,
            "Bootstrap account created: username=admin password={}",
            pw.expose_secret()
        )?;
        writeln!(
            out,
            "(This password is shown only once. Change it after signing in.)"
        )?;
    } else if app.bootstrapped() {
        writeln!(
            out,
            "Bootstrap account created: username=admin (password from file)"
        )?;
    }
    out.flush()?;
    drop(out);

    app.run_until_stopped(shutdown_signal()).await
}

/// Reads a one-line secret from a file (trailing newline removed).
pub fn read_secret_file(path: &std::path::Path) -> anyhow::Result<SecretString> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(SecretString::from(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// Resolves at SIGINT or SIGTERM (the server's and the agent's way to stop).
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
