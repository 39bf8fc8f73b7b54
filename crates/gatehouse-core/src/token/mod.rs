//! Bearer tokens: short-lived EdDSA (Ed25519) JWTs that last 1–24 hours.
//!
//! A token is a JWT whose header is exactly `{"alg":"EdDSA","typ":"JWT","kid":…}` and
//! whose claims are `iss`, `sub` (the user id), `aud`, `iat`, `nbf`, `exp`, `jti` (the
//! token id) and `scope`. Services can verify one offline with the keys published at
//! `/.well-known/jwks.json`; Gatehouse itself also checks that the token is still on
//! record (not revoked, not older than its owner's "not before" time).
//!
//! Only the SHA-256 of a token is stored. Verified tokens are cached by that hash, so a
//! repeated token costs a hash and a map lookup rather than a signature check.

mod cache;
mod jwt;
mod keys;

pub use cache::{Owner, OwnerCache, RevokedTokens, TokenCache};
pub use jwt::{Claims, Expectations, Rejection, sign, verify};
pub use keys::{
    Jwk, SIGNING_ALGORITHM, SigningKey, SigningKeyRecord, TokenKeys,
    seal_context as signing_key_seal_context,
};

use std::sync::Arc;

use time::OffsetDateTime;

use crate::account::Account;
use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::ids::{AccountId, TokenId};
use crate::scope::Scopes;
use crate::secret::TokenHash;

/// Shortest lifetime a token can be given, in hours.
pub const MIN_HOURS: u32 = 1;
/// Longest lifetime a token can be given, in hours.
pub const MAX_HOURS: u32 = 24;
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (documented in the README).
pub const CLOCK_SKEW_SECONDS: i64 = 60;
/// Tokens longer than this are not even parsed.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Token settings of the deployment.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The `iss` claim issued and required.
    pub issuer: String,
    /// The `aud` claim issued and required.
    pub audience: String,
    /// Verified tokens kept in memory (0 turns the cache off).
    pub cache_capacity: usize,
    /// How long a verified token (and a token owner) is trusted before it is verified
    /// again, if it has not expired first. Revocations on any node reach every node
    /// sooner, through the revocation and invalidation polls; this only bounds how long
    /// a missed one could last.
    pub cache_ttl: time::Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            issuer: "gatehouse".into(),
            audience: "gatehouse".into(),
            cache_capacity: 100_000,
            cache_ttl: time::Duration::minutes(15),
        }
    }
}

/// A token's lifetime in whole hours, 1–24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(u32);

impl Lifetime {
    /// Validates a number of hours.
    pub fn hours(h: u32) -> Result<Self> {
        if (MIN_HOURS..=MAX_HOURS).contains(&h) {
            Ok(Lifetime(h))
        } else {
            Err(Error::invalid(
                "expires_in_hours",
                format!("must be a whole number of hours from {MIN_HOURS} to {MAX_HOURS}"),
            ))
        }
    }

    /// Interprets a JSON value: only an integer from 1 to 24 is accepted (not `1.5`, not
    /// `"3"`, not `true`).
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let h = value
            .as_u64()
            .filter(|_| !value.is_f64())
            .and_then(|h| u32::try_from(h).ok())
            .ok_or_else(|| {
                Error::invalid(
                    "expires_in_hours",
                    format!("must be a whole number of hours from {MIN_HOURS} to {MAX_HOURS}"),
                )
            })?;
        Self::hours(h)
    }

    /// The number of hours.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// A token as stored: metadata and the hash, never the token.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The token id (`jti`).
    pub id: TokenId,
    /// Owner (`sub`).
    pub user_id: AccountId,
    /// A label chosen at creation.
    pub name: String,
    /// SHA-256 of the whole token.
    pub token_hash: TokenHash,
    /// What the token may do.
    pub scopes: Scopes,
    /// `iat`.
    pub created_at: OffsetDateTime,
    /// `exp`.
    pub expires_at: OffsetDateTime,
    /// How the creator authenticated: `session`, `api_key` or `token`.
    pub created_via: String,
    /// The API key or token that minted it (revoking that revokes this too).
    pub parent_id: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A request authenticated by a bearer token.
#[derive(Debug, Clone)]
pub struct TokenPrincipal {
    /// The token id.
    pub token_id: TokenId,
    /// The owner.
    pub user: Account,
    /// Effective scopes: the token's, limited to what the owner may still hold.
    pub scopes: Scopes,
    /// `iat`.
    pub issued_at: OffsetDateTime,
    /// `nbf`.
    pub not_before: OffsetDateTime,
    /// `exp`.
    pub expires_at: OffsetDateTime,
    /// The actor, built once when the token is cached.
    pub actor: Arc<Actor>,
    /// The front end's rendering of this principal.
    pub memo: crate::actor::Memo,
}

impl TokenPrincipal {
    /// Whether the token is usable at `now` (with the documented skew).
    pub fn is_current(&self, now: OffsetDateTime) -> bool {
        let now = now.unix_timestamp();
        now <= self.expires_at.unix_timestamp() + CLOCK_SKEW_SECONDS
            && now + CLOCK_SKEW_SECONDS >= self.not_before.unix_timestamp()
    }
}

/// A token's label: the rules of [`crate::name`], and `token` when absent or blank.
pub fn parse_name(raw: Option<&str>) -> Result<String> {
    crate::name::parse_or("name", raw, "token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifetimes_are_whole_hours_from_1_to_24() {
        assert_eq!(Lifetime::from_json(&json!(1)).ok(), Some(Lifetime(1)));
        assert_eq!(Lifetime::from_json(&json!(24)).ok(), Some(Lifetime(24)));
        for bad in [
            json!(0),
            json!(25),
            json!(-1),
            json!(1.5),
            json!(2.0),
            json!("3"),
            json!(true),
            json!(null),
            json!([1]),
            json!(u64::MAX),
        ] {
            let err = Lifetime::from_json(&bad).expect_err("refused");
            assert!(err.to_string().contains("1 to 24"), "{bad}: {err}");
        }
    }

    #[test]
    fn names_default_and_are_single_line() {
        assert_eq!(parse_name(None).ok().as_deref(), Some("token"));
        assert_eq!(parse_name(Some("  ci ")).ok().as_deref(), Some("ci"));
        assert!(parse_name(Some("a\nb")).is_err());
        assert!(parse_name(Some(&"x".repeat(65))).is_err());
    }
}
