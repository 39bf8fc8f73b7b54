//! The API-key hot path: keys by hash in memory, a lock-free per-key rate limiter, and
//! last-use tracking coalesced to one in-memory update per key per minute, flushed in
//! batches. A hit costs a SHA-256, a read lock and a few atomics, and allocates nothing.
//!
//! # Layout
//! Entries live inline in a [`ClockMap`] (one dense slot array indexed by a table of
//! `u32`): per key, the slot (hash, "recently used" bit, the state below) and one
//! `Arc<ApiKeyPrincipal>` holding the key's name and kind and its [`Actor`] (id, expiry). What
//! keys have in common is shared, not copied: the owner's [`Account`] is one `Arc` per
//! account and a permission set one [`Scopes`] per distinct set, interned here as keys
//! load (the interner forgets what no cached key holds any more). Buffered uses are
//! kept apart from the entries, in a map of the keys used since the last flush, so an idle
//! key carries no usage record at all, and user agents are interned there too.
//!
//! # Eviction
//! The cache holds at most `capacity` keys (`api_keys.cache_capacity`). A key that loads
//! into a full cache evicts one chosen by CLOCK: every hit sets the entry's bit, the
//! sweeping hand clears set bits and evicts the first entry found clear, so keys in use
//! stay and idle ones go. An evicted key is read from the store again on its next use,
//! which costs one store read. Its buffered use is not lost (it is not held in the
//! entry); its rate-limit state is, which can only matter for a key idle long enough to
//! be evicted, and such a key has earned back its burst anyway unless the cache is far
//! too small for the keys in use.
//!
//! [`Actor`]: crate::actor::Actor

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use time::OffsetDateTime;

use super::{ApiKeyPrincipal, KeyUsage};
use crate::account::Account;
use crate::cache::{CacheStats, ClockMap, Counters};
use crate::ids::{AccountId, ApiKeyId};
use crate::scope::Scopes;
use crate::secret::TokenHash;

/// Keys cached when the configuration names no capacity: 200,000 keys in about 90 MB
/// (docs/benchmarks.md).
pub const DEFAULT_CAPACITY: usize = 200_000;

/// User agents kept interned at most; past this the set starts over.
const MAX_AGENTS: usize = 1024;

/// A per-key request rate: `per_minute` sustained, with `burst` in reserve.
#[derive(Debug, Clone, Copy)]
pub struct KeyRate {
    /// Sustained requests per minute (0 = unlimited).
    pub per_minute: u32,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
}

/// Why a cached key did not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Disabled or expired.
    NotLive,
    /// Over its rate: retry after this many seconds.
    OverRate(u64),
}

/// One cached key, inline in its slot.
struct CachedKey {
    /// What a successful check returns.
    principal: Arc<ApiKeyPrincipal>,
    /// Unix seconds when confirmed against the store; [`STALE`] once invalidated.
    checked_at: AtomicI64,
    /// GCRA "theoretical arrival time", in microseconds of [`monotonic_us`].
    tat: AtomicI64,
    /// Unix minute (truncated to 32 bits) of the last recorded use; later uses in the same
    /// minute are not recorded, so a busy key costs at most one store write per minute.
    used_minute: AtomicU32,
    /// The key's state when loaded.
    enabled: bool,
}

/// A use waiting for the next flush.
struct PendingUse {
    principal: Arc<ApiKeyPrincipal>,
    at: OffsetDateTime,
    ip: Option<IpAddr>,
    user_agent: Option<Arc<str>>,
}

#[derive(Default)]
struct Pending {
    uses: HashMap<TokenHash, PendingUse>,
    agents: HashSet<Arc<str>>,
}

/// Owners and permission sets shared by the cached keys.
#[derive(Default)]
struct Interner {
    owners: HashMap<AccountId, Arc<Account>>,
    scopes: HashSet<Scopes>,
    /// Size after the last pruning; the next one waits until it has doubled.
    kept: usize,
}

/// Keys by hash, at most `capacity` of them.
pub struct ApiKeyCache {
    map: RwLock<ClockMap<TokenHash, CachedKey>>,
    pending: Mutex<Pending>,
    interner: Mutex<Interner>,
    counters: Counters,
}

impl Default for ApiKeyCache {
    fn default() -> Self {
        ApiKeyCache::new(DEFAULT_CAPACITY)
    }
}

impl ApiKeyCache {
    /// A cache holding at most `capacity` keys (at least one: a key is checked in its
    /// cache entry, so a key being used always has one).
    pub fn new(capacity: usize) -> Self {
        ApiKeyCache {
            map: RwLock::new(ClockMap::new(capacity.max(1))),
            pending: Mutex::default(),
            interner: Mutex::default(),
            counters: Counters::default(),
        }
    }

