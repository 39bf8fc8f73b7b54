//! The organisation's policy as its administrators read and change it (the operator's
//! `gatehouse admin policy` uses [`Core::set_org_policy`] directly).

use super::Core;
use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::Result;
use crate::org::OrgPolicy;
use crate::scope;

/// The server's own per-account caps, which an organisation's can only lower.
pub type ServerCaps = super::CredentialLimits;

impl Core {
    /// The actor's organisation's policy and the server's caps beside it. Requires
    /// `org:members:read` or `org:policy:write`.
    pub async fn admin_policy(&self, actor: &Actor) -> Result<(OrgPolicy, ServerCaps)> {
        actor.require_any(&[scope::ORG_POLICY_WRITE, scope::ORG_MEMBERS_READ])?;
        let policy = self.store.org_policy(&actor.user.org_id).await?;
        Ok((policy, self.settings.limits))
    }

    /// Replaces the actor's organisation's policy after checking it; the audit record
    /// names the fields that changed. Requires `org:policy:write`.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn change_org_policy(&self, actor: &Actor, policy: &OrgPolicy) -> Result<OrgPolicy> {
        actor.require(scope::ORG_POLICY_WRITE)?;
        policy.validate()?;
        let org = &actor.user.org_id;
        let before = self.store.org_policy(org).await?;
        let changed = before.changed_fields(policy);
        if !changed.is_empty() {
            self.store.set_org_policy(org, policy).await?;
            self.audit(
                AuditEvent::new(self.clock.now(), "org.policy_changed")
                    .org(org)
                    .detail(format!("changed={}", changed.join(","))),
            )
            .await;
        }
        Ok(policy.clone())
    }
}
