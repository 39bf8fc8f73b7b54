//! The sealed values of every aggregate, seen together for master key rotation: each
//! kind's rows with their owner, so the core can rebuild their seal context, re-wrap
//! their data keys under the active master key, and count what a retiring key still
//! wraps. Nothing else reads sealed values this way.

use async_trait::async_trait;

use crate::error::Result;

/// The kinds of sealed value Gatehouse keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// Token signing keys (`signing_key.sealed_private_key`).
    SigningKey,
    /// Authenticator app seeds (`mfa_factor.sealed_secret`).
    TotpSeed,
    /// Stored SSH private keys (`ssh_private_key.sealed_private_key`).
    SshPrivateKey,
}

impl SealedKind {
    /// Every kind.
    pub const ALL: [SealedKind; 3] = [
        SealedKind::SigningKey,
        SealedKind::TotpSeed,
        SealedKind::SshPrivateKey,
    ];

    /// A name for reports.
    pub fn label(self) -> &'static str {
        match self {
            SealedKind::SigningKey => "token signing keys",
            SealedKind::TotpSeed => "authenticator app seeds",
            SealedKind::SshPrivateKey => "SSH private keys",
        }
    }
}

/// One sealed value and what its seal context is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The row's id.
    pub id: String,
    /// The owning account's id (`None` for signing keys, which are the system's).
    pub owner: Option<String>,
    /// The sealed text.
    pub sealed: String,
}

/// Sealed values across aggregates.
#[async_trait]
pub trait SealedStore: Send + Sync + 'static {
    /// Up to `limit` values of `kind` with ids after `after`, by id.
    async fn sealed_values(
        &self,
        kind: SealedKind,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SealedValue>>;
    /// Replaces one value, only if it still is `old` (a concurrent change wins); whether
    /// it was replaced.
    async fn replace_sealed(
        &self,
        kind: SealedKind,
        id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool>;
}
