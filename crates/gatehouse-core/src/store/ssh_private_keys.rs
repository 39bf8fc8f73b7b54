//! Storage of SSH private keys: write-only from the API's side. The sealed key is a
//! column of its own, read only by [`SshPrivateKeyStore::sealed_ssh_private_key`].

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{AccountId, SshPrivateKeyId};
use crate::page::PageRequest;
use crate::ssh::{PinnedHostKey, SshPrivateKeyRecord};
use time::OffsetDateTime;

/// SSH private keys, sealed.
#[async_trait]
pub trait SshPrivateKeyStore: Send + Sync + 'static {
    /// Inserts a key with its sealed value; `Conflict` when the owner already has that
    /// name or that key.
    async fn insert_ssh_private_key(&self, key: &SshPrivateKeyRecord, sealed: &str) -> Result<()>;
    /// A page of `owner`'s keys, oldest first (up to `page.fetch_limit()` rows).
    async fn list_ssh_private_keys(
        &self,
        owner: &AccountId,
        page: &PageRequest,
    ) -> Result<Vec<SshPrivateKeyRecord>>;
    /// How many keys `owner` has.
    async fn count_ssh_private_keys(&self, owner: &AccountId) -> Result<u64>;
    /// One of `owner`'s keys (another account's key is `None`).
    async fn ssh_private_key_by_id(
        &self,
        owner: &AccountId,
        id: &SshPrivateKeyId,
    ) -> Result<Option<SshPrivateKeyRecord>>;
    /// The sealed value of one of `owner`'s keys, for signing with it.
    async fn sealed_ssh_private_key(
        &self,
        owner: &AccountId,
        id: &SshPrivateKeyId,
    ) -> Result<Option<String>>;
    /// Records a use of one of `owner`'s keys; `false` when the key is gone (deleted
    /// meanwhile: the signature must not be handed out).
    async fn touch_ssh_private_key(
        &self,
        owner: &AccountId,
        id: &SshPrivateKeyId,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// The host key `owner` pinned for `host:port`, if any.
    async fn pinned_host_key(
        &self,
        owner: &AccountId,
        host: &str,
        port: u16,
    ) -> Result<Option<PinnedHostKey>>;
    /// Pins a host key for `owner`; `Conflict` when that host:port has a pin already
    /// (a pin is never replaced silently).
    async fn pin_host_key(&self, owner: &AccountId, pin: &PinnedHostKey) -> Result<()>;
    /// Removes `owner`'s pin for `host:port`; whether there was one.
    async fn forget_host_key(&self, owner: &AccountId, host: &str, port: u16) -> Result<bool>;
    /// Deletes every key of `owner` and their pinned host keys (deprovisioning); how
    /// many keys there were.
    async fn delete_account_ssh_private_keys(&self, owner: &AccountId) -> Result<u64>;
    /// Deletes one of `owner`'s keys; the key if it existed.
    async fn delete_ssh_private_key(
        &self,
        owner: &AccountId,
        id: &SshPrivateKeyId,
    ) -> Result<Option<SshPrivateKeyRecord>>;
}
