//! The `gatehouse` binary's library: configuration, startup, TLS and the command line.
//! `main.rs` only parses arguments and dispatches here.
//!
//! # Layout
//! - `config.rs`: the typed, layered configuration.
//! - `tls.rs`: certificate loading and first-start generation.
//! - `data_dir.rs`: the data folder's ownership and modes, checked before it is opened.
//! - `startup.rs`: [`startup::Application`], which binds, serves and drains.
//! - `listener.rs`: connection acceptors (connection cap, local address for redirects).
//! - `cli/`: `serve`, `admin …`, `config …`, and the user commands (`login`, `api-keys …`).
//! - `client.rs`: the CLI's HTTPS client (fingerprint pinning, CA file, system roots).
//! - `telemetry.rs`: log setup.

pub mod cli;
pub mod client;
pub mod config;
pub mod data_dir;
pub mod listener;
pub mod metrics;
pub mod secrets;
pub mod startup;
pub mod telemetry;
pub mod tls;
