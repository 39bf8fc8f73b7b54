//! API keys: machine credentials used as HTTP Basic (key as the username, empty
//! password). Only the SHA-256 of a key is stored.

mod cache;
mod format;

pub use cache::{ApiKeyCache, DEFAULT_CAPACITY, KeyRate, KeyRefusal};
pub use format::{ApiKeySecret, DISPLAY_LEN, KEY_LEN, PREFIX, is_well_formed};

use std::sync::Arc;

use time::OffsetDateTime;

use crate::account::Account;
use crate::error::Result;
use crate::ids::{AccountId, ApiKeyId};
use crate::scope::Scopes;
use crate::secret::TokenHash;

/// A key's name: 1–64 visible characters, unique per user (the rules of [`crate::name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    /// Validates and trims a name.
    pub fn parse(raw: &str) -> Result<Self> {
        crate::name::parse("name", raw).map(ApiKeyName)
    }

    /// The name a duplicate gets when none is given: the original's, cut to fit, with
    /// " (copy)".
    pub fn copy_of(original: &str) -> Result<Self> {
        let base: String = original.chars().take(57).collect();
        Self::parse(&format!("{base} (copy)"))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who holds a key and what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyKind {
    /// A member's own key, acting as that member.
    Personal,
    /// A "Public API Key": owned by the organisation (its principal), with the
    /// permissions an administrator chose. It outlives whoever created it.
    Public,
    /// The organisation's one "Team Computer Key", which its clusters use to read its
    /// members' SSH public keys.
    TeamComputer,
    /// The organisation's one "SCIM Key", good only for its SCIM endpoints.
    Scim,
}

impl ApiKeyKind {
    /// The stored and API form.
    pub fn as_str(&self) -> &'static str {
        match self {
            ApiKeyKind::Personal => "personal",
            ApiKeyKind::Public => "public",
            ApiKeyKind::TeamComputer => "team_computer",
            ApiKeyKind::Scim => "scim",
        }
    }

    /// Parses the stored and API form.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "personal" => Ok(ApiKeyKind::Personal),
            "public" => Ok(ApiKeyKind::Public),
            "team_computer" => Ok(ApiKeyKind::TeamComputer),
            "scim" => Ok(ApiKeyKind::Scim),
            _ => Err(crate::Error::invalid(
                "type",
                "must be personal, public, team_computer or scim",
            )),
        }
    }

    /// The label the platform's documentation uses.
    pub fn label(&self) -> &'static str {
        match self {
            ApiKeyKind::Personal => "API Key",
            ApiKeyKind::Public => "Public API Key",
            ApiKeyKind::TeamComputer => "Team Computer Key",
            ApiKeyKind::Scim => "SCIM Key",
        }
    }

    /// Whether the organisation (not a member) holds keys of this kind.
    pub fn is_org_owned(&self) -> bool {
        !matches!(self, ApiKeyKind::Personal)
    }
}

/// A key as stored (without its secret, which is never kept).
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    /// Id.
    pub id: ApiKeyId,
    /// Owner: a member, or the organisation's principal for organisation keys.
    pub user_id: AccountId,
    /// What the key is.
    pub kind: ApiKeyKind,
    /// Unique per owner.
    pub name: String,
    /// `gwk_` and the first random characters, for recognising a key in a list.
    pub display_prefix: String,
    /// SHA-256 of the key.
    pub key_hash: TokenHash,
    /// What the key may do.
    pub permissions: Scopes,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// The username that made it.
    pub created_by: String,
    /// When it stops working (`None`: never).
    pub expires_at: Option<OffsetDateTime>,
    /// Last use (coalesced in memory; see [`ApiKeyCache`]).
    pub last_used_at: Option<OffsetDateTime>,
    /// Address of the last use.
    pub last_used_ip: Option<String>,
    /// User agent of the last use.
    pub last_used_user_agent: Option<String>,
    /// Disabled keys get 401 until re-enabled.
    pub enabled: bool,
    /// The API key or token that made this key (`None`: a session, i.e. the account
    /// itself). Ending that credential revokes this key.
    pub parent_id: Option<String>,
    /// When the key was revoked because its parent ended; a revoked key stays disabled
    /// for good.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A buffered record of use, flushed in batches.
#[derive(Debug, Clone)]
pub struct KeyUsage {
    /// Which key.
    pub id: ApiKeyId,
    /// When.
    pub at: OffsetDateTime,
    /// From where.
    pub ip: Option<std::net::IpAddr>,
    /// With what.
    pub user_agent: Option<String>,
}

/// A request authenticated by an API key. Built once when the key is cached, and small:
/// the key's id, owner, permissions and expiry are read from its [`Actor`], whose owner
/// and permission set are shared with every other cached key that has them (see
/// [`ApiKeyCache`]).
///
/// [`Actor`]: crate::actor::Actor
#[derive(Debug, Clone)]
pub struct ApiKeyPrincipal {
    /// The key's name.
    pub name: Box<str>,
    /// What kind of key it is (the SCIM endpoints take only the SCIM Key).
    pub kind: ApiKeyKind,
    /// The actor this key acts as: the owner, the key's effective permissions (limited
    /// to what the owner may still hold), the key's id and expiry.
    pub actor: Arc<crate::actor::Actor>,
}

/// The id [`ApiKeyPrincipal::key_id`] answers for an actor that is not a key's (never
/// built so).
static NO_KEY: ApiKeyId = ApiKeyId(String::new());

impl ApiKeyPrincipal {
    /// The key's id.
    pub fn key_id(&self) -> &ApiKeyId {
        match &self.actor.credential {
            crate::actor::Credential::ApiKey(id) => id,
            _ => &NO_KEY,
        }
    }

    /// The owner.
    pub fn user(&self) -> &Account {
        &self.actor.user
    }

    /// Effective permissions: the key's, limited to what the owner may still hold.
    pub fn permissions(&self) -> &Scopes {
        &self.actor.scopes
    }

    /// The key's expiry.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.actor.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_trimmed_bounded_and_single_line() {
        assert_eq!(
            ApiKeyName::parse("  ci deploy ").expect("ok").as_str(),
            "ci deploy"
        );
        assert!(ApiKeyName::parse("").is_err());
        assert!(ApiKeyName::parse("a\nb").is_err());
        assert!(ApiKeyName::parse(&"x".repeat(65)).is_err());
    }
}
