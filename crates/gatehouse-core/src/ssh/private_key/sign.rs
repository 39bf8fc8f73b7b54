//! Signing with a stored key, as an ssh-agent does, and the one kind of payload a stored
//! key signs.
//!
//! SECURITY: a stored key signs only an SSH user-authentication request (RFC 4252 §7,
//! and OpenSSH's `publickey-hostbound-v00@openssh.com` form) that names that very key,
//! never arbitrary bytes. A credential allowed to use the key can log in to hosts with
//! it, but cannot make it sign a git commit (`sshsig`), a certificate or a challenge of
//! another protocol. RSA keys sign with `rsa-sha2-256` or `rsa-sha2-512` only: the
//! SHA-1 `ssh-rsa` signature OpenSSH 8.8+ refuses is never made.
//!
//! The request is read here with ssh-encoding's reader (the crate russh and `ssh-key`
//! are built on): what is checked is Gatehouse's own rule, not a wire format a crate
//! offers to validate. The signatures themselves are `ssh-key`'s.

use std::fmt;

use russh::keys::signature::{Signer, Verifier};
use russh::keys::ssh_encoding::{Decode, Encode};
use russh::keys::ssh_key::private::KeypairData;
use russh::keys::ssh_key::{Algorithm, HashAlg, PrivateKey, PublicKey, Signature};

/// The ssh-agent sign flag asking for an `rsa-sha2-256` signature.
pub const SSH_AGENT_RSA_SHA2_256: u32 = 2;
/// The ssh-agent sign flag asking for an `rsa-sha2-512` signature.
pub const SSH_AGENT_RSA_SHA2_512: u32 = 4;
/// Longest payload looked at (an authentication request is a few hundred bytes; an
/// RSA key's blob and a host key make it at most a few kilobytes).
pub const MAX_PAYLOAD_LEN: usize = 8 * 1024;

/// `SSH_MSG_USERAUTH_REQUEST`.
const USERAUTH_REQUEST: u8 = 50;
/// The authentication methods whose requests are signed with the user's key.
const PUBLICKEY: &str = "publickey";
const PUBLICKEY_HOSTBOUND: &str = "publickey-hostbound-v00@openssh.com";

/// Why a stored key would not sign. The messages are shown to the caller as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignRefusal {
    /// Over [`MAX_PAYLOAD_LEN`] bytes.
    #[error("the data to sign is too long (at most {max} bytes)", max = MAX_PAYLOAD_LEN)]
    TooLong,
    /// Not an SSH user-authentication request.
    #[error(
        "a stored key signs only SSH public-key authentication requests (RFC 4252 section 7); \
         this data is not one"
    )]
    NotAnAuthRequest,
    /// An authentication request for another key.
    #[error("the authentication request names another key than this one")]
    OtherKey,
    /// RSA asked to sign with SHA-1.
    #[error(
        "RSA keys sign with rsa-sha2-256 or rsa-sha2-512 only (flags 2 or 4); ssh-rsa (SHA-1) \
         signatures are refused, as OpenSSH 8.8 and later refuse them"
    )]
    Sha1,
    /// The request names a signature algorithm other than the one asked for.
    #[error("the authentication request names the algorithm {named}, but {signing} was asked for")]
    AlgorithmMismatch {
        /// In the request.
        named: String,
        /// From the flags.
        signing: String,
    },
}

impl From<SignRefusal> for crate::error::Error {
    fn from(err: SignRefusal) -> Self {
        crate::error::Error::Invalid {
            field: "data",
            reason: err.to_string(),
        }
    }
}

/// What an authentication request says, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The user name asked for on the remote host.
    pub user: String,
    /// `publickey` or `publickey-hostbound-v00@openssh.com`.
    pub method: String,
    /// The signature algorithm named.
    pub algorithm: String,
    /// The server's host key, when the request is host-bound.
    pub host_key: Option<PublicKey>,
}

/// A stored key, opened for signing. `Debug` never shows the key.
pub struct SigningKey(PrivateKey);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SigningKey").field(&"[redacted]").finish()
    }
}

/// A signature in the SSH wire form (`string algorithm, string blob`), what an agent's
/// `SSH_AGENT_SIGN_RESPONSE` carries, and the request it signed.
#[derive(Debug)]
pub struct Signed {
    /// The encoded signature.
    pub signature: Vec<u8>,
    /// The signature algorithm (`ssh-ed25519`, `rsa-sha2-512`, …).
    pub algorithm: String,
    /// What was signed.
    pub request: AuthRequest,
}

impl SigningKey {
    /// Reads the stored (unencrypted OpenSSH) form.
    pub fn from_openssh(text: &[u8]) -> crate::error::Result<Self> {
        let text = std::str::from_utf8(text)
            .map_err(|_| crate::error::Error::internal("stored SSH key is not text"))?;
        PrivateKey::from_openssh(text)
            .map(SigningKey)
            .map_err(|_| crate::error::Error::internal("stored SSH key cannot be read"))
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        self.0.public_key()
    }

