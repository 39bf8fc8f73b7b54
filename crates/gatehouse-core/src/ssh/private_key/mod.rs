//! SSH private keys uploaded so the platform can sign on their owner's behalf: reading
//! the key file (through russh's `ssh-key`, re-exported as `russh::keys::ssh_key`),
//! refusing what must not be stored, and the stored form.
//!
//! Accepted, as `ssh-keygen` writes them, with CRLF line ends, a missing final newline
//! or surrounding whitespace tolerated:
//! - the OpenSSH format (`-----BEGIN OPENSSH PRIVATE KEY-----`), passphrase-protected
//!   or not;
//! - PEM: PKCS#1 RSA (`-----BEGIN RSA PRIVATE KEY-----`, also with the legacy
//!   AES-128-CBC `Proc-Type: 4,ENCRYPTED` header), SEC1 EC
//!   (`-----BEGIN EC PRIVATE KEY-----`) and PKCS#8 (`-----BEGIN PRIVATE KEY-----`,
//!   `-----BEGIN ENCRYPTED PRIVATE KEY-----`);
//! - of the types Ed25519, ECDSA P-256/384/521 and RSA of 2048 to 16384 bits.
//!
//! A passphrase-protected key is decrypted here with the passphrase given; the
//! passphrase is not kept. What is stored (sealed, by the use case) is the key
//! re-encoded in the OpenSSH format without a passphrase: one format to read back.
//!
//! Refused, each with its own [`SshPrivateKeyError`]: empty input, input over
//! [`MAX_INPUT_LEN`] bytes (before anything else is looked at), public keys and
//! certificates pasted by mistake, PuTTY files, DSA, RSA under 2048 bits, security-key
//! (`sk-…`) handles, other types, an encrypted key without a passphrase (field
//! `passphrase`, so a client can ask for one), a wrong passphrase, and damaged or cut
//! short files.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use russh::keys::ssh_key::{self, Algorithm, HashAlg, LineEnding, PrivateKey};
use zeroize::Zeroizing;

mod error;
pub mod probe;
mod record;
mod short_scalar;
pub mod sign;
#[cfg(test)]
mod tests;

pub use error::SshPrivateKeyError;
pub use record::{
    PinnedHostKey, SshPrivateKeyName, SshPrivateKeyRecord, parse_description, seal_context,
};

use super::public_key::{KeyType, SshKeyError, SshPublicKey};

/// Longest key file looked at, in bytes. Checked before any other work.
pub const MAX_INPUT_LEN: usize = 16 * 1024;
/// Most bcrypt-pbkdf rounds an OpenSSH key's passphrase protection may ask for
/// (`ssh-keygen` uses 16, and `-a 100` is common advice).
pub const MAX_KDF_ROUNDS: u32 = 1000;

/// Longest passphrase accepted, in bytes (bcrypt-pbkdf work is per round, not per
/// byte, but there is no reason to accept megabytes).
pub const MAX_PASSPHRASE_LEN: usize = 1024;

/// A validated private key, decrypted. `Debug` never shows the key.
pub struct SshPrivateKey {
    /// The accepted type (never a security-key type).
    key_type: KeyType,
    /// The key size as `ssh-keygen -l` reports it.
    bits: u32,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    fingerprint: String,
    /// `<type> <base64 blob>`: the public half, without a comment.
    public_key: String,
    /// The key in the OpenSSH format, unencrypted: what gets sealed.
    openssh: Zeroizing<String>,
}

impl fmt::Debug for SshPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshPrivateKey")
            .field("key_type", &self.key_type)
            .field("bits", &self.bits)
            .field("fingerprint", &self.fingerprint)
            .field("openssh", &"[redacted]")
            .finish()
    }
}

/// The PEM labels of the private key formats read here.
const PEM_LABELS: &[&str] = &[
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
];

