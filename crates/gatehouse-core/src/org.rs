//! Organisations: their edition, the roles of their members, and their policy for
//! members' credentials. Every account belongs to exactly one organisation.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::ids::OrgId;

/// The name of the organisation accounts join when none is named (and of the one an
/// existing install's accounts were moved into).
pub const DEFAULT_ORG_NAME: &str = "default";

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    /// Stable id.
    pub id: OrgId,
    /// Unique name.
    pub name: String,
    /// What the organisation's plan includes.
    pub edition: Edition,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An organisation's name: 2–64 characters of `a-z 0-9 . _ -`, starting with a letter or
/// digit (it appears in URLs of the platform and in command lines).
pub fn parse_org_name(raw: &str) -> Result<String> {
    crate::account::parse_slug(raw, 64).map_err(|_| {
        Error::invalid(
            "name",
            "must be 2 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    })
}

/// What an organisation's plan includes. The platform's documentation: "Access Controls
/// for API Keys is an Enterprise Level Feature, however Teams will be able to use this
/// page to generate a Team Computer Key."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Edition {
    /// The Keys page offers the Team Computer Key and the SCIM key.
    Team,
    /// Permission-scoped Public API Keys as well.
    Enterprise,
}

impl Edition {
    /// The stored and CLI form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Edition::Team => "team",
            Edition::Enterprise => "enterprise",
        }
    }

    /// Parses the stored and CLI form.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "team" => Ok(Edition::Team),
            "enterprise" => Ok(Edition::Enterprise),
            _ => Err(Error::invalid("edition", "must be team or enterprise")),
        }
    }

    /// Whether the organisation may own permission-scoped Public API Keys.
    pub fn has_public_api_keys(&self) -> bool {
        matches!(self, Edition::Enterprise)
    }
}

pub use crate::account::Role;

/// How long a new API key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyExpiration {
    /// Never expires.
    Never,
    /// Expires after this many days (7, 30, 60 or 90).
    Days(u32),
}

/// The expirations Gatehouse offers.
pub const KEY_EXPIRATIONS: [KeyExpiration; 5] = [
    KeyExpiration::Never,
    KeyExpiration::Days(7),
    KeyExpiration::Days(30),
    KeyExpiration::Days(60),
    KeyExpiration::Days(90),
];

impl KeyExpiration {
    /// From the API's `expires_in_days` (`None` = never).
    pub fn from_days(days: Option<u32>) -> crate::Result<Self> {
        let e = days.map_or(KeyExpiration::Never, KeyExpiration::Days);
        if KEY_EXPIRATIONS.contains(&e) {
            Ok(e)
        } else {
            Err(crate::Error::invalid(
                "expires_in_days",
                "must be null (no expiration), 7, 30, 60 or 90",
            ))
        }
    }

    /// The stored and CLI form: `none` or the number of days.
    pub fn as_code(&self) -> String {
        match self {
            KeyExpiration::Never => "none".into(),
            KeyExpiration::Days(d) => d.to_string(),
        }
    }

    /// Parses the stored and CLI form (`none`, `30`, `30d`).
    pub fn parse_code(s: &str) -> crate::Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("never") {
            return Ok(KeyExpiration::Never);
        }
        let days: u32 = s.trim_end_matches('d').parse().map_err(|_| {
            crate::Error::invalid("expiration", format!("{s:?} is not none, 7, 30, 60 or 90"))
        })?;
        Self::from_days(Some(days))
    }

    /// The days, or `None` for never.
    pub fn days(&self) -> Option<u32> {
        match self {
            KeyExpiration::Never => None,
            KeyExpiration::Days(d) => Some(*d),
        }
    }

    /// A human label.
    pub fn label(&self) -> String {
        match self {
            KeyExpiration::Never => "no expiration".into(),
            KeyExpiration::Days(d) => format!("{d} days"),
        }
    }
}

/// An organisation's rules for its members' credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPolicy {
    /// Expirations members may pick for API keys.
    pub api_key_expirations: Vec<KeyExpiration>,
    /// Whether members choose; if not, `api_key_default_expiration` always applies.
    pub api_key_user_choice: bool,
    /// The expiration used when none is given (or when members may not choose).
    pub api_key_default_expiration: KeyExpiration,
    /// Whether an enabled key must be disabled before it can be deleted.
    pub require_disable_before_delete: bool,
    /// The longest token lifetime members may pick, in hours (1–24).
    pub token_max_hours: u32,
    /// Whether members choose a token's lifetime; if not, `token_default_hours` applies.
    pub token_user_choice: bool,
    /// The token lifetime used when none is given (or when members may not choose).
    pub token_default_hours: u32,
    /// Whether members must use 2-step verification: one without it who signs in can
    /// only set it up until it is done.
    pub require_mfa: bool,
    /// "Enforce Security Key MFA": members must finish every sign-in with a security key
    /// or passkey; one without a key is sent to register one and can do nothing else.
    pub enforce_security_key: bool,
    /// Whether members may sign in with a passkey alone (no password).
    pub passkey_sign_in: bool,
    /// Approved security key models (AAGUIDs); empty means any. When set, a new key's
    /// attestation must verify and name one of them.
    pub security_key_models: Vec<webauthn_rs::prelude::Uuid>,
}

