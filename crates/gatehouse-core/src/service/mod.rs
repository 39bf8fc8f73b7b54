//! `Core`: the use cases, wired to a store and a clock. Every front end (HTTP, admin
//! CLI, background jobs) goes through it.

mod accounts;
mod api_keys;
mod auth;
mod change_feed;
mod invalidations;
mod master_keys;
mod mfa;
mod onboarding;
mod org_audit;
mod org_keys;
mod org_policy;
mod orgs;
mod password;
mod scim;
mod scim_groups;
mod ssh_keys;
mod ssh_private_key_use;
mod ssh_private_keys;
mod tokens;
mod webauthn;

pub use accounts::{BootstrapOutcome, NewAccount};
pub use api_keys::{NewApiKey, UseContext};
pub use auth::LoginAttempt;
pub use change_feed::FeedState;
pub use master_keys::RewrapReport;
pub use mfa::{
    LoginStep, MfaChallenge, MfaLoginAttempt, MfaStatus, Proof, SecondFactor, TotpConfirmed,
    TotpEnrolment,
};
pub use onboarding::{IssuedLink, NewMember};
pub use org_audit::{AuditQuery, EXPORT_BATCH};
pub use org_keys::{ENTERPRISE_ONLY, NewOrgKey};
pub use password::PasswordChange;
pub use scim::LAST_OWNER;
pub use scim_groups::{MAX_ROLE_MAPPINGS, ScimOverview};
pub use ssh_private_key_use::{
    SessionBind, SignRequest, Signature, TestReport, TestResult, TestTarget,
};
pub use ssh_private_keys::NewSshPrivateKey;
pub use tokens::NewToken;
pub use webauthn::{KeyAdded, PasskeySignIn};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use time::Duration;

use crate::api_key::{ApiKeyCache, KeyRate};
use crate::cache::CacheStats;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::password::{HashParams, PasswordHasher};
use crate::scope::ScopeCatalog;
use crate::seal::MasterKeys;
use crate::session::{SessionCache, SessionPolicy};
use crate::store::Store;
use crate::throttle::{IpLimiter, LockoutPolicy};
use crate::token::{OwnerCache, RevokedTokens, TokenCache, TokenKeys, TokenSettings};

/// Tunables of the core, filled from the binary's configuration.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Session lifetimes.
    pub session: SessionPolicy,
    /// argon2id parameters for new hashes.
    pub hash_params: HashParams,
    /// Hashes running at once.
    pub hash_concurrency: usize,
    /// Hashes waiting before new sign-ins are shed with 503.
    pub hash_queue: usize,
    /// Per-account backoff.
    pub lockout: LockoutPolicy,
    /// Failed authentications allowed per client address per window.
    pub ip_max_failures: u32,
    /// The per-address window.
    pub ip_window: Duration,
    /// Scopes the platform defines beyond Gatehouse's own.
    pub platform_scopes: Vec<String>,
    /// Request rate allowed per API key.
    pub key_rate: KeyRate,
    /// How long a cached API key is trusted before it is read again. Changes made on
    /// any node reach every node's cache sooner, through the invalidation poll; this only
    /// bounds how long a missed invalidation could last.
    pub key_cache_ttl: Duration,
    /// API keys kept in memory at most; past this the least recently used are evicted.
    pub key_cache_capacity: usize,
    /// Bearer token issuer, audience and cache size.
    pub tokens: TokenSettings,
    /// Per-account caps on live credentials.
    pub limits: CredentialLimits,
    /// The issuer authenticator apps show beside the account name.
    pub mfa_issuer: String,
    /// Where and how long the connection test of stored SSH private keys may dial.
    pub connection_tests: ConnectionTests,
}

/// The limits of the connection test (`POST /api/ssh-private-keys/{id}/test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTests {
    /// SECURITY: networks a test may not dial, so the test cannot reach the server's
    /// own loopback services or a cloud metadata address (server-side request forgery).
    /// IPv4-mapped IPv6 addresses are checked as the IPv4 address they map.
    pub denied_networks: Vec<crate::ip_net::IpNet>,
    /// The whole test (connect, key exchange, authentication) must finish within this.
    pub timeout: std::time::Duration,
}

