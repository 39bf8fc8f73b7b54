//! An organisation's policy for its members' credentials: API key expirations, token
//! lifetimes, the delete rule, 2-step verification, and per-account caps, with the
//! effect of each field said once for the admin panel, the API and the CLI.

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
    /// Per-account caps the organisation sets below the server's.
    pub caps: AccountCaps,
}

/// How many live credentials of each kind one account may hold, as the organisation
/// sets it: `None` leaves the server's cap; a number lower than the server's lowers it
/// (a higher one changes nothing: the server's cap always holds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountCaps {
    /// Live (unexpired, not deleted) API keys.
    pub api_keys: Option<u32>,
    /// Live tokens.
    pub tokens: Option<u32>,
    /// SSH public keys.
    pub ssh_keys: Option<u32>,
    /// Stored SSH private keys.
    pub ssh_private_keys: Option<u32>,
}

impl AccountCaps {
    /// The cap that applies: the lower of the server's and the organisation's.
    pub fn effective(org: Option<u32>, server: u64) -> u64 {
        org.map_or(server, |o| server.min(u64::from(o)))
    }

    /// Checks each cap is at least 1 (a cap of 0 would lock every member out of a
    /// credential kind; disabling a kind is not what a cap is for).
    fn validate(&self) -> crate::Result<()> {
        for (field, v) in [
            ("max_api_keys_per_account", self.api_keys),
            ("max_tokens_per_account", self.tokens),
            ("max_ssh_keys_per_account", self.ssh_keys),
            ("max_ssh_private_keys_per_account", self.ssh_private_keys),
        ] {
            if v == Some(0) {
                return Err(crate::Error::invalid(
                    field,
                    "must be at least 1, or empty for the server's limit",
                ));
            }
        }
        Ok(())
    }
}

/// One field of the policy as the admin panel, the API and the CLI explain it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PolicyField {
    /// The field's name in the API and the CLI flag (with `-` for `_`).
    pub name: &'static str,
    /// The form's label.
    pub label: &'static str,
    /// What the field does to members, in a sentence or two.
    pub effect: &'static str,
}

