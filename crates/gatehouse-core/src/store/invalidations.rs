//! Cross-node cache invalidations: what a change publishes, and how nodes read it.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::ids::{AccountId, ApiKeyId};
use crate::secret::TokenHash;

/// The invalidation rows every node polls.
#[async_trait]
pub trait InvalidationStore: Send + Sync + 'static {
    /// Cache invalidations published at or after `since`, oldest first.
    async fn invalidations_since(&self, since: OffsetDateTime) -> Result<Vec<Published>>;
    /// Deletes invalidations published before `cutoff`; how many.
    async fn delete_invalidations_before(&self, cutoff: OffsetDateTime) -> Result<u64>;
}

/// A change that every node must drop from its in-memory caches. The store writes it
/// in the same transaction as the change itself, and every node polls for new ones, so
/// a revocation made on one node reaches the others within one poll.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Invalidation {
    /// An API key was disabled, enabled or deleted.
    ApiKey(ApiKeyId),
    /// An account was disabled, enabled, or signed out everywhere.
    Account(AccountId),
    /// A session was ended (sign-out), named by the hash of its cookie secret, which is
    /// what the session table already holds.
    Session(TokenHash),
}

/// An invalidation as read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The row's unique id (two changes to one subject in one second are two rows).
    pub id: String,
    /// When it was published, by the publishing node's clock.
    pub at: OffsetDateTime,
    /// What changed.
    pub change: Invalidation,
}

impl Invalidation {
    /// The stored form: a kind and a subject id.
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            Invalidation::ApiKey(id) => ("api_key", id.0.clone()),
            Invalidation::Account(id) => ("user", id.0.clone()),
            Invalidation::Session(hash) => ("session", hash.to_hex()),
        }
    }

    /// Reads the stored form back; `None` for a kind this version does not know.
    pub fn from_parts(kind: &str, subject: String) -> Option<Self> {
        match kind {
            "api_key" => Some(Invalidation::ApiKey(ApiKeyId(subject))),
            "user" => Some(Invalidation::Account(AccountId(subject))),
            "session" => TokenHash::from_hex(&subject).map(Invalidation::Session),
            _ => None,
        }
    }
}
