//! Storage of the sign-in failure counters (shared by every node).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::throttle::FailureState;

/// Consecutive failed sign-ins per subject.
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
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
}
