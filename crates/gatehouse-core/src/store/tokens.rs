//! Storage of bearer tokens and their signing keys.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::ids::{AccountId, TokenId};
use crate::page::PageRequest;
use crate::secret::TokenHash;
use crate::token::{SigningKeyRecord, TokenRecord};

/// Bearer tokens and their signing keys.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Every signing key, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Adds a signing key and retires every other unretired one, atomically.
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
    /// Deletes retired keys that stopped verifying before `cutoff`; how many.
    async fn delete_retired_signing_keys(&self, cutoff: OffsetDateTime) -> Result<u64>;
    /// Records a newly issued token.
    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    /// Finds a token by id (any owner: used to verify a presented token).
    async fn token_by_id(&self, id: &TokenId) -> Result<Option<TokenRecord>>;
    /// A page of `owner`'s tokens that are neither revoked nor expired at `now`, newest
    /// first (up to `page.fetch_limit()` rows).
    async fn list_live_tokens(
        &self,
        owner: &AccountId,
        now: OffsetDateTime,
        page: &PageRequest,
    ) -> Result<Vec<TokenRecord>>;
    /// How many of `owner`'s tokens are neither revoked nor expired at `now`.
    async fn count_live_tokens(&self, owner: &AccountId, now: OffsetDateTime) -> Result<u64>;
    /// Revokes one of `owner`'s tokens; the token if it was live.
    async fn revoke_token(
        &self,
        owner: &AccountId,
        id: &TokenId,
        at: OffsetDateTime,
    ) -> Result<Option<TokenRecord>>;
    /// Revokes all of a user's tokens and sets their "not before" time to `at`; how many
    /// were revoked. Publishes [`Invalidation::Account`] with the change.
    async fn revoke_user_tokens(&self, user: &AccountId, at: OffsetDateTime) -> Result<u64>;
    /// Revokes the live tokens minted by `parent` (an API key or token id); their ids and
    /// hashes.
    async fn revoke_tokens_by_parent(
        &self,
        parent: &str,
        at: OffsetDateTime,
    ) -> Result<Vec<(TokenId, TokenHash)>>;
    /// Tokens revoked at or after `since` whose expiry is after `live_after`: their ids,
    /// hashes and expiry times (how nodes learn of each other's revocations).
    async fn revoked_tokens_since(
        &self,
        since: OffsetDateTime,
        live_after: OffsetDateTime,
    ) -> Result<Vec<(TokenId, TokenHash, OffsetDateTime)>>;
    /// Deletes tokens that expired before `cutoff`; how many.
    async fn delete_expired_tokens(&self, cutoff: OffsetDateTime) -> Result<u64>;
}
