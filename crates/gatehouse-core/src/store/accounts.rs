//! Storage of accounts.

use async_trait::async_trait;

use crate::account::{Account, AccountRecord, NewAccountRecord, Username};
use crate::error::Result;
use crate::ids::AccountId;

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
}
