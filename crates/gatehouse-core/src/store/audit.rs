//! Storage of the audit trail.

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::error::Result;
use crate::ids::{AccountId, OrgId};
use crate::page::PageRequest;

/// Which of an organisation's audit records a list or export shows. Every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only records whose actor had this username (the account itself when nobody else
    /// acted).
    pub actor: Option<String>,
    /// Only this action (`api_key.created`), or, ending in `.`, every action it starts
    /// (`api_key.`).
    pub action: Option<String>,
    /// Only records made with this API key or token (its id).
    pub credential: Option<String>,
    /// Only records at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only records before this time (Unix seconds).
    pub until: Option<i64>,
}

/// The append-only audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends to the audit trail.
    async fn insert_audit(&self, event: &AuditEvent) -> Result<()>;
    /// The newest audit records, optionally for one account.
    async fn list_audit(&self, user: Option<&AccountId>, limit: u32) -> Result<Vec<AuditEvent>>;
    /// A page of one organisation's records, newest first (the cursor runs backwards in
    /// time), with `username` filled from the account concerned where none was presented.
    async fn list_org_audit(
        &self,
        org: &OrgId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Vec<AuditEvent>>;
}
