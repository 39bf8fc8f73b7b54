//! The storage traits: what the core needs from a database, nothing about which one.
//! Implementations live in `gatehouse-store` (SQLite and PostgreSQL); both pass one
//! conformance suite.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::account::{NewUser, User, UserRecord, Username};
use crate::api_key::{ApiKeyRecord, KeyUsage};
use crate::audit::AuditEvent;
use crate::error::Result;
use crate::ids::{ApiKeyId, OrgId, SshKeyId, TokenId, UserId};
use crate::org::{Org, OrgPolicy};
use crate::page::PageRequest;
use crate::secret::TokenHash;
use crate::session::SessionRecord;
use crate::ssh_key::SshKeyRecord;
use crate::throttle::FailureState;
use crate::token::{SigningKeyRecord, TokenRecord};

/// Everything Gatehouse persists. Errors are domain errors: a unique-constraint
/// violation arrives as `Error::Conflict`, a lost connection as `Error::Unavailable`.
#[async_trait]
pub trait Store: KeyStore + TokenStore + SshKeyStore + Send + Sync + 'static {
    /// Checks that the store answers.
    async fn ping(&self) -> Result<()>;

    /// Returns the organisation with this name, creating it if missing.
    async fn ensure_org(&self, name: &str, now: OffsetDateTime) -> Result<Org>;

    /// Inserts an account; `Conflict` if the username is taken.
    async fn insert_user(&self, user: &NewUser) -> Result<User>;
    /// Finds an account by (normalised) username.
    async fn user_by_username(&self, username: &Username) -> Result<Option<UserRecord>>;
    /// Finds an account by id.
    async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>>;
    /// All accounts, oldest first.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// How many accounts exist.
    async fn count_users(&self) -> Result<u64>;
    /// Replaces an account's password hash.
    async fn set_password_hash(&self, id: &UserId, hash: &str) -> Result<()>;
    /// Disables or re-enables an account, publishing [`Invalidation::User`] with it.
    async fn set_user_disabled(
        &self,
        id: &UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<()>;
    /// Members of an organisation.
    async fn org_member_count(&self, org: &OrgId) -> Result<u64>;

    /// Stores a new session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<()>;
    /// Finds a session by the hash of its cookie secret.
    async fn session_by_hash(&self, hash: &TokenHash) -> Result<Option<SessionRecord>>;
    /// Deletes one session; whether it existed. Publishes [`Invalidation::Session`] with it.
    async fn delete_session(&self, hash: &TokenHash, at: OffsetDateTime) -> Result<bool>;
    /// Deletes every session of an account; how many. Publishes [`Invalidation::User`].
    async fn delete_user_sessions(&self, user: &UserId, at: OffsetDateTime) -> Result<u64>;
    /// Records activity for many sessions at once (never moves `last_seen_at` back).
    async fn touch_sessions(&self, seen: &[(TokenHash, OffsetDateTime)]) -> Result<()>;
    /// Deletes sessions whose absolute lifetime or idle time has passed.
    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
    ) -> Result<u64>;

    /// The failure counter for a sign-in subject.
    async fn failure_state(&self, subject: &str) -> Result<Option<FailureState>>;
    /// Adds one failure atomically (safe across nodes) and returns the new state.
    async fn record_failure(&self, subject: &str, at: OffsetDateTime) -> Result<FailureState>;
    /// Resets the counter after a success or an operator reset.
    async fn clear_failures(&self, subject: &str) -> Result<()>;
    /// Forgets failure counters whose last failure is older than `idle_cutoff` (unless
    /// they reached `hard_limit`, which locks a real account until an operator resets
    /// it), and counters of names that are no account's once older than
    /// `unknown_cutoff`, so made-up usernames cannot grow the table without bound.
    async fn delete_stale_failures(
        &self,
        idle_cutoff: OffsetDateTime,
        unknown_cutoff: OffsetDateTime,
        hard_limit: u32,
    ) -> Result<u64>;

    /// Appends to the audit trail.
    async fn insert_audit(&self, event: &AuditEvent) -> Result<()>;
    /// The newest audit records, optionally for one account.
    async fn list_audit(&self, user: Option<&UserId>, limit: u32) -> Result<Vec<AuditEvent>>;

    /// Cache invalidations published at or after `since`, oldest first.
    async fn invalidations_since(&self, since: OffsetDateTime) -> Result<Vec<Published>>;
    /// Deletes invalidations published before `cutoff`; how many.
    async fn delete_invalidations_before(&self, cutoff: OffsetDateTime) -> Result<u64>;
}

