//! Verified tokens by hash, kept until they expire or are revoked. A hit costs a SHA-256
//! of the token and a read-locked map lookup; no signature check, no store round trip.
//! A first sight costs the signature check and two in-memory lookups: the revoked-token
//! set and the owner cache (a store read only for an owner not seen recently).
//!
//! Both caches are bounded [`ClockMap`]s: when full, expired tokens are not special, the
//! least recently used entry (by CLOCK) is evicted and verified or read again at its next
//! use. The revoked-token set is not a cache: it holds every revoked token until that
//! token expires, and is pruned by expiry.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::cache::{CacheStats, ClockMap, Counters};

use time::OffsetDateTime;

use super::TokenPrincipal;
use crate::ids::{AccountId, TokenId};
use crate::secret::TokenHash;

/// One verified token.
pub struct CachedToken {
    /// What a successful check returns.
    pub principal: Arc<TokenPrincipal>,
    /// Unix seconds when its revocation state was read from the store.
    pub checked_at: i64,
}

/// The cache. With a capacity of 0 nothing is kept (every request verifies in full).
pub struct TokenCache {
    capacity: usize,
    map: RwLock<ClockMap<TokenHash, Arc<CachedToken>>>,
    counters: Counters,
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            map: RwLock::new(ClockMap::new(capacity)),
            counters: Counters::default(),
        }
    }

    /// The entry for a token hash.
    pub fn get(&self, hash: &TokenHash) -> Option<Arc<CachedToken>> {
        if self.capacity == 0 {
            return None;
        }
        let hit = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned();
        match hit {
            Some(_) => self.counters.hit(),
            None => self.counters.miss(),
        }
        hit
    }

    /// Caches a verified token. When full, expired entries go first (all of them, in one
    /// pass), then the least recently used one.
    pub fn insert(&self, hash: TokenHash, principal: Arc<TokenPrincipal>, now: OffsetDateTime) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            map.retain(|_, e| e.principal.is_current(now));
        }
        let entry = Arc::new(CachedToken {
            principal,
            checked_at: now.unix_timestamp(),
        });
        if map.insert(hash, entry).is_some() {
            self.counters.evicted(1);
        }
    }

    /// Size and counters, for metrics.
    pub fn stats(&self) -> CacheStats {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        self.counters.stats(map.len(), map.capacity())
    }

    /// Drops one token.
    pub fn remove(&self, hash: &TokenHash) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }

    /// Drops every token of a user.
    pub fn remove_user(&self, user: &AccountId) {
        self.remove_users(&std::collections::HashSet::from([user.clone()]));
    }

    /// Drops every token of these users, in one pass.
    pub fn remove_users(&self, users: &std::collections::HashSet<AccountId>) {
        if users.is_empty() {
            return;
        }
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, e| !users.contains(&e.principal.user.id));
    }

    /// Drops tokens past their expiry.
    pub fn sweep(&self, now: OffsetDateTime) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, e| e.principal.is_current(now));
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Token ids revoked and not yet expired, so a token seen for the first time needs no
/// store read to know it was revoked. Filled at start, by this node's revocations, and by
/// polling the store for other nodes' revocations.
#[derive(Default)]
pub struct RevokedTokens {
    map: RwLock<HashMap<TokenId, i64>>,
}

impl RevokedTokens {
    /// Records a revoked token and its expiry (unix seconds).
    pub fn insert(&self, id: TokenId, expires_at: i64) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, expires_at);
    }

    /// Whether a token id was revoked.
    pub fn contains(&self, id: &TokenId) -> bool {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }

    /// Forgets revocations of tokens that have expired anyway.
    pub fn prune(&self, now: i64) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, exp| *exp + super::CLOCK_SKEW_SECONDS >= now);
    }
}

/// What verification needs to know about a token's owner.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The account.
    pub user: crate::account::Account,
    /// Tokens issued before this (unix seconds) are void.
    pub tokens_not_before: Option<i64>,
    /// Unix seconds when read from the store.
    pub checked_at: i64,
}