impl Default for ConnectionTests {
    fn default() -> Self {
        let denied = [
            "127.0.0.0/8",
            "::1/128",
            "0.0.0.0/8",
            "169.254.0.0/16",
            "fe80::/10",
        ];
        ConnectionTests {
            denied_networks: denied.iter().filter_map(|n| n.parse().ok()).collect(),
            timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// The credential kinds with a per-account cap.
#[derive(Debug, Clone, Copy)]
enum Cap {
    ApiKeys,
    Tokens,
    SshKeys,
    SshPrivateKeys,
}

/// How many live credentials of each kind one account may hold (a runaway script or a
/// stolen credential cannot fill the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialLimits {
    /// API keys that are neither revoked nor expired.
    pub api_keys: u64,
    /// Tokens that are neither revoked nor expired.
    pub tokens: u64,
    /// SSH public keys (at most [`crate::page::MAX_LIMIT`], so the authorized-keys
    /// answer stays one page).
    pub ssh_keys: u64,
    /// Stored SSH private keys.
    pub ssh_private_keys: u64,
}

impl Default for CredentialLimits {
    fn default() -> Self {
        CredentialLimits {
            api_keys: 100,
            tokens: 100,
            ssh_keys: 50,
            ssh_private_keys: 20,
        }
    }
}

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            session: SessionPolicy::default(),
            hash_params: HashParams::default(),
            hash_concurrency: 1,
            hash_queue: 64,
            lockout: LockoutPolicy::default(),
            ip_max_failures: 50,
            ip_window: Duration::minutes(5),
            platform_scopes: Vec::new(),
            key_rate: KeyRate {
                per_minute: 6000,
                burst: 200,
            },
            key_cache_ttl: Duration::minutes(15),
            key_cache_capacity: crate::api_key::DEFAULT_CAPACITY,
            tokens: TokenSettings::default(),
            limits: CredentialLimits::default(),
            mfa_issuer: "Gatehouse".into(),
            connection_tests: ConnectionTests::default(),
        }
    }
}

/// [`Core::cache_stats`]: one [`CacheStats`] per cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreCacheStats {
    /// API keys by hash.
    pub api_keys: CacheStats,
    /// Sessions by cookie hash.
    pub sessions: CacheStats,
    /// Verified bearer tokens by hash.
    pub tokens: CacheStats,
    /// Token owners by account id.
    pub token_owners: CacheStats,
}

/// The application core.
pub struct Core {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: CoreSettings,
    hasher: PasswordHasher,
    sessions: SessionCache,
    api_keys: ApiKeyCache,
    catalog: ScopeCatalog,
    /// Requests to the public revoke-by-value endpoint, per address.
    revoke_limiter: IpLimiter,
    /// Failed password sign-ins per address (checked before any hashing).
    ip_limiter: IpLimiter,
    /// Failed API-key and bearer attempts per address. SECURITY: it only decides how a
    /// failure is answered (429 once over the limit); a credential that verifies is never
    /// refused because of what others sent from its address.
    credential_limiter: IpLimiter,
    /// Failed API-key and bearer attempts, per minute, for the audit trail.
    failure_tally: crate::throttle::FailureTally,
    /// Flipped by `check_store`; while false nothing authenticates (fail closed).
    store_up: AtomicBool,
    /// Unwraps sealed secrets; `None` until [`Core::with_master_keys`].
    master_keys: Option<MasterKeys>,
    /// Uploads decrypting a passphrase-protected SSH private key at once (the KDF is
    /// slow by design; a flood of uploads waits here, off the async workers).
    key_decrypts: tokio::sync::Semaphore,
    /// The WebAuthn relying party; `None` (security keys off) until [`Core::with_webauthn`].
    webauthn: Option<Arc<crate::mfa::webauthn::RelyingParty>>,
    /// Token signing and verifying keys, replaced whole on rotation.
    token_keys: RwLock<Arc<TokenKeys>>,
    /// Verified tokens by hash.
    tokens: TokenCache,
    /// Revoked, unexpired token ids (this node's revocations and polled ones).
    revoked_tokens: RevokedTokens,
    /// Unix seconds of the last revocation poll.
    revocations_polled: std::sync::atomic::AtomicI64,
    /// Token owners, for first sights of tokens.
    token_owners: OwnerCache,
    /// Unix seconds of the last invalidation poll.
    invalidations_polled: std::sync::atomic::AtomicI64,
    /// Invalidations in the poll window, and how often each was applied.
    invalidations_applied: std::sync::Mutex<invalidations::Applied>,
    /// The change feed's state.
    feed: change_feed::FeedHealth,
}

