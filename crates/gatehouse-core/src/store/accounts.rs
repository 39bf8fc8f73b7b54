//! Storage of accounts.

use async_trait::async_trait;

use crate::account::{Account, AccountRecord, NewAccountRecord, Username};
use crate::error::Result;
use crate::ids::AccountId;
use crate::secret::TokenHash;
use time::OffsetDateTime;

/// Accounts, by id and by username. Roles, status and membership change through
/// [`crate::store::OrgStore::change_member`], which keeps every organisation an owner.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Inserts an account; `Conflict` if the username is taken.
    async fn insert_account(&self, user: &NewAccountRecord) -> Result<Account>;
    /// Finds an account by (normalised) username.
    async fn account_by_username(&self, username: &Username) -> Result<Option<AccountRecord>>;
    /// Finds an account by id.
    async fn account_by_id(&self, id: &AccountId) -> Result<Option<AccountRecord>>;
    /// Every person's account on the server, oldest first (operator use).
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// How many accounts of people exist.
    async fn count_accounts(&self) -> Result<u64>;
    /// Replaces an account's password hash.
    async fn set_password_hash(&self, id: &AccountId, hash: &str) -> Result<()>;
    /// Inserts a person's account without a password together with its set-password
    /// link, in one transaction (a member is never left without a way in).
    async fn insert_member_with_link(
        &self,
        user: &NewAccountRecord,
        secret: &TokenHash,
        created_by: &AccountId,
        expires_at: OffsetDateTime,
    ) -> Result<Account>;
    /// Keeps a one-time set-password link (its secret's hash) for an account, replacing
    /// the account's earlier one.
    async fn put_password_link(
        &self,
        account: &AccountId,
        secret: &TokenHash,
        created_by: &AccountId,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// Removes links past their expiry (the cleanup job).
    async fn delete_expired_password_links(&self, now: OffsetDateTime) -> Result<u64>;
    /// The account an unexpired link opens, for an account that still has no password
    /// (a lookup: nothing changes).
    async fn password_link_account(
        &self,
        secret: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<AccountId>>;
    /// Redeems a link in one transaction: deletes it (a link works once) and sets the
    /// account's first password. `None`, with nothing changed, when the link is unknown,
    /// expired or used, or the account already has a password.
    async fn redeem_password_link(
        &self,
        secret: &TokenHash,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AccountId>>;
}
