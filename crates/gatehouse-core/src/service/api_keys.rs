//! API-key use cases: create, list, disable/enable, duplicate, delete, revoke by value,
//! and per-request authentication through the in-process cache.

use std::net::IpAddr;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Credential};
use crate::api_key::{
    ApiKeyName, ApiKeyPrincipal, ApiKeyRecord, ApiKeySecret, KeyRefusal, is_well_formed,
};
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::ApiKeyId;
use crate::org::{AccountCaps, KeyExpiration, OrgPolicy};
use crate::page::{After, Page, PageRequest};
use crate::scope;
use crate::scope::Scopes;
use crate::secret::TokenHash;
use crate::session::SessionPrincipal;

use super::{Cap, Core};

/// A request for a new key.
pub struct NewApiKey<'a> {
    /// Its name.
    pub name: &'a str,
    /// `None`: the request named no expiration (the policy default applies).
    pub expiration: Option<KeyExpiration>,
    /// `None`: the documented default permissions.
    pub permissions: Option<&'a [String]>,
}

/// Where a request came from, for last-use tracking.
pub struct UseContext<'a> {
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
}

impl Core {
    /// The actor behind a session: every scope the account may hold (built once per
    /// cached session).
    pub fn session_actor(&self, session: &SessionPrincipal) -> Arc<Actor> {
        session.actor.clone()
    }

    /// The actor behind an API key (built once per cached key).
    pub fn key_actor(&self, key: &ApiKeyPrincipal) -> Arc<Actor> {
        key.actor.clone()
    }

    /// Builds the actor of a session for `user`.
    pub(crate) fn actor_for_session(&self, user: &crate::account::Account) -> Arc<Actor> {
        Arc::new(Actor {
            scopes: self.catalog.for_account(user),
            user: Arc::new(user.clone()),
            credential: Credential::Session,
            expires_at: None,
        })
    }

    /// Every scope this deployment knows, with descriptions.
    pub fn scope_catalog(&self) -> Vec<(String, String)> {
        self.catalog.all()
    }

    /// The policy of the actor's organisation.
    pub async fn policy_for(&self, actor: &Actor) -> Result<OrgPolicy> {
        self.store.org_policy(&actor.user.org_id).await
    }

