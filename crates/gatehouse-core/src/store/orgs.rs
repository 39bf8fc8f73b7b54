//! Storage of organisations and their members' roles and status.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{Account, AccountRecord, Username};
use crate::error::Result;
use crate::ids::{AccountId, OrgId};
use crate::org::{Edition, Org, OrgPolicy, Role};
use crate::page::PageRequest;

/// A change to one member. Every change that could take an organisation's last active
/// owner away (demoting, disabling, moving) is checked and written in one transaction
/// that first locks the organisation's row, so concurrent changes cannot both pass the
/// check: the organisation keeps at least one active owner, or the change is `Conflict`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// A new role.
    Role(Role),
    /// Disabled (`true`) or enabled again.
    Disabled(bool),
    /// Into another organisation, as a member there.
    MoveTo(OrgId),
}

/// A member as the admin panel lists them.
#[derive(Debug, Clone)]
pub struct MemberRecord {
    /// The account.
    pub account: Account,
    /// The newest sign-in.
    pub last_sign_in_at: Option<OffsetDateTime>,
    /// Whether a confirmed second factor (authenticator app or security key) exists.
    pub mfa_enabled: bool,
    /// Whether the member has a password (a member an admin added has none until they
    /// use their set-password link).
    pub password_set: bool,
}

/// Which members a list shows.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only disabled (`true`) or only active (`false`) members.
    pub disabled: Option<bool>,
}

/// Organisations, their members and their policy. Every query about an organisation's
/// members names the organisation in the query itself.
#[async_trait]
pub trait OrgStore: Send + Sync + 'static {
    /// Returns the organisation with this name, creating it (edition `team`) if missing.
    async fn ensure_org(&self, name: &str, now: OffsetDateTime) -> Result<Org>;
    /// Inserts an organisation; `Conflict` when the name is taken.
    async fn insert_org(&self, org: &Org) -> Result<()>;
    /// An organisation by id.
    async fn org_by_id(&self, id: &OrgId) -> Result<Option<Org>>;
    /// An organisation by (normalised) name.
    async fn org_by_name(&self, name: &str) -> Result<Option<Org>>;
    /// A page of organisations, oldest first.
    async fn list_orgs(&self, page: &PageRequest) -> Result<Vec<Org>>;
    /// Changes an organisation's edition; whether it existed.
    async fn set_org_edition(&self, id: &OrgId, edition: Edition) -> Result<bool>;
    /// The organisation's own principal, which holds the keys the organisation owns,
    /// created on first use.
    async fn org_principal(&self, org: &OrgId, now: OffsetDateTime) -> Result<Account>;
    /// A page of the organisation's members (people only), oldest first.
    async fn list_members(
        &self,
        org: &OrgId,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Vec<MemberRecord>>;
    /// One member of `org`; someone in another organisation is `None`.
    async fn member(&self, org: &OrgId, id: &AccountId) -> Result<Option<MemberRecord>>;
    /// A member of `org` by (normalised) username; someone in another organisation is
    /// `None`.
    async fn member_by_username(
        &self,
        org: &OrgId,
        username: &Username,
    ) -> Result<Option<AccountRecord>>;
    /// Applies `change` to a person; with `org`, only if they belong to it (else
    /// `NotFound`). `Conflict` when it would leave their organisation without an active
    /// owner. Publishes [`crate::store::Invalidation::Account`] with it.
    async fn change_member(
        &self,
        org: Option<&OrgId>,
        id: &AccountId,
        change: &MemberChange,
        at: OffsetDateTime,
    ) -> Result<Account>;
    /// How many active owners the organisation has.
    async fn count_active_owners(&self, org: &OrgId) -> Result<u64>;
    /// Records a sign-in.
    async fn record_sign_in(&self, id: &AccountId, at: OffsetDateTime) -> Result<()>;
    /// Members of an organisation (people only).
    async fn org_member_count(&self, org: &OrgId) -> Result<u64>;
    /// An organisation's policy (the defaults when never set).
    async fn org_policy(&self, org: &OrgId) -> Result<OrgPolicy>;
    /// Replaces an organisation's policy.
    async fn set_org_policy(&self, org: &OrgId, policy: &OrgPolicy) -> Result<()>;
}
