//! Cross-node cache invalidation: every node polls the invalidations other nodes (and
//! the admin CLI) published, and drops what they name from its caches.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use time::{Duration, OffsetDateTime};

use super::Core;
use crate::error::{Error, Result};
use crate::ids::{AccountId, ApiKeyId};
use crate::store::{Invalidation, Published};

/// How far each poll reaches back before the previous one.
const OVERLAP: Duration = Duration::minutes(2);
/// How long invalidations stay in the store: far longer than any poll gap.
pub(super) const RETENTION: Duration = Duration::hours(1);
/// How many polls apply one invalidation.
const APPLICATIONS: u8 = 2;

/// The invalidations of the current poll window: row id → (time, polls that applied it).
#[derive(Default)]
pub(super) struct Applied(HashMap<String, (i64, u8)>);

impl Applied {
    /// Of the rows read since `since`, those to apply now: each row at the first
    /// [`APPLICATIONS`] polls that see it. Forgets rows older than `since`.
    fn due(&mut self, since: i64, rows: Vec<Published>) -> Vec<Invalidation> {
        self.0.retain(|_, (at, _)| *at >= since);
        let mut out = Vec::new();
        for row in rows {
            let (_, times) = self.0.entry(row.id).or_insert((row.at.unix_timestamp(), 0));
            if *times < APPLICATIONS {
                *times += 1;
                out.push(row.change);
            }
        }
        out
    }
}

impl Core {
    /// Drops from this node's caches what any node changed since the last poll (API
    /// keys disabled, enabled or deleted; sessions ended; accounts disabled or signed
    /// out everywhere). Run every few seconds: that interval is how long a change made on
    /// one node takes to reach the others.
    ///
    /// Each poll reads back two minutes before the previous one, so rows stamped by a
    /// node whose clock is a little behind, or committed late, are not missed. A row is
    /// applied at the first two polls that see it, not at every poll of that window: the
    /// second application catches a request that read the store just before the change
    /// committed and cached the old state just after the first one.
    pub async fn refresh_invalidations(&self) -> Result<()> {
        let now = self.clock.now();
        let last = self.invalidations_polled.load(Ordering::Relaxed);
        let since = if last == i64::MIN {
            now
        } else {
            OffsetDateTime::from_unix_timestamp(last).map_err(Error::internal)?
        } - OVERLAP;
        let rows = self.store.invalidations_since(since).await?;
        let due = self
            .invalidations_applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .due(since.unix_timestamp(), rows);
        self.apply_invalidations(due);
        self.invalidations_polled
            .store(now.unix_timestamp(), Ordering::Relaxed);
        Ok(())
    }

    /// Drops from this node's caches what these invalidations name.
    pub(super) fn apply_invalidations(&self, changes: impl IntoIterator<Item = Invalidation>) {
        let mut keys = HashSet::new();
        let mut users = HashSet::new();
        let mut sessions = Vec::new();
        for change in changes {
            match change {
                Invalidation::ApiKey(id) => {
                    keys.insert(id);
                }
                Invalidation::Session(hash) => sessions.push(hash),
                Invalidation::Account(user) => {
                    users.insert(user);
                }
            }
        }
        for hash in &sessions {
            self.sessions.remove(hash);
        }
        self.forget(&keys, &users);
    }

    /// Drops from this node's caches these API keys and everything cached for these
    /// accounts (their sessions, verified tokens, token owner and keys): what
    /// [`Invalidation::ApiKey`] and [`Invalidation::Account`] mean, applied at once by the
    /// node that made the change and at the next poll by the others. One pass per cache,
    /// however many rows name the same account.
    pub(super) fn forget(&self, keys: &HashSet<ApiKeyId>, users: &HashSet<AccountId>) {
        for user in users {
            self.token_owners.remove(user);
        }
        self.sessions.remove_users(users);
        self.tokens.remove_users(users);
        self.api_keys.invalidate_matching(keys, users);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, at: i64, change: &Invalidation) -> Published {
        Published {
            id: id.into(),
            at: OffsetDateTime::from_unix_timestamp(at).expect("t"),
            change: change.clone(),
        }
    }

    #[test]
    fn each_row_is_applied_at_two_polls_then_skipped_then_forgotten() {
        let key = Invalidation::ApiKey(ApiKeyId::generate());
        let user = Invalidation::Account(AccountId::generate());
        let mut applied = Applied::default();
        let window = || vec![row("r1", 100, &key)];
        assert_eq!(applied.due(0, window()), vec![key.clone()]);
        assert_eq!(applied.due(0, window()), vec![key.clone()], "once more");
        assert!(applied.due(0, window()).is_empty(), "then skipped");

        // Another change to the same subject, even in the same second, is another row.
        let window = vec![
            row("r1", 100, &key),
            row("r2", 100, &key),
            row("r3", 105, &user),
        ];
        assert_eq!(applied.due(0, window), vec![key.clone(), user.clone()]);

        // Rows older than the window are forgotten, so the map stays small.
        assert!(applied.due(101, Vec::new()).is_empty());
        assert_eq!(applied.0.len(), 1);
        assert!(applied.due(200, Vec::new()).is_empty());
        assert!(applied.0.is_empty());
    }
}
