//! Storage of browser sessions.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::ids::AccountId;
use crate::secret::TokenHash;
use crate::session::SessionRecord;

/// Browser sessions, by the hash of their cookie secret.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<()>;
    /// Finds a session by the hash of its cookie secret.
    async fn session_by_hash(&self, hash: &TokenHash) -> Result<Option<SessionRecord>>;
    /// Deletes one session; whether it existed. Publishes [`Invalidation::Session`] with it.
    async fn delete_session(&self, hash: &TokenHash, at: OffsetDateTime) -> Result<bool>;
    /// Deletes every session of an account; how many. Publishes [`Invalidation::Account`].
    async fn delete_user_sessions(&self, user: &AccountId, at: OffsetDateTime) -> Result<u64>;
    /// Records activity for many sessions at once (never moves `last_seen_at` back).
    async fn touch_sessions(&self, seen: &[(TokenHash, OffsetDateTime)]) -> Result<()>;
    /// Deletes sessions whose absolute lifetime or idle time has passed.
    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
    ) -> Result<u64>;
}
