//! A stored SSH private key's metadata, its name and description, and the context its
//! sealed value is bound to.

use time::OffsetDateTime;

use super::SshPrivateKey;
use crate::error::Result;
use crate::ids::{AccountId, SshPrivateKeyId};

/// A key's name: 1–64 visible characters, unique per account (the rules of
/// [`crate::name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPrivateKeyName(String);

impl SshPrivateKeyName {
    /// Validates and trims a name (the same rules as every other credential's).
    pub fn parse(raw: &str) -> Result<Self> {
        crate::name::parse("name", raw).map(SshPrivateKeyName)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Validates an optional description (at most 500 characters, the label rules).
pub fn parse_description(raw: Option<&str>) -> Result<Option<String>> {
    crate::name::parse_description("description", raw)
}

/// The additional data a key's sealed value is bound to: its purpose, owner and id, so
/// a sealed value copied onto another row (or another account's) does not open.
pub fn seal_context(owner: &AccountId, id: &SshPrivateKeyId) -> String {
    format!("ssh-private-key:{owner}:{id}")
}

/// An SSH private key on an account: everything but the key itself, which the store
/// keeps sealed in its own column and hands out only through
/// `SshPrivateKeyStore::sealed_ssh_private_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPrivateKeyRecord {
    /// Id.
    pub id: SshPrivateKeyId,
    /// Owner.
    pub user_id: AccountId,
    /// Unique per owner.
    pub name: String,
    /// What the owner says it is for.
    pub description: Option<String>,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ….
    pub key_type: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it; unique per owner.
    pub fingerprint: String,
    /// The public half, `<type> <base64 blob>` (not a secret: shown for copying).
    pub public_key: String,
    /// When it was uploaded.
    pub created_at: OffsetDateTime,
    /// When the platform last signed with it (`None`: never).
    pub last_used_at: Option<OffsetDateTime>,
}

impl SshPrivateKeyRecord {
    /// A record for a parsed key.
    pub fn new(
        id: SshPrivateKeyId,
        user_id: AccountId,
        name: SshPrivateKeyName,
        description: Option<String>,
        key: &SshPrivateKey,
        created_at: OffsetDateTime,
    ) -> Self {
        SshPrivateKeyRecord {
            id,
            user_id,
            name: name.0,
            description,
            key_type: key.key_type().as_str().to_owned(),
            fingerprint: key.fingerprint().to_owned(),
            public_key: key.public_key().to_owned(),
            created_at,
            last_used_at: None,
        }
    }
}

/// A host key an account's owner confirmed for `host:port` (trust on first use), which
/// later connection tests must see again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedHostKey {
    /// As the owner typed it, lowercased.
    pub host: String,
    /// The SSH port.
    pub port: u16,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512`, ….
    pub key_type: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `<type> <base64 blob>`.
    pub public_key: String,
    /// When it was confirmed.
    pub pinned_at: OffsetDateTime,
}