impl Default for OrgPolicy {
    fn default() -> Self {
        OrgPolicy {
            api_key_expirations: KEY_EXPIRATIONS.to_vec(),
            api_key_user_choice: true,
            api_key_default_expiration: KeyExpiration::Days(30),
            require_disable_before_delete: false,
            token_max_hours: crate::token::MAX_HOURS,
            token_user_choice: true,
            // The platform documentation promises 24 hours unless the organisation says otherwise.
            token_default_hours: 24,
            require_mfa: false,
            enforce_security_key: false,
            passkey_sign_in: true,
            security_key_models: Vec::new(),
        }
    }
}

impl OrgPolicy {
    /// Parses a list of approved security key models: AAGUIDs separated by commas, or
    /// `any` (or nothing) for no restriction.
    pub fn parse_models(list: &str) -> crate::Result<Vec<webauthn_rs::prelude::Uuid>> {
        let list = list.trim();
        if list.is_empty() || list.eq_ignore_ascii_case("any") {
            return Ok(Vec::new());
        }
        list.split(',')
            .map(|m| {
                webauthn_rs::prelude::Uuid::parse_str(m.trim()).map_err(|_| {
                    crate::Error::invalid(
                        "security_key_models",
                        format!(
                            "{:?} is not an AAGUID (like cb69481e-8ff7-4039-93ec-0a2729a154a8)",
                            m.trim()
                        ),
                    )
                })
            })
            .collect()
    }

