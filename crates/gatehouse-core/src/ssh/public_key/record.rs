//! An SSH key as stored, and its name.

use time::OffsetDateTime;

use super::SshPublicKey;
use crate::error::Result;
use crate::ids::{AccountId, SshKeyId};

/// A key's name: 1–64 visible characters, unique per user (the rules of [`crate::name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeyName(String);

impl SshKeyName {
    /// Validates and trims a name (the same rules as API key and token names).
    pub fn parse(raw: &str) -> Result<Self> {
        crate::name::parse("name", raw).map(SshKeyName)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An SSH public key on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeyRecord {
    /// Id.
    pub id: SshKeyId,
    /// Owner.
    pub user_id: AccountId,
    /// Unique per owner.
    pub name: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ….
    pub key_type: String,
    /// Key size in bits.
    pub bits: u32,
    /// `SHA256:…`, as `ssh-keygen -lf` prints it; unique per owner.
    pub fingerprint: String,
    /// `<type> <base64 blob>`.
    pub public_key: String,
    /// The normalised comment (may be empty).
    pub comment: String,
    /// When it was added.
    pub created_at: OffsetDateTime,
}

impl SshKeyRecord {
    /// A record for a parsed key.
    pub fn new(
        id: SshKeyId,
        user_id: AccountId,
        name: SshKeyName,
        key: &SshPublicKey,
        created_at: OffsetDateTime,
    ) -> Self {
        SshKeyRecord {
            id,
            user_id,
            name: name.0,
            key_type: key.key_type().as_str().to_owned(),
            bits: key.bits(),
            fingerprint: key.fingerprint(),
            public_key: key.public_key(),
            comment: key.comment().to_owned(),
            created_at,
        }
    }

    /// The key as one authorized_keys line (no options, no newline).
    pub fn authorized_keys_line(&self) -> String {
        if self.comment.is_empty() {
            self.public_key.clone()
        } else {
            format!("{} {}", self.public_key, self.comment)
        }
    }
}
