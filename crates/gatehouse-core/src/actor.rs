//! Who is acting and with which permissions, whatever credential they used.

use std::sync::Arc;

use crate::account::Account;
use crate::error::{Error, Result};
use crate::ids::{ApiKeyId, TokenId};
use crate::scope::Scopes;

/// An authenticated caller, as the use cases see it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The account, shared: every cached credential of one account points at one copy.
    pub user: Arc<Account>,
    /// What this credential may do.
    pub scopes: Scopes,
    /// The credential used.
    pub credential: Credential,
    /// When that credential stops working, for credentials that may mint others (keys
    /// and tokens): what they mint may not outlive them. `None` for sessions and
    /// non-expiring keys.
    pub expires_at: Option<time::OffsetDateTime>,
}

/// Who is calling: the credential behind an actor, said once (the web layer keeps the
/// matching principal beside it; nothing else repeats the fact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session (or a password sign-in from the CLI).
    Session,
    /// An API key.
    ApiKey(ApiKeyId),
    /// A bearer token.
    Token(TokenId),
}

impl Credential {
    /// The id recorded as the parent of a credential this one mints (`None` for a
    /// session: it stands for the account itself).
    pub fn credential_id(&self) -> Option<String> {
        match self {
            Credential::Session => None,
            Credential::ApiKey(k) => Some(k.0.clone()),
            Credential::Token(t) => Some(t.0.clone()),
        }
    }

    /// The one rendering of the credential's kind: the factor in the audit trail, the
    /// `created_via` of a token, the `auth_method` of the session JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Session => "session",
            Credential::ApiKey(_) => "api_key",
            Credential::Token(_) => "token",
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

    /// Fails unless the credential holds one of `scopes`; the error names the first,
    /// the one the route documents (a read route also accepts the matching write).
    pub fn require_any(&self, scopes: &[&str]) -> Result<()> {
        if scopes.iter().any(|s| self.scopes.contains(s)) {
            return Ok(());
        }
        self.require(scopes.first().copied().unwrap_or_default())
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

impl Actor {
    /// The expiry of a credential this actor mints that asked for `wanted`: never later
    /// than the actor's own credential (SECURITY: a child never outlives its parent, so
    /// a 1-hour token cannot make a key that lasts forever). Later requests are clamped,
    /// not refused, since key lifetimes come in whole days and token ones in hours.
    pub fn clamp_expiry(
        &self,
        wanted: Option<time::OffsetDateTime>,
    ) -> Option<time::OffsetDateTime> {
        match (wanted, self.expires_at) {
            (Some(w), Some(limit)) => Some(w.min(limit)),
            (None, limit) => limit,
            (w, None) => w,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use time::macros::datetime;

    fn actor(credential: Credential, expires_at: Option<time::OffsetDateTime>) -> Actor {
        Actor {
            user: Arc::new(Account {
                id: crate::ids::AccountId("usr_1".into()),
                org_id: crate::ids::OrgId("org_1".into()),
                username: "alice".into(),
                email: "alice@example.org".into(),
                display_name: "Alice".into(),
                role: crate::account::Role::Member,
                operator: false,
                kind: crate::account::AccountKind::Person,
                disabled: false,
                created_at: datetime!(2026-01-01 0:00 UTC),
            }),
            scopes: Scopes::default(),
            credential,
            expires_at,
        }
    }

    #[test]
    fn a_minted_credential_never_outlives_the_one_that_mints_it() {
        let soon = datetime!(2026-01-01 1:00 UTC);
        let later = datetime!(2026-01-08 0:00 UTC);
        let token = actor(
            Credential::Token(crate::ids::TokenId("tok_1".into())),
            Some(soon),
        );
        assert_eq!(
            token.clamp_expiry(None),
            Some(soon),
            "never-expiring asks are clamped"
        );
        assert_eq!(token.clamp_expiry(Some(later)), Some(soon));
        let sooner = datetime!(2026-01-01 0:30 UTC);
        assert_eq!(token.clamp_expiry(Some(sooner)), Some(sooner));
        let session = actor(Credential::Session, None);
        assert_eq!(
            session.clamp_expiry(None),
            None,
            "a session is the account itself"
        );
        assert_eq!(session.clamp_expiry(Some(later)), Some(later));
        assert_eq!(session.credential.credential_id(), None);
        assert_eq!(token.credential.credential_id().as_deref(), Some("tok_1"));
    }
}
