//! Sign-in sessions: the secret that goes in the `cloud.sso` cookie, the record kept
//! (hashed) in the store, and the in-process cache that makes checking one cheap.

mod cache;

pub use cache::SessionCache;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::account::Account;
use crate::ids::SessionId;
use crate::secret::{TokenHash, constant_time_eq, random_token};

/// Lifetimes of a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long is over.
    pub idle_timeout: Duration,
    /// A session is over this long after sign-in, however active.
    pub absolute_lifetime: Duration,
    /// How long a cached session is trusted before it is checked against the store again
    /// (bounds how stale a revocation made elsewhere can be).
    pub cache_ttl: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::minutes(30),
            absolute_lifetime: Duration::hours(12),
            cache_ttl: Duration::seconds(30),
        }
    }
}

/// The cookie secret: 256 random bits. Only its hash is stored.
pub struct SessionToken(SecretString);

impl SessionToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        SessionToken(SecretString::from(random_token::<32>()))
    }

    /// The cookie value.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The hash kept in the store.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.expose())
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

/// The CSRF token bound to a session: derived from the cookie secret, so it needs no
/// storage and cannot be computed by a page that cannot read the cookie.
pub fn csrf_token(cookie_value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"gatehouse-csrf-v1\0");
    h.update(cookie_value.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Checks a presented CSRF token against the session cookie, in constant time.
pub fn csrf_token_matches(cookie_value: &str, presented: &str) -> bool {
    constant_time_eq(csrf_token(cookie_value).as_bytes(), presented.as_bytes())
}

/// A session as stored.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// Public id of the session.
    pub id: SessionId,
    /// SHA-256 of the cookie secret.
    pub token_hash: TokenHash,
    /// Owner.
    pub user_id: crate::ids::AccountId,
    /// Sign-in time.
    pub created_at: OffsetDateTime,
    /// Last request seen (flushed from memory every few seconds).
    pub last_seen_at: OffsetDateTime,
    /// Absolute end of the session.
    pub expires_at: OffsetDateTime,
    /// Address that signed in.
    pub ip: Option<String>,
    /// Browser that signed in (truncated).
    pub user_agent: Option<String>,
    /// The methods the sign-in used.
    pub amr: crate::mfa::Amr,
    /// When its holder last proved who they are (sign-in, or re-authentication).
    pub reauthenticated_at: OffsetDateTime,
}

/// An authenticated session, as handed to request handlers.
#[derive(Debug, Clone)]
pub struct SessionPrincipal {
    /// Which session.
    pub session_id: SessionId,
    /// Who.
    pub user: Account,
    /// Absolute expiry.
    pub expires_at: OffsetDateTime,
    /// The actor this session acts as, built once when the session is cached.
    pub actor: Arc<crate::actor::Actor>,
    /// The methods its sign-in used.
    pub amr: crate::mfa::Amr,
    /// When its holder last proved who they are.
    pub reauthenticated_at: OffsetDateTime,
    /// The organisation requires 2-step verification and this session was opened
    /// without it: it may only set it up (and read its own status, and sign out).
    pub mfa_setup_required: bool,
    /// What must be set up is a security key ("Enforce Security Key MFA").
    pub security_key_setup_required: bool,
}

/// The result of a successful sign-in.
#[derive(Debug)]
pub struct LoginOutcome {
    /// The new cookie secret; shown to the client once.
    pub token: SessionToken,
    /// The session it opens.
    pub principal: Arc<SessionPrincipal>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_random_and_only_their_hash_is_comparable() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().len() >= 43, "256 bits in base64url");
        assert_eq!(a.hash(), TokenHash::of(a.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        let t = csrf_token(a.expose());
        assert!(csrf_token_matches(a.expose(), &t));
        assert!(!csrf_token_matches(b.expose(), &t));
        assert!(!csrf_token_matches(a.expose(), ""));
        assert_ne!(t, a.expose());
    }
}
