//! The API-key hot path: keys by hash in memory, a lock-free per-key rate limiter, and
//! last-use tracking coalesced to one in-memory update per key per minute, flushed in
//! batches. A hit costs a SHA-256, a read lock and a few atomics.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use time::OffsetDateTime;

use super::{ApiKeyPrincipal, KeyUsage};
use crate::ids::{AccountId, ApiKeyId};
use crate::secret::TokenHash;

const MAX_ENTRIES: usize = 500_000;

/// A per-key request rate: `per_minute` sustained, with `burst` in reserve.
#[derive(Debug, Clone, Copy)]
pub struct KeyRate {
    /// Sustained requests per minute (0 = unlimited).
    pub per_minute: u32,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
}

/// One cached key.
pub struct CachedKey {
    /// What a successful check returns.
    pub principal: Arc<ApiKeyPrincipal>,
    /// The key's state when loaded.
    pub enabled: bool,
    /// Unix seconds when confirmed against the store; [`STALE`] once invalidated.
    checked_at: AtomicI64,
    /// GCRA "theoretical arrival time", in microseconds of [`monotonic_us`].
    tat: AtomicI64,
    /// Unix minute of the last recorded use; later uses in the same minute are not
    /// recorded, so a busy key costs at most one store write per minute.
    used_minute: AtomicI64,
    usage: Mutex<Option<KeyUsage>>,
    dirty: AtomicBool,
}

/// Keys by hash.
#[derive(Default)]
pub struct ApiKeyCache {
    map: RwLock<HashMap<TokenHash, Arc<CachedKey>>>,
}

