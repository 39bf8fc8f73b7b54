//! Storage of organisations, accounts and organisation policy.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{NewUser, User, UserRecord, Username};
use crate::error::Result;
use crate::ids::{OrgId, UserId};
use crate::org::{Org, OrgPolicy};

/// Organisations, their accounts and their policy.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Returns the organisation with this name, creating it if missing.
    async fn ensure_org(&self, name: &str, now: OffsetDateTime) -> Result<Org>;
    /// Inserts an account; `Conflict` if the username is taken.
    async fn insert_user(&self, user: &NewUser) -> Result<User>;
    /// Finds an account by (normalised) username.
    async fn user_by_username(&self, username: &Username) -> Result<Option<UserRecord>>;
    /// Finds an account by id.
    async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>>;
    /// All accounts, oldest first.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// How many accounts exist.
    async fn count_users(&self) -> Result<u64>;
    /// Replaces an account's password hash.
    async fn set_password_hash(&self, id: &UserId, hash: &str) -> Result<()>;
    /// Disables or re-enables an account, publishing [`Invalidation::User`] with it.
    async fn set_user_disabled(
        &self,
        id: &UserId,
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
