//! Storage of what SCIM provisions: users (accounts with the identity provider's
//! attributes), groups and their members, and the organisation's group-to-role
//! mappings. Every query names the organisation; a user SCIM can see is a person of
//! that organisation who is not a server operator and was not deleted through SCIM.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::Account;
use crate::error::Result;
use crate::ids::{AccountId, OrgId, ScimGroupId};
use crate::org::Role;
use crate::scim::filter::Query;
use crate::scim::{GroupFields, ListWindow, ScimGroup, ScimUser, UserFields};

/// A group name that gives its members a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMapping {
    /// The group's display name, as the admin typed it.
    pub group: String,
    /// The role its members get.
    pub role: Role,
}

/// SCIM's users and groups.
#[async_trait]
pub trait ScimStore: Send + Sync + 'static {
    /// The users matching `query`, in creation order, and how many match in all.
    async fn scim_users(
        &self,
        org: &OrgId,
        query: &Query,
        window: ListWindow,
    ) -> Result<(u64, Vec<ScimUser>)>;
    /// One user SCIM can see in `org`.
    async fn scim_user(&self, org: &OrgId, id: &AccountId) -> Result<Option<ScimUser>>;
    /// Makes a person's account (no password, role member) from SCIM fields;
    /// `Conflict` when the username is taken anywhere on the server.
    async fn scim_insert_user(
        &self,
        org: &OrgId,
        id: &AccountId,
        fields: &UserFields,
        at: OffsetDateTime,
    ) -> Result<()>;
    /// Writes a user's fields, and their `active` flag through the last-owner guard of
    /// [`crate::store::OrgStore::change_member`], in one transaction; publishes
    /// [`crate::store::Invalidation::Account`] when the flag changes. `NotFound` for a
    /// user SCIM cannot see, `Conflict` for a taken username or the last owner.
    async fn scim_update_user(
        &self,
        org: &OrgId,
        id: &AccountId,
        fields: &UserFields,
        at: OffsetDateTime,
    ) -> Result<Account>;
    /// Disables a user and hides them from SCIM (the account stays for the audit
    /// trail), leaving every group, in one transaction guarded like
    /// [`Self::scim_update_user`]. Returns the account's state before.
    async fn scim_delete_user(
        &self,
        org: &OrgId,
        id: &AccountId,
        at: OffsetDateTime,
    ) -> Result<Account>;
    /// The groups matching `query`, in creation order, with their members when asked.
    async fn scim_groups(
        &self,
        org: &OrgId,
        query: &Query,
        window: ListWindow,
        with_members: bool,
    ) -> Result<(u64, Vec<ScimGroup>)>;
    /// One group of `org`, with its members when asked.
    async fn scim_group(
        &self,
        org: &OrgId,
        id: &ScimGroupId,
        with_members: bool,
    ) -> Result<Option<ScimGroup>>;
    /// Makes a group with its members in one transaction. `Conflict` for a display
    /// name the organisation has; `Invalid` (field `value`) for a member SCIM cannot see.
    async fn scim_insert_group(
        &self,
        org: &OrgId,
        id: &ScimGroupId,
        fields: &GroupFields,
        at: OffsetDateTime,
    ) -> Result<()>;
    /// Writes a group's name and the change to its members (`added`, `removed`) in one
    /// transaction; errors as [`Self::scim_insert_group`], `NotFound` for another
    /// organisation's group.
    async fn scim_update_group(
        &self,
        org: &OrgId,
        id: &ScimGroupId,
        fields: &GroupFields,
        added: &[AccountId],
        removed: &[AccountId],
        at: OffsetDateTime,
    ) -> Result<()>;
    /// Deletes a group of `org`; its former members.
    async fn scim_delete_group(
        &self,
        org: &OrgId,
        id: &ScimGroupId,
    ) -> Result<Option<Vec<AccountId>>>;
    /// The organisation's group-to-role mappings.
    async fn scim_role_mappings(&self, org: &OrgId) -> Result<Vec<RoleMapping>>;
    /// Replaces them.
    async fn set_scim_role_mappings(&self, org: &OrgId, mappings: &[RoleMapping]) -> Result<()>;
    /// For each of `accounts` that SCIM manages in `org`: its role now, and the
    /// highest role its mapped groups give (`None`: no mapped group).
    async fn scim_mapped_roles(
        &self,
        org: &OrgId,
        accounts: &[AccountId],
    ) -> Result<Vec<(AccountId, Role, Option<Role>)>>;
    /// Every account SCIM manages in `org` (for a change of the mappings).
    async fn scim_managed_accounts(&self, org: &OrgId) -> Result<Vec<AccountId>>;
}
