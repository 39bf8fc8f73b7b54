//! Who is acting and with which permissions, whatever credential they used.

use crate::account::User;
use crate::api_key::Scopes;
use crate::error::{Error, Result};
use crate::ids::{ApiKeyId, TokenId};

/// An authenticated caller, as the use cases see it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The account.
    pub user: User,
    /// What this credential may do.
    pub scopes: Scopes,
    /// The credential used.
    pub via: Via,
    /// When that credential stops working, for credentials that may mint others (keys
    /// and tokens): what they mint may not outlive them. `None` for sessions and
    /// non-expiring keys.
    pub expires_at: Option<time::OffsetDateTime>,
}

/// The kind of credential behind an actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session (or a password sign-in from the CLI).
    Session,
    /// An API key.
    ApiKey(ApiKeyId),
    /// A bearer token.
    Token(TokenId),
}

impl Via {
    /// The factor name recorded in the audit trail.
    pub fn factor(&self) -> &'static str {
        match self {
            Via::Session => "session",
            Via::ApiKey(_) => "api_key",
            Via::Token(_) => "token",
        }
    }
}

impl Actor {
    /// Fails with `InsufficientPermissions` unless the credential holds `scope`.
    pub fn require(&self, scope: &str) -> Result<()> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(Error::InsufficientPermissions(format!(
                "this credential lacks the {scope} permission"
            )))
        }
    }

    /// Fails unless the credential holds every scope in `wanted` (no privilege escalation
    /// when minting new credentials).
    pub fn require_all(&self, wanted: &Scopes) -> Result<()> {
        let missing = self.scopes.missing(wanted);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::InsufficientPermissions(format!(
                "a credential cannot grant permissions it does not have: {}",
                missing.join(", ")
            )))
        }
    }
}

/// A rendering of an immutable principal, made once by a front end and reused while the
/// principal stays cached (for example the JSON that describes the caller). The core never
/// reads it.
#[derive(Debug, Default, Clone)]
pub struct Memo(std::sync::OnceLock<std::sync::Arc<[u8]>>);

impl Memo {
    /// The rendering, computed on first use.
    pub fn get_or_init(&self, render: impl FnOnce() -> Vec<u8>) -> std::sync::Arc<[u8]> {
        self.0.get_or_init(|| render().into()).clone()
    }
}