    /// Checks a presented key against its cached entry: `None` when the key is not cached
    /// or was confirmed more than `ttl_seconds` ago (the caller reads the store, then
    /// [`ApiKeyCache::insert_and_check`]). A live key within its rate has its use recorded.
    pub fn check(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
        ttl_seconds: i64,
        rate: KeyRate,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Option<Result<Arc<ApiKeyPrincipal>, KeyRefusal>> {
        let verdict = self.verdict(hash, now, Some(ttl_seconds), rate, ip, user_agent);
        match verdict {
            Some(_) => self.counters.hit(),
            None => self.counters.miss(),
        }
        verdict
    }

    fn verdict(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
        ttl_seconds: Option<i64>,
        rate: KeyRate,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Option<Result<Arc<ApiKeyPrincipal>, KeyRefusal>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let e = map.get(hash)?;
        if let Some(ttl) = ttl_seconds
            && !e.is_fresh(now.unix_timestamp(), ttl)
        {
            return None;
        }
        Some(self.apply(hash, e, now, rate, ip, user_agent))
    }

    /// Liveness, the rate, and the record of use, for an entry found.
    fn apply(
        &self,
        hash: &TokenHash,
        e: &CachedKey,
        now: OffsetDateTime,
        rate: KeyRate,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<Arc<ApiKeyPrincipal>, KeyRefusal> {
        let live = e.enabled && e.principal.expires_at().is_none_or(|t| now < t);
        if !live {
            return Err(KeyRefusal::NotLive);
        }
        e.admit(rate).map_err(KeyRefusal::OverRate)?;
        self.record_use(hash, e, now, ip, user_agent);
        Ok(e.principal.clone())
    }

    /// Caches a key just read from the store. A refreshed entry keeps the rate-limit
    /// state of the one it replaces; a new one may evict the least recently used key.
    pub fn insert(
        &self,
        hash: TokenHash,
        principal: Arc<ApiKeyPrincipal>,
        enabled: bool,
        now: OffsetDateTime,
    ) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        self.insert_locked(&mut map, hash, principal, enabled, now);
    }

    /// [`ApiKeyCache::insert`], then the check of [`ApiKeyCache::check`] on the entry under
    /// the same lock (without the freshness test: it was just read), so a key that loads
    /// is checked even if another key's load would evict it next.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_and_check(
        &self,
        hash: TokenHash,
        principal: Arc<ApiKeyPrincipal>,
        enabled: bool,
        now: OffsetDateTime,
        rate: KeyRate,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<Arc<ApiKeyPrincipal>, KeyRefusal> {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        self.insert_locked(&mut map, hash, principal, enabled, now);
        match map.get(&hash) {
            Some(e) => self.apply(&hash, e, now, rate, ip, user_agent),
            // Not reached: the capacity is at least one and the entry was just inserted.
            None => Err(KeyRefusal::NotLive),
        }
    }

    fn insert_locked(
        &self,
        map: &mut ClockMap<TokenHash, CachedKey>,
        hash: TokenHash,
        principal: Arc<ApiKeyPrincipal>,
        enabled: bool,
        now: OffsetDateTime,
    ) {
        if let Some(old) = map.get_mut(&hash) {
            old.principal = principal;
            old.enabled = enabled;
            *old.checked_at.get_mut() = now.unix_timestamp();
            return;
        }
        let entry = CachedKey {
            principal,
            enabled,
            checked_at: AtomicI64::new(now.unix_timestamp()),
            tat: AtomicI64::new(0),
            used_minute: AtomicU32::new(NEVER),
        };
        if map.insert(hash, entry).is_some() {
            self.counters.evicted(1);
        }
    }

    /// The one shared copy of an owner's account: the cached one when unchanged, else
    /// this one, which later keys of the owner then share.
    pub fn share_owner(&self, account: Account) -> Arc<Account> {
        let mut i = self.interner.lock().unwrap_or_else(|p| p.into_inner());
        i.prune();
        if let Some(known) = i.owners.get(&account.id)
            && **known == account
        {
            return known.clone();
        }
        let shared = Arc::new(account);
        i.owners.insert(shared.id.clone(), shared.clone());
        shared
    }

    /// The one shared copy of a permission set.
    pub fn share_scopes(&self, scopes: Scopes) -> Scopes {
        let mut i = self.interner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = i.scopes.get(&scopes) {
            return known.clone();
        }
        i.scopes.insert(scopes.clone());
        scopes
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
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = map.get(hash) {
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
        for (_, e) in map.iter() {
            if keys.contains(e.principal.key_id()) || users.contains(&e.principal.user().id) {
                e.checked_at.store(STALE, Ordering::Relaxed);
            }
        }
    }

    /// Invalidates every key of a user.
    pub fn invalidate_user(&self, user: &AccountId) {
        self.invalidate_matching(&HashSet::new(), &HashSet::from([user.clone()]));
    }

    /// Takes the uses buffered since the last call (the latest per key), whether or not
    /// the key is still cached.
    pub fn take_usage(&self) -> Vec<KeyUsage> {
        let uses = {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut p.uses)
        };
        uses.into_values()
            .map(|u| KeyUsage {
                id: u.principal.key_id().clone(),
                at: u.at,
                ip: u.ip,
                user_agent: u.user_agent.map(|a| a.to_string()),
            })
            .collect()
    }

    /// Whether a key is cached (stale or not), for tests.
    #[cfg(test)]
    fn contains(&self, hash: &TokenHash) -> bool {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .is_some()
    }

    /// Keys cached now.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size and counters, for metrics.
    pub fn stats(&self) -> CacheStats {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        self.counters.stats(map.len(), map.capacity())
    }

    /// Records a use, at most once per key per minute (the first use of each minute).
    fn record_use(
        &self,
        hash: &TokenHash,
        e: &CachedKey,
        at: OffsetDateTime,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) {
        let minute = at.unix_timestamp().div_euclid(60) as u32;
        if e.used_minute.swap(minute, Ordering::Relaxed) == minute {
            return;
        }
        let user_agent = user_agent.map(|u| &u[..u.floor_char_boundary(256)]);
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let user_agent = user_agent.map(|u| p.agent(u));
        p.uses.insert(
            *hash,
            PendingUse {
                principal: e.principal.clone(),
                at,
                ip,
                user_agent,
            },
        );
    }
}

impl Pending {
    /// The shared copy of a user agent (most keys are used by a handful of clients).
    fn agent(&mut self, ua: &str) -> Arc<str> {
        if let Some(a) = self.agents.get(ua) {
            return a.clone();
        }
        if self.agents.len() >= MAX_AGENTS {
            self.agents.clear();
        }
        let a: Arc<str> = ua.into();
        self.agents.insert(a.clone());
        a
    }
}

impl Interner {
    /// Forgets owners and sets no cached key holds, once the interner has doubled since
    /// it last did.
    fn prune(&mut self) {
        let size = self.owners.len() + self.scopes.len();
        if size < 1024 || size < 2 * self.kept {
            return;
        }
        self.owners.retain(|_, a| Arc::strong_count(a) > 1);
        self.scopes.retain(Scopes::is_shared);
        self.kept = self.owners.len() + self.scopes.len();
    }
}

/// The `checked_at` of an invalidated entry: older than any TTL.
const STALE: i64 = i64::MIN;

/// The `used_minute` of a key not used since it was cached.
const NEVER: u32 = u32::MAX;

impl CachedKey {
    /// Whether the entry was confirmed against the store less than `ttl_seconds` ago.
    fn is_fresh(&self, now: i64, ttl_seconds: i64) -> bool {
        now.saturating_sub(self.checked_at.load(Ordering::Relaxed)) < ttl_seconds
    }

