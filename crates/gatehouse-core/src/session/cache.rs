//! The in-process session cache: a hit costs a hash and a map lookup, no store round trip.
//! Activity (for the idle timeout) is recorded in memory and flushed in batches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use super::SessionPrincipal;
use crate::ids::AccountId;
use crate::secret::TokenHash;

/// Most sessions kept in memory; past this the cache is emptied and refills on demand.
const MAX_ENTRIES: usize = 200_000;

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
#[derive(Default)]
pub struct SessionCache {
    map: RwLock<HashMap<TokenHash, Entry>>,
}

impl SessionCache {
    /// Looks a session up and, if found, records activity at `now`.
    pub fn touch(&self, hash: &TokenHash, now: OffsetDateTime) -> Option<CacheHit> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let e = map.get(hash)?;
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
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            hash,
            Entry {
                principal,
                last_seen: AtomicI64::new(last_seen.unix_timestamp()),
                checked_at: now.unix_timestamp(),
                dirty: AtomicBool::new(dirty),
            },
        );
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
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(_, e)| e.dirty.swap(false, Ordering::Relaxed))
            .map(|(h, e)| (*h, e.last_seen.load(Ordering::Relaxed)))
            .collect()
    }

    /// Number of cached sessions.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