/// A change that every node must drop from its in-memory caches. The store writes it
/// in the same transaction as the change itself, and every node polls for new ones, so
/// a revocation made on one node reaches the others within one poll.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Invalidation {
    /// An API key was disabled, enabled or deleted.
    ApiKey(ApiKeyId),
    /// An account was disabled, enabled, or signed out everywhere.
    User(UserId),
    /// A session was ended (sign-out), named by the hash of its cookie secret, which is
    /// what the session table already holds.
    Session(TokenHash),
}

/// An invalidation as read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The row's unique id (two changes to one subject in one second are two rows).
    pub id: String,
    /// When it was published, by the publishing node's clock.
    pub at: OffsetDateTime,
    /// What changed.
    pub change: Invalidation,
}

impl Invalidation {
    /// The stored form: a kind and a subject id.
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            Invalidation::ApiKey(id) => ("api_key", id.0.clone()),
            Invalidation::User(id) => ("user", id.0.clone()),
            Invalidation::Session(hash) => ("session", hash.to_hex()),
        }
    }

    /// Reads the stored form back; `None` for a kind this version does not know.
    pub fn from_parts(kind: &str, subject: String) -> Option<Self> {
        match kind {
            "api_key" => Some(Invalidation::ApiKey(ApiKeyId(subject))),
            "user" => Some(Invalidation::User(UserId(subject))),
            "session" => TokenHash::from_hex(&subject).map(Invalidation::Session),
            _ => None,
        }
    }
}