    /// The key, for a client that authenticates with it itself (the connection test).
    pub fn private_key(&self) -> &PrivateKey {
        &self.0
    }

    /// The signature algorithm and RSA hash the agent flags ask for.
    pub fn algorithm_for(&self, flags: u32) -> Result<(String, Option<HashAlg>), SignRefusal> {
        if !matches!(self.0.algorithm(), Algorithm::Rsa { .. }) {
            return Ok((self.0.algorithm().as_str().to_owned(), None));
        }
        let hash = if flags & SSH_AGENT_RSA_SHA2_512 != 0 {
            HashAlg::Sha512
        } else if flags & SSH_AGENT_RSA_SHA2_256 != 0 {
            HashAlg::Sha256
        } else {
            return Err(SignRefusal::Sha1);
        };
        let alg = Algorithm::Rsa { hash: Some(hash) };
        Ok((alg.as_str().to_owned(), Some(hash)))
    }

    /// Signs `data`, which must be an authentication request for this key.
    pub fn sign(&self, data: &[u8], flags: u32) -> crate::error::Result<Signed> {
        let (algorithm, hash) = self.algorithm_for(flags)?;
        let request = read_auth_request(data, self.public_key(), &algorithm)?;
        let signature: Signature = match self.0.key_data() {
            KeypairData::Rsa(rsa) => Signer::try_sign(&(rsa, hash), data),
            other => Signer::try_sign(other, data),
        }
        .map_err(|_| crate::error::Error::internal("signing with a stored SSH key failed"))?;
        let signature = signature
            .encode_vec()
            .map_err(|_| crate::error::Error::internal("encoding a signature failed"))?;
        Ok(Signed {
            signature,
            algorithm,
            request,
        })
    }
}

/// Reads an authentication request and checks that it names `key` and `algorithm`.
pub fn read_auth_request(
    data: &[u8],
    key: &PublicKey,
    algorithm: &str,
) -> Result<AuthRequest, SignRefusal> {
    if data.len() > MAX_PAYLOAD_LEN {
        return Err(SignRefusal::TooLong);
    }
    let bad = |_| SignRefusal::NotAnAuthRequest;
    let mut r = data;
    let session_id = Vec::<u8>::decode(&mut r).map_err(bad)?;
    // A session id is an exchange hash: SHA-256, -384 or -512 (SHA-1 for old kex).
    if !(20..=64).contains(&session_id.len()) {
        return Err(SignRefusal::NotAnAuthRequest);
    }
    if u8::decode(&mut r).map_err(bad)? != USERAUTH_REQUEST {
        return Err(SignRefusal::NotAnAuthRequest);
    }
    let user = String::decode(&mut r).map_err(bad)?;
    let service = String::decode(&mut r).map_err(bad)?;
    let method = String::decode(&mut r).map_err(bad)?;
    if service != "ssh-connection" || !(method == PUBLICKEY || method == PUBLICKEY_HOSTBOUND) {
        return Err(SignRefusal::NotAnAuthRequest);
    }
    if !bool::decode(&mut r).map_err(bad)? {
        return Err(SignRefusal::NotAnAuthRequest);
    }
    let named = String::decode(&mut r).map_err(bad)?;
    let blob = Vec::<u8>::decode(&mut r).map_err(bad)?;
    let ours = key.to_bytes().map_err(|_| SignRefusal::OtherKey)?;
    if blob != ours {
        return Err(SignRefusal::OtherKey);
    }
    if named != algorithm {
        return Err(SignRefusal::AlgorithmMismatch {
            named,
            signing: algorithm.to_owned(),
        });
    }
    let host_key = if method == PUBLICKEY_HOSTBOUND {
        let host = Vec::<u8>::decode(&mut r).map_err(bad)?;
        Some(PublicKey::from_bytes(&host).map_err(|_| SignRefusal::NotAnAuthRequest)?)
    } else {
        None
    };
    if !r.is_empty() {
        return Err(SignRefusal::NotAnAuthRequest);
    }
    Ok(AuthRequest {
        user,
        method,
        algorithm: named,
        host_key,
    })
}

/// Checks an OpenSSH `session-bind@openssh.com` proof: `signature` (SSH wire form) by
/// `host_key` (a public key blob) over `session_id`. The host key, on success.
pub fn verify_session_bind(
    host_key: &[u8],
    session_id: &[u8],
    signature: &[u8],
) -> Option<PublicKey> {
    let key = PublicKey::from_bytes(host_key).ok()?;
    let signature = Signature::decode(&mut &signature[..]).ok()?;
    Verifier::verify(&key, session_id, &signature).ok()?;
    Some(key)
}