impl Core {
    /// Builds the core. Computes the dummy hash, so it takes a few milliseconds.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: CoreSettings,
    ) -> Result<Self> {
        let hasher = PasswordHasher::new(
            settings.hash_params,
            settings.hash_concurrency,
            settings.hash_queue,
        )?;
        let ip_limiter = IpLimiter::new(settings.ip_max_failures, settings.ip_window);
        let catalog = ScopeCatalog::new(&settings.platform_scopes)?;
        Ok(Core {
            store,
            clock,
            hasher,
            sessions: SessionCache::default(),
            api_keys: ApiKeyCache::new(settings.key_cache_capacity),
            catalog,
            revoke_limiter: IpLimiter::new(30, Duration::minutes(1)),
            ip_limiter,
            credential_limiter: IpLimiter::new(settings.ip_max_failures, settings.ip_window),
            failure_tally: Default::default(),
            store_up: AtomicBool::new(true),
            master_keys: None,
            webauthn: None,
            key_decrypts: tokio::sync::Semaphore::new(1),
            token_keys: RwLock::new(Arc::new(TokenKeys::default())),
            tokens: TokenCache::new(settings.tokens.cache_capacity),
            revoked_tokens: RevokedTokens::default(),
            revocations_polled: std::sync::atomic::AtomicI64::new(i64::MIN),
            token_owners: OwnerCache::default(),
            invalidations_polled: std::sync::atomic::AtomicI64::new(i64::MIN),
            invalidations_applied: Default::default(),
            feed: Default::default(),
            settings,
        })
    }

    /// The size and hit, miss and eviction counts of every in-process cache, for a
    /// metrics exporter (a few relaxed loads and one read lock per cache).
    pub fn cache_stats(&self) -> CoreCacheStats {
        CoreCacheStats {
            api_keys: self.api_keys.stats(),
            sessions: self.sessions.stats(),
            tokens: self.tokens.stats(),
            token_owners: self.token_owners.stats(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &CoreSettings {
        &self.settings
    }

    /// The clock in use.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The password-hash pool's queue, load and refusals (for the metrics).
    pub fn hash_pool_stats(&self) -> crate::password::HashPoolStats {
        self.hasher.stats()
    }

    /// The store's connection pool and failed operations (for the metrics).
    pub fn store_stats(&self) -> crate::store::PoolStats {
        self.store.pool_stats()
    }

    /// Pings the store and records the result; `/readyz` and the fail-closed check use it.
    pub async fn check_store(&self) -> bool {
        let up = self.store.ping().await.is_ok();
        let was = self.store_up.swap(up, Ordering::SeqCst);
        if was != up {
            if up {
                tracing::info!("store reachable again");
            } else {
                tracing::error!("store unreachable: authentication fails closed");
            }
        }
        up
    }

    /// Whether the last store check succeeded.
    pub fn store_is_up(&self) -> bool {
        self.store_up.load(Ordering::SeqCst)
    }

    /// Writes the session activity gathered in memory, and deletes expired sessions.
    /// Run every few seconds and once at shutdown.
    pub async fn flush(&self) -> Result<()> {
        let dirty = self.sessions.take_dirty();
        if !dirty.is_empty() {
            let seen: Vec<_> = dirty
                .into_iter()
                .filter_map(|(h, t)| {
                    time::OffsetDateTime::from_unix_timestamp(t)
                        .ok()
                        .map(|t| (h, t))
                })
                .collect();
            self.store.touch_sessions(&seen).await?;
        }
        let usage = self.api_keys.take_usage();
        if !usage.is_empty() {
            self.store.record_api_key_usage(&usage).await?;
        }
        self.flush_failure_tally(false).await;
        Ok(())
    }

    /// [`Core::flush`], plus the failure tally of the minute still running: at shutdown.
    pub async fn flush_final(&self) -> Result<()> {
        let flushed = self.flush().await;
        self.flush_failure_tally(true).await;
        flushed
    }

    async fn flush_failure_tally(&self, all: bool) {
        for (group, count) in self.failure_tally.take(self.clock.now(), all) {
            let minute = time::OffsetDateTime::from_unix_timestamp(group.minute)
                .ok()
                .and_then(|m| {
                    m.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            // Written directly: these rows describe other requests, not the current one.
            let event = crate::audit::AuditEvent::new(self.clock.now(), "auth.failed")
                .factor(group.kind)
                .ip(group.ip)
                .detail(format!(
                    "prefix={} count={count} minute={minute}",
                    group.prefix
                ));
            if let Err(e) = self.store.insert_audit(&event).await {
                tracing::error!(error = %e, "audit write of failed attempts failed");
            }
        }
    }

    /// Deletes sessions past their lifetime, expired tokens, signing keys that no
    /// longer verify anything, and old invalidations from the store.
    pub async fn sweep(&self) -> Result<u64> {
        let now = self.clock.now();
        let sessions = self
            .store
            .delete_expired_sessions(now, now - self.settings.session.idle_timeout)
            .await?;
        let tokens = self.sweep_tokens(now).await?;
        // A real account's counter outlives its longest backoff by a day; a made-up
        // name's lasts an hour; the hard limit stays until an operator resets it.
        let lockout = &self.settings.lockout;
        self.store
            .delete_stale_failures(
                now - lockout.max_delay - Duration::days(1),
                now - Duration::hours(1),
                lockout.hard_limit,
            )
            .await?;
        self.store
            .delete_invalidations_before(now - invalidations::RETENTION)
            .await?;
        self.store.delete_expired_password_links(now).await?;
        self.store
            .delete_expired_challenges(now, now - crate::mfa::ENROLMENT_LIFETIME)
            .await?;
        Ok(sessions + tokens)
    }

    /// Refuses a new credential once the account holds as many live ones of its kind as
    /// the lower of the server's cap and its organisation's (`caps`, from the policy the
    /// use case has already read).
    fn check_cap(&self, caps: &crate::org::AccountCaps, live: u64, kind: Cap) -> Result<()> {
        let limits = &self.settings.limits;
        let (server, own, field, what) = match kind {
            Cap::ApiKeys => (limits.api_keys, caps.api_keys, "api_keys", "API keys"),
            Cap::Tokens => (limits.tokens, caps.tokens, "tokens", "live tokens"),
            Cap::SshKeys => (limits.ssh_keys, caps.ssh_keys, "ssh_keys", "SSH keys"),
            Cap::SshPrivateKeys => (
                limits.ssh_private_keys,
                caps.ssh_private_keys,
                "ssh_private_keys",
                "stored SSH private keys",
            ),
        };
        if live >= crate::org::AccountCaps::effective(own, server) {
            return Err(Error::invalid(
                field,
                format!(
                    "you already have {live} {what}, the most one account may hold; \
                     delete or revoke ones you no longer use first"
                ),
            ));
        }
        Ok(())
    }

    fn fail_closed(&self) -> Result<()> {
        if self.store_is_up() {
            Ok(())
        } else {
            Err(Error::Unavailable { retry_after: 5 })
        }
    }
}
