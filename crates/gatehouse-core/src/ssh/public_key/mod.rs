//! OpenSSH public keys (this module is hand-written: no maintained crate refuses each
//! malformed or dangerous paste with its own message in the user's words), as pasted from a `.pub` file or copied from one line of an
//! `authorized_keys` file.
//!
//! Users register SSH keys by pasting text into a form, so the parser is strict and every
//! refusal says, in words meant for the user, what to do instead. It accepts exactly one
//! line of the form `<type> <base64 blob> [comment]`, where the type is one of:
//!
//! - `ssh-ed25519` and `sk-ssh-ed25519@openssh.com`: a 32-byte key (the `sk-` form also
//!   carries the security key's application string);
//! - `ecdsa-sha2-nistp256`, `ecdsa-sha2-nistp384`, `ecdsa-sha2-nistp521` and
//!   `sk-ecdsa-sha2-nistp256@openssh.com`: the curve named inside the blob must match
//!   the type, and the point must be uncompressed (`0x04`) and exactly 65, 97 or 133
//!   bytes long;
//! - `ssh-rsa`: a non-empty public exponent and a modulus of 2048 to 16384 bits.
//!
//! The type before the blob must equal the type inside it, and the blob must be consumed
//! exactly: a short field or trailing bytes are refused. Base64 must be canonical, so a
//! parsed key always re-encodes to the text it came from.
//!
//! Refused outright, each with its own [`SshKeyError`]:
//! - empty input, and input over [`MAX_INPUT_LEN`] bytes (checked before anything else);
//! - private keys pasted by mistake (OpenSSH, PEM and PuTTY), and public keys in the SSH2
//!   or PEM formats, which `ssh-keygen -i` converts;
//! - control characters anywhere, newlines included: a newline inside a stored key would
//!   let one paste smuggle a second `authorized_keys` line. A single trailing `\n` or
//!   `\r\n`, as left by copying a whole file, is tolerated;
//! - `authorized_keys` options (`command="..."`, `from=...`, `no-pty`, ...): these are
//!   the server's policy, not the user's to set;
//! - DSA (deprecated, then removed from OpenSSH), RSA under 2048 bits, certificates and
//!   every other type.
//!
//! Curve points are checked for form and length, not for lying on the curve: keys are
//! stored, compared and fingerprinted here, never used to verify a signature.
//!
//! The comment (everything after the blob) is informational: runs of whitespace become
//! one space, and it is trimmed and cut to [`MAX_COMMENT_CHARS`] characters.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

mod error;
mod record;
#[cfg(test)]
mod tests;
mod wire;

pub use error::{BlobProblem, SshKeyError};
pub use record::{SshKeyName, SshKeyRecord};
use wire::{is_forbidden_char, normalise_comment, parse_blob, split_field, unknown_type};

/// Longest input looked at, in bytes. Checked before any other work.
pub const MAX_INPUT_LEN: usize = 16 * 1024;
/// Longest comment kept, in characters; longer comments are cut.
pub const MAX_COMMENT_CHARS: usize = 255;
/// Smallest accepted RSA modulus, in bits.
pub const MIN_RSA_BITS: u32 = 2048;
/// Largest RSA modulus accepted, in bits: the most OpenSSH itself will read.
pub const MAX_RSA_BITS: u32 = 16384;

/// How many characters of user-supplied text an error message repeats.
const MAX_ECHO_CHARS: usize = 40;

/// `authorized_keys` option names (`sshd(8)`, "AUTHORIZED_KEYS FILE FORMAT"), lowercase.
const OPTION_NAMES: &[&str] = &[
    "agent-forwarding",
    "cert-authority",
    "command",
    "environment",
    "expiry-time",
    "from",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-touch-required",
    "no-user-rc",
    "no-x11-forwarding",
    "permitlisten",
    "permitopen",
    "port-forwarding",
    "principals",
    "pty",
    "restrict",
    "tunnel",
    "user-rc",
    "verify-required",
    "x11-forwarding",
];

