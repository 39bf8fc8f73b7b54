//! SCIM provisioning of groups, and the organisation's setting that maps group names to
//! roles (members of "Gatehouse Admins" become admins, say). After every change that
//! could move a SCIM-managed member's mapped role — a user written, a group's members
//! or name changed, a group deleted, the mappings edited — the affected members' roles
//! are set to the highest role their mapped groups give (`member` when none), through
//! the last-owner guard: the organisation's last active owner is never demoted (the
//! change is skipped and audited). While no mapping is set, roles are left alone, and
//! owners are left alone unless a group is mapped to the owner role.

use serde_json::Value;

use super::Core;
use super::scim::{check_version, taken};
use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::{AccountId, ScimGroupId};
use crate::org::Role;
use crate::scim::filter::{self, Resource};
use crate::scim::patch;
use crate::scim::{GROUP_SCHEMA, GroupFields, ListPage, ListWindow, ScimGroup};
use crate::scope;
use crate::store::{AuditFilter, MemberChange, RoleMapping};

/// The most group-to-role mappings an organisation keeps.
pub const MAX_ROLE_MAPPINGS: usize = 50;

/// The admin panel's SCIM section.
#[derive(Debug, Clone)]
pub struct ScimOverview {
    /// The group-to-role mappings.
    pub role_mappings: Vec<RoleMapping>,
    /// The SCIM Key, if the organisation has one.
    pub key: Option<crate::store::OrgKeyRecord>,
    /// The newest SCIM operations, newest first.
    pub recent: Vec<crate::audit::AuditEvent>,
    /// The display names of the organisation's SCIM groups (the first
    /// [`crate::scim::MAX_RESULTS`]), for the mappings editor to suggest.
    pub groups: Vec<String>,
}

impl Core {
    /// A page of the organisation's groups matching `filter` (members when asked).
    pub async fn scim_list_groups(
        &self,
        actor: &Actor,
        filter: &str,
        window: ListWindow,
        with_members: bool,
    ) -> Result<ListPage<ScimGroup>> {
        actor.require(scope::SCIM_PROVISION)?;
        let query = filter::parse(filter, Resource::Groups)?;
        let (total, items) = self
            .store
            .scim_groups(&actor.user.org_id, &query, window, with_members)
            .await?;
        Ok(ListPage {
            total,
            items,
            window,
        })
    }

    /// One group of the organisation.
    pub async fn scim_get_group(
        &self,
        actor: &Actor,
        id: &str,
        with_members: bool,
    ) -> Result<ScimGroup> {
        actor.require(scope::SCIM_PROVISION)?;
        self.store
            .scim_group(
                &actor.user.org_id,
                &ScimGroupId(id.to_owned()),
                with_members,
            )
            .await?
            .ok_or(Error::NotFound)
    }

    /// Creates a group with its members.
    pub async fn scim_create_group(&self, actor: &Actor, body: &Value) -> Result<ScimGroup> {
        actor.require(scope::SCIM_PROVISION)?;
        let res = async {
            let fields = GroupFields::from_json(body)?;
            let id = ScimGroupId::generate();
            self.store
                .scim_insert_group(&actor.user.org_id, &id, &fields, self.clock.now())
                .await
                .map_err(|e| group_taken(e, &fields))?;
            self.apply_mapped_roles(actor, &fields.members).await?;
            self.scim_get_group(actor, id.as_str(), true).await
        }
        .await;
        let target = res.as_ref().map(|g| g.id.0.clone()).ok();
        self.scim_audit(
            actor,
            "scim.group.created",
            target.as_deref(),
            group_name(body),
            &res,
        )
        .await;
        res
    }