    /// Creates a key. Requires `api_keys:write` and every permission it grants.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        req: NewApiKey<'_>,
    ) -> Result<(ApiKeyRecord, ApiKeySecret)> {
        actor.require(scope::API_KEYS_WRITE)?;
        let name = ApiKeyName::parse(req.name)?;
        let permissions = self.catalog.parse_request(req.permissions)?;
        actor.require_all(&permissions)?;
        let policy = self.policy_for(actor).await?;
        let expiration = policy.resolve_expiration(req.expiration)?;
        self.mint_key(
            actor,
            name,
            permissions,
            expiration,
            &policy.caps,
            "api_key.created",
        )
        .await
    }

    /// The expiry a new key gets: the chosen lifetime, clamped to the minting
    /// credential's own expiry.
    fn key_expiry(
        &self,
        actor: &Actor,
        expiration: KeyExpiration,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        actor.clamp_expiry(expiration.days().map(|d| now + Duration::days(d.into())))
    }

    /// Makes a new key with the same permissions as `id` and a new secret.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn duplicate_api_key(
        &self,
        actor: &Actor,
        id: &ApiKeyId,
        name: Option<&str>,
        expiration: Option<KeyExpiration>,
    ) -> Result<(ApiKeyRecord, ApiKeySecret)> {
        actor.require(scope::API_KEYS_WRITE)?;
        let original = self.own_key(actor, id).await?;
        actor.require_all(&original.permissions)?;
        let name = match name {
            Some(n) => ApiKeyName::parse(n)?,
            None => ApiKeyName::copy_of(&original.name)?,
        };
        let policy = self.policy_for(actor).await?;
        let expiration = policy.resolve_expiration(expiration)?;
        self.mint_key(
            actor,
            name,
            original.permissions,
            expiration,
            &policy.caps,
            "api_key.duplicated",
        )
        .await
    }

    async fn mint_key(
        &self,
        actor: &Actor,
        name: ApiKeyName,
        permissions: Scopes,
        expiration: KeyExpiration,
        caps: &AccountCaps,
        action: &str,
    ) -> Result<(ApiKeyRecord, ApiKeySecret)> {
        let now = self.clock.now();
        let live = self.store.count_live_api_keys(&actor.user.id, now).await?;
        self.check_cap(caps, live, Cap::ApiKeys)?;
        let secret = ApiKeySecret::generate();
        let record = ApiKeyRecord {
            id: ApiKeyId::generate(),
            user_id: actor.user.id.clone(),
            kind: crate::api_key::ApiKeyKind::Personal,
            name: name.as_str().to_owned(),
            display_prefix: secret.display_prefix(),
            key_hash: secret.hash(),
            permissions,
            created_at: now,
            created_by: actor.user.username.clone(),
            expires_at: self.key_expiry(actor, expiration, now),
            last_used_at: None,
            last_used_ip: None,
            last_used_user_agent: None,
            enabled: true,
            parent_id: actor.credential.credential_id(),
            revoked_at: None,
        };
        self.store.insert_api_key(&record).await?;
        self.audit(
            AuditEvent::new(now, action)
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!("key={} name={:?}", record.id, record.name)),
        )
        .await;
        Ok((record, secret))
    }

    /// Creates `count` keys for `username` in one transaction, with `account:read` and no
    /// expiry, and returns their secrets (operator use: bulk provisioning, load tests).
    pub async fn seed_api_keys(&self, username: &str, count: usize) -> Result<Vec<ApiKeySecret>> {
        let name = crate::account::Username::parse(username).map_err(|_| Error::NotFound)?;
        let user = self
            .store
            .account_by_username(&name)
            .await?
            .ok_or(Error::NotFound)?
            .user;
        let now = self.clock.now();
        let batch = hex::encode(crate::secret::random_bytes::<4>());
        let mut secrets = Vec::with_capacity(count);
        let mut records = Vec::with_capacity(count.min(10_000));
        for i in 0..count {
            let secret = ApiKeySecret::generate();
            records.push(ApiKeyRecord {
                id: ApiKeyId::generate(),
                user_id: user.id.clone(),
                kind: crate::api_key::ApiKeyKind::Personal,
                name: format!("seed-{batch}-{i}"),
                display_prefix: secret.display_prefix(),
                key_hash: secret.hash(),
                permissions: Scopes::of(["account:read"]),
                created_at: now,
                created_by: user.username.clone(),
                expires_at: None,
                last_used_at: None,
                last_used_ip: None,
                last_used_user_agent: None,
                enabled: true,
                parent_id: None,
                revoked_at: None,
            });
            secrets.push(secret);
            if records.len() == 10_000 {
                self.store.insert_api_keys(&records).await?;
                records.clear();
            }
        }
        self.store.insert_api_keys(&records).await?;
        self.audit(
            AuditEvent::new(now, "api_key.seeded")
                .user(&user.id)
                .detail(format!("count={count}")),
        )
        .await;
        Ok(secrets)
    }

    /// A page of the actor's keys, oldest first. Requires `api_keys:read` (or
    /// `api_keys:write`).
    pub async fn list_api_keys(
        &self,
        actor: &Actor,
        page: &PageRequest,
    ) -> Result<Page<ApiKeyRecord>> {
        require_read(actor)?;
        let rows = self.store.list_api_keys(&actor.user.id, page).await?;
        Ok(Page::from_rows(rows, page, |k| After {
            created_at: k.created_at.unix_timestamp(),
            id: k.id.0.clone(),
        }))
    }

    /// One of the actor's keys; another user's key is `NotFound`.
    pub async fn get_api_key(&self, actor: &Actor, id: &ApiKeyId) -> Result<ApiKeyRecord> {
        require_read(actor)?;
        self.own_key(actor, id).await
    }

    /// Disables or re-enables a key. A disabled key gets 401 at once on this node.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id, enabled))]
    pub async fn set_api_key_enabled(
        &self,
        actor: &Actor,
        id: &ApiKeyId,
        enabled: bool,
    ) -> Result<ApiKeyRecord> {
        actor.require(scope::API_KEYS_WRITE)?;
        let key = self.own_key(actor, id).await?;
        if enabled {
            may_enable(actor, &key)?;
        }
        if !self
            .store
            .set_api_key_enabled(&actor.user.id, id, enabled, self.clock.now())
            .await?
        {
            return Err(Error::NotFound);
        }
        self.key_changed(&key, !enabled).await?;
        let action = if enabled {
            "api_key.enabled"
        } else {
            "api_key.disabled"
        };
        self.audit(
            AuditEvent::new(self.clock.now(), action)
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!("key={id}")),
        )
        .await;
        Ok(ApiKeyRecord { enabled, ..key })
    }

    /// Deletes a key. Honours `require_disable_before_delete`.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn delete_api_key(&self, actor: &Actor, id: &ApiKeyId) -> Result<()> {
        actor.require(scope::API_KEYS_WRITE)?;
        let key = self.own_key(actor, id).await?;
        if key.enabled && self.policy_for(actor).await?.require_disable_before_delete {
            return Err(Error::Conflict(
                "your organisation requires disabling an API key before deleting it; disable it first"
                    .into(),
            ));
        }
        if !self
            .store
            .delete_api_key(&actor.user.id, id, self.clock.now())
            .await?
        {
            return Err(Error::NotFound);
        }
        self.key_changed(&key, true).await?;
        self.audit(
            AuditEvent::new(self.clock.now(), "api_key.deleted")
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!("key={id}")),
        )
        .await;
        Ok(())
    }

    /// Revokes leaked keys by value. Says nothing about which existed.
    #[tracing::instrument(skip_all, fields(count = keys.len()))]
    pub async fn revoke_leaked_keys(&self, keys: &[String], ip: Option<IpAddr>) -> Result<()> {
        if let Some(ip) = ip {
            let now = self.clock.now();
            if let Some(wait) = self.revoke_limiter.check(ip, now) {
                return Err(Error::RateLimited {
                    retry_after: wait,
                    message: "too many revocation requests from this address".into(),
                });
            }
            self.revoke_limiter.record_failure(ip, now);
        }
        for key in keys.iter().filter(|k| is_well_formed(k)) {
            let hash = TokenHash::of(key);
            self.api_keys.remove(&hash);
            if let Some((id, owner)) = self
                .store
                .delete_api_key_by_hash(&hash, self.clock.now())
                .await?
            {
                self.revoke_descendants(id.as_str()).await?;
                self.audit(
                    AuditEvent::new(self.clock.now(), "api_key.revoked_leaked")
                        .user(&owner)
                        .ip(ip)
                        .detail(format!("key={id}")),
                )
                .await;
            }
        }
        Ok(())
    }

    /// Authenticates an API key. A cache hit costs a SHA-256, a map lookup under a read
    /// lock and a few atomics, with no store round trip and no allocation; malformed keys
    /// are refused before any lookup.
    ///
    /// SECURITY: the address's failure count is consulted only after the key failed.
    /// A key that verifies always gets through, so junk sent from a shared address (a
    /// cluster node's other users) cannot lock out that address's machine credential;
    /// the junk itself is answered 429 once the address is over its limit. Guessing
    /// stays hopeless: a key carries 128 random bits behind a checksum.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
        ctx: UseContext<'_>,
    ) -> Result<Arc<ApiKeyPrincipal>> {
        self.fail_closed()?;
        let now = self.clock.now();
        if !is_well_formed(key) {
            return Err(self.credential_failure("api_key", key, ctx.ip, now));
        }
        let hash = TokenHash::of(key);
        let (rate, ttl) = (
            self.settings.key_rate,
            self.settings.key_cache_ttl.whole_seconds(),
        );
        let (ip, ua) = (ctx.ip, ctx.user_agent);
        let verdict = match self.api_keys.check(&hash, now, ttl, rate, ip, ua) {
            Some(v) => v,
            None => match self.load_key(&hash).await? {
                Some((principal, enabled)) => self
                    .api_keys
                    .insert_and_check(hash, principal, enabled, now, rate, ip, ua),
                None => return Err(self.credential_failure("api_key", key, ctx.ip, now)),
            },
        };
        verdict.map_err(|refusal| match refusal {
            KeyRefusal::NotLive => self.credential_failure("api_key", key, ctx.ip, now),
            KeyRefusal::OverRate(wait) => Error::RateLimited {
                retry_after: wait,
                message: "this API key is over its request rate".into(),
            },
        })
    }

    /// Reads a key for the cache (disabled keys too, so their refusals stay cheap; the
    /// caller's insert replaces any entry for it but keeps that entry's rate-limit state).
    /// The owner and the permission set are shared with the other cached keys that have
    /// them. `None`, and any entry dropped, when the key or its owner cannot be used.
    async fn load_key(&self, hash: &TokenHash) -> Result<Option<(Arc<ApiKeyPrincipal>, bool)>> {
        let Some(rec) = self.store.api_key_by_hash(hash).await? else {
            self.api_keys.remove(hash);
            return Ok(None);
        };
        let owner = self.store.account_by_id(&rec.user_id).await?;
        let Some(owner) = owner.filter(|o| !o.user.disabled) else {
            self.api_keys.remove(hash);
            return Ok(None);
        };
        let allowed = self.catalog.for_account(&owner.user);
        let permissions = self
            .api_keys
            .share_scopes(rec.permissions.intersect(&allowed));
        let user = self.api_keys.share_owner(owner.user);
        let actor = Arc::new(Actor {
            user,
            scopes: permissions,
            credential: Credential::ApiKey(rec.id),
            expires_at: rec.expires_at,
        });
        let principal = Arc::new(ApiKeyPrincipal {
            name: rec.name.into_boxed_str(),
            kind: rec.kind,
            actor,
        });
        Ok(Some((principal, rec.enabled)))
    }

    /// Counts a failed API-key or bearer attempt (for the address and the audit tally)
    /// and answers it: 401, or 429 once the address is over its limit.
    pub(super) fn credential_failure(
        &self,
        kind: &'static str,
        presented: &str,
        ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Error {
        let prefix = if kind == "api_key" {
            crate::throttle::presented_prefix(presented)
        } else {
            "jwt".to_owned()
        };
        self.failure_tally.record(kind, prefix, ip, now);
        if let Some(ip) = ip {
            let over = self.credential_limiter.check(ip, now);
            self.credential_limiter.record_failure(ip, now);
            if let Some(wait) = over {
                return Error::RateLimited {
                    retry_after: wait,
                    message: "too many failed authentications from this address".into(),
                };
            }
        }
        Error::Unauthenticated
    }

    /// After a key was disabled, enabled or deleted in the store: this node's cache entry
    /// goes (the others follow the published invalidation), and when the key `stopped`,
    /// the tokens and keys it minted go with it (re-enabling does not revive them).
    pub(super) async fn key_changed(&self, key: &ApiKeyRecord, stopped: bool) -> Result<()> {
        self.api_keys.invalidate(&key.key_hash);
        if stopped {
            self.revoke_descendants(key.id.as_str()).await?;
        }
        Ok(())
    }

    async fn own_key(&self, actor: &Actor, id: &ApiKeyId) -> Result<ApiKeyRecord> {
        self.store
            .api_key_by_id(&actor.user.id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// The organisation policy of an account (operator use).
    pub async fn org_policy_of(&self, org: &crate::ids::OrgId) -> Result<OrgPolicy> {
        self.store.org_policy(org).await
    }

    /// Replaces an organisation's policy (operator use).
    pub async fn set_org_policy(&self, org: &crate::ids::OrgId, policy: &OrgPolicy) -> Result<()> {
        policy.validate()?;
        self.store.set_org_policy(org, policy).await?;
        self.audit(
            AuditEvent::new(self.clock.now(), "org.policy_changed").detail(format!("org={org}")),
        )
        .await;
        Ok(())
    }
}

/// Whether `actor` may switch `key` back on: a key revoked with its parent never comes
/// back, and (SECURITY) turning a key on is as good as minting it, so a credential may
/// only enable keys whose permissions it holds itself.
pub(super) fn may_enable(actor: &Actor, key: &ApiKeyRecord) -> Result<()> {
    if key.revoked_at.is_some() {
        return Err(Error::Conflict(
            "this API key was revoked when the key or token that created it ended; \
             it cannot be enabled again: create a new key"
                .into(),
        ));
    }
    actor.require_all(&key.permissions)
}

fn require_read(actor: &Actor) -> Result<()> {
    actor.require_any(&[scope::API_KEYS_READ, scope::API_KEYS_WRITE])
}

pub(crate) fn actor_factor(actor: &Actor) -> &'static str {
    actor.credential.kind()
}
