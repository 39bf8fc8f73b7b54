//! Token signing keys: Ed25519 key pairs, stored with the private half sealed, published
//! as a JWK set. The newest unretired key signs; retired keys still verify until every
//! token they signed has expired.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::EncodingKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::{CLOCK_SKEW_SECONDS, MAX_HOURS};
use crate::error::{Error, Result};
use crate::seal::MasterKeys;

/// The JWS algorithm of every token.
pub const SIGNING_ALGORITHM: &str = "EdDSA";

/// A signing key as stored.
#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    /// Key id: the RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// Always `EdDSA`.
    pub algorithm: String,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    /// The PKCS#8 private key, sealed (see [`crate::seal`]).
    pub sealed_private_key: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When a newer key replaced it for signing.
    pub retired_at: Option<OffsetDateTime>,
}

impl SigningKeyRecord {
    /// Generates a key pair and seals its private half.
    pub fn generate(master: &MasterKeys, now: OffsetDateTime) -> Result<Self> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| Error::internal("Ed25519 key generation failed"))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| Error::internal("Ed25519 key generation failed"))?;
        let public_key = pair.public_key().as_ref().to_vec();
        let kid = thumbprint(&public_key);
        Ok(SigningKeyRecord {
            sealed_private_key: master.seal(&pkcs8, &seal_context(&kid))?,
            kid,
            algorithm: SIGNING_ALGORITHM.into(),
            public_key,
            created_at: now,
            retired_at: None,
        })
    }

    /// Until when the key verifies: forever while it signs, then until the last token it
    /// could have signed has expired (plus the clock skew).
    pub fn verifies_until(&self) -> Option<OffsetDateTime> {
        self.retired_at
            .map(|r| r + Duration::hours(MAX_HOURS.into()) + Duration::seconds(CLOCK_SKEW_SECONDS))
    }
}

/// The context a signing key's private half is sealed with.
pub fn seal_context(kid: &str) -> String {
    format!("jwt_signing_key|{kid}|system")
}

/// RFC 7638 thumbprint of an Ed25519 public key (its JWK's required members, sorted).
fn thumbprint(public_key: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        B64.encode(public_key)
    );
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// Which record signs (the newest unretired one) and which verify (every Ed25519 key whose
/// verification window is still open), in store order.
fn plan(
    records: &[SigningKeyRecord],
    now: OffsetDateTime,
) -> (Option<&SigningKeyRecord>, Vec<&SigningKeyRecord>) {
    let signer = records
        .iter()
        .filter(|r| r.retired_at.is_none())
        .max_by_key(|r| (r.created_at, r.kid.clone()));
    let verifiers = records
        .iter()
        .filter(|r| r.algorithm == SIGNING_ALGORITHM && r.public_key.len() == 32)
        .filter(|r| r.verifies_until().is_none_or(|t| now <= t))
        .collect();
    (signer, verifiers)
}

/// The key that signs new tokens. `Debug` never shows it.
pub struct SigningKey {
    /// Its id.
    pub kid: String,
    key: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    pub(super) fn encoding_key(&self) -> &EncodingKey {
        &self.key
    }
}

/// A key that verifies tokens.
pub struct VerifyingKey {
    pub(super) kid: String,
    pub(super) public_key: Vec<u8>,
}

/// A published key (RFC 8037 OKP JWK).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    /// `OKP`.
    pub kty: &'static str,
    /// `Ed25519`.
    pub crv: &'static str,
    /// The public key, base64url.
    pub x: String,
    /// The key id tokens carry in their header.
    pub kid: String,
    /// `EdDSA`.
    pub alg: &'static str,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// The signing key and every key that still verifies.
#[derive(Default)]
pub struct TokenKeys {
    signer: Option<SigningKey>,
    verifiers: Vec<VerifyingKey>,
}