/// `SHA256:…` of a public key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> SigningKey {
        SigningKey::from_openssh(text.as_bytes()).expect("read")
    }

    /// An authentication request as OpenSSH's client builds it.
    pub(crate) fn request(
        key: &PublicKey,
        alg: &str,
        method: &str,
        host: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        vec![7u8; 32].encode(&mut out).expect("enc");
        USERAUTH_REQUEST.encode(&mut out).expect("enc");
        "alice".encode(&mut out).expect("enc");
        "ssh-connection".encode(&mut out).expect("enc");
        method.encode(&mut out).expect("enc");
        true.encode(&mut out).expect("enc");
        alg.encode(&mut out).expect("enc");
        key.to_bytes().expect("blob").encode(&mut out).expect("enc");
        if let Some(h) = host {
            h.to_vec().encode(&mut out).expect("enc");
        }
        out
    }

    fn ed25519() -> SigningKey {
        key(include_str!("testdata/ed25519"))
    }

    #[test]
    fn an_auth_request_is_signed_and_verifies_with_the_public_half() {
        let k = ed25519();
        let data = request(k.public_key(), "ssh-ed25519", PUBLICKEY, None);
        let signed = k.sign(&data, 0).expect("sign");
        assert_eq!(signed.algorithm, "ssh-ed25519");
        assert_eq!(signed.request.user, "alice");
        let sig = Signature::decode(&mut &signed.signature[..]).expect("decode");
        Verifier::verify(k.public_key(), &data, &sig).expect("verifies");
    }

    #[test]
    fn a_p256_key_with_a_short_scalar_signs_once_stored() {
        let uploaded = super::super::SshPrivateKey::parse(
            include_str!("testdata/ecdsa256_short_pass"),
            Some("correct horse fixture"),
        )
        .expect("read");
        let k = key(uploaded.expose_openssh());
        let data = request(k.public_key(), "ecdsa-sha2-nistp256", PUBLICKEY, None);
        let signed = k.sign(&data, 0).expect("sign");
        let sig = Signature::decode(&mut &signed.signature[..]).expect("decode");
        Verifier::verify(k.public_key(), &data, &sig).expect("verifies");
    }

    #[test]
    fn rsa_signs_with_sha2_and_never_sha1() {
        let k = key(include_str!("testdata/rsa3072"));
        let data = request(k.public_key(), "rsa-sha2-512", PUBLICKEY, None);
        assert!(
            k.sign(&data, 0)
                .expect_err("sha1")
                .to_string()
                .contains("SHA-1")
        );
        let signed = k.sign(&data, SSH_AGENT_RSA_SHA2_512).expect("sign");
        assert_eq!(signed.algorithm, "rsa-sha2-512");
        let sig = Signature::decode(&mut &signed.signature[..]).expect("decode");
        assert_eq!(sig.algorithm().as_str(), "rsa-sha2-512");
        Verifier::verify(k.public_key(), &data, &sig).expect("verifies");
        let data256 = request(k.public_key(), "rsa-sha2-256", PUBLICKEY, None);
        assert!(
            k.sign(&data256, SSH_AGENT_RSA_SHA2_512).is_err(),
            "named 256, asked 512"
        );
        let signed = k.sign(&data256, SSH_AGENT_RSA_SHA2_256).expect("sign");
        assert_eq!(signed.algorithm, "rsa-sha2-256");
    }

    #[test]
    fn anything_but_an_auth_request_for_this_key_is_refused() {
        let k = ed25519();
        let other = key(include_str!("testdata/ecdsa256"));
        for (what, data) in [
            ("arbitrary bytes", b"please sign this commit".to_vec()),
            ("empty", Vec::new()),
            (
                "another key",
                request(other.public_key(), "ssh-ed25519", PUBLICKEY, None),
            ),
            (
                "password method",
                request(k.public_key(), "ssh-ed25519", "password", None),
            ),
            ("too long", vec![0u8; MAX_PAYLOAD_LEN + 1]),
        ] {
            assert!(k.sign(&data, 0).is_err(), "{what} was signed");
        }
        let mut trailing = request(k.public_key(), "ssh-ed25519", PUBLICKEY, None);
        trailing.push(0);
        assert_eq!(
            read_auth_request(&trailing, k.public_key(), "ssh-ed25519"),
            Err(SignRefusal::NotAnAuthRequest)
        );
    }

    #[test]
    fn a_host_bound_request_names_the_host_key() {
        let k = ed25519();
        let host = key(include_str!("testdata/ecdsa256"));
        let blob = host.public_key().to_bytes().expect("blob");
        let data = request(
            k.public_key(),
            "ssh-ed25519",
            PUBLICKEY_HOSTBOUND,
            Some(&blob),
        );
        let signed = k.sign(&data, 0).expect("sign");
        assert_eq!(
            signed.request.host_key.as_ref().map(fingerprint),
            Some(fingerprint(host.public_key()))
        );
    }

    #[test]
    fn a_session_bind_proof_verifies_only_for_its_session() {
        let host = ed25519();
        let session = [9u8; 32];
        let sig: Signature =
            Signer::try_sign(host.private_key().key_data(), &session).expect("sign");
        let sig = sig.encode_vec().expect("enc");
        let blob = host.public_key().to_bytes().expect("blob");
        assert!(verify_session_bind(&blob, &session, &sig).is_some());
        assert!(verify_session_bind(&blob, &[8u8; 32], &sig).is_none());
        assert!(verify_session_bind(b"junk", &session, &sig).is_none());
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", ed25519()).contains("OPENSSH"));
    }
}
