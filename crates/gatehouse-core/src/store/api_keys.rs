//! Storage of API keys.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::api_key::{ApiKeyKind, ApiKeyRecord, KeyUsage};
use crate::error::Result;
use crate::ids::{AccountId, ApiKeyId, OrgId};
use crate::page::PageRequest;
use crate::secret::TokenHash;

/// A key as an organisation's Keys page lists it: with its holder.
#[derive(Debug, Clone)]
pub struct OrgKeyRecord {
    /// The key.
    pub key: ApiKeyRecord,
    /// The holder's username (the organisation principal's for organisation keys).
    pub owner_username: String,
    /// The holder's display name.
    pub owner_display_name: String,
}

/// Which keys an organisation's Keys page shows.
#[derive(Debug, Clone, Default)]
pub struct OrgKeyFilter {
    /// Only keys of this kind.
    pub kind: Option<ApiKeyKind>,
    /// Only keys held by this account.
    pub owner: Option<AccountId>,
    /// Only enabled (`true`) or only disabled (`false`) keys.
    pub enabled: Option<bool>,
}

/// What deleting an organisation's key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgKeyDeleted {
    /// Deleted.
    Deleted,
    /// No such key in this organisation.
    NotFound,
    /// The key is enabled and had to be disabled first; nothing changed.
    StillEnabled,
}

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
    /// Revokes every unrevoked key of `owner` (deprovisioning), publishing
    /// [`Invalidation::ApiKey`] for each; their ids and hashes.
    async fn revoke_account_api_keys(
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
    /// A page of the keys of `org` (its members' and its own), oldest first.
    async fn list_org_keys(
        &self,
        org: &OrgId,
        filter: &OrgKeyFilter,
        page: &PageRequest,
    ) -> Result<Vec<OrgKeyRecord>>;
    /// One key of `org`; another organisation's key is `None`.
    async fn org_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<OrgKeyRecord>>;
    /// Enables or disables one key of `org`; whether it existed there.
    async fn set_org_key_enabled(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        enabled: bool,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes one key of `org`; with `only_if_disabled`, an enabled key is left alone
    /// (checked in the same statement).
    async fn delete_org_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        only_if_disabled: bool,
        at: OffsetDateTime,
    ) -> Result<OrgKeyDeleted>;
    /// Inserts the holder's only key of its kind (the Team Computer Key, the SCIM key).
    /// With `replace`, an existing one is deleted in the same transaction and returned;
    /// without, an existing one makes this `Conflict`.
    async fn insert_sole_key(
        &self,
        key: &ApiKeyRecord,
        replace: bool,
        at: OffsetDateTime,
    ) -> Result<Option<ApiKeyRecord>>;
    /// How many keys exist in all (for benchmarks and metrics).
    async fn count_api_keys(&self) -> Result<u64>;
}
