//! Token use cases: issue, list, revoke, sign out everywhere, per-request verification,
//! and the signing keys behind them.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Credential};
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::{AccountId, TokenId};
use crate::page::{After, Page, PageRequest};
use crate::scope;
use crate::seal::{Keyring, MasterKeys};
use crate::secret::TokenHash;
use crate::token::{
    CLOCK_SKEW_SECONDS, Claims, Expectations, Jwk, Lifetime, MAX_TOKEN_LEN, Owner,
    SigningKeyRecord, TokenKeys, TokenPrincipal, TokenRecord, parse_name, sign, verify,
};

use super::api_keys::actor_factor;
use super::{Cap, Core};

/// A request for a new token.
pub struct NewToken<'a> {
    /// Its label (a default when absent).
    pub name: Option<&'a str>,
    /// `None`: the organisation's default lifetime.
    pub lifetime: Option<Lifetime>,
    /// `None`: every permission the creator holds.
    pub permissions: Option<&'a [String]>,
}

impl Core {
    /// Gives the core its master keys (needed to read and create signing keys).
    pub fn with_master_keys(mut self, keys: Arc<Keyring>) -> Self {
        self.master_keys = Some(MasterKeys::fixed(keys));
        self
    }

    /// Gives the core master keys that are re-read from their file when a sealed value
    /// names a key it does not hold (see [`MasterKeys`]).
    pub fn with_reloadable_master_keys(mut self, keys: MasterKeys) -> Self {
        self.master_keys = Some(keys);
        self
    }

    pub(super) fn master(&self) -> Result<&MasterKeys> {
        self.master_keys
            .as_ref()
            .ok_or_else(|| Error::internal("no master key configured"))
    }

    /// Loads the signing keys (generating the first one on a new store) and the
    /// revocations of unexpired tokens.
    pub async fn init_tokens(&self) -> Result<()> {
        self.init_signing_keys().await?;
        self.refresh_revocations().await
    }

    /// Loads the signing keys, generating the first one on a new store.
    pub async fn init_signing_keys(&self) -> Result<()> {
        let now = self.clock.now();
        let records = self.store.list_signing_keys().await?;
        if !records.iter().any(|r| r.retired_at.is_none()) {
            let key = SigningKeyRecord::generate(self.master()?, now)?;
            self.store.add_signing_key(&key).await?;
            self.audit(
                AuditEvent::new(now, "signing_key.created").detail(format!("kid={}", key.kid)),
            )
            .await;
        }
        self.refresh_signing_keys().await
    }

    /// Re-reads the signing keys (another node or `gatehouse admin rotate-signing-key`
    /// may have added one). When nothing changed, nothing is unsealed.
    pub async fn refresh_signing_keys(&self) -> Result<()> {
        let now = self.clock.now();
        let records = self.store.list_signing_keys().await?;
        let current = self.token_keys();
        if !current.matches(&records, now) {
            let keys = TokenKeys::load(&records, self.master()?, now)?;
            if current.signer().is_some() {
                tracing::info!(
                    kid = keys.signer().map(|s| s.kid.as_str()).unwrap_or("-"),
                    "token signing keys changed"
                );
            }
            *self.token_keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        }
        Ok(())
    }

    /// Adds a new signing key; the old one keeps verifying until its tokens expire.
    pub async fn rotate_signing_key(&self) -> Result<SigningKeyRecord> {
        let now = self.clock.now();
        let key = SigningKeyRecord::generate(self.master()?, now)?;
        self.store.add_signing_key(&key).await?;
        self.audit(AuditEvent::new(now, "signing_key.rotated").detail(format!("kid={}", key.kid)))
            .await;
        self.refresh_signing_keys().await?;
        Ok(key)
    }

    fn token_keys(&self) -> Arc<TokenKeys> {
        self.token_keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a signing key is loaded (tokens can be issued), for `/readyz`.
    pub fn can_sign_tokens(&self) -> bool {
        self.token_keys().signer().is_some()
    }

    /// The public keys that verify tokens, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.token_keys().jwks()
    }