    /// Applies the key's rate; `Err(seconds)` when over it.
    fn admit(&self, rate: KeyRate) -> Result<(), u64> {
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
}

/// Microseconds since the first call, from a monotonic clock (rate limiting only).
fn monotonic_us() -> i64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: KeyRate = KeyRate {
        per_minute: 60,
        burst: 1,
    };
    const UNLIMITED: KeyRate = KeyRate {
        per_minute: 0,
        burst: 0,
    };

    fn account() -> Account {
        crate::account::test_account()
    }

    fn principal(cache: &ApiKeyCache, user: &Account) -> Arc<ApiKeyPrincipal> {
        let user = cache.share_owner(user.clone());
        let permissions = cache.share_scopes(Scopes::of(["account:read"]));
        Arc::new(ApiKeyPrincipal {
            name: "k".into(),
            kind: crate::api_key::ApiKeyKind::Personal,
            actor: Arc::new(crate::actor::Actor {
                user,
                scopes: permissions,
                credential: crate::actor::Credential::ApiKey(ApiKeyId::generate()),
                expires_at: None,
            }),
        })
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).expect("time")
    }

    fn cached() -> (ApiKeyCache, TokenHash, Arc<ApiKeyPrincipal>) {
        let cache = ApiKeyCache::default();
        let p = principal(&cache, &account());
        let h = TokenHash::of("x");
        cache.insert(h, p.clone(), true, at(0));
        (cache, h, p)
    }

