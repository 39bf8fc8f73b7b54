//! Storage of API keys.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::api_key::{ApiKeyRecord, KeyUsage};
use crate::error::Result;
use crate::ids::{AccountId, ApiKeyId};
use crate::page::PageRequest;
use crate::secret::TokenHash;

/// API keys, by owner and by the hash of their secret.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Inserts a key; `Conflict` when the owner already has a key of that name.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    /// Inserts many keys in one transaction (bulk provisioning and load tests).
    async fn insert_api_keys(&self, keys: &[ApiKeyRecord]) -> Result<()>;
    /// Finds a key by the hash of its secret.
    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKeyRecord>>;
    /// Finds one of `owner`'s keys (another user's key is `None`).
    async fn api_key_by_id(&self, owner: &AccountId, id: &ApiKeyId)
    -> Result<Option<ApiKeyRecord>>;
    /// A page of `owner`'s keys, oldest first (up to `page.fetch_limit()` rows).
    async fn list_api_keys(
        &self,
        owner: &AccountId,
        page: &PageRequest,
    ) -> Result<Vec<ApiKeyRecord>>;
    /// How many of `owner`'s keys are neither revoked nor expired at `now`.
    async fn count_live_api_keys(&self, owner: &AccountId, now: OffsetDateTime) -> Result<u64>;
    /// Revokes (disables for good) the unrevoked keys minted by `parent`, an API key or
    /// token id, publishing [`Invalidation::ApiKey`] for each; their ids and hashes.
    async fn revoke_api_keys_by_parent(
        &self,
        parent: &str,
        at: OffsetDateTime,
    ) -> Result<Vec<(ApiKeyId, TokenHash)>>;
    /// Revokes every unrevoked key of `owner` that a token minted (all of the
    /// account's tokens are being revoked); their ids and hashes.
    async fn revoke_token_minted_api_keys(
        &self,
        owner: &AccountId,
        at: OffsetDateTime,
    ) -> Result<Vec<(ApiKeyId, TokenHash)>>;
    /// Enables or disables one of `owner`'s keys; whether it existed. Publishes
    /// [`Invalidation::ApiKey`] with the change, as do both deletes.
    async fn set_api_key_enabled(
        &self,
        owner: &AccountId,
        id: &ApiKeyId,
        enabled: bool,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes one of `owner`'s keys; whether it existed.
    async fn delete_api_key(
        &self,
        owner: &AccountId,
        id: &ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes a key by hash (revocation of a leaked key); its id and owner if it existed.
    async fn delete_api_key_by_hash(
        &self,
        hash: &TokenHash,
        at: OffsetDateTime,
    ) -> Result<Option<(ApiKeyId, AccountId)>>;
    /// Writes buffered last-use records.
    async fn record_api_key_usage(&self, usage: &[KeyUsage]) -> Result<()>;
    /// How many keys exist in all (for benchmarks and metrics).
    async fn count_api_keys(&self) -> Result<u64>;
}