/// Owners kept at most.
pub const OWNER_CAPACITY: usize = 100_000;

/// Token owners by id, so first sights of different tokens of one user share a store read.
pub struct OwnerCache {
    map: RwLock<ClockMap<AccountId, Arc<Owner>>>,
    counters: Counters,
}

impl Default for OwnerCache {
    fn default() -> Self {
        OwnerCache {
            map: RwLock::new(ClockMap::new(OWNER_CAPACITY)),
            counters: Counters::default(),
        }
    }
}

impl OwnerCache {
    /// The cached owner, if read less than `ttl` seconds before `now`.
    pub fn get(&self, id: &AccountId, now: i64, ttl: i64) -> Option<Arc<Owner>> {
        let hit = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .filter(|o| now - o.checked_at < ttl)
            .cloned();
        match hit {
            Some(_) => self.counters.hit(),
            None => self.counters.miss(),
        }
        hit
    }

    /// Caches an owner just read; when full, the least recently used goes.
    pub fn insert(&self, owner: Arc<Owner>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.insert(owner.user.id.clone(), owner).is_some() {
            self.counters.evicted(1);
        }
    }

    /// Size and counters, for metrics.
    pub fn stats(&self) -> CacheStats {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        self.counters.stats(map.len(), map.capacity())
    }

    /// Drops an owner (disabled, signed out everywhere, password reset).
    pub fn remove(&self, id: &AccountId) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use crate::actor::{Actor, Credential};
    use crate::scope::Scopes;
    use time::Duration;

    fn principal(user: &Account, exp: OffsetDateTime) -> Arc<TokenPrincipal> {
        let id = TokenId::generate();
        Arc::new(TokenPrincipal {
            token_id: id.clone(),
            user: user.clone(),
            scopes: Scopes::default(),
            issued_at: exp - Duration::hours(1),
            not_before: exp - Duration::hours(1),
            expires_at: exp,
            memo: Default::default(),
            actor: Arc::new(Actor {
                user: Arc::new(user.clone()),
                scopes: Scopes::default(),
                credential: Credential::Token(id),
                expires_at: Some(exp),
            }),
        })
    }

    fn user() -> Account {
        crate::account::test_account()
    }

    #[test]
    fn tokens_leave_by_hash_user_expiry_or_capacity() {
        let now = OffsetDateTime::from_unix_timestamp(10_000).expect("t");
        let cache = TokenCache::new(3);
        let (a, b) = (user(), user());
        let p1 = principal(&a, now + Duration::hours(1));
        cache.insert(TokenHash::of("1"), p1.clone(), now);
        cache.insert(
            TokenHash::of("2"),
            principal(&a, now + Duration::hours(1)),
            now,
        );
        cache.insert(
            TokenHash::of("3"),
            principal(&b, now + Duration::hours(1)),
            now,
        );
        assert_eq!(cache.len(), 3);
        cache.remove(&TokenHash::of("1"));
        assert!(cache.get(&TokenHash::of("1")).is_none());
        cache.remove_user(&a.id);
        assert_eq!(cache.len(), 1);
        cache.remove(&TokenHash::of("3"));
        assert!(cache.is_empty());

        cache.insert(
            TokenHash::of("old"),
            principal(&a, now - Duration::hours(2)),
            now,
        );
        cache.insert(
            TokenHash::of("4"),
            principal(&a, now + Duration::hours(1)),
            now,
        );
        cache.insert(
            TokenHash::of("5"),
            principal(&a, now + Duration::hours(1)),
            now,
        );
        cache.insert(
            TokenHash::of("6"),
            principal(&a, now + Duration::hours(1)),
            now,
        );
        assert!(
            cache.get(&TokenHash::of("old")).is_none(),
            "expired evicted first"
        );
        assert_eq!(cache.len(), 3);

        let off = TokenCache::new(0);
        off.insert(TokenHash::of("1"), p1, now);
        assert!(off.get(&TokenHash::of("1")).is_none());
    }
}