    /// Issues a token. Requires `tokens:write`; the token never holds more than the
    /// creator does.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn issue_token(
        &self,
        actor: &Actor,
        req: NewToken<'_>,
    ) -> Result<(TokenRecord, SecretString)> {
        actor.require(scope::TOKENS_WRITE)?;
        let name = parse_name(req.name)?;
        let scopes = match req.permissions {
            None => actor.scopes.clone(),
            Some(list) => {
                let wanted = self.catalog.parse_request(Some(list))?;
                actor.require_all(&wanted)?;
                wanted
            }
        };
        let policy = self.policy_for(actor).await?;
        let lifetime = policy.resolve_token_lifetime(req.lifetime)?;
        let keys = self.token_keys();
        let signer = keys
            .signer()
            .ok_or_else(|| Error::internal("no token signing key loaded"))?;
        let now = self.clock.now();
        let live = self.store.count_live_tokens(&actor.user.id, now).await?;
        self.check_cap(&policy.caps, live, Cap::Tokens)?;
        // A token cannot outlive the key or token that makes it: longer asks are clamped.
        let expires_at = actor
            .clamp_expiry(Some(now + Duration::hours(lifetime.get().into())))
            .unwrap_or(now);
        if expires_at <= now {
            return Err(Error::invalid(
                "expires_in_hours",
                "the credential making this token is about to expire; sign in again",
            ));
        }
        let id = TokenId::generate();
        let claims = Claims {
            iss: self.settings.tokens.issuer.clone(),
            sub: actor.user.id.0.clone(),
            aud: self.settings.tokens.audience.clone(),
            iat: now.unix_timestamp(),
            nbf: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            jti: id.0.clone(),
            scope: scopes.to_space_separated(),
        };
        let token = SecretString::from(sign(&claims, signer)?);
        let record = TokenRecord {
            id,
            user_id: actor.user.id.clone(),
            name,
            token_hash: TokenHash::of(secrecy::ExposeSecret::expose_secret(&token)),
            scopes,
            created_at: now,
            expires_at,
            created_via: actor_factor(actor).into(),
            parent_id: actor.credential.credential_id(),
            revoked_at: None,
        };
        self.store.insert_token(&record).await?;
        self.audit(
            AuditEvent::new(now, "token.created")
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!(
                    "token={} hours={} expires_at={} kid={}",
                    record.id,
                    lifetime.get(),
                    expires_at.unix_timestamp(),
                    signer.kid
                )),
        )
        .await;
        Ok((record, token))
    }

    /// A page of the actor's live tokens, newest first (metadata only).
    pub async fn list_tokens(
        &self,
        actor: &Actor,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>> {
        actor.require(scope::TOKENS_WRITE)?;
        let now = self.clock.now();
        let floor = self.tokens_not_before(&actor.user.id).await?;
        let rows = self
            .store
            .list_live_tokens(&actor.user.id, now, page)
            .await?;
        let mut page = Page::from_rows(rows, page, |t| After {
            created_at: t.created_at.unix_timestamp(),
            id: t.id.0.clone(),
        });
        // Tokens from before a "sign out everywhere" are dead; signing out everywhere
        // also marks them revoked, so this only hides the same-second stragglers.
        page.items
            .retain(|t| floor.is_none_or(|f| t.created_at >= f));
        Ok(page)
    }

    /// Revokes one of the actor's tokens; it gets 401 at once on this node.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn revoke_token(&self, actor: &Actor, id: &TokenId) -> Result<()> {
        actor.require(scope::TOKENS_WRITE)?;
        let now = self.clock.now();
        let Some(token) = self.store.revoke_token(&actor.user.id, id, now).await? else {
            return Err(Error::NotFound);
        };
        self.tokens.remove(&token.token_hash);
        self.revoked_tokens
            .insert(token.id.clone(), token.expires_at.unix_timestamp());
        self.revoke_descendants(id.as_str()).await?;
        self.audit(
            AuditEvent::new(now, "token.revoked")
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!("token={id}")),
        )
        .await;
        Ok(())
    }

    /// Ends every session and revokes every token of the actor's account, and the API
    /// keys those tokens made. Requires `sessions:revoke_all` (a browser session holds
    /// it; a key or token only when it was given it), so a narrow credential such as an
    /// `ssh_keys:read` key cannot sign its owner out.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn sign_out_everywhere(&self, actor: &Actor) -> Result<()> {
        actor.require(scope::SIGN_OUT_EVERYWHERE)?;
        self.end_all_sessions(&actor.user.id).await?;
        self.audit(
            AuditEvent::new(self.clock.now(), "user.signed_out_everywhere")
                .user(&actor.user.id)
                .factor(actor_factor(actor)),
        )
        .await;
        Ok(())
    }

    /// Ends every credential minted, directly or down a chain, by the API key or token
    /// `parent`: tokens are revoked and keys revoked for good, and both are evicted on
    /// this node (other nodes follow through the revocation and invalidation polls).
    pub(crate) async fn revoke_descendants(&self, parent: &str) -> Result<u64> {
        let now = self.clock.now();
        let mut pending = vec![parent.to_owned()];
        let mut revoked = 0;
        while let Some(p) = pending.pop() {
            for (id, hash) in self.store.revoke_tokens_by_parent(&p, now).await? {
                self.tokens.remove(&hash);
                // The expiry is unknown here; a day bounds every token's life.
                self.revoked_tokens.insert(
                    id.clone(),
                    (now + Duration::hours(crate::token::MAX_HOURS.into())).unix_timestamp(),
                );
                revoked += 1;
                pending.push(id.0);
            }
            for (id, hash) in self.store.revoke_api_keys_by_parent(&p, now).await? {
                self.end_child_key(&id, &hash, &p).await;
                revoked += 1;
                pending.push(id.0);
            }
        }
        Ok(revoked)
    }

    /// Evicts a key revoked with its parent, and records it.
    async fn end_child_key(&self, id: &crate::ids::ApiKeyId, hash: &TokenHash, parent: &str) {
        self.api_keys.invalidate(hash);
        self.audit(
            AuditEvent::new(self.clock.now(), "api_key.revoked_with_parent")
                .detail(format!("key={id} parent={parent}")),
        )
        .await;
    }

    /// Revokes every token of a user through the per-user "not before" time.
    pub(crate) async fn revoke_all_tokens(&self, user: &AccountId) -> Result<()> {
        let now = self.clock.now();
        self.store.revoke_user_tokens(user, now).await?;
        // Keys the tokens made end with them, and so does whatever those keys made.
        for (id, hash) in self.store.revoke_token_minted_api_keys(user, now).await? {
            self.end_child_key(&id, &hash, "token").await;
            self.revoke_descendants(id.as_str()).await?;
        }
        self.token_owners.remove(user);
        self.tokens.remove_user(user);
        // Tokens issued in the same second as the new "not before" are caught by their
        // revoked rows.
        self.refresh_revocations().await
    }

    async fn tokens_not_before(&self, user: &AccountId) -> Result<Option<OffsetDateTime>> {
        Ok(self
            .store
            .account_by_id(user)
            .await?
            .and_then(|u| u.tokens_not_before))
    }

    /// Authenticates a bearer token. A cache hit costs a SHA-256 and a map lookup; a
    /// first sight verifies the signature and reads the token's record and owner.
    pub async fn authenticate_token(
        &self,
        token: &str,
        ip: Option<IpAddr>,
    ) -> Result<Arc<TokenPrincipal>> {
        self.fail_closed()?;
        let now = self.clock.now();
        // SECURITY: as for API keys, the address's failures only shape how a failure is
        // answered; a token that verifies always gets through.
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(self.token_failure(ip, now, "malformed"));
        }
        let hash = TokenHash::of(token);
        if let Some(hit) = self.tokens.get(&hash) {
            let fresh = now.unix_timestamp() - hit.checked_at
                < self.settings.tokens.cache_ttl.whole_seconds();
            if fresh && hit.principal.is_current(now) {
                return Ok(hit.principal.clone());
            }
            self.tokens.remove(&hash);
        }
        let principal = self
            .load_token(token, now)
            .await?
            .map_err(|why| self.token_failure(ip, now, why))?;
        self.tokens.insert(hash, principal.clone(), now);
        Ok(principal)
    }

    /// Full verification: the signature and claims, then the revoked-token set and the
    /// owner (from the owner cache, or one store read). The outer error is a store
    /// failure; the inner one says why the token was refused (for the debug log only).
    async fn load_token(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<std::result::Result<Arc<TokenPrincipal>, &'static str>> {
        let keys = self.token_keys();
        let expect = Expectations {
            issuer: &self.settings.tokens.issuer,
            audience: &self.settings.tokens.audience,
            now: now.unix_timestamp(),
        };
        let claims = match verify(token, &keys, &expect) {
            Ok(c) => c,
            Err(r) => return Ok(Err(r.as_str())),
        };
        let token_id = TokenId(claims.jti);
        if self.revoked_tokens.contains(&token_id) {
            return Ok(Err("revoked"));
        }
        let Some(owner) = self.token_owner(&AccountId(claims.sub), now).await? else {
            return Ok(Err("no_owner"));
        };
        if owner.user.disabled {
            return Ok(Err("owner_disabled"));
        }
        if owner.tokens_not_before.is_some_and(|nb| claims.iat < nb) {
            return Ok(Err("before_not_before"));
        }
        let allowed = self.catalog.for_account(&owner.user);
        let scopes = crate::scope::Scopes::from_space_separated(&claims.scope).intersect(&allowed);
        let ts = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_err(Error::internal);
        let principal = Arc::new(TokenPrincipal {
            actor: Arc::new(Actor {
                user: Arc::new(owner.user.clone()),
                scopes: scopes.clone(),
                credential: Credential::Token(token_id.clone()),
                expires_at: Some(ts(claims.exp)?),
            }),
            token_id,
            user: owner.user.clone(),
            scopes,
            issued_at: ts(claims.iat)?,
            not_before: ts(claims.nbf)?,
            expires_at: ts(claims.exp)?,
            memo: Default::default(),
        });
        Ok(Ok(principal))
    }

    /// A token's owner, from the owner cache or the store.
    async fn token_owner(&self, id: &AccountId, now: OffsetDateTime) -> Result<Option<Arc<Owner>>> {
        let now_s = now.unix_timestamp();
        let ttl = self.settings.tokens.cache_ttl.whole_seconds();
        if let Some(o) = self.token_owners.get(id, now_s, ttl) {
            return Ok(Some(o));
        }
        let Some(record) = self.store.account_by_id(id).await? else {
            return Ok(None);
        };
        let owner = Arc::new(Owner {
            tokens_not_before: record.tokens_not_before.map(|t| t.unix_timestamp()),
            user: record.user,
            checked_at: now_s,
        });
        self.token_owners.insert(owner.clone());
        Ok(Some(owner))
    }

    /// Learns of revocations made by other nodes (and the admin CLI) since the last poll,
    /// and evicts those tokens. Run at start and every few seconds.
    pub async fn refresh_revocations(&self) -> Result<()> {
        let now = self.clock.now();
        let last = self.revocations_polled.load(Ordering::Relaxed);
        // The first poll reads every unexpired revocation; later ones overlap the previous
        // window by two minutes, for clock differences between nodes.
        let since = if last == i64::MIN {
            now - Duration::hours(crate::token::MAX_HOURS.into()) - Duration::hours(1)
        } else {
            OffsetDateTime::from_unix_timestamp(last - 120).map_err(Error::internal)?
        };
        // Tokens are accepted until `exp` + skew, so their revocations must be kept as long.
        let live_after = now - Duration::seconds(CLOCK_SKEW_SECONDS);
        for (id, hash, expires_at) in self.store.revoked_tokens_since(since, live_after).await? {
            self.tokens.remove(&hash);
            self.revoked_tokens.insert(id, expires_at.unix_timestamp());
        }
        self.revoked_tokens.prune(now.unix_timestamp());
        self.revocations_polled
            .store(now.unix_timestamp(), Ordering::Relaxed);
        Ok(())
    }

    fn token_failure(&self, ip: Option<IpAddr>, now: OffsetDateTime, why: &str) -> Error {
        tracing::debug!(reason = why, "bearer token refused");
        self.credential_failure("token", "", ip, now)
    }

    /// Deletes expired tokens and signing keys that no longer verify anything.
    pub(crate) async fn sweep_tokens(&self, now: OffsetDateTime) -> Result<u64> {
        self.tokens.sweep(now);
        let grace = Duration::seconds(CLOCK_SKEW_SECONDS) + Duration::hours(1);
        let n = self.store.delete_expired_tokens(now - grace).await?;
        let cutoff = now
            - Duration::hours(crate::token::MAX_HOURS.into())
            - Duration::seconds(CLOCK_SKEW_SECONDS);
        self.store.delete_retired_signing_keys(cutoff).await?;
        Ok(n)
    }
}
