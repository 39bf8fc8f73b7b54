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
    /// A push channel that wakes this node when any node publishes a change (PostgreSQL
    /// `LISTEN`), on its own connection; `None` for a store with one node (SQLite),
    /// where the node that makes a change is the only one with caches.
    async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>>;
}

/// Wake-ups from other nodes' changes. Notifications are transient: the invalidation
/// rows stay the durable record, and [`FeedEvent::Resync`] says some may have been missed.
#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits for the next event. An error means the feed is down for now (the caller
    /// waits and asks again; the feed reconnects).
    async fn next(&mut self) -> Result<FeedEvent>;
}

/// What a [`ChangeFeed`] delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// A change was committed; the payload is [`Notice`]'s wire form.
    Changed(String),
    /// The connection was lost and is back: notifications sent meanwhile are gone, so
    /// the caller re-reads the tables.
    Resync,
}

/// What a notification names: an invalidation, applied as it arrives, or "token
/// revocations changed", which sends the node to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// An invalidation row's content.
    Invalidated(Invalidation),
    /// A token was revoked (the revocation rows say which).
    TokensRevoked,
}

impl Notice {
    /// The payload form: `kind:subject`, or `token`.
    pub fn to_payload(&self) -> String {
        match self {
            Notice::Invalidated(change) => {
                let (kind, subject) = change.parts();
                format!("{kind}:{subject}")
            }
            Notice::TokensRevoked => "token".to_owned(),
        }
    }

    /// Reads a payload back; `None` for one this version does not know.
    pub fn from_payload(payload: &str) -> Option<Self> {
        if payload == "token" {
            return Some(Notice::TokensRevoked);
        }
        let (kind, subject) = payload.split_once(':')?;
        Invalidation::from_parts(kind, subject.to_owned()).map(Notice::Invalidated)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_unknown_ones_are_ignored() {
        for notice in [
            Notice::Invalidated(Invalidation::ApiKey(ApiKeyId::generate())),
            Notice::Invalidated(Invalidation::Account(AccountId::generate())),
            Notice::Invalidated(Invalidation::Session(crate::secret::TokenHash::of("x"))),
            Notice::TokensRevoked,
        ] {
            assert_eq!(Notice::from_payload(&notice.to_payload()), Some(notice));
        }
        assert_eq!(Notice::from_payload("future_kind:x"), None);
        assert_eq!(Notice::from_payload("session:not-hex"), None);
        assert_eq!(Notice::from_payload(""), None);
    }
}
