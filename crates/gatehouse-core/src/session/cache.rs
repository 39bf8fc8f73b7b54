//! The in-process session cache: a hit costs a hash and a map lookup, no store round trip.
//! Activity (for the idle timeout) is recorded in memory and flushed in batches.
//!
//! At most [`MAX_ENTRIES`] sessions are kept, in a [`ClockMap`]: when full, the least
//! recently used one (by CLOCK) is evicted, and read from the store again at its next
//! request. An evicted session's unflushed activity is kept for the next flush.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use time::OffsetDateTime;

use super::SessionPrincipal;
use crate::cache::{CacheStats, ClockMap, Counters};
use crate::ids::AccountId;
use crate::secret::TokenHash;

/// Most sessions kept in memory; past this the least recently used are evicted.
pub const MAX_ENTRIES: usize = 200_000;

struct Entry {
    principal: Arc<SessionPrincipal>,
    /// Unix seconds of the last request; read and written without the write lock.
    last_seen: AtomicI64,
    /// Unix seconds when this entry was last confirmed against the store.
    checked_at: i64,
    /// Whether `last_seen` moved since the last flush.
    dirty: AtomicBool,
}

/// A hit from the cache.
pub struct CacheHit {
    /// The session.
    pub principal: Arc<SessionPrincipal>,
    /// Last activity before this request.
    pub last_seen: i64,
    /// When the entry was confirmed against the store.
    pub checked_at: i64,
}

/// Sessions by token hash.
pub struct SessionCache {
    map: RwLock<ClockMap<TokenHash, Entry>>,
    /// Activity of evicted sessions not flushed yet.
    evicted_dirty: Mutex<Vec<(TokenHash, i64)>>,
    counters: Counters,
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache::new(MAX_ENTRIES)
    }
}

impl SessionCache {
    /// A cache of at most `capacity` sessions.
    pub fn new(capacity: usize) -> Self {
        SessionCache {
            map: RwLock::new(ClockMap::new(capacity)),
            evicted_dirty: Mutex::default(),
            counters: Counters::default(),
        }
    }

    /// Looks a session up and, if found, records activity at `now`.
    pub fn touch(&self, hash: &TokenHash, now: OffsetDateTime) -> Option<CacheHit> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let Some(e) = map.get(hash) else {
            self.counters.miss();
            return None;
        };
        self.counters.hit();
        let last_seen = e.last_seen.swap(now.unix_timestamp(), Ordering::Relaxed);
        e.dirty.store(true, Ordering::Relaxed);
        Some(CacheHit {
            principal: e.principal.clone(),
            last_seen,
            checked_at: e.checked_at,
        })
    }

    /// Caches a session just confirmed against the store.
    pub fn insert(
        &self,
        hash: TokenHash,
        principal: Arc<SessionPrincipal>,
        last_seen: OffsetDateTime,
        dirty: bool,
        now: OffsetDateTime,
    ) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let evicted = map.insert(
            hash,
            Entry {
                principal,
                last_seen: AtomicI64::new(last_seen.unix_timestamp()),
                checked_at: now.unix_timestamp(),
                dirty: AtomicBool::new(dirty),
            },
        );
        drop(map);
        if let Some((hash, e)) = evicted {
            self.counters.evicted(1);
            if e.dirty.into_inner() {
                self.evicted_dirty
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((hash, e.last_seen.into_inner()));
            }
        }
    }

    /// Drops one session (sign-out, expiry).
    pub fn remove(&self, hash: &TokenHash) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }

    /// Drops every session of a user (disable, password change).
    pub fn remove_user(&self, user_id: &AccountId) {
        self.remove_users(&std::collections::HashSet::from([user_id.clone()]));
    }

    /// Drops every session of these users, in one pass.
    pub fn remove_users(&self, users: &std::collections::HashSet<AccountId>) {
        if users.is_empty() {
            return;
        }
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, e| !users.contains(&e.principal.user.id));
    }

    /// Takes the activity recorded since the last call, for a batched store write.
    pub fn take_dirty(&self) -> Vec<(TokenHash, i64)> {
        let mut dirty =
            std::mem::take(&mut *self.evicted_dirty.lock().unwrap_or_else(|p| p.into_inner()));
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        dirty.extend(
            map.iter()
                .filter(|(_, e)| e.dirty.swap(false, Ordering::Relaxed))
                .map(|(h, e)| (*h, e.last_seen.load(Ordering::Relaxed))),
        );
        dirty
    }

    /// Number of cached sessions.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size and counters, for metrics.
    pub fn stats(&self) -> CacheStats {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        self.counters.stats(map.len(), map.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SessionId;

    fn principal() -> Arc<SessionPrincipal> {
        let user = crate::account::test_account();
        Arc::new(SessionPrincipal {
            session_id: SessionId::generate(),
            actor: Arc::new(crate::actor::Actor {
                user: Arc::new(user.clone()),
                scopes: Default::default(),
                credential: crate::actor::Credential::Session,
                expires_at: None,
            }),
            user,
            expires_at: OffsetDateTime::UNIX_EPOCH + time::Duration::days(1),
            amr: crate::mfa::Amr::PASSWORD,
            reauthenticated_at: OffsetDateTime::UNIX_EPOCH,
            mfa_setup_required: false,
            security_key_setup_required: false,
        })
    }

    #[test]
    fn a_full_cache_evicts_one_session_and_keeps_its_unflushed_activity() {
        let cache = SessionCache::new(1);
        let t = |s: i64| OffsetDateTime::from_unix_timestamp(s).expect("t");
        let (a, b) = (TokenHash::of("a"), TokenHash::of("b"));
        cache.insert(a, principal(), t(0), false, t(0));
        assert!(cache.touch(&a, t(50)).is_some());
        cache.insert(b, principal(), t(0), false, t(0));
        assert_eq!(cache.len(), 1, "bounded, not emptied");
        assert!(cache.touch(&a, t(60)).is_none(), "a went");
        assert_eq!(
            cache.take_dirty(),
            [(a, 50)],
            "its activity still reaches the store"
        );
        assert!(cache.take_dirty().is_empty());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.evictions), (1, 1, 1));
    }
}