    /// The stored and displayed form of the approved models (`""` for any).
    pub fn models_text(&self) -> String {
        self.security_key_models
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Checks a policy for consistency.
    pub fn validate(&self) -> crate::Result<()> {
        if self.api_key_expirations.is_empty() {
            return Err(crate::Error::invalid(
                "api_key_expirations",
                "must allow at least one expiration",
            ));
        }
        if !self
            .api_key_expirations
            .contains(&self.api_key_default_expiration)
        {
            return Err(crate::Error::invalid(
                "api_key_default_expiration",
                "must be one of the allowed expirations",
            ));
        }
        crate::token::Lifetime::hours(self.token_max_hours)
            .map_err(|_| crate::Error::invalid("token_max_hours", "must be from 1 to 24"))?;
        if !(1..=self.token_max_hours).contains(&self.token_default_hours) {
            return Err(crate::Error::invalid(
                "token_default_hours",
                format!(
                    "must be from 1 to the maximum token lifetime ({} hours), but is {}: \
                     set the default too (gatehouse admin policy --token-default-hours N)",
                    self.token_max_hours, self.token_default_hours
                ),
            ));
        }
        Ok(())
    }

    /// The lifetime a new token gets: `requested` is `None` when the request named none.
    pub fn resolve_token_lifetime(
        &self,
        requested: Option<crate::token::Lifetime>,
    ) -> crate::Result<crate::token::Lifetime> {
        let Some(wanted) = requested else {
            return crate::token::Lifetime::hours(self.token_default_hours);
        };
        if !self.token_user_choice && wanted.get() != self.token_default_hours {
            return Err(crate::Error::invalid(
                "expires_in_hours",
                format!(
                    "is set by your organisation to {} hours; leave it out",
                    self.token_default_hours
                ),
            ));
        }
        if wanted.get() > self.token_max_hours {
            return Err(crate::Error::invalid(
                "expires_in_hours",
                format!(
                    "your organisation allows tokens of at most {} hours",
                    self.token_max_hours
                ),
            ));
        }
        Ok(wanted)
    }

    /// The token lifetimes offered in the UI, in hours.
    pub fn offered_token_hours(&self) -> Vec<u32> {
        if self.token_user_choice {
            (crate::token::MIN_HOURS..=self.token_max_hours).collect()
        } else {
            vec![self.token_default_hours]
        }
    }

    /// The expiration a request gets: `requested` is `None` when the request named none.
    pub fn resolve_expiration(
        &self,
        requested: Option<KeyExpiration>,
    ) -> crate::Result<KeyExpiration> {
        let Some(wanted) = requested else {
            return Ok(self.api_key_default_expiration);
        };
        if !self.api_key_user_choice && wanted != self.api_key_default_expiration {
            return Err(crate::Error::invalid(
                "expires_in_days",
                format!(
                    "is set by your organisation to {}; leave it out",
                    self.api_key_default_expiration.label()
                ),
            ));
        }
        if !self.api_key_expirations.contains(&wanted) {
            let allowed: Vec<String> = self
                .api_key_expirations
                .iter()
                .map(KeyExpiration::label)
                .collect();
            return Err(crate::Error::invalid(
                "expires_in_days",
                format!(
                    "{} is not allowed by your organisation's policy (allowed: {})",
                    wanted.label(),
                    allowed.join(", ")
                ),
            ));
        }
        Ok(wanted)
    }

    /// The expirations offered in the UI.
    pub fn offered_expirations(&self) -> Vec<KeyExpiration> {
        if self.api_key_user_choice {
            KEY_EXPIRATIONS
                .iter()
                .copied()
                .filter(|e| self.api_key_expirations.contains(e))
                .collect()
        } else {
            vec![self.api_key_default_expiration]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_names_follow_the_username_rules_up_to_64_characters() {
        assert_eq!(
            parse_org_name(" Acme.Labs ").ok().as_deref(),
            Some("acme.labs")
        );
        assert!(parse_org_name(&"a".repeat(64)).is_ok());
        for bad in ["a", &"a".repeat(65), "-acme", "ac me", "acmé", "../x"] {
            let err = parse_org_name(bad).expect_err(bad);
            assert!(err.to_string().contains("2 to 64"), "{bad}: {err}");
        }
    }

    #[test]
    fn only_none_7_30_60_and_90_days_exist() {
        assert!(KeyExpiration::from_days(Some(30)).is_ok());
        assert!(KeyExpiration::from_days(None).is_ok());
        assert!(KeyExpiration::from_days(Some(31)).is_err());
        assert_eq!(
            KeyExpiration::parse_code("90d").ok(),
            Some(KeyExpiration::Days(90))
        );
        assert_eq!(
            KeyExpiration::parse_code("none").ok(),
            Some(KeyExpiration::Never)
        );
        assert!(KeyExpiration::parse_code("forever").is_err());
    }

    #[test]
    fn the_policy_limits_expirations_and_may_impose_its_default() {
        let mut p = OrgPolicy {
            api_key_expirations: vec![KeyExpiration::Days(7), KeyExpiration::Days(30)],
            api_key_default_expiration: KeyExpiration::Days(30),
            ..OrgPolicy::default()
        };
        assert_eq!(
            p.resolve_expiration(None).ok(),
            Some(KeyExpiration::Days(30))
        );
        assert_eq!(
            p.resolve_expiration(Some(KeyExpiration::Days(7))).ok(),
            Some(KeyExpiration::Days(7))
        );
        let err = p
            .resolve_expiration(Some(KeyExpiration::Never))
            .expect_err("not allowed");
        assert!(err.to_string().contains("not allowed"), "{err}");
        p.api_key_user_choice = false;
        assert!(p.resolve_expiration(Some(KeyExpiration::Days(7))).is_err());
        assert_eq!(p.offered_expirations(), vec![KeyExpiration::Days(30)]);
        p.api_key_default_expiration = KeyExpiration::Days(90);
        assert!(p.validate().is_err(), "default must be allowed");
    }

    #[test]
    fn the_default_policy_gives_a_token_24_hours_as_the_documentation_says() {
        let p = OrgPolicy::default();
        assert!(p.validate().is_ok());
        assert_eq!(
            p.resolve_token_lifetime(None).ok(),
            crate::token::Lifetime::hours(24).ok()
        );
    }

    #[test]
    fn the_policy_caps_token_lifetimes_and_may_impose_its_default() {
        use crate::token::Lifetime;
        let hours = |h| Lifetime::hours(h).expect("valid");
        let mut p = OrgPolicy {
            token_max_hours: 12,
            token_default_hours: 8,
            ..OrgPolicy::default()
        };
        assert!(p.validate().is_ok());
        assert_eq!(p.resolve_token_lifetime(None).ok(), Some(hours(8)));
        assert_eq!(
            p.resolve_token_lifetime(Some(hours(12))).ok(),
            Some(hours(12))
        );
        let err = p.resolve_token_lifetime(Some(hours(13))).expect_err("over");
        assert!(err.to_string().contains("at most 12 hours"), "{err}");
        assert_eq!(p.offered_token_hours(), (1..=12).collect::<Vec<_>>());
        p.token_user_choice = false;
        assert!(p.resolve_token_lifetime(Some(hours(2))).is_err());
        assert_eq!(
            p.resolve_token_lifetime(Some(hours(8))).ok(),
            Some(hours(8))
        );
        assert_eq!(p.offered_token_hours(), vec![8]);
        p.token_default_hours = 13;
        assert!(p.validate().is_err(), "default above the maximum");
        p.token_default_hours = 8;
        p.token_max_hours = 25;
        assert!(p.validate().is_err());
    }
}