/// Every policy field, in the order the Policies form shows them.
pub const POLICY_FIELDS: &[PolicyField] = &[
    PolicyField {
        name: "api_key_expirations",
        label: "API key expirations allowed",
        effect: "The expirations members may pick when they create an API key. A key never outlives the credential that created it.",
    },
    PolicyField {
        name: "api_key_default_expiration",
        label: "Default API key expiration",
        effect: "Preselected in the Add API Key form, and used when an API request names none. Must be one of the allowed expirations.",
    },
    PolicyField {
        name: "api_key_user_choice",
        label: "Members choose the API key expiration",
        effect: "When off, every new key gets the default expiration and the form shows it as text.",
    },
    PolicyField {
        name: "token_max_hours",
        label: "Token maximum lifetime (hours)",
        effect: "The longest lifetime a new token may have, from 1 to 24 hours. Tokens already issued keep theirs.",
    },
    PolicyField {
        name: "token_default_hours",
        label: "Default token lifetime (hours)",
        effect: "Used when a token request names no lifetime, and preselected in the Tokens tab. At most the maximum.",
    },
    PolicyField {
        name: "token_user_choice",
        label: "Members choose the token lifetime",
        effect: "When off, every new token gets the default lifetime.",
    },
    PolicyField {
        name: "require_disable_before_delete",
        label: "Require disabling before deleting an API key",
        effect: "An enabled personal key cannot be deleted until it is disabled, so a key in use is not deleted by mistake. Organisation keys always need this.",
    },
    PolicyField {
        name: "require_mfa",
        label: "Require 2-Step Verification",
        effect: "A member without it who signs in can only set it up until it is done. API keys and tokens keep working.",
    },
    PolicyField {
        name: "enforce_security_key",
        label: "Enforce Security Key MFA",
        effect: "Every sign-in must finish with a security key or passkey; a member without one is sent to register one and can do nothing else.",
    },
    PolicyField {
        name: "passkey_sign_in",
        label: "Allow passkey sign-in",
        effect: "Members may sign in with a passkey alone, without their password.",
    },
    PolicyField {
        name: "security_key_models",
        label: "Approved security key models",
        effect: "AAGUIDs of the security key models members may register, comma-separated; empty allows any. New keys must prove their model by attestation.",
    },
    PolicyField {
        name: "max_api_keys_per_account",
        label: "API keys per account",
        effect: "The most live API keys one member may hold. Empty: the server's limit. It can only lower the server's limit.",
    },
    PolicyField {
        name: "max_tokens_per_account",
        label: "Live tokens per account",
        effect: "The most unexpired tokens one member may hold. Empty: the server's limit.",
    },
    PolicyField {
        name: "max_ssh_keys_per_account",
        label: "SSH keys per account",
        effect: "The most SSH public keys one member may register. Empty: the server's limit.",
    },
    PolicyField {
        name: "max_ssh_private_keys_per_account",
        label: "SSH private keys per account",
        effect: "The most SSH private keys one member may store. Empty: the server's limit.",
    },
];

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
            caps: AccountCaps::default(),
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
        self.caps.validate()?;
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

    /// The names (as in [`POLICY_FIELDS`]) of the fields that differ in `other`.
    pub fn changed_fields(&self, other: &OrgPolicy) -> Vec<&'static str> {
        let c = (&self.caps, &other.caps);
        [
            (
                "api_key_expirations",
                self.api_key_expirations != other.api_key_expirations,
            ),
            (
                "api_key_default_expiration",
                self.api_key_default_expiration != other.api_key_default_expiration,
            ),
            (
                "api_key_user_choice",
                self.api_key_user_choice != other.api_key_user_choice,
            ),
            (
                "token_max_hours",
                self.token_max_hours != other.token_max_hours,
            ),
            (
                "token_default_hours",
                self.token_default_hours != other.token_default_hours,
            ),
            (
                "token_user_choice",
                self.token_user_choice != other.token_user_choice,
            ),
            (
                "require_disable_before_delete",
                self.require_disable_before_delete != other.require_disable_before_delete,
            ),
            ("require_mfa", self.require_mfa != other.require_mfa),
            (
                "enforce_security_key",
                self.enforce_security_key != other.enforce_security_key,
            ),
            (
                "passkey_sign_in",
                self.passkey_sign_in != other.passkey_sign_in,
            ),
            (
                "security_key_models",
                self.security_key_models != other.security_key_models,
            ),
            ("max_api_keys_per_account", c.0.api_keys != c.1.api_keys),
            ("max_tokens_per_account", c.0.tokens != c.1.tokens),
            ("max_ssh_keys_per_account", c.0.ssh_keys != c.1.ssh_keys),
            (
                "max_ssh_private_keys_per_account",
                c.0.ssh_private_keys != c.1.ssh_private_keys,
            ),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
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
    fn every_policy_field_is_explained_once_and_caps_only_lower_the_servers() {
        let mut names: Vec<_> = POLICY_FIELDS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), POLICY_FIELDS.len());
        assert!(POLICY_FIELDS.iter().all(|f| !f.effect.is_empty()));
        assert_eq!(AccountCaps::effective(None, 100), 100);
        assert_eq!(AccountCaps::effective(Some(5), 100), 5);
        assert_eq!(AccountCaps::effective(Some(500), 100), 100);
        let p = OrgPolicy {
            caps: AccountCaps {
                tokens: Some(0),
                ..AccountCaps::default()
            },
            ..OrgPolicy::default()
        };
        assert_eq!(
            OrgPolicy::default().changed_fields(&p),
            ["max_tokens_per_account"]
        );
        let err = p.validate().expect_err("0 locks members out");
        assert!(err.to_string().contains("max_tokens_per_account"), "{err}");
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
