//! Organisation use cases: what server operators do (create organisations, set their
//! edition, move accounts, set roles) and what an organisation's owners and admins do
//! from the admin panel (list members, change roles, disable and enable, reset 2-step
//! verification). Every member is looked up inside the actor's own organisation, in the
//! store query, so another organisation's member is `NotFound`.

use crate::account::Account;
use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::{AccountId, OrgId};
use crate::org::{Edition, Org, Role, parse_org_name};
use crate::page::{After, Page, PageRequest};
use crate::scope;
use crate::store::{MemberChange, MemberFilter, MemberRecord};

use super::Core;
use super::api_keys::actor_factor;

impl Core {
    /// Creates an organisation (operator use).
    #[tracing::instrument(skip_all, fields(name))]
    pub async fn create_org(&self, name: &str, edition: Edition) -> Result<Org> {
        let name = parse_org_name(name)?;
        let org = Org {
            id: OrgId::generate(),
            name,
            edition,
            created_at: self.clock.now(),
        };
        self.store.insert_org(&org).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!(
                "an organisation named {:?} exists already",
                org.name
            )),
            other => other,
        })?;
        self.audit(
            AuditEvent::new(org.created_at, "org.created")
                .org(&org.id)
                .detail(format!(
                    "name={:?} edition={}",
                    org.name,
                    org.edition.as_str()
                )),
        )
        .await;
        Ok(org)
    }

    /// A page of organisations, oldest first (operator use).
    pub async fn list_orgs(&self, page: &PageRequest) -> Result<Page<Org>> {
        let rows = self.store.list_orgs(page).await?;
        Ok(Page::from_rows(rows, page, |o| After {
            created_at: o.created_at.unix_timestamp(),
            id: o.id.0.clone(),
        }))
    }

    /// The organisation with this name.
    pub async fn org_named(&self, name: &str) -> Result<Org> {
        let normalised = parse_org_name(name).map_err(|_| unknown_org(name))?;
        self.store
            .org_by_name(&normalised)
            .await?
            .ok_or_else(|| unknown_org(name))
    }

    /// Changes an organisation's edition (operator use).
    pub async fn set_org_edition(&self, name: &str, edition: Edition) -> Result<Org> {
        let org = self.org_named(name).await?;
        if !self.store.set_org_edition(&org.id, edition).await? {
            return Err(unknown_org(name));
        }
        self.audit(
            AuditEvent::new(self.clock.now(), "org.edition_changed")
                .org(&org.id)
                .detail(format!("edition={}", edition.as_str())),
        )
        .await;
        Ok(Org { edition, ..org })
    }

    /// Moves an account into another organisation, as a member there (operator use).
    /// Refused when the account is the last active owner of the one it leaves.
    pub async fn move_account(&self, username: &str, org: &str) -> Result<Account> {
        let user = self.account_named(username).await?;
        let to = self.org_named(org).await?;
        self.change_member(None, &user.id, MemberChange::MoveTo(to.id), None)
            .await
    }

    /// Sets an account's role (operator use).
    pub async fn set_account_role(&self, username: &str, role: Role) -> Result<Account> {
        let user = self.account_named(username).await?;
        self.change_member(None, &user.id, MemberChange::Role(role), None)
            .await
    }

    /// A page of an organisation's members (operator use).
    pub async fn org_members(&self, org: &str, page: &PageRequest) -> Result<Page<MemberRecord>> {
        let org = self.org_named(org).await?;
        self.members_page(&org.id, &MemberFilter::default(), page)
            .await
    }

    /// The actor's organisation (every admin page names it).
    pub async fn actor_org(&self, actor: &Actor) -> Result<Org> {
        self.store
            .org_by_id(&actor.user.org_id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// A page of the actor's organisation's members. Requires `org:members:read`.
    pub async fn list_members(
        &self,
        actor: &Actor,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Page<MemberRecord>> {
        actor.require_any(&[scope::ORG_MEMBERS_READ, scope::ORG_MEMBERS_WRITE])?;
        self.members_page(&actor.user.org_id, filter, page).await
    }

    /// One member of the actor's organisation. Requires `org:members:read`.
    pub async fn get_member(&self, actor: &Actor, id: &AccountId) -> Result<MemberRecord> {
        actor.require_any(&[scope::ORG_MEMBERS_READ, scope::ORG_MEMBERS_WRITE])?;
        self.store
            .member(&actor.user.org_id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// A member of the actor's organisation by username (for filters). Someone in another
    /// organisation is refused exactly like a name nobody has.
    pub async fn member_named(&self, actor: &Actor, username: &str) -> Result<Account> {
        let unknown = || {
            Error::invalid(
                "owner",
                format!(
                    "no member of your organisation is named {:?}",
                    username.chars().take(64).collect::<String>()
                ),
            )
        };
        let name = crate::account::Username::parse(username).map_err(|_| unknown())?;
        self.store
            .member_by_username(&actor.user.org_id, &name)
            .await?
            .map(|r| r.user)
            .ok_or_else(unknown)
    }

    /// Changes a member's role. Requires `org:members:write`; making or unmaking an
    /// owner takes an owner.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id, member = %id))]
    pub async fn change_member_role(
        &self,
        actor: &Actor,
        id: &AccountId,
        role: Role,
    ) -> Result<MemberRecord> {
        actor.require(scope::ORG_MEMBERS_WRITE)?;
        let member = self.get_member(actor, id).await?;
        if member.account.role == Role::Owner || role == Role::Owner {
            owner_only(actor, "make someone an owner or change an owner's role")?;
        }
        self.change_member(
            Some(&actor.user.org_id),
            id,
            MemberChange::Role(role),
            Some(actor),
        )
        .await?;
        self.get_member(actor, id).await
    }

    /// Disables a member (every session, token and API key stops at once) or enables
    /// them again. Requires `org:members:write`; an owner's status takes an owner.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id, member = %id, disabled))]
    pub async fn set_member_disabled(
        &self,
        actor: &Actor,
        id: &AccountId,
        disabled: bool,
    ) -> Result<MemberRecord> {
        actor.require(scope::ORG_MEMBERS_WRITE)?;
        let member = self.get_member(actor, id).await?;
        if member.account.role == Role::Owner {
            owner_only(actor, "disable or enable an owner")?;
        }
        if disabled && member.account.id == actor.user.id {
            return Err(Error::Conflict(
                "you cannot disable your own account: ask another administrator".into(),
            ));
        }
        self.change_member(
            Some(&actor.user.org_id),
            id,
            MemberChange::Disabled(disabled),
            Some(actor),
        )
        .await?;
        self.get_member(actor, id).await
    }

    /// Removes every 2-step verification factor and recovery code of a member (a lost
    /// phone), ending their sessions; audited with the reason. Requires
    /// `org:members:write`.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id, member = %id))]
    pub async fn reset_member_mfa(
        &self,
        actor: &Actor,
        id: &AccountId,
        reason: &str,
    ) -> Result<u64> {
        actor.require(scope::ORG_MEMBERS_WRITE)?;
        let member = self.get_member(actor, id).await?;
        if member.account.role == Role::Owner {
            owner_only(actor, "reset an owner's 2-step verification")?;
        }
        self.remove_all_factors(&member.account, reason, "mfa.reset_by_admin", Some(actor))
            .await
    }

    async fn members_page(
        &self,
        org: &OrgId,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Page<MemberRecord>> {
        let rows = self.store.list_members(org, filter, page).await?;
        Ok(Page::from_rows(rows, page, |m| After {
            created_at: m.account.created_at.unix_timestamp(),
            id: m.account.id.0.clone(),
        }))
    }

    /// Applies one member change through the store's last-owner guard, then drops what
    /// this node caches for the account, as the published invalidation makes the other
    /// nodes do: a new role takes effect on the next request, whatever the credential;
    /// disabling or moving also ends every session and token.
    pub(crate) async fn change_member(
        &self,
        org: Option<&OrgId>,
        id: &AccountId,
        change: MemberChange,
        by: Option<&Actor>,
    ) -> Result<Account> {
        let now = self.clock.now();
        let account = self.store.change_member(org, id, &change, now).await?;
        self.forget(
            &std::collections::HashSet::new(),
            &std::collections::HashSet::from([id.clone()]),
        );
        let (action, detail) = match &change {
            MemberChange::Role(r) => ("member.role_changed", format!("role={}", r.as_str())),
            MemberChange::Disabled(true) => ("user.disabled", String::new()),
            MemberChange::Disabled(false) => ("user.enabled", String::new()),
            MemberChange::MoveTo(o) => ("member.moved", format!("org={o}")),
        };
        if matches!(
            change,
            MemberChange::Disabled(true) | MemberChange::MoveTo(_)
        ) {
            self.end_all_sessions(id).await?;
        }
        let mut event = AuditEvent::new(now, action).user(id);
        let mut detail = detail;
        if let Some(actor) = by {
            event = event.factor(actor_factor(actor));
            detail = format!("{detail} by={}", actor.user.username)
                .trim()
                .to_owned();
        }
        if !detail.is_empty() {
            event = event.detail(detail);
        }
        self.audit(event).await;
        Ok(account)
    }
}

/// Refuses unless `actor` is an owner (a person: the organisation's own keys never are).
pub(super) fn owner_only(actor: &Actor, what: &str) -> Result<()> {
    if actor.user.kind == crate::account::AccountKind::Person && actor.user.role == Role::Owner {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("only an owner can {what}")))
    }
}

fn unknown_org(name: &str) -> Error {
    Error::invalid(
        "org",
        format!(
            "there is no organisation named {:?}",
            name.chars().take(64).collect::<String>()
        ),
    )
}
