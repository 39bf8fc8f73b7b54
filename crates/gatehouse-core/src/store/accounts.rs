//! Storage of organisations, accounts and organisation policy.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{Account, AccountRecord, NewAccountRecord, Username};
use crate::error::Result;
use crate::ids::{AccountId, OrgId};
use crate::org::{Org, OrgPolicy};

/// Organisations, their accounts and their policy.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Returns the organisation with this name, creating it if missing.
    async fn ensure_org(&self, name: &str, now: OffsetDateTime) -> Result<Org>;
    /// Inserts an account; `Conflict` if the username is taken.
    async fn insert_account(&self, user: &NewAccountRecord) -> Result<Account>;
    /// Finds an account by (normalised) username.
    async fn account_by_username(&self, username: &Username) -> Result<Option<AccountRecord>>;
    /// Finds an account by id.
    async fn account_by_id(&self, id: &AccountId) -> Result<Option<AccountRecord>>;
    /// All accounts, oldest first.
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// How many accounts exist.
    async fn count_accounts(&self) -> Result<u64>;
    /// Replaces an account's password hash.
    async fn set_password_hash(&self, id: &AccountId, hash: &str) -> Result<()>;
    /// Disables or re-enables an account, publishing [`Invalidation::Account`] with it.
    async fn set_account_disabled(
        &self,
        id: &AccountId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<()>;
    /// Members of an organisation.
    async fn org_member_count(&self, org: &OrgId) -> Result<u64>;
    /// An organisation's policy (the defaults when never set).
    async fn org_policy(&self, org: &OrgId) -> Result<OrgPolicy>;
    /// Replaces an organisation's policy.
    async fn set_org_policy(&self, org: &OrgId, policy: &OrgPolicy) -> Result<()>;
}
