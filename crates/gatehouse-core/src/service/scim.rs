//! SCIM provisioning of users: what an identity provider does with the organisation's
//! SCIM Key (list, read, create, replace, patch, delete), and deprovisioning.
//!
//! The SCIM Key is the only credential these use cases accept ([`Core::authenticate_scim`]);
//! its actor is the organisation's principal, so every lookup is in that organisation.
//! A write reads the resource, applies the change to its fields in memory, checks
//! `If-Match` against the resource's entity tag, and stores the result in one
//! transaction. `active: false` and DELETE deprovision at once: the account is disabled
//! in that transaction (published to every node), then its sessions end, its tokens and
//! API keys are revoked for good and its SSH public and private keys are deleted;
//! re-activation restores sign-in only. Every operation is audited (`scim.*`, with the
//! SCIM key as actor), refused ones with their reason.

use std::sync::Arc;

use serde_json::Value;

use super::Core;
use super::api_keys::UseContext;
use crate::actor::Actor;
use crate::api_key::{ApiKeyKind, ApiKeyPrincipal};
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::scim::filter::{self, Resource};
use crate::scim::patch::{self, PatchOp};
use crate::scim::{
    ListPage, ListWindow, ScimUser, USER_SCHEMA, UserFields, if_match_allows, named_text,
};
use crate::scope;

impl Core {
    /// Authenticates a bearer credential for the SCIM endpoints: only a live SCIM Key
    /// (any other credential is refused as if unknown).
    pub async fn authenticate_scim(
        &self,
        key: &str,
        ctx: UseContext<'_>,
    ) -> Result<Arc<ApiKeyPrincipal>> {
        let principal = self.authenticate_api_key(key, ctx).await?;
        if principal.kind != ApiKeyKind::Scim
            || !principal.permissions().contains(scope::SCIM_PROVISION)
        {
            return Err(Error::Unauthenticated);
        }
        Ok(principal)
    }

    /// A page of the organisation's users matching `filter`.
    pub async fn scim_list_users(
        &self,
        actor: &Actor,
        filter: &str,
        window: ListWindow,
    ) -> Result<ListPage<ScimUser>> {
        actor.require(scope::SCIM_PROVISION)?;
        let query = filter::parse(filter, Resource::Users)?;
        let (total, items) = self
            .store
            .scim_users(&actor.user.org_id, &query, window)
            .await?;
        Ok(ListPage {
            total,
            items,
            window,
        })
    }

    /// One user of the organisation.
    pub async fn scim_get_user(&self, actor: &Actor, id: &str) -> Result<ScimUser> {
        actor.require(scope::SCIM_PROVISION)?;
        self.store
            .scim_user(&actor.user.org_id, &AccountId(id.to_owned()))
            .await?
            .ok_or(Error::NotFound)
    }

    /// Creates a user (POST): a person in the organisation, role member, no password.
    pub async fn scim_create_user(&self, actor: &Actor, body: &Value) -> Result<ScimUser> {
        actor.require(scope::SCIM_PROVISION)?;
        let res = async {
            let fields = UserFields::from_json(body, true)?;
            let id = AccountId::generate();
            let now = self.clock.now();
            self.store
                .scim_insert_user(&actor.user.org_id, &id, &fields, now)
                .await
                .map_err(|e| {
                    taken(e, || {
                        format!("the userName {:?} is taken", fields.username.as_str())
                    })
                })?;
            self.apply_mapped_roles(actor, std::slice::from_ref(&id))
                .await?;
            self.scim_get_user(actor, id.as_str()).await
        }
        .await;
        let target = res.as_ref().map(|u| u.account.id.0.clone()).ok();
        self.scim_audit(
            actor,
            "scim.user.created",
            target.as_deref(),
            user_name(body),
            &res,
        )
        .await;
        res
    }

