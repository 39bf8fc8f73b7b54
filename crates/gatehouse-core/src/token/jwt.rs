//! Signing and verifying the JWT itself.
//!
//! SECURITY: the header is checked before any signature work, against an allow-list:
//! exactly `alg` (which must be `EdDSA`), `kid` (which must name one of our keys) and
//! optionally `typ` (`JWT`). So `alg: none`, HMAC algorithms (the "public key as HMAC
//! secret" attack), and keys or key locations carried in the token itself (`jwk`, `jku`,
//! `x5u`, `x5c`) are all refused, as is anything marked `crit`. Times are checked
//! against the service clock with [`CLOCK_SKEW_SECONDS`] of tolerance.

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use super::keys::{SIGNING_ALGORITHM, SigningKey, TokenKeys};
use super::{CLOCK_SKEW_SECONDS, MAX_HOURS, MAX_TOKEN_LEN};
use crate::error::{Error, Result};

/// The claims of a Gatehouse token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// The token id.
    pub jti: String,
    /// Space-separated scopes.
    pub scope: String,
}

/// What a token must say to be accepted.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// Required `iss`.
    pub issuer: &'a str,
    /// Required `aud`.
    pub audience: &'a str,
    /// The service clock, unix seconds.
    pub now: i64,
}

/// Why a token was refused. Only logged in aggregate; clients always see the same 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not three base64url parts of JSON, or too long.
    Malformed,
    /// `alg` is not `EdDSA` (`none`, `HS256`, …).
    Algorithm,
    /// The header carries a key or key location (`jwk`, `jku`, `x5u`, `x5c`), `crit`, or
    /// another member outside the allow-list.
    HeaderMember,
    /// `kid` missing or not one of ours.
    UnknownKey,
    /// Bad signature, issuer or audience, or claims not in our shape.
    Invalid,
    /// Past `exp` (beyond the skew).
    Expired,
    /// Before `nbf`, or `iat` in the future (beyond the skew).
    NotYetValid,
}

impl Rejection {
    /// A short label for metrics and debug logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Algorithm => "algorithm",
            Rejection::HeaderMember => "header_member",
            Rejection::UnknownKey => "unknown_kid",
            Rejection::Invalid => "invalid",
            Rejection::Expired => "expired",
            Rejection::NotYetValid => "not_yet_valid",
        }
    }
}

/// Signs claims with the active key.
pub fn sign(claims: &Claims, key: &SigningKey) -> Result<String> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, claims, key.encoding_key())
        .map_err(|e| Error::internal(format!("signing a token: {e}")))
}

/// Verifies a token completely (header allow-list, signature, issuer, audience, times)
/// and returns its claims.
pub fn verify(
    token: &str,
    keys: &TokenKeys,
    expect: &Expectations<'_>,
) -> std::result::Result<Claims, Rejection> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Rejection::Malformed);
    }
    let kid = check_header(token)?;
    let key = keys.verifier(&kid).ok_or(Rejection::UnknownKey)?;
    // The signature covers `header.payload`; it is checked before the payload is parsed.
    let (signing_input, signature) = token.rsplit_once('.').ok_or(Rejection::Malformed)?;
    let signature = B64.decode(signature).map_err(|_| Rejection::Invalid)?;
    UnparsedPublicKey::new(&ED25519, &key.public_key)
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| Rejection::Invalid)?;
    let payload = signing_input
        .split_once('.')
        .map(|(_, p)| p)
        .ok_or(Rejection::Malformed)?;
    let payload = B64.decode(payload).map_err(|_| Rejection::Invalid)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| Rejection::Invalid)?;
    if claims.iss != expect.issuer || claims.aud != expect.audience {
        return Err(Rejection::Invalid);
    }
    let now = expect.now;
    if now > claims.exp + CLOCK_SKEW_SECONDS {
        return Err(Rejection::Expired);
    }
    if now + CLOCK_SKEW_SECONDS < claims.nbf || now + CLOCK_SKEW_SECONDS < claims.iat {
        return Err(Rejection::NotYetValid);
    }
    // We never issue longer tokens; a longer one was not made by us.
    if claims.exp <= claims.iat || claims.exp - claims.iat > i64::from(MAX_HOURS) * 3600 {
        return Err(Rejection::Invalid);
    }
    Ok(claims)
}

