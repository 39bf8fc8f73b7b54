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

mod policy;

pub use policy::{
    AccountCaps, KEY_EXPIRATIONS, KeyExpiration, OrgPolicy, POLICY_FIELDS, PolicyField,
};

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
}
