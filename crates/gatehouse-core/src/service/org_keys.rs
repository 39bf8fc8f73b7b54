//! The organisation's Keys page: every key of the organisation in one list (members'
//! API keys, Public API Keys, the Team Computer Key, the SCIM Key), the keys the
//! organisation owns, and what administrators may do to members' keys (disable, delete:
//! offboarding and incident response).
//!
//! Organisation keys are held by the organisation's principal (see
//! [`crate::account::AccountKind::Org`]), so they outlive whoever created them; they are
//! minted with no parent credential for the same reason. Every lookup names the actor's
//! organisation in the store query: another organisation's key is `NotFound`.

use time::Duration;

use crate::actor::Actor;
use crate::api_key::{ApiKeyKind, ApiKeyName, ApiKeyRecord, ApiKeySecret};
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::ApiKeyId;
use crate::org::{AccountCaps, KeyExpiration};
use crate::page::{After, Page, PageRequest};
use crate::scope::{self, Scopes};
use crate::store::{OrgKeyDeleted, OrgKeyFilter, OrgKeyRecord};

use super::api_keys::{actor_factor, may_enable};
use super::{Cap, Core};

/// A request for a new Public API Key.
pub struct NewOrgKey<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its permissions (organisation and platform scopes).
    pub permissions: &'a [String],
    /// `None`: the organisation policy's default.
    pub expiration: Option<KeyExpiration>,
}

/// The documentation's words for the edition rule.
pub const ENTERPRISE_ONLY: &str = "Access Controls for API Keys is an Enterprise Level Feature, \
     however Teams will be able to use this page to generate a Team Computer Key.";

impl Core {
    /// A page of every key of the actor's organisation. Requires `org:keys:read`.
    pub async fn list_org_keys(
        &self,
        actor: &Actor,
        filter: &OrgKeyFilter,
        page: &PageRequest,
    ) -> Result<Page<OrgKeyRecord>> {
        require_keys_read(actor)?;
        let rows = self
            .store
            .list_org_keys(&actor.user.org_id, filter, page)
            .await?;
        Ok(Page::from_rows(rows, page, |k| After {
            created_at: k.key.created_at.unix_timestamp(),
            id: k.key.id.0.clone(),
        }))
    }

    /// One key of the actor's organisation. Requires `org:keys:read`.
    pub async fn get_org_key(&self, actor: &Actor, id: &ApiKeyId) -> Result<OrgKeyRecord> {
        require_keys_read(actor)?;
        self.store
            .org_key(&actor.user.org_id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// The permissions a Public API Key may carry, with descriptions.
    pub fn org_key_permissions(&self) -> Vec<(String, String)> {
        self.catalog.org_key_catalog()
    }

    /// Creates a Public API Key, owned by the organisation. Requires `org:keys:write`,
    /// every permission it grants, and the Enterprise edition.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id))]
    pub async fn create_public_api_key(
        &self,
        actor: &Actor,
        req: NewOrgKey<'_>,
    ) -> Result<(OrgKeyRecord, ApiKeySecret)> {
        actor.require(scope::ORG_KEYS_WRITE)?;
        let name = ApiKeyName::parse(req.name)?;
        self.new_public_key(actor, name, req.permissions, req.expiration, None)
            .await
    }

    /// The checks and the minting of a Public API Key, new or a duplicate of `from`.
    async fn new_public_key(
        &self,
        actor: &Actor,
        name: ApiKeyName,
        permissions: &[String],
        expiration: Option<KeyExpiration>,
        from: Option<&ApiKeyId>,
    ) -> Result<(OrgKeyRecord, ApiKeySecret)> {
        let org = self.actor_org(actor).await?;
        if !org.edition.has_public_api_keys() {
            return Err(Error::Forbidden(ENTERPRISE_ONLY.into()));
        }
        let permissions = self.catalog.parse_org_key_request(permissions)?;
        actor.require_all(&permissions)?;
        let policy = self.policy_for(actor).await?;
        let expiration = policy.resolve_expiration(expiration)?;
        self.mint_org_key(actor, name, permissions, expiration, &policy.caps, from)
            .await
    }

    /// "Duplicate Key": a new Public API Key with the original's permissions, or the
    /// adjusted ones given, and a new secret; the original is unchanged.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id))]
    pub async fn duplicate_public_api_key(
        &self,
        actor: &Actor,
        id: &ApiKeyId,
        name: Option<&str>,
        permissions: Option<&[String]>,
        expiration: Option<KeyExpiration>,
    ) -> Result<(OrgKeyRecord, ApiKeySecret)> {
        actor.require(scope::ORG_KEYS_WRITE)?;
        let original = self.get_org_key(actor, id).await?;
        if original.key.kind != ApiKeyKind::Public {
            return Err(Error::invalid(
                "id",
                format!(
                    "only Public API Keys can be duplicated; this is {}",
                    with_article(original.key.kind.label())
                ),
            ));
        }
        let name = match name {
            Some(n) => ApiKeyName::parse(n)?,
            None => ApiKeyName::copy_of(&original.key.name)?,
        };
        let permissions: Vec<String> = match permissions {
            Some(p) => p.to_vec(),
            None => original.key.permissions.iter().map(str::to_owned).collect(),
        };
        self.new_public_key(
            actor,
            name,
            &permissions,
            expiration,
            Some(&original.key.id),
        )
        .await
    }

    /// Creates the organisation's Team Computer Key (either edition). Refused while one
    /// exists: as the documentation says, the existing one must be deleted first.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id))]
    pub async fn create_team_computer_key(
        &self,
        actor: &Actor,
    ) -> Result<(OrgKeyRecord, ApiKeySecret)> {
        actor.require(scope::ORG_KEYS_WRITE)?;
        let permissions = Scopes::of(scope::TEAM_COMPUTER_KEY_SCOPES.iter().copied());
        actor.require_all(&permissions)?;
        let (record, secret, _) = self
            .mint_sole_key(actor, ApiKeyKind::TeamComputer, permissions, false)
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict(
                    "this organisation already has a Team Computer Key: delete the existing one \
                     before creating a new one"
                        .into(),
                ),
                other => other,
            })?;
        Ok((record, secret))
    }