/// An accepted key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ecdsa-sha2-nistp256`.
    EcdsaP256,
    /// `ecdsa-sha2-nistp384`.
    EcdsaP384,
    /// `ecdsa-sha2-nistp521`.
    EcdsaP521,
    /// `ssh-rsa`, at least [`MIN_RSA_BITS`] bits.
    Rsa,
    /// `sk-ssh-ed25519@openssh.com`: Ed25519 on a FIDO security key.
    SkEd25519,
    /// `sk-ecdsa-sha2-nistp256@openssh.com`: ECDSA P-256 on a FIDO security key.
    SkEcdsaP256,
}

impl KeyType {
    const ALL: [KeyType; 7] = [
        KeyType::Ed25519,
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::EcdsaP521,
        KeyType::Rsa,
        KeyType::SkEd25519,
        KeyType::SkEcdsaP256,
    ];

    /// The type's name, as it appears in a `.pub` line and inside the blob.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ssh-ed25519",
            KeyType::EcdsaP256 => "ecdsa-sha2-nistp256",
            KeyType::EcdsaP384 => "ecdsa-sha2-nistp384",
            KeyType::EcdsaP521 => "ecdsa-sha2-nistp521",
            KeyType::Rsa => "ssh-rsa",
            KeyType::SkEd25519 => "sk-ssh-ed25519@openssh.com",
            KeyType::SkEcdsaP256 => "sk-ecdsa-sha2-nistp256@openssh.com",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated OpenSSH public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshPublicKey {
    key_type: KeyType,
    blob: Vec<u8>,
    comment: String,
    bits: u32,
}

impl SshPublicKey {
    /// Parses and validates one public key line; see the [module docs](self) for the rules.
    pub fn parse(input: &str) -> Result<SshPublicKey, SshKeyError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(SshKeyError::TooLong { len: input.len() });
        }
        if input.trim().is_empty() {
            return Err(SshKeyError::Empty);
        }
        if input.contains("PRIVATE KEY") || input.contains("PuTTY-User-Key-File") {
            return Err(SshKeyError::PrivateKey);
        }
        if input.contains("BEGIN SSH2 PUBLIC KEY") || input.contains("PUBLIC KEY-----") {
            return Err(SshKeyError::ForeignFormat);
        }
        let line = input
            .strip_suffix("\r\n")
            .or_else(|| input.strip_suffix('\n'))
            .unwrap_or(input);
        if line.chars().any(is_forbidden_char) {
            return Err(SshKeyError::ControlCharacter);
        }
        let line = line.trim_matches(' ');

        let (type_name, rest) = split_field(line);
        let key_type = match KeyType::from_name(type_name) {
            Some(t) => t,
            None => return Err(unknown_type(type_name)),
        };
        let (data, rest) = split_field(rest);
        if data.is_empty() {
            return Err(SshKeyError::MissingKeyData(key_type));
        }
        let blob = STANDARD
            .decode(data)
            .map_err(|_| SshKeyError::InvalidBase64)?;
        let bits = parse_blob(key_type, &blob)?;
        Ok(SshPublicKey {
            key_type,
            blob,
            comment: normalise_comment(rest),
            bits,
        })
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The key size as `ssh-keygen -l` reports it: 256 for Ed25519, the curve size for
    /// ECDSA, the modulus size for RSA.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The normalised comment; may be empty.
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The decoded wire-format blob.
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// `SHA256:` followed by the unpadded base64 of the blob's SHA-256, exactly as
    /// `ssh-keygen -lf` prints it.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(&self.blob);
        format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
    }

    /// `<type> <base64 blob>`: the key without its comment.
    pub fn public_key(&self) -> String {
        format!("{} {}", self.key_type, STANDARD.encode(&self.blob))
    }

    /// The key as one `authorized_keys` line, `<type> <base64>[ <comment>]`, without a
    /// trailing newline. Parsing it gives back an equal key.
    pub fn authorized_keys_line(&self) -> String {
        let mut line = self.public_key();
        if !self.comment.is_empty() {
            line.push(' ');
            line.push_str(&self.comment);
        }
        line
    }
}
