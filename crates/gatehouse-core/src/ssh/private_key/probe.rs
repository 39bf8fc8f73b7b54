//! The connection test: Gatehouse itself connects to a host with russh's client and
//! authenticates with a stored key (no channel is opened, no command runs).
//!
//! Host keys are never accepted blindly: the caller says what it expects ([`HostKey`]),
//! and the key exchange stops before authentication when the host presents anything
//! else, so a stored key never signs for a host its owner did not confirm.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::ssh_key::PublicKey;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};

use super::sign::{SigningKey, fingerprint};

/// The host key a test expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKey {
    /// Nothing is pinned and nothing was confirmed: connect only to learn the key.
    Unknown,
    /// The owner confirmed this fingerprint just now (trust on first use).
    Confirmed(String),
    /// This fingerprint is pinned.
    Pinned(String),
}

/// How a test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The host accepted the key.
    Success {
        /// The host's key (verified against the expectation).
        host_key: PublicKey,
    },
    /// The host refused the key (it is not in the user's `authorized_keys`, say).
    AuthenticationRefused {
        /// The host's key.
        host_key: PublicKey,
    },
    /// No key is pinned or confirmed for this host; this is the one it presented.
    HostKeyUnknown {
        /// Presented.
        presented: PublicKey,
    },
    /// A confirmed fingerprint that is not what the host presents now.
    HostKeyChanged {
        /// Presented.
        presented: PublicKey,
    },
    /// The pinned key is not what the host presents.
    HostKeyMismatch {
        /// Presented.
        presented: PublicKey,
    },
    /// The connection could not be made or broke off.
    Unreachable(String),
    /// No answer within the time allowed.
    Timeout,
}

impl Outcome {
    /// The key the host presented, when the test got that far.
    pub fn host_key(&self) -> Option<&PublicKey> {
        match self {
            Outcome::Success { host_key } | Outcome::AuthenticationRefused { host_key } => {
                Some(host_key)
            }
            Outcome::HostKeyUnknown { presented }
            | Outcome::HostKeyChanged { presented }
            | Outcome::HostKeyMismatch { presented } => Some(presented),
            Outcome::Unreachable(_) | Outcome::Timeout => None,
        }
    }
}

/// Connects to `addr`, checks its host key against `expected`, and authenticates as
/// `user` with `key`, all within `limit`.
pub async fn probe(
    addr: SocketAddr,
    user: &str,
    key: &SigningKey,
    expected: &HostKey,
    limit: Duration,
) -> Outcome {
    let seen = Arc::new(Mutex::new(None));
    let handler = Checker {
        expected: expected.clone(),
        seen: seen.clone(),
    };
    let finished = tokio::time::timeout(limit, run(addr, user, key, handler)).await;
    match (finished, taken(&seen)) {
        (Err(_), _) => Outcome::Timeout,
        (Ok(Ok(true)), Some(host_key)) => Outcome::Success { host_key },
        (Ok(Ok(false)), Some(host_key)) => Outcome::AuthenticationRefused { host_key },
        (Ok(Ok(_)), None) => Outcome::Unreachable("the host sent no host key".into()),
        // The key exchange stopped at the host key check.
        (Ok(Err(_)), Some(presented)) if !matches(expected, &presented) => match expected {
            HostKey::Unknown => Outcome::HostKeyUnknown { presented },
            HostKey::Confirmed(_) => Outcome::HostKeyChanged { presented },
            HostKey::Pinned(_) => Outcome::HostKeyMismatch { presented },
        },
        (Ok(Err(e)), _) => Outcome::Unreachable(describe(&e)),
    }
}

fn taken(seen: &Mutex<Option<PublicKey>>) -> Option<PublicKey> {
    seen.lock().ok().and_then(|s| s.clone())
}

fn matches(expected: &HostKey, presented: &PublicKey) -> bool {
    match expected {
        HostKey::Unknown => false,
        HostKey::Confirmed(fp) | HostKey::Pinned(fp) => {
            // Fingerprints are not secret; equality is all that is asked.
            *fp == fingerprint(presented)
        }
    }
}

/// Whether the host accepted the key; an error when the connection failed (including
/// a host key the checker refused).
async fn run(
    addr: SocketAddr,
    user: &str,
    key: &SigningKey,
    handler: Checker,
) -> Result<bool, russh::Error> {
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    });
    let mut session = client::connect(config, addr, handler).await?;
    let hash = session.best_supported_rsa_hash().await?.flatten();
    let with_hash = PrivateKeyWithHashAlg::new(Arc::new(key.private_key().clone()), hash);
    let result = session.authenticate_publickey(user, with_hash).await?;
    // Best effort: the answer is known whatever the goodbye does.
    let _ = session
        .disconnect(
            russh::Disconnect::ByApplication,
            "connection test done",
            "en",
        )
        .await;
    Ok(result.success())
}

fn describe(e: &russh::Error) -> String {
    match e {
        russh::Error::IO(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "the connection was refused (is sshd listening on that port?)".into()
            }
            std::io::ErrorKind::TimedOut => "the connection timed out".into(),
            _ => format!("the connection failed: {io}"),
        },
        russh::Error::Disconnect | russh::Error::HUP => "the host closed the connection".into(),
        russh::Error::NoCommonAlgo { .. } => {
            "the host offers no algorithm in common with Gatehouse".into()
        }
        _ => "the SSH handshake failed".into(),
    }
}

/// Accepts the host key only when it is the one expected, and remembers what it saw.
struct Checker {
    expected: HostKey,
    seen: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            // A host certificate: its key is what is pinned.
            PublicKeyOrCertificate::Certificate(cert) => {
                PublicKey::new(cert.public_key().clone(), "")
            }
        };
        let ok = matches(&self.expected, &key);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(key);
        }
        Ok(ok)
    }
}