    /// Generates the organisation's SCIM Key, revoking the previous one at once.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id))]
    pub async fn regenerate_scim_key(&self, actor: &Actor) -> Result<(OrgKeyRecord, ApiKeySecret)> {
        actor.require(scope::ORG_KEYS_WRITE)?;
        let permissions = Scopes::of([scope::SCIM_PROVISION]);
        let (record, secret, replaced) = self
            .mint_sole_key(actor, ApiKeyKind::Scim, permissions, true)
            .await?;
        if let Some(old) = replaced {
            self.key_changed(&old, true).await?;
        }
        Ok((record, secret))
    }

    /// Disables or re-enables any key of the actor's organisation (a member's own key
    /// too). Requires `org:keys:write`; re-enabling takes the key's permissions.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id, enabled))]
    pub async fn set_org_key_enabled(
        &self,
        actor: &Actor,
        id: &ApiKeyId,
        enabled: bool,
    ) -> Result<OrgKeyRecord> {
        actor.require(scope::ORG_KEYS_WRITE)?;
        let key = self.get_org_key(actor, id).await?;
        // The SCIM Key's and the Team Computer Key's permissions are fixed by their kind,
        // not chosen by whoever made them; `org:keys:write`, which may regenerate them,
        // may also turn them back on.
        let fixed = matches!(key.key.kind, ApiKeyKind::Scim | ApiKeyKind::TeamComputer);
        if enabled && !(fixed && key.key.revoked_at.is_none()) {
            may_enable(actor, &key.key)?;
        }
        if !self
            .store
            .set_org_key_enabled(&actor.user.org_id, id, enabled, self.clock.now())
            .await?
        {
            return Err(Error::NotFound);
        }
        self.key_changed(&key.key, !enabled).await?;
        let action = if enabled {
            "org_key.enabled"
        } else {
            "org_key.disabled"
        };
        self.audit_key(actor, action, &key.key, None).await;
        let mut key = key;
        key.key.enabled = enabled;
        Ok(key)
    }

    /// Deletes a key of the actor's organisation. The organisation's own keys must be
    /// disabled first; a member's key follows the organisation's
    /// `require_disable_before_delete`. Requires `org:keys:write`. Irreversible.
    #[tracing::instrument(skip_all, fields(by = %actor.user.id))]
    pub async fn delete_org_key(&self, actor: &Actor, id: &ApiKeyId) -> Result<()> {
        actor.require(scope::ORG_KEYS_WRITE)?;
        let key = self.get_org_key(actor, id).await?;
        let only_if_disabled = key.key.kind.is_org_owned()
            || self.policy_for(actor).await?.require_disable_before_delete;
        match self
            .store
            .delete_org_key(&actor.user.org_id, id, only_if_disabled, self.clock.now())
            .await?
        {
            OrgKeyDeleted::NotFound => return Err(Error::NotFound),
            OrgKeyDeleted::StillEnabled => {
                return Err(Error::Conflict(format!(
                    "disable this {} before deleting it: {}",
                    key.key.kind.label(),
                    if key.key.kind.is_org_owned() {
                        "an organisation's keys can be deleted only once disabled"
                    } else {
                        "your organisation requires disabling an API key before deleting it"
                    }
                )));
            }
            OrgKeyDeleted::Deleted => self.key_changed(&key.key, true).await?,
        }
        self.audit_key(actor, "org_key.deleted", &key.key, None)
            .await;
        Ok(())
    }

