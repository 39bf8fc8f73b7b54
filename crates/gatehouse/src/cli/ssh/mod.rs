//! `gatehouse ssh authorized-keys USERNAME [--fingerprint FP]`: the program a cluster's
//! sshd runs as its `AuthorizedKeysCommand`; and `gatehouse ssh agent`, an ssh-agent
//! that signs with the keys stored in Gatehouse (see [`agent`]).
//!
//! It prints one authorized_keys line per active key of the user, and nothing else. It
//! asks Gatehouse with a machine credential (an API key holding `ssh_keys:read_all`) read
//! from a small config file, and keeps the last good answer per user on disk: while
//! Gatehouse cannot be reached (connection failure, timeout, 5xx) or asks it to slow down
//! (429), that answer is served for up to `cache_ttl_seconds`. Without a usable cache it
//! fails closed: no output, within `timeout_seconds`, so sshd is never left hanging. A
//! definite answer that is not a usable one (401/403 and other 4xx, a redirect, a
//! malformed, oversized or other user's 200) is not an outage and never falls back to the
//! cache. Malformed usernames get no output at all and never reach the network or the
//! file system.
//!
//! # Layout
//! - [`agent`]: `gatehouse ssh agent`.
//! - [`config`]: the config file and the credential, CA and key files it names.
//! - [`answer`]: the request, the caps on the answer, and its parsing.
//! - [`cache`]: the on-disk last good answers.
//! - [`files`]: the ownership and mode rules for every file the command trusts.

pub mod agent;
mod answer;
mod cache;
mod config;
mod files;

pub use config::{DEFAULT_CONFIG, SshConfig};

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use gatehouse_core::account::Username;
use gatehouse_core::ssh::SshPublicKey;

use answer::Failure;

use crate::cli::out::note;

/// `gatehouse ssh …`
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    /// Print the authorized_keys lines of USERNAME (for sshd's AuthorizedKeysCommand,
    /// e.g. "AuthorizedKeysCommand /usr/local/bin/gatehouse ssh authorized-keys %u
    /// --fingerprint %f").
    AuthorizedKeys {
        /// The login name sshd is authenticating (%u).
        username: String,
        /// Print only the key with this fingerprint (%f, SHA256:…).
        #[arg(long, value_name = "FP")]
        fingerprint: Option<String>,
        /// The config file (server, machine credential, cache).
        #[arg(long, env = "GATEHOUSE_SSH_CONFIG", value_name = "FILE", default_value = DEFAULT_CONFIG)]
        ssh_config: PathBuf,
    },
    /// Run an ssh-agent that offers your keys stored in Gatehouse and has Gatehouse sign
    /// with them: `eval "$(gatehouse ssh agent &)"` (or point SSH_AUTH_SOCK / ssh's
    /// IdentityAgent at the socket), then ssh, scp, rsync and git as usual. Prints the
    /// SSH_AUTH_SOCK line and runs until interrupted.
    Agent {
        #[command(flatten)]
        server: crate::cli::user::ServerArgs,
        /// The socket to listen on (its folder must be yours, mode 0700); default: a
        /// new folder under $XDG_RUNTIME_DIR or the temporary folder.
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
}

/// Runs `gatehouse ssh …`. Errors go to stderr (sshd logs them); stdout carries only keys.
pub async fn run(cmd: &SshCommand) -> anyhow::Result<()> {
    let (username, fingerprint, ssh_config) = match cmd {
        SshCommand::Agent { server, socket } => {
            return agent::run(server, socket.as_deref()).await;
        }
        SshCommand::AuthorizedKeys {
            username,
            fingerprint,
            ssh_config,
        } => (username, fingerprint, ssh_config),
    };
    // SECURITY: only canonical account names go further (no `../x`, `alice;id`, case
    // variants or 300-character names); anything else is "no keys".
    let Ok(name) = Username::parse(username) else {
        note!("gatehouse: not a Gatehouse username; no keys");
        return Ok(());
    };
    if name.as_str() != username {
        note!("gatehouse: not a canonical Gatehouse username; no keys");
        return Ok(());
    }
    let config = SshConfig::load(ssh_config)?;
    let keys = match ask(&config, name.as_str()).await {
        Ok(keys) => {
            if let Some(dir) = config.cache_dir()
                && let Err(e) = cache::write(dir, name.as_str(), &keys)
            {
                note!("gatehouse: cannot update the cache: {e:#}");
            }
            keys
        }
        Err(Failure::Refused(e)) => return Err(e),
        Err(Failure::Unavailable(e)) => match cached(&config, name.as_str()) {
            Some(keys) => {
                note!("gatehouse: {e:#}; serving the cached answer");
                keys
            }
            None => return Err(e.context("no cached answer; refusing (fail closed)")),
        },
    };
    // An empty `%f` (no key offered yet) means every key.
    let wanted = fingerprint
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let mut out = std::io::stdout().lock();
    for key in &keys {
        // SECURITY: the fingerprint is the key's own, computed here; a field of the
        // answer claiming one could match `%f` for a different key.
        if wanted.is_none_or(|w| w == key.fingerprint()) {
            writeln!(out, "{}", key.authorized_keys_line())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The fresh answer, with the whole exchange (connection, headers, body) bounded by
/// `timeout_seconds`: a slow drip of bytes cannot hold sshd past it.
async fn ask(config: &SshConfig, username: &str) -> Result<Vec<SshPublicKey>, Failure> {
    let deadline = Duration::from_secs(config.timeout_seconds.max(1));
    match tokio::time::timeout(deadline, answer::fetch(config, username)).await {
        Ok(result) => result,
        Err(_) => Err(Failure::Unavailable(anyhow::anyhow!(
            "Gatehouse did not answer within {} s",
            deadline.as_secs()
        ))),
    }
}

/// The kept answer, if caching is on and the cache may be trusted.
fn cached(config: &SshConfig, username: &str) -> Option<Vec<SshPublicKey>> {
    let dir = config.cache_dir()?;
    match cache::read(dir, username, Duration::from_secs(config.cache_ttl_seconds)) {
        Ok(keys) => keys,
        Err(e) => {
            note!("gatehouse: {e:#}");
            None
        }
    }
}
