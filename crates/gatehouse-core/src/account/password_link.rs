//! A new member's one-time link to set their first password. There is no mail: the
//! admin who creates the member is shown the link once and hands it over. Only the
//! secret's SHA-256 is kept (it carries 256 random bits, so no slow hash is needed), and
//! the secret travels in the link's fragment (`/set-password#gsp_…`), which browsers
//! never send to a server, so it appears in no access log or `Referer`.

use secrecy::{ExposeSecret, SecretString};
use time::Duration;

use crate::secret::{TokenHash, random_token};

/// The fixed start of every set-password secret (pinned by a test: a scanner that finds
/// one in a paste knows what it is).
pub const PASSWORD_LINK_PREFIX: &str = "gsp_";

/// How long a link works: long enough to reach someone over a weekend.
pub const PASSWORD_LINK_LIFETIME: Duration = Duration::hours(72);

/// A freshly minted link secret; the only moment it exists in full.
pub struct PasswordLinkSecret(SecretString);

impl std::fmt::Debug for PasswordLinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordLinkSecret(…)")
    }
}

impl PasswordLinkSecret {
    /// Mints a new random secret.
    pub fn generate() -> Self {
        PasswordLinkSecret(SecretString::from(format!(
            "{PASSWORD_LINK_PREFIX}{}",
            random_token::<32>()
        )))
    }

    /// The secret, to show once (inside the link).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The stored hash.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.expose())
    }

    /// The hash of a presented secret, or `None` when it cannot be one (wrong prefix or
    /// length), so garbage never reaches the store.
    pub fn presented_hash(presented: &str) -> Option<TokenHash> {
        let p = presented.trim();
        (p.len() == PASSWORD_LINK_PREFIX.len() + 43 && p.starts_with(PASSWORD_LINK_PREFIX))
            .then(|| TokenHash::of(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_secrets_carry_the_pinned_prefix_and_only_their_shape_is_hashed() {
        assert_eq!(PASSWORD_LINK_PREFIX, "gsp_");
        let s = PasswordLinkSecret::generate();
        assert!(s.expose().starts_with("gsp_"));
        assert_eq!(
            PasswordLinkSecret::presented_hash(s.expose()),
            Some(s.hash())
        );
        assert_ne!(
            PasswordLinkSecret::generate().expose(),
            s.expose(),
            "fresh each time"
        );
        assert_eq!(PasswordLinkSecret::presented_hash("gsp_short"), None);
        assert_eq!(
            PasswordLinkSecret::presented_hash(&s.expose().replacen("gsp_", "gwk_", 1)),
            None
        );
        assert!(
            !format!("{s:?}").contains(&s.expose()[4..]),
            "Debug hides it"
        );
    }
}