impl SshPrivateKey {
    /// Reads and validates a private key file, decrypting it with `passphrase` when it
    /// is protected by one (an empty passphrase counts as none). See the
    /// [module docs](self) for the rules.
    pub fn parse(input: &str, passphrase: Option<&str>) -> Result<Self, SshPrivateKeyError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(SshPrivateKeyError::TooLong { len: input.len() });
        }
        let passphrase = passphrase.filter(|p| !p.is_empty());
        if passphrase.is_some_and(|p| p.len() > MAX_PASSPHRASE_LEN) {
            return Err(SshPrivateKeyError::PassphraseTooLong);
        }
        let text = normalise(input);
        let first = text.lines().next().unwrap_or("");
        if first.is_empty() {
            return Err(SshPrivateKeyError::Empty);
        }
        let key = match pem_label(first) {
            Some("OPENSSH PRIVATE KEY") => {
                require_end(&text, "OPENSSH PRIVATE KEY")?;
                read_openssh(&text, passphrase)?
            }
            Some(label) if PEM_LABELS.contains(&label) => {
                require_end(&text, label)?;
                read_pem(&text, label, passphrase)?
            }
            Some("DSA PRIVATE KEY") => return Err(SshPrivateKeyError::Dsa),
            Some("PUBLIC KEY" | "RSA PUBLIC KEY") => return Err(SshPrivateKeyError::PublicKey),
            _ => return Err(classify_other(first)),
        };
        Self::from_decrypted(&key)
    }

    /// Checks a decrypted key's type and size, and keeps its public half and the
    /// OpenSSH encoding.
    fn from_decrypted(key: &PrivateKey) -> Result<Self, SshPrivateKeyError> {
        let public = check_public(key.public_key())?;
        let openssh = key
            .to_openssh(LineEnding::LF)
            .map_err(|_| SshPrivateKeyError::Damaged)?;
        Ok(SshPrivateKey {
            key_type: public.key_type(),
            bits: public.bits(),
            fingerprint: public.fingerprint(),
            public_key: public.public_key(),
            openssh,
        })
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The key size in bits (256 for Ed25519, the curve for ECDSA, the modulus for RSA).
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// `SHA256:` and the unpadded base64 of the public blob's SHA-256, as `ssh-keygen -l`
    /// prints it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `<type> <base64 blob>`: the public half, as one `.pub` line without a comment.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The key re-encoded in the OpenSSH format, without a passphrase. SECURITY: this is
    /// the secret itself; it is only ever sealed, never logged or returned.
    pub fn expose_openssh(&self) -> &str {
        &self.openssh
    }
}

/// Trims the whole input and each line, and joins the lines with `\n`: CRLF files,
/// indented pastes and a missing final newline read the same.
fn normalise(input: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(input.len() + 1));
    for line in input.trim().lines() {
        out.push_str(line.trim());
        out.push('\n');
    }
    out
}

/// The label of a `-----BEGIN <label>-----` line.
fn pem_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

/// The file must end with its own `-----END` line, or it was cut short.
fn require_end(text: &str, label: &str) -> Result<(), SshPrivateKeyError> {
    let end = format!("-----END {label}-----");
    if text.lines().last() == Some(end.as_str()) {
        Ok(())
    } else {
        Err(SshPrivateKeyError::Damaged)
    }
}

/// What a first line that starts no private key file is: a public key or certificate
/// line, an SSH2 public key, a PuTTY file, or nothing we know.
fn classify_other(first: &str) -> SshPrivateKeyError {
    if first.starts_with("PuTTY-User-Key-File-") {
        return SshPrivateKeyError::Putty;
    }
    if first.starts_with("---- BEGIN SSH2 PUBLIC KEY") {
        return SshPrivateKeyError::PublicKey;
    }
    // A `.pub` or authorized_keys line: the type is one of the first words (options
    // may come before it).
    for word in first.split_whitespace().take(4) {
        if word.ends_with("-cert-v01@openssh.com") {
            return SshPrivateKeyError::Certificate;
        }
        if word.starts_with("ssh-") || word.starts_with("ecdsa-sha2-") || word.starts_with("sk-") {
            return SshPrivateKeyError::PublicKey;
        }
    }
    SshPrivateKeyError::NotAKey
}

