//! The storage traits: what the core needs from a database, nothing about which one.
//! One sub-trait per aggregate, in its own file; [`Store`] is all of them.
//! Implementations live in `gatehouse-store` (SQLite and PostgreSQL); both pass one
//! conformance suite.
//!
//! Errors are domain errors: a unique-constraint violation arrives as
//! `Error::Conflict`, a lost connection as `Error::Unavailable`. Every query that reads
//! or changes an account's objects names the owner in the query itself, and every query
//! about an organisation's members or keys names the organisation.

mod accounts;
mod api_keys;
mod audit;
mod invalidations;
mod mfa;
mod orgs;
mod scim;
mod sealed;
mod sessions;
mod ssh_keys;
mod ssh_private_keys;
mod throttle;
mod tokens;

pub use accounts::AccountStore;
pub use api_keys::{ApiKeyStore, OrgKeyDeleted, OrgKeyFilter, OrgKeyRecord};
pub use audit::{AuditFilter, AuditStore};
pub use invalidations::{
    ChangeFeed, FeedEvent, Invalidation, InvalidationStore, Notice, Published,
};
pub use mfa::MfaStore;
pub use orgs::{MemberChange, MemberFilter, MemberRecord, OrgStore};
pub use scim::{RoleMapping, ScimStore};
pub use sealed::{SealedKind, SealedStore, SealedValue};
pub use sessions::SessionStore;
pub use ssh_keys::SshKeyStore;
pub use ssh_private_keys::SshPrivateKeyStore;
pub use throttle::ThrottleStore;
pub use tokens::TokenStore;

use async_trait::async_trait;

use crate::error::Result;

/// Everything Gatehouse persists.
#[async_trait]
pub trait Store:
    AccountStore
    + OrgStore
    + SessionStore
    + ThrottleStore
    + AuditStore
    + InvalidationStore
    + ApiKeyStore
    + TokenStore
    + SshKeyStore
    + SshPrivateKeyStore
    + MfaStore
    + SealedStore
    + ScimStore
    + Send
    + Sync
    + 'static
{
    /// Checks that the store answers.
    async fn ping(&self) -> Result<()>;

    /// The connection pool's use and the operations that failed, for the metrics.
    fn pool_stats(&self) -> PoolStats;
}

/// How the store's connections are used, and how many of its operations failed since
/// the start (by what the failure became: a conflict, the store unavailable, other).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open.
    pub connections: u32,
    /// Of those, not in use.
    pub idle: u32,
    /// The pool's limit.
    pub max_connections: u32,
    /// Operations refused by a uniqueness constraint.
    pub conflicts: u64,
    /// Operations that found the store unreachable.
    pub unavailable: u64,
    /// Other failed operations.
    pub failed: u64,
}
