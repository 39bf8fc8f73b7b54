//! Storage of SSH public keys.

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{AccountId, SshKeyId};
use crate::page::PageRequest;
use crate::ssh::SshKeyRecord;

/// SSH public keys.
#[async_trait]
pub trait SshKeyStore: Send + Sync + 'static {
    /// Inserts a key; `Conflict` when the owner already has that name or that key.
    async fn insert_ssh_key(&self, key: &SshKeyRecord) -> Result<()>;
    /// A page of `owner`'s keys, oldest first (up to `page.fetch_limit()` rows).
    async fn list_ssh_keys(
        &self,
        owner: &AccountId,
        page: &PageRequest,
    ) -> Result<Vec<SshKeyRecord>>;
    /// How many keys `owner` has.
    async fn count_ssh_keys(&self, owner: &AccountId) -> Result<u64>;
    /// One of `owner`'s keys (another user's key is `None`).
    async fn ssh_key_by_id(&self, owner: &AccountId, id: &SshKeyId)
    -> Result<Option<SshKeyRecord>>;
    /// Deletes every key of `owner` (deprovisioning); how many there were.
    async fn delete_account_ssh_keys(&self, owner: &AccountId) -> Result<u64>;
    /// Deletes one of `owner`'s keys; the key if it existed.
    async fn delete_ssh_key(
        &self,
        owner: &AccountId,
        id: &SshKeyId,
    ) -> Result<Option<SshKeyRecord>>;
}