/// API keys and organisation policy.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Inserts a key; `Conflict` when the owner already has a key of that name.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    /// Inserts many keys in one transaction (bulk provisioning and load tests).
    async fn insert_api_keys(&self, keys: &[ApiKeyRecord]) -> Result<()>;
    /// Finds a key by the hash of its secret.
    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKeyRecord>>;
    /// Finds one of `owner`'s keys (another user's key is `None`).
    async fn api_key_by_id(&self, owner: &UserId, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>>;
    /// A page of `owner`'s keys, oldest first (up to `page.fetch_limit()` rows).
    async fn list_api_keys(&self, owner: &UserId, page: &PageRequest) -> Result<Vec<ApiKeyRecord>>;
    /// How many of `owner`'s keys are neither revoked nor expired at `now`.
    async fn count_live_api_keys(&self, owner: &UserId, now: OffsetDateTime) -> Result<u64>;
    /// Revokes (disables for good) the unrevoked keys minted by `parent`, an API key or
    /// token id, publishing [`Invalidation::ApiKey`] for each; their ids and hashes.
    async fn revoke_api_keys_by_parent(
        &self,
        parent: &str,
        at: OffsetDateTime,
    ) -> Result<Vec<(ApiKeyId, TokenHash)>>;
    /// Revokes every unrevoked key of `owner` that a token minted (all of the
    /// account's tokens are being revoked); their ids and hashes.
    async fn revoke_token_minted_api_keys(
        &self,
        owner: &UserId,
        at: OffsetDateTime,
    ) -> Result<Vec<(ApiKeyId, TokenHash)>>;
    /// Enables or disables one of `owner`'s keys; whether it existed. Publishes
    /// [`Invalidation::ApiKey`] with the change, as do both deletes.
    async fn set_api_key_enabled(
        &self,
        owner: &UserId,
        id: &ApiKeyId,
        enabled: bool,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes one of `owner`'s keys; whether it existed.
    async fn delete_api_key(
        &self,
        owner: &UserId,
        id: &ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes a key by hash (revocation of a leaked key); its id and owner if it existed.
    async fn delete_api_key_by_hash(
        &self,
        hash: &TokenHash,
        at: OffsetDateTime,
    ) -> Result<Option<(ApiKeyId, UserId)>>;
    /// Writes buffered last-use records.
    async fn record_api_key_usage(&self, usage: &[KeyUsage]) -> Result<()>;
    /// How many keys exist in all (for benchmarks and metrics).
    async fn count_api_keys(&self) -> Result<u64>;

    /// An organisation's policy (the defaults when never set).
    async fn org_policy(&self, org: &OrgId) -> Result<OrgPolicy>;
    /// Replaces an organisation's policy.
    async fn set_org_policy(&self, org: &OrgId, policy: &OrgPolicy) -> Result<()>;
}

/// Bearer tokens and their signing keys.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Every signing key, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Adds a signing key and retires every other unretired one, atomically.
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
    /// Deletes retired keys that stopped verifying before `cutoff`; how many.
    async fn delete_retired_signing_keys(&self, cutoff: OffsetDateTime) -> Result<u64>;

    /// Records a newly issued token.
    async fn insert_token(&self, token: &TokenRecord) -> Result<()>;
    /// Finds a token by id (any owner: used to verify a presented token).
    async fn token_by_id(&self, id: &TokenId) -> Result<Option<TokenRecord>>;
    /// A page of `owner`'s tokens that are neither revoked nor expired at `now`, newest
    /// first (up to `page.fetch_limit()` rows).
    async fn list_live_tokens(
        &self,
        owner: &UserId,
        now: OffsetDateTime,
        page: &PageRequest,
    ) -> Result<Vec<TokenRecord>>;
    /// How many of `owner`'s tokens are neither revoked nor expired at `now`.
    async fn count_live_tokens(&self, owner: &UserId, now: OffsetDateTime) -> Result<u64>;
    /// Revokes one of `owner`'s tokens; the token if it was live.
    async fn revoke_token(
        &self,
        owner: &UserId,
        id: &TokenId,
        at: OffsetDateTime,
    ) -> Result<Option<TokenRecord>>;
    /// Revokes all of a user's tokens and sets their "not before" time to `at`; how many
    /// were revoked. Publishes [`Invalidation::User`] with the change.
    async fn revoke_user_tokens(&self, user: &UserId, at: OffsetDateTime) -> Result<u64>;
    /// Revokes the live tokens minted by `parent` (an API key or token id); their ids and
    /// hashes.
    async fn revoke_tokens_by_parent(
        &self,
        parent: &str,
        at: OffsetDateTime,
    ) -> Result<Vec<(TokenId, TokenHash)>>;
    /// Tokens revoked at or after `since` whose expiry is after `live_after`: their ids,
    /// hashes and expiry times (how nodes learn of each other's revocations).
    async fn revoked_tokens_since(
        &self,
        since: OffsetDateTime,
        live_after: OffsetDateTime,
    ) -> Result<Vec<(TokenId, TokenHash, OffsetDateTime)>>;
    /// Deletes tokens that expired before `cutoff`; how many.
    async fn delete_expired_tokens(&self, cutoff: OffsetDateTime) -> Result<u64>;
}

/// SSH public keys.
#[async_trait]
pub trait SshKeyStore: Send + Sync + 'static {
    /// Inserts a key; `Conflict` when the owner already has that name or that key.
    async fn insert_ssh_key(&self, key: &SshKeyRecord) -> Result<()>;
    /// A page of `owner`'s keys, oldest first (up to `page.fetch_limit()` rows).
    async fn list_ssh_keys(&self, owner: &UserId, page: &PageRequest) -> Result<Vec<SshKeyRecord>>;
    /// How many keys `owner` has.
    async fn count_ssh_keys(&self, owner: &UserId) -> Result<u64>;
    /// One of `owner`'s keys (another user's key is `None`).
    async fn ssh_key_by_id(&self, owner: &UserId, id: &SshKeyId) -> Result<Option<SshKeyRecord>>;
    /// Deletes one of `owner`'s keys; the key if it existed.
    async fn delete_ssh_key(&self, owner: &UserId, id: &SshKeyId) -> Result<Option<SshKeyRecord>>;
}