impl ApiKeyCache {
    /// The cached entry for a key hash.
    pub fn get(&self, hash: &TokenHash) -> Option<Arc<CachedKey>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned()
    }

    /// Caches a key just read from the store.
    pub fn insert(
        &self,
        hash: TokenHash,
        principal: Arc<ApiKeyPrincipal>,
        enabled: bool,
        now: OffsetDateTime,
    ) {
        let entry = Arc::new(CachedKey {
            principal,
            enabled,
            checked_at: AtomicI64::new(now.unix_timestamp()),
            tat: AtomicI64::new(0),
            used_minute: AtomicI64::new(0),
            usage: Mutex::new(None),
            dirty: AtomicBool::new(false),
        });
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        // A refreshed entry keeps the rate-limit state of the one it replaces.
        if let Some(old) = map.get(&hash) {
            entry
                .tat
                .store(old.tat.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        map.insert(hash, entry);
    }

    /// Drops a key that no longer exists (or whose owner cannot use it).
    pub fn remove(&self, hash: &TokenHash) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }

    /// Makes one key's next use read the store again (disable, enable, delete, revoke).
    /// The entry stays, so its rate-limit state survives the reload: changing a key
    /// never hands its owner a fresh burst.
    pub fn invalidate(&self, hash: &TokenHash) {
        if let Some(e) = self.get(hash) {
            e.checked_at.store(STALE, Ordering::Relaxed);
        }
    }

    /// Invalidates the keys with these ids and every key of these users, in one pass
    /// under the read lock (invalidations polled from the store name keys by id).
    pub fn invalidate_matching(&self, keys: &HashSet<ApiKeyId>, users: &HashSet<AccountId>) {
        if keys.is_empty() && users.is_empty() {
            return;
        }
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        for e in map.values() {
            if keys.contains(&e.principal.key_id) || users.contains(&e.principal.user.id) {
                e.checked_at.store(STALE, Ordering::Relaxed);
            }
        }
    }

    /// Invalidates every key of a user.
    pub fn invalidate_user(&self, user: &AccountId) {
        self.invalidate_matching(&HashSet::new(), &HashSet::from([user.clone()]));
    }

    /// Copies the uses buffered since the last call (the buffer keeps the last one, so
    /// the next use by the same client updates it in place).
    pub fn take_usage(&self) -> Vec<KeyUsage> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.values()
            .filter(|e| e.dirty.swap(false, Ordering::Relaxed))
            .filter_map(|e| e.usage.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

/// The `checked_at` of an invalidated entry: older than any TTL.
const STALE: i64 = i64::MIN;

impl CachedKey {
    /// Whether the entry was confirmed against the store less than `ttl_seconds` ago.
    pub fn is_fresh(&self, now: i64, ttl_seconds: i64) -> bool {
        now.saturating_sub(self.checked_at.load(Ordering::Relaxed)) < ttl_seconds
    }

    /// Applies the key's rate; `Err(seconds)` when over it.
    pub fn admit(&self, rate: KeyRate) -> Result<(), u64> {
        if rate.per_minute == 0 {
            return Ok(());
        }
        let interval = 60_000_000 / i64::from(rate.per_minute.max(1));
        let tolerance = interval * i64::from(rate.burst);
        let now = monotonic_us();
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let base = tat.max(now);
            if base - now > tolerance {
                let wait_us = base - now - tolerance;
                return Err((wait_us / 1_000_000 + 1) as u64);
            }
            match self.tat.compare_exchange_weak(
                tat,
                base + interval,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }

    /// Records a use, at most once per key per minute (the first use of each minute).
    pub fn record_use(
        &self,
        at: OffsetDateTime,
        ip: Option<std::net::IpAddr>,
        user_agent: Option<&str>,
    ) {
        let minute = at.unix_timestamp().div_euclid(60);
        if self.used_minute.swap(minute, Ordering::Relaxed) == minute {
            return;
        }
        let user_agent = user_agent.map(|u| &u[..u.floor_char_boundary(256)]);
        let mut slot = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_mut() {
            // The usual case: the same client again. Update in place, no allocation.
            Some(u) if u.user_agent.as_deref() == user_agent => {
                u.at = at;
                u.ip = ip;
            }
            _ => {
                *slot = Some(KeyUsage {
                    id: self.principal.key_id.clone(),
                    at,
                    ip,
                    user_agent: user_agent.map(str::to_owned),
                });
            }
        }
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The key's id.
    pub fn id(&self) -> &ApiKeyId {
        &self.principal.key_id
    }
}

/// Microseconds since the first call, from a monotonic clock (rate limiting only).
fn monotonic_us() -> i64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use crate::ids::OrgId;
    use crate::scope::Scopes;

    fn cached() -> (ApiKeyCache, TokenHash) {
        let cache = ApiKeyCache::default();
        let user = Account {
            id: AccountId::generate(),
            username: "u".into(),
            email: "u@example.org".into(),
            display_name: "u".into(),
            org_id: OrgId::generate(),
            role: crate::account::Role::Member,
            operator: false,
            kind: crate::account::AccountKind::Person,
            disabled: false,
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let p = Arc::new(ApiKeyPrincipal {
            key_id: ApiKeyId::generate(),
            name: "k".into(),
            kind: crate::api_key::ApiKeyKind::Personal,
            user: user.clone(),
            permissions: Scopes::default(),
            expires_at: None,
            memo: Default::default(),
            actor: Arc::new(crate::actor::Actor {
                user: user.clone(),
                scopes: Scopes::default(),
                credential: crate::actor::Credential::Session,
                expires_at: None,
            }),
        });
        let h = TokenHash::of("x");
        cache.insert(h, p, true, OffsetDateTime::UNIX_EPOCH);
        (cache, h)
    }

    fn entry() -> Arc<CachedKey> {
        let (cache, h) = cached();
        cache.get(&h).expect("cached")
    }

    #[test]
    fn an_invalidated_key_is_stale_but_keeps_its_rate_state_when_reloaded() {
        let (cache, h) = cached();
        let e = cache.get(&h).expect("cached");
        assert!(e.is_fresh(10, 900));
        let rate = KeyRate {
            per_minute: 60,
            burst: 1,
        };
        while e.admit(rate).is_ok() {}
        cache.invalidate(&h);
        assert!(!e.is_fresh(10, 900), "the next use reads the store");
        // What a reload does: a new entry for the same hash.
        cache.insert(h, e.principal.clone(), true, OffsetDateTime::UNIX_EPOCH);
        let reloaded = cache.get(&h).expect("cached");
        assert!(reloaded.is_fresh(10, 900));
        assert!(
            reloaded.admit(rate).is_err(),
            "disabling and re-enabling a key does not refill its burst"
        );

        let other = AccountId::generate();
        cache.invalidate_matching(&HashSet::new(), &HashSet::from([other]));
        assert!(reloaded.is_fresh(10, 900), "another user's invalidation");
        cache.invalidate_matching(&HashSet::from([reloaded.id().clone()]), &HashSet::new());
        assert!(!reloaded.is_fresh(10, 900), "by key id");
        cache.insert(h, e.principal.clone(), true, OffsetDateTime::UNIX_EPOCH);
        cache.invalidate_user(&e.principal.user.id);
        assert!(!cache.get(&h).expect("kept").is_fresh(10, 900), "by owner");
    }

    #[test]
    fn a_key_may_burst_then_is_limited_with_a_retry_time() {
        let e = entry();
        let rate = KeyRate {
            per_minute: 60,
            burst: 3,
        };
        for _ in 0..4 {
            assert!(e.admit(rate).is_ok());
        }
        let wait = e.admit(rate).expect_err("over the rate");
        assert!((1..=2).contains(&wait), "{wait}");
        assert!(
            e.admit(KeyRate {
                per_minute: 0,
                burst: 0
            })
            .is_ok(),
            "0 means unlimited"
        );
    }

    #[test]
    fn uses_are_recorded_once_per_minute_and_taken_once() {
        let cache = ApiKeyCache::default();
        let e = entry();
        let t = OffsetDateTime::from_unix_timestamp(100).expect("t");
        e.record_use(t, Some([192, 0, 2, 1].into()), Some("curl/8"));
        e.record_use(t, Some([192, 0, 2, 2].into()), Some("curl/8"));
        let u = e.usage.lock().expect("lock").clone().expect("recorded");
        assert_eq!(
            u.ip,
            Some([192, 0, 2, 1].into()),
            "a second use in the same minute is skipped"
        );
        e.record_use(
            t + time::Duration::seconds(60),
            Some([192, 0, 2, 3].into()),
            Some("curl/8"),
        );
        let u = e.usage.lock().expect("lock").clone().expect("recorded");
        assert_eq!(
            (u.ip, u.at.unix_timestamp()),
            (Some([192, 0, 2, 3].into()), 160)
        );
        assert!(
            cache.take_usage().is_empty(),
            "a different cache has nothing"
        );
    }
}