    /// Replaces a group (PUT).
    pub async fn scim_replace_group(
        &self,
        actor: &Actor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<ScimGroup> {
        actor.require(scope::SCIM_PROVISION)?;
        let res = async {
            let current = self.scim_get_group(actor, id, true).await?;
            check_version(if_match, &current.etag())?;
            let fields = GroupFields::from_json(body)?;
            self.write_group(actor, &current, fields).await
        }
        .await;
        self.scim_audit(
            actor,
            "scim.group.replaced",
            Some(id),
            group_name(body),
            &res,
        )
        .await;
        res
    }

    /// Applies a PATCH to a group: every operation or none.
    pub async fn scim_patch_group(
        &self,
        actor: &Actor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<ScimGroup> {
        actor.require(scope::SCIM_PROVISION)?;
        let res = async {
            let ops = patch::parse_request(body)?;
            let current = self.scim_get_group(actor, id, true).await?;
            check_version(if_match, &current.etag())?;
            let mut doc = current.to_json("");
            patch::apply(&mut doc, &ops, GROUP_SCHEMA, &[])?;
            let fields = GroupFields::from_json(&doc)?;
            self.write_group(actor, &current, fields).await
        }
        .await;
        self.scim_audit(actor, "scim.group.patched", Some(id), None, &res)
            .await;
        res
    }

    /// Deletes a group; its former members' mapped roles are re-applied.
    pub async fn scim_delete_group(
        &self,
        actor: &Actor,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<()> {
        actor.require(scope::SCIM_PROVISION)?;
        let res = async {
            if if_match.is_some() {
                let current = self.scim_get_group(actor, id, true).await?;
                check_version(if_match, &current.etag())?;
            }
            let members = self
                .store
                .scim_delete_group(&actor.user.org_id, &ScimGroupId(id.to_owned()))
                .await?
                .ok_or(Error::NotFound)?;
            self.apply_mapped_roles(actor, &members).await
        }
        .await;
        self.scim_audit(actor, "scim.group.deleted", Some(id), None, &res)
            .await;
        res
    }

    async fn write_group(
        &self,
        actor: &Actor,
        current: &ScimGroup,
        fields: GroupFields,
    ) -> Result<ScimGroup> {
        let before: Vec<&AccountId> = current.members.iter().map(|m| &m.id).collect();
        let added: Vec<AccountId> = fields
            .members
            .iter()
            .filter(|m| !before.contains(m))
            .cloned()
            .collect();
        let removed: Vec<AccountId> = before
            .iter()
            .filter(|m| !fields.members.contains(m))
            .map(|m| (*m).clone())
            .collect();
        self.store
            .scim_update_group(
                &actor.user.org_id,
                &current.id,
                &fields,
                &added,
                &removed,
                self.clock.now(),
            )
            .await
            .map_err(|e| group_taken(e, &fields))?;
        // A renamed group may gain or lose a mapping: every member, then.
        let affected: Vec<AccountId> =
            if fields.display_key() != current.display_name.to_lowercase() {
                before.into_iter().cloned().chain(added).collect()
            } else {
                added.into_iter().chain(removed).collect()
            };
        self.apply_mapped_roles(actor, &affected).await?;
        self.scim_get_group(actor, current.id.as_str(), true).await
    }

    /// Sets each of `accounts` (those SCIM manages) to the role its mapped groups give.
    pub(super) async fn apply_mapped_roles(
        &self,
        actor: &Actor,
        accounts: &[AccountId],
    ) -> Result<()> {
        let org = &actor.user.org_id;
        if accounts.is_empty() {
            return Ok(());
        }
        let mappings = self.store.scim_role_mappings(org).await?;
        if mappings.is_empty() {
            return Ok(());
        }
        // SECURITY: owners are managed through SCIM only when an owner (who alone may)
        // mapped a group to the owner role; otherwise nobody is promoted to, or demoted
        // from, owner by a group.
        let manages_owners = mappings.iter().any(|m| m.role == Role::Owner);
        for (id, role, mapped) in self.store.scim_mapped_roles(org, accounts).await? {
            let want = mapped.unwrap_or(Role::Member);
            if want == role || (!manages_owners && role == Role::Owner) {
                continue;
            }
            match self
                .change_member(Some(org), &id, MemberChange::Role(want), Some(actor))
                .await
            {
                Ok(_) => {
                    self.audit(
                        AuditEvent::new(self.clock.now(), "scim.role.changed")
                            .user(&id)
                            .detail(format!("from={} to={}", role.as_str(), want.as_str())),
                    )
                    .await;
                }
                Err(Error::Conflict(reason)) => {
                    self.audit(
                        AuditEvent::new(self.clock.now(), "scim.role.kept")
                            .user(&id)
                            .detail(format!(
                                "role={} wanted={} reason={reason:?}",
                                role.as_str(),
                                want.as_str()
                            )),
                    )
                    .await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The admin panel's SCIM section: mappings, the key, recent operations. Requires
    /// `org:keys:read`.
    pub async fn scim_overview(&self, actor: &Actor) -> Result<ScimOverview> {
        actor.require_any(&[scope::ORG_KEYS_READ, scope::ORG_KEYS_WRITE])?;
        let org = &actor.user.org_id;
        let key = self
            .store
            .list_org_keys(
                org,
                &crate::store::OrgKeyFilter {
                    kind: Some(crate::api_key::ApiKeyKind::Scim),
                    ..Default::default()
                },
                &crate::page::PageRequest::first(1),
            )
            .await?
            .into_iter()
            .next();
        let recent = self
            .store
            .list_org_audit(
                org,
                &AuditFilter {
                    action: Some("scim.".into()),
                    ..Default::default()
                },
                &crate::page::PageRequest::first(20),
            )
            .await?;
        let (_, groups) = self
            .store
            .scim_groups(
                org,
                &crate::scim::filter::Query::All,
                ListWindow::new(None, Some(i64::from(crate::scim::MAX_RESULTS))),
                false,
            )
            .await?;
        Ok(ScimOverview {
            groups: groups.into_iter().map(|g| g.display_name).collect(),
            role_mappings: self.store.scim_role_mappings(org).await?,
            key,
            recent: recent.into_iter().take(20).collect(),
        })
    }

    /// Replaces the group-to-role mappings and applies them to every SCIM-managed
    /// member. Requires `org:members:write`; changing which groups map to owner takes an
    /// owner.
    pub async fn set_scim_role_mappings(
        &self,
        actor: &Actor,
        mappings: Vec<RoleMapping>,
    ) -> Result<Vec<RoleMapping>> {
        actor.require(scope::ORG_MEMBERS_WRITE)?;
        if mappings.len() > MAX_ROLE_MAPPINGS {
            return Err(Error::invalid(
                "role_mappings",
                format!("at most {MAX_ROLE_MAPPINGS} mappings"),
            ));
        }
        let org = actor.user.org_id.clone();
        let owner_groups = |list: &[RoleMapping]| {
            let mut g: Vec<String> = list
                .iter()
                .filter(|m| m.role == Role::Owner)
                .map(|m| m.group.trim().to_lowercase())
                .collect();
            g.sort();
            g
        };
        // Which groups make owners is an owner's decision; an admin may change the rest
        // of a list that keeps them as they are.
        let before = owner_groups(&self.store.scim_role_mappings(&org).await?);
        if owner_groups(&mappings) != before {
            super::orgs::owner_only(actor, "change which groups map to the owner role")?;
        }
        let mut clean: Vec<RoleMapping> = Vec::with_capacity(mappings.len());
        for m in mappings {
            let group = m.group.trim().to_owned();
            if group.is_empty()
                || group.chars().count() > 256
                || group.chars().any(char::is_control)
            {
                return Err(Error::invalid(
                    "role_mappings",
                    "each group name must be 1 to 256 printable characters",
                ));
            }
            if clean
                .iter()
                .any(|c| c.group.to_lowercase() == group.to_lowercase())
            {
                return Err(Error::invalid(
                    "role_mappings",
                    format!("the group {group:?} is mapped twice"),
                ));
            }
            clean.push(RoleMapping {
                group,
                role: m.role,
            });
        }
        self.store.set_scim_role_mappings(&org, &clean).await?;
        let summary: Vec<String> = clean
            .iter()
            .map(|m| format!("{}={}", m.group, m.role.as_str()))
            .collect();
        self.audit(
            AuditEvent::new(self.clock.now(), "scim.role_mappings_changed")
                .org(&org)
                .detail(format!("mappings={:?}", summary.join(", "))),
        )
        .await;
        let managed = self.store.scim_managed_accounts(&org).await?;
        self.apply_mapped_roles(actor, &managed).await?;
        Ok(clean)
    }
}

/// The `displayName` a body carries, for the audit trail (bounded).
fn group_name(body: &Value) -> Option<String> {
    crate::scim::named_text(body, "displayName", 64)
}

fn group_taken(e: Error, fields: &GroupFields) -> Error {
    taken(e, || {
        format!("a group named {:?} exists already", fields.display_name)
    })
}