    fn hit(cache: &ApiKeyCache, h: &TokenHash, now: i64, rate: KeyRate) -> Option<bool> {
        cache
            .check(h, at(now), 900, rate, None, None)
            .map(|v| v.is_ok())
    }

    fn refusal(cache: &ApiKeyCache, h: &TokenHash, now: i64, rate: KeyRate) -> Option<KeyRefusal> {
        cache.check(h, at(now), 900, rate, None, None)?.err()
    }

    #[test]
    fn an_invalidated_key_is_stale_but_keeps_its_rate_state_when_reloaded() {
        let (cache, h, p) = cached();
        assert_eq!(hit(&cache, &h, 10, RATE), Some(true));
        while hit(&cache, &h, 10, RATE) == Some(true) {}
        cache.invalidate(&h);
        assert_eq!(
            hit(&cache, &h, 10, RATE),
            None,
            "the next use reads the store"
        );
        // What a reload does: a new entry for the same hash.
        cache.insert(h, p.clone(), true, at(0));
        assert_eq!(
            refusal(&cache, &h, 10, RATE),
            Some(KeyRefusal::OverRate(1)),
            "disabling and re-enabling a key does not refill its burst"
        );

        let other = AccountId::generate();
        cache.invalidate_matching(&HashSet::new(), &HashSet::from([other]));
        assert!(hit(&cache, &h, 10, UNLIMITED).is_some(), "another user's");
        cache.invalidate_matching(&HashSet::from([p.key_id().clone()]), &HashSet::new());
        assert!(hit(&cache, &h, 10, UNLIMITED).is_none(), "by key id");
        cache.insert(h, p.clone(), true, at(0));
        cache.invalidate_user(&p.user().id);
        assert!(hit(&cache, &h, 10, UNLIMITED).is_none(), "by owner");
        assert!(cache.contains(&h), "a stale entry stays for its reload");
        cache.insert(h, p.clone(), true, at(0));
        assert!(hit(&cache, &h, 899, UNLIMITED).is_some());
        assert!(hit(&cache, &h, 900, UNLIMITED).is_none(), "past the TTL");
    }

    #[test]
    fn disabled_and_expired_keys_are_refused_from_the_cache() {
        let (cache, h, p) = cached();
        cache.insert(h, p.clone(), false, at(0));
        assert_eq!(refusal(&cache, &h, 1, UNLIMITED), Some(KeyRefusal::NotLive));
        let mut actor = (*p.actor).clone();
        actor.expires_at = Some(at(5));
        let expiring = ApiKeyPrincipal {
            actor: Arc::new(actor),
            ..(*p).clone()
        };
        cache.insert(h, Arc::new(expiring), true, at(0));
        assert_eq!(hit(&cache, &h, 4, UNLIMITED), Some(true));
        assert_eq!(hit(&cache, &h, 5, UNLIMITED), Some(false));
    }

    #[test]
    fn a_key_may_burst_then_is_limited_with_a_retry_time() {
        let (cache, h, _) = cached();
        let rate = KeyRate {
            per_minute: 60,
            burst: 3,
        };
        for _ in 0..4 {
            assert_eq!(hit(&cache, &h, 1, rate), Some(true));
        }
        let Some(Err(KeyRefusal::OverRate(wait))) = cache.check(&h, at(1), 900, rate, None, None)
        else {
            panic!("over the rate")
        };
        assert!((1..=2).contains(&wait), "{wait}");
        assert_eq!(
            hit(&cache, &h, 1, UNLIMITED),
            Some(true),
            "0 means unlimited"
        );
    }

    #[test]
    fn uses_are_recorded_once_per_minute_and_taken_once() {
        let (cache, h, p) = cached();
        let ip = |n: u8| Some(IpAddr::from([192, 0, 2, n]));
        let use_at = |t: i64, n: u8| {
            cache
                .check(&h, at(t), 900, UNLIMITED, ip(n), Some("curl/8"))
                .expect("cached")
                .expect("live");
        };
        use_at(100, 1);
        use_at(110, 2);
        let u = cache.take_usage();
        assert_eq!(u.len(), 1);
        assert_eq!(
            (&u[0].id, u[0].ip, u[0].at, u[0].user_agent.as_deref()),
            (p.key_id(), ip(1), at(100), Some("curl/8")),
            "a second use in the same minute is skipped"
        );
        assert!(cache.take_usage().is_empty(), "taken once");
        use_at(160, 3);
        let u = cache.take_usage();
        assert_eq!((u[0].ip, u[0].at), (ip(3), at(160)));
        assert!(
            ApiKeyCache::default().take_usage().is_empty(),
            "a different cache has nothing"
        );
    }