/// The OpenSSH format: its public half is readable without the passphrase, so the
/// type and size are refused before asking for one.
fn read_openssh(text: &str, passphrase: Option<&str>) -> Result<PrivateKey, SshPrivateKeyError> {
    let key = match PrivateKey::from_openssh(text) {
        Ok(key) => key,
        Err(_) => return short_scalar::read(text, None).ok_or(SshPrivateKeyError::Damaged),
    };
    check_public(key.public_key())?;
    if !key.is_encrypted() {
        return Ok(key);
    }
    // SECURITY: the rounds are the uploader's choice; a key asking for millions would
    // hold a thread for hours.
    if let ssh_key::Kdf::Bcrypt { rounds, .. } = key.kdf()
        && *rounds > MAX_KDF_ROUNDS
    {
        return Err(SshPrivateKeyError::KdfTooSlow { rounds: *rounds });
    }
    let passphrase = passphrase.ok_or(SshPrivateKeyError::PassphraseNeeded)?;
    let decrypted = match key.decrypt(passphrase) {
        Ok(decrypted) => decrypted,
        Err(_) => {
            short_scalar::read(text, Some(passphrase)).ok_or(SshPrivateKeyError::WrongPassphrase)?
        }
    };
    // The public half stored beside the encrypted part must be the decrypted key's.
    if decrypted.public_key().key_data() != key.public_key().key_data() {
        return Err(SshPrivateKeyError::Damaged);
    }
    Ok(decrypted)
}

/// The PEM formats, through `russh::keys::decode_secret_key`.
fn read_pem(
    text: &str,
    label: &str,
    passphrase: Option<&str>,
) -> Result<PrivateKey, SshPrivateKeyError> {
    let legacy_encrypted = text.lines().any(|l| l == "Proc-Type: 4,ENCRYPTED");
    let encrypted = label == "ENCRYPTED PRIVATE KEY" || legacy_encrypted;
    if legacy_encrypted {
        // russh reads the legacy (OpenSSL "traditional") encryption only for RSA, and
        // only with AES-128-CBC.
        let aes128 = text
            .lines()
            .any(|l| l.starts_with("DEK-Info: AES-128-CBC,"));
        if label != "RSA PRIVATE KEY" || !aes128 {
            return Err(SshPrivateKeyError::UnsupportedEncryption);
        }
    }
    if !encrypted {
        return russh::keys::decode_secret_key(text, None).map_err(|_| SshPrivateKeyError::Damaged);
    }
    let passphrase = passphrase.ok_or(SshPrivateKeyError::PassphraseNeeded)?;
    // A wrong passphrase shows only as a failure to read what it decrypted to.
    russh::keys::decode_secret_key(text, Some(passphrase))
        .map_err(|_| SshPrivateKeyError::WrongPassphrase)
}

/// Applies the public-key rules (type, RSA size) to a key's public half, through the
/// same checks as pasted public keys, and refuses security-key types.
fn check_public(public: &ssh_key::PublicKey) -> Result<SshPublicKey, SshPrivateKeyError> {
    match public.algorithm() {
        Algorithm::Ed25519 | Algorithm::Ecdsa { .. } | Algorithm::Rsa { .. } => {}
        Algorithm::Dsa => return Err(SshPrivateKeyError::Dsa),
        Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256 => {
            return Err(SshPrivateKeyError::SecurityKey);
        }
        _ => return Err(SshPrivateKeyError::UnsupportedType),
    }
    let blob = public.to_bytes().map_err(|_| SshPrivateKeyError::Damaged)?;
    let line = format!("{} {}", public.algorithm().as_str(), STANDARD.encode(blob));
    let parsed = SshPublicKey::parse(&line).map_err(|e| match e {
        SshKeyError::Dsa => SshPrivateKeyError::Dsa,
        SshKeyError::RsaTooSmall { bits } => SshPrivateKeyError::RsaTooSmall { bits },
        SshKeyError::RsaTooLarge { bits } => SshPrivateKeyError::RsaTooLarge { bits },
        SshKeyError::UnsupportedType(_) => SshPrivateKeyError::UnsupportedType,
        _ => SshPrivateKeyError::Damaged,
    })?;
    debug_assert_eq!(
        parsed.fingerprint(),
        public.fingerprint(HashAlg::Sha256).to_string()
    );
    Ok(parsed)
}
