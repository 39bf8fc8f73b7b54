//! Storage of the audit trail.

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::error::Result;
use crate::ids::AccountId;

/// The append-only audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends to the audit trail.
    async fn insert_audit(&self, event: &AuditEvent) -> Result<()>;
    /// The newest audit records, optionally for one account.
    async fn list_audit(&self, user: Option<&AccountId>, limit: u32) -> Result<Vec<AuditEvent>>;
}