    #[test]
    fn the_capacity_holds_and_recently_used_keys_survive_eviction() {
        let cache = ApiKeyCache::new(4);
        let user = account();
        let hashes: Vec<TokenHash> = (0..6).map(|i| TokenHash::of(&format!("k{i}"))).collect();
        let present = |cache: &ApiKeyCache| -> Vec<usize> {
            (0..hashes.len())
                .filter(|&i| cache.contains(&hashes[i]))
                .collect()
        };
        for h in &hashes[..4] {
            cache.insert(*h, principal(&cache, &user), true, at(0));
        }
        // Full, and every key was just used: the hand clears every bit and evicts the
        // first key it comes back to.
        cache.insert(hashes[4], principal(&cache, &user), true, at(0));
        assert_eq!(cache.len(), 4);
        // Keys 1 and 2 are used; 3 is not. The hand stands at 1: it passes over 1 and 2
        // (clearing their bits) and evicts 3.
        hit(&cache, &hashes[1], 1, UNLIMITED);
        hit(&cache, &hashes[2], 1, UNLIMITED);
        cache.insert(hashes[5], principal(&cache, &user), true, at(0));
        assert_eq!(present(&cache), [1, 2, 4, 5], "never over the capacity");
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.capacity, stats.evictions), (4, 4, 2));
    }

    #[test]
    fn an_evicted_key_reloads_and_its_buffered_use_is_kept() {
        let cache = ApiKeyCache::new(1);
        let user = account();
        let (a, b) = (TokenHash::of("a"), TokenHash::of("b"));
        let pa = principal(&cache, &user);
        cache.insert(a, pa.clone(), true, at(0));
        cache
            .check(&a, at(100), 900, UNLIMITED, None, Some("agent"))
            .expect("cached")
            .expect("live");
        cache.insert(b, principal(&cache, &user), true, at(0));
        assert_eq!(hit(&cache, &a, 100, UNLIMITED), None, "evicted: a miss");
        let usage = cache.take_usage();
        assert_eq!(usage.len(), 1, "the evicted key's use is still flushed");
        assert_eq!(&usage[0].id, pa.key_id());
        cache.insert(a, pa, true, at(100));
        assert_eq!(hit(&cache, &a, 101, UNLIMITED), Some(true), "reloaded");
    }

    #[test]
    fn stats_count_hits_misses_and_evictions() {
        let cache = ApiKeyCache::new(1);
        let user = account();
        let (a, b) = (TokenHash::of("a"), TokenHash::of("b"));
        assert_eq!(hit(&cache, &a, 1, UNLIMITED), None);
        cache.insert(a, principal(&cache, &user), true, at(0));
        assert_eq!(hit(&cache, &a, 1, UNLIMITED), Some(true));
        assert_eq!(hit(&cache, &a, 1, UNLIMITED), Some(true));
        cache.insert(b, principal(&cache, &user), true, at(0));
        let stats = cache.stats();
        assert_eq!(
            stats,
            CacheStats {
                entries: 1,
                capacity: 1,
                hits: 2,
                misses: 1,
                evictions: 1
            }
        );
        let tiny = ApiKeyCache::new(0);
        assert_eq!(
            tiny.stats().capacity,
            1,
            "a key is always checked in an entry"
        );
        let loaded = tiny.insert_and_check(
            a,
            principal(&tiny, &user),
            true,
            at(0),
            UNLIMITED,
            None,
            None,
        );
        assert!(loaded.is_ok());
    }

    #[test]
    fn keys_of_one_owner_share_the_account_and_the_permission_set() {
        let cache = ApiKeyCache::default();
        let user = account();
        let (p, q) = (principal(&cache, &user), principal(&cache, &user));
        assert!(Arc::ptr_eq(&p.actor.user, &q.actor.user));
        assert!(p.permissions().is_shared() && p.permissions() == q.permissions());
        let mut renamed = user.clone();
        renamed.display_name = "renamed".into();
        let r = cache.share_owner(renamed);
        assert_eq!(
            r.display_name, "renamed",
            "a changed account is not the old copy"
        );
        assert!(Arc::ptr_eq(&r, &cache.share_owner((*r).clone())));
    }
}