impl TokenKeys {
    /// Builds the set from stored records: the newest unretired key signs (its private
    /// half is unsealed); keys whose verification window has passed are left out.
    pub fn load(
        records: &[SigningKeyRecord],
        master: &MasterKeys,
        now: OffsetDateTime,
    ) -> Result<Self> {
        let mut keys = TokenKeys::default();
        let (signer, verifiers) = plan(records, now);
        if let Some(r) = signer {
            let pkcs8 = master.open(&r.sealed_private_key, &seal_context(&r.kid))?;
            // Check the pair before trusting it.
            let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
                .map_err(|_| Error::internal("stored signing key is not an Ed25519 key"))?;
            if pair.public_key().as_ref() != r.public_key.as_slice() {
                return Err(Error::internal(
                    "stored signing key does not match its public key",
                ));
            }
            keys.signer = Some(SigningKey {
                kid: r.kid.clone(),
                key: EncodingKey::from_ed_der(&pkcs8),
            });
        }
        keys.verifiers = verifiers
            .into_iter()
            .map(|r| VerifyingKey {
                kid: r.kid.clone(),
                public_key: r.public_key.clone(),
            })
            .collect();
        Ok(keys)
    }

    /// Whether [`TokenKeys::load`] would give the same signer and verifiers, decided
    /// without unsealing anything.
    pub fn matches(&self, records: &[SigningKeyRecord], now: OffsetDateTime) -> bool {
        let (signer, verifiers) = plan(records, now);
        signer.map(|r| &r.kid) == self.signer.as_ref().map(|s| &s.kid)
            && verifiers.iter().map(|r| r.kid.as_str()).eq(self.kids())
    }

    /// The key that signs, if any.
    pub fn signer(&self) -> Option<&SigningKey> {
        self.signer.as_ref()
    }

    /// The verifying key with this id.
    pub(super) fn verifier(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifiers.iter().find(|k| k.kid == kid)
    }

    /// The ids of the keys that verify.
    pub fn kids(&self) -> Vec<&str> {
        self.verifiers.iter().map(|k| k.kid.as_str()).collect()
    }

    /// The JWK set to publish.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.verifiers
            .iter()
            .map(|k| Jwk {
                kty: "OKP",
                crv: "Ed25519",
                x: B64.encode(&k.public_key),
                kid: k.kid.clone(),
                alg: SIGNING_ALGORITHM,
                use_: "sig",
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{Keyring, MasterKey};

    fn ring() -> MasterKeys {
        MasterKeys::fixed(std::sync::Arc::new(Keyring::single(MasterKey::generate())))
    }

    #[test]
    fn the_newest_unretired_key_signs_and_retired_keys_verify_for_a_day() {
        let master = ring();
        let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("t");
        let mut old = SigningKeyRecord::generate(&master, t0).expect("gen");
        let new = SigningKeyRecord::generate(&master, t0 + Duration::hours(1)).expect("gen");
        assert_ne!(old.kid, new.kid);
        assert_eq!(old.kid.len(), 43, "base64url SHA-256 thumbprint");
        assert!(
            !old.sealed_private_key
                .contains(&B64.encode(&old.public_key))
        );
        old.retired_at = Some(t0 + Duration::hours(1));
        let records = [old.clone(), new.clone()];

        let keys = TokenKeys::load(&records, &master, t0 + Duration::hours(2)).expect("load");
        assert_eq!(
            keys.signer().map(|s| s.kid.as_str()),
            Some(new.kid.as_str())
        );
        assert_eq!(keys.kids().len(), 2);
        let jwks = keys.jwks();
        assert!(jwks.iter().all(|k| k.kty == "OKP" && k.alg == "EdDSA"));

        let later = t0 + Duration::hours(26);
        assert!(keys.matches(&records, t0 + Duration::hours(2)));
        assert!(!keys.matches(&records, later), "the old key has aged out");
        assert!(!TokenKeys::default().matches(&records, later));
        let keys = TokenKeys::load(&records, &master, later).expect("load");
        assert!(keys.matches(&records, later));
        assert_eq!(keys.kids(), vec![new.kid.as_str()], "old key aged out");
    }

    #[test]
    fn a_key_sealed_under_another_master_key_does_not_load() {
        let master = ring();
        let rec = SigningKeyRecord::generate(&master, OffsetDateTime::UNIX_EPOCH).expect("gen");
        let other = ring();
        assert!(TokenKeys::load(&[rec], &other, OffsetDateTime::UNIX_EPOCH).is_err());
    }
}