    /// Replaces a user (PUT).
    pub async fn scim_replace_user(
        &self,
        actor: &Actor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<ScimUser> {
        actor.require(scope::SCIM_PROVISION)?;
        let res = async {
            let current = self.scim_get_user(actor, id).await?;
            check_version(if_match, &current.etag())?;
            let fields = UserFields::from_json(body, !current.account.disabled)?;
            self.write_user(actor, &current, fields).await
        }
        .await;
        self.scim_audit(actor, "scim.user.replaced", Some(id), user_name(body), &res)
            .await;
        res
    }

    /// Applies a PATCH to a user: every operation or none.
    pub async fn scim_patch_user(
        &self,
        actor: &Actor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<ScimUser> {
        actor.require(scope::SCIM_PROVISION)?;
        let res = async {
            let ops: Vec<PatchOp> = patch::parse_request(body)?;
            let current = self.scim_get_user(actor, id).await?;
            check_version(if_match, &current.etag())?;
            let mut doc = current.to_json("");
            patch::apply(&mut doc, &ops, USER_SCHEMA, &["groups"])?;
            let fields = UserFields::from_json(&doc, !current.account.disabled)?;
            self.write_user(actor, &current, fields).await
        }
        .await;
        self.scim_audit(actor, "scim.user.patched", Some(id), None, &res)
            .await;
        res
    }

    /// Deletes a user: deprovisions them and hides them from SCIM; the account stays,
    /// disabled, for the audit trail.
    pub async fn scim_delete_user(
        &self,
        actor: &Actor,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<()> {
        actor.require(scope::SCIM_PROVISION)?;
        let res = async {
            let current = self.scim_get_user(actor, id).await?;
            check_version(if_match, &current.etag())?;
            let now = self.clock.now();
            self.store
                .scim_delete_user(&actor.user.org_id, &current.account.id, now)
                .await?;
            self.deprovision(&current.account.id).await
        }
        .await;
        self.scim_audit(actor, "scim.user.deleted", Some(id), None, &res)
            .await;
        res.map(|_| ())
    }

    /// Writes a user's new fields; deprovisions or re-activates when `active` changes.
    async fn write_user(
        &self,
        actor: &Actor,
        current: &ScimUser,
        fields: UserFields,
    ) -> Result<ScimUser> {
        let id = &current.account.id;
        let now = self.clock.now();
        let was_active = !current.account.disabled;
        let account = self
            .store
            .scim_update_user(&actor.user.org_id, id, &fields, now)
            .await
            .map_err(|e| {
                taken(e, || {
                    format!("the userName {:?} is taken", fields.username.as_str())
                })
            })?;
        if !fields.active {
            // Also when already inactive: an interrupted deprovisioning finishes when the
            // identity provider retries.
            let detail = self.deprovision(id).await?;
            if was_active {
                self.audit(
                    AuditEvent::new(now, "scim.user.deactivated")
                        .user(id)
                        .detail(detail),
                )
                .await;
            }
        } else {
            // Cached sessions and keys carry the account (its name, email, role): this
            // node reloads it now, other nodes within their cache time. (Deprovisioning
            // drops it itself.)
            if account != current.account {
                self.forget_account(id);
            }
            if !was_active {
                self.audit(AuditEvent::new(now, "scim.user.reactivated").user(id))
                    .await;
            }
        }
        self.apply_mapped_roles(actor, std::slice::from_ref(id))
            .await?;
        self.scim_get_user(actor, id.as_str()).await
    }

    /// Takes every credential of a deprovisioned account away: its sessions end, its
    /// tokens and API keys are revoked for good (with what they minted), its SSH public
    /// and private keys are deleted. The account itself is already disabled (and that
    /// published), so nothing it holds authenticates while this runs. A summary for
    /// the audit trail.
    pub(crate) async fn deprovision(&self, id: &AccountId) -> Result<String> {
        let now = self.clock.now();
        self.forget_account(id);
        self.end_all_sessions(id).await?;
        let keys = self.store.revoke_account_api_keys(id, now).await?;
        for (key, hash) in &keys {
            self.api_keys.invalidate(hash);
            self.revoke_descendants(key.as_str()).await?;
        }
        let ssh = self.store.delete_account_ssh_keys(id).await?;
        let private = self.store.delete_account_ssh_private_keys(id).await?;
        Ok(format!(
            "api_keys_revoked={} ssh_keys_deleted={ssh} ssh_private_keys_deleted={private}",
            keys.len()
        ))
    }

    /// Drops what this node caches for an account (as the published invalidation makes
    /// the other nodes do).
    pub(super) fn forget_account(&self, id: &AccountId) {
        self.forget(
            &std::collections::HashSet::new(),
            &std::collections::HashSet::from([id.clone()]),
        );
    }

    /// Records a SCIM operation and its result.
    pub(super) async fn scim_audit<T>(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<&str>,
        name: Option<String>,
        res: &Result<T>,
    ) {
        let mut event = AuditEvent::new(self.clock.now(), action).org(&actor.user.org_id);
        if let Some(t) = target.filter(|t| t.starts_with("usr_")) {
            event = event.user(&AccountId(t.to_owned()));
        }
        let mut detail = match res {
            Ok(_) => "result=ok".to_owned(),
            Err(e) => format!("result=refused reason={:?}", refusal(e)),
        };
        if let Some(t) = target {
            detail = format!("target={t} {detail}");
        }
        if let Some(n) = name {
            detail = format!("name={n:?} {detail}");
        }
        self.audit(event.detail(detail)).await;
    }
}

/// Words of the last-owner refusal (a conflict that is not about uniqueness).
pub const LAST_OWNER: &str = "last active owner";

/// A refusal as the audit trail words it (internal causes are not repeated there).
fn refusal(e: &Error) -> String {
    let text = match e {
        Error::Internal(_) => "internal error".to_owned(),
        other => other.to_string(),
    };
    text.chars().take(200).collect()
}

/// The `userName` a body carries, for the audit trail (bounded).
fn user_name(body: &Value) -> Option<String> {
    named_text(body, "userName", 64)
}

/// A conflict other than the last-owner guard's, reworded as SCIM's `uniqueness`:
/// `what` names the value that is taken.
pub(super) fn taken(e: Error, what: impl FnOnce() -> String) -> Error {
    match e {
        Error::Conflict(m) if !m.contains(LAST_OWNER) => Error::Conflict(what()),
        other => other,
    }
}

/// `If-Match` against the resource's entity tag.
pub(super) fn check_version(if_match: Option<&str>, current: &str) -> Result<()> {
    match if_match {
        Some(h) if !if_match_allows(h, current) => Err(Error::PreconditionFailed(
            "the resource changed since that version (If-Match does not match meta.version)".into(),
        )),
        _ => Ok(()),
    }
}