    async fn mint_org_key(
        &self,
        actor: &Actor,
        name: ApiKeyName,
        permissions: Scopes,
        expiration: KeyExpiration,
        caps: &AccountCaps,
        from: Option<&ApiKeyId>,
    ) -> Result<(OrgKeyRecord, ApiKeySecret)> {
        let now = self.clock.now();
        let principal = self.store.org_principal(&actor.user.org_id, now).await?;
        let live = self.store.count_live_api_keys(&principal.id, now).await?;
        self.check_cap(caps, live, Cap::ApiKeys)?;
        let expires_at =
            actor.clamp_expiry(expiration.days().map(|d| now + Duration::days(d.into())));
        let (record, secret) = new_org_key(
            actor,
            &principal,
            ApiKeyKind::Public,
            name,
            permissions,
            expires_at,
            now,
        );
        self.store
            .insert_api_key(&record)
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict(format!(
                    "your organisation already has a key named {:?}",
                    record.name
                )),
                other => other,
            })?;
        let action = if from.is_some() {
            "org_key.duplicated"
        } else {
            "org_key.created"
        };
        self.audit_key(actor, action, &record, from).await;
        Ok((org_record(record, &principal), secret))
    }

    async fn mint_sole_key(
        &self,
        actor: &Actor,
        kind: ApiKeyKind,
        permissions: Scopes,
        replace: bool,
    ) -> Result<(OrgKeyRecord, ApiKeySecret, Option<ApiKeyRecord>)> {
        let now = self.clock.now();
        let principal = self.store.org_principal(&actor.user.org_id, now).await?;
        let name = ApiKeyName::parse(kind.label())?;
        let (record, secret) = new_org_key(actor, &principal, kind, name, permissions, None, now);
        let replaced = self.store.insert_sole_key(&record, replace, now).await?;
        let action = if replaced.is_some() {
            "org_key.regenerated"
        } else {
            "org_key.created"
        };
        self.audit_key(actor, action, &record, None).await;
        Ok((org_record(record, &principal), secret, replaced))
    }

    /// Records what `actor` did to `key` (and, for a duplicate, which key it copied).
    async fn audit_key(
        &self,
        actor: &Actor,
        action: &str,
        key: &ApiKeyRecord,
        from: Option<&ApiKeyId>,
    ) {
        let from = from.map(|f| format!(" from={f}")).unwrap_or_default();
        self.audit(
            AuditEvent::new(self.clock.now(), action)
                .user(&key.user_id)
                .factor(actor_factor(actor))
                .detail(format!(
                    "key={} type={} name={:?} by={}{from}",
                    key.id,
                    key.kind.as_str(),
                    key.name,
                    actor.user.username
                )),
        )
        .await;
    }
}

fn new_org_key(
    actor: &Actor,
    principal: &crate::account::Account,
    kind: ApiKeyKind,
    name: ApiKeyName,
    permissions: Scopes,
    expires_at: Option<time::OffsetDateTime>,
    now: time::OffsetDateTime,
) -> (ApiKeyRecord, ApiKeySecret) {
    let secret = ApiKeySecret::generate();
    let record = ApiKeyRecord {
        id: ApiKeyId::generate(),
        user_id: principal.id.clone(),
        kind,
        name: name.as_str().to_owned(),
        display_prefix: secret.display_prefix(),
        key_hash: secret.hash(),
        permissions,
        created_at: now,
        created_by: actor.user.username.clone(),
        expires_at,
        last_used_at: None,
        last_used_ip: None,
        last_used_user_agent: None,
        enabled: true,
        // No parent: the organisation's keys outlive the credential (and the person)
        // that created them.
        parent_id: None,
        revoked_at: None,
    };
    (record, secret)
}

fn org_record(key: ApiKeyRecord, principal: &crate::account::Account) -> OrgKeyRecord {
    OrgKeyRecord {
        key,
        owner_username: principal.username.clone(),
        owner_display_name: principal.display_name.clone(),
    }
}

fn with_article(label: &str) -> String {
    let article = if label.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {label}")
}

fn require_keys_read(actor: &Actor) -> Result<()> {
    actor.require_any(&[scope::ORG_KEYS_READ, scope::ORG_KEYS_WRITE])
}