/// Checks the header against the allow-list and returns its `kid`.
fn check_header(token: &str) -> std::result::Result<String, Rejection> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };
    let bytes = B64.decode(header).map_err(|_| Rejection::Malformed)?;
    let serde_json::Value::Object(map) =
        serde_json::from_slice(&bytes).map_err(|_| Rejection::Malformed)?
    else {
        return Err(Rejection::Malformed);
    };
    match map.get("alg").and_then(|a| a.as_str()) {
        Some(SIGNING_ALGORITHM) => {}
        _ => return Err(Rejection::Algorithm),
    }
    let mut kid = None;
    for (name, value) in &map {
        match (name.as_str(), value) {
            ("alg", _) => {}
            ("typ", serde_json::Value::String(t)) if t == "JWT" => {}
            ("kid", serde_json::Value::String(k)) => kid = Some(k.clone()),
            _ => return Err(Rejection::HeaderMember),
        }
    }
    kid.ok_or(Rejection::UnknownKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{Keyring, MasterKey, MasterKeys};
    use crate::token::SigningKeyRecord;
    use serde_json::json;
    use time::OffsetDateTime;

    const NOW: i64 = 1_800_000_000;

    fn keys() -> (TokenKeys, SigningKeyRecord) {
        let master = MasterKeys::fixed(std::sync::Arc::new(Keyring::single(MasterKey::generate())));
        let t = OffsetDateTime::from_unix_timestamp(NOW - 100).expect("t");
        let rec = SigningKeyRecord::generate(&master, t).expect("gen");
        let keys = TokenKeys::load(std::slice::from_ref(&rec), &master, t).expect("load");
        (keys, rec)
    }

    fn claims() -> Claims {
        Claims {
            iss: "https://gh.example".into(),
            sub: "usr_1".into(),
            aud: "gatehouse".into(),
            iat: NOW,
            nbf: NOW,
            exp: NOW + 3600,
            jti: "tok_1".into(),
            scope: "account:read".into(),
        }
    }

    fn expect(now: i64) -> Expectations<'static> {
        Expectations {
            issuer: "https://gh.example",
            audience: "gatehouse",
            now,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        B64.encode(serde_json::to_vec(v).expect("json"))
    }

    /// A token with our claims, a chosen header and a chosen signature.
    fn forged(header: serde_json::Value, signature: &[u8]) -> String {
        let body = serde_json::to_value(claims()).expect("claims");
        format!("{}.{}.{}", b64(&header), b64(&body), B64.encode(signature))
    }

    #[test]
    fn a_signed_token_verifies_within_its_lifetime_and_skew() {
        let (keys, _) = keys();
        let signer = keys.signer().expect("signer");
        let token = sign(&claims(), signer).expect("sign");
        assert_eq!(verify(&token, &keys, &expect(NOW)), Ok(claims()));
        assert!(verify(&token, &keys, &expect(NOW - 60)).is_ok(), "skew");
        assert_eq!(
            verify(&token, &keys, &expect(NOW - 61)),
            Err(Rejection::NotYetValid)
        );
        assert!(verify(&token, &keys, &expect(NOW + 3600 + 60)).is_ok());
        assert_eq!(
            verify(&token, &keys, &expect(NOW + 3600 + 61)),
            Err(Rejection::Expired)
        );
    }

    #[test]
    fn wrong_issuer_audience_or_tampering_is_invalid() {
        let (keys, _) = keys();
        let signer = keys.signer().expect("signer");
        let token = sign(&claims(), signer).expect("sign");
        let mut e = expect(NOW);
        e.audience = "other";
        assert_eq!(verify(&token, &keys, &e), Err(Rejection::Invalid));
        let mut e = expect(NOW);
        e.issuer = "https://evil.example";
        assert_eq!(verify(&token, &keys, &e), Err(Rejection::Invalid));

        let (h, rest) = token.split_once('.').expect("parts");
        let (_, sig) = rest.split_once('.').expect("parts");
        let mut c = claims();
        c.scope = "api_keys:write".into();
        let swapped = format!("{h}.{}.{sig}", b64(&serde_json::to_value(c).expect("json")));
        assert_eq!(
            verify(&swapped, &keys, &expect(NOW)),
            Err(Rejection::Invalid)
        );
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("utf8");
        assert_eq!(
            verify(&flipped, &keys, &expect(NOW)),
            Err(Rejection::Invalid)
        );
    }

    #[test]
    fn a_lifetime_over_24_hours_is_refused_even_when_signed() {
        let (keys, _) = keys();
        let mut c = claims();
        c.exp = c.iat + 25 * 3600;
        let token = sign(&c, keys.signer().expect("signer")).expect("sign");
        assert_eq!(verify(&token, &keys, &expect(NOW)), Err(Rejection::Invalid));
    }

    #[test]
    fn alg_none_and_hmac_with_the_public_key_are_refused() {
        let (keys, rec) = keys();
        let none = forged(json!({"alg": "none", "typ": "JWT", "kid": rec.kid}), b"");
        assert_eq!(
            verify(&none, &keys, &expect(NOW)),
            Err(Rejection::Algorithm)
        );
        let none_upper = forged(json!({"alg": "None", "kid": rec.kid}), b"");
        assert_eq!(
            verify(&none_upper, &keys, &expect(NOW)),
            Err(Rejection::Algorithm)
        );

        // HS256 "signed" with the published public key as the HMAC secret.
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": rec.kid});
        let c = claims();
        let token = jsonwebtoken::encode(
            &serde_json::from_value::<Header>(header).expect("header"),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(&rec.public_key),
        )
        .expect("hs256");
        assert_eq!(
            verify(&token, &keys, &expect(NOW)),
            Err(Rejection::Algorithm)
        );
    }

    #[test]
    fn embedded_keys_key_urls_crit_and_foreign_kids_are_refused() {
        let (keys, rec) = keys();
        // A correctly signed token with an extra header member is still refused.
        let signer = keys.signer().expect("signer");
        for (name, value) in [
            (
                "jwk",
                json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(&rec.public_key)}),
            ),
            ("jku", json!("https://evil.example/jwks.json")),
            ("x5u", json!("https://evil.example/cert.pem")),
            ("x5c", json!(["MIIB"])),
            ("crit", json!(["exp"])),
        ] {
            let mut header = json!({"alg": "EdDSA", "typ": "JWT", "kid": rec.kid});
            header[name] = value;
            let header_b64 = b64(&header);
            let body_b64 = b64(&serde_json::to_value(claims()).expect("claims"));
            let input = format!("{header_b64}.{body_b64}");
            let sig = jsonwebtoken::crypto::sign(
                input.as_bytes(),
                signer.encoding_key(),
                Algorithm::EdDSA,
            )
            .expect("sign");
            let token = format!("{input}.{sig}");
            assert_eq!(
                verify(&token, &keys, &expect(NOW)),
                Err(Rejection::HeaderMember),
                "{name}"
            );
        }
        let foreign = forged(json!({"alg": "EdDSA", "kid": "someone-elses"}), b"sig");
        assert_eq!(
            verify(&foreign, &keys, &expect(NOW)),
            Err(Rejection::UnknownKey)
        );
        let no_kid = forged(json!({"alg": "EdDSA"}), b"sig");
        assert_eq!(
            verify(&no_kid, &keys, &expect(NOW)),
            Err(Rejection::UnknownKey)
        );
        // A token signed by a key we do not hold, claiming one of our kids.
        let (other_keys, _) = self::keys();
        let mut c = claims();
        c.jti = "tok_2".into();
        let theirs = sign(&c, other_keys.signer().expect("signer")).expect("sign");
        let (_, rest) = theirs.split_once('.').expect("parts");
        let relabelled = format!(
            "{}.{rest}",
            b64(&json!({"alg": "EdDSA", "typ": "JWT", "kid": rec.kid}))
        );
        assert_eq!(
            verify(&relabelled, &keys, &expect(NOW)),
            Err(Rejection::Invalid)
        );
    }

    #[test]
    fn garbage_is_malformed_and_never_panics() {
        let (keys, _) = keys();
        for bad in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            "!!!.e30.e30",
            "e30.e30.e30",
            "W10.e30.e30",
        ] {
            assert!(verify(bad, &keys, &expect(NOW)).is_err(), "{bad}");
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(
            verify(&long, &keys, &expect(NOW)),
            Err(Rejection::Malformed)
        );
    }
}
