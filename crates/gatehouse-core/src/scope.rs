//! Permissions ("scopes") carried by every credential: the typed names the use cases
//! check, their catalogue, and sets of them.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::{Error, Result};

/// Read your account and session details.
pub const ACCOUNT_READ: &str = "account:read";
/// List your API keys.
pub const API_KEYS_READ: &str = "api_keys:read";
/// Create, disable, duplicate and delete your API keys.
pub const API_KEYS_WRITE: &str = "api_keys:write";
/// Issue and revoke your tokens.
pub const TOKENS_WRITE: &str = "tokens:write";
/// List your SSH public keys.
pub const SSH_KEYS_READ: &str = "ssh_keys:read";
/// Add and delete your SSH public keys.
pub const SSH_KEYS_WRITE: &str = "ssh_keys:write";
/// Read every user's SSH public keys (the cluster machine credential).
pub const SSH_KEYS_READ_ALL: &str = "ssh_keys:read_all";
/// List your stored SSH private keys (their public halves and fingerprints only).
pub const SSH_PRIVATE_KEYS_READ: &str = "ssh_private_keys:read";
/// Upload and delete your stored SSH private keys.
pub const SSH_PRIVATE_KEYS_WRITE: &str = "ssh_private_keys:write";
/// Have the platform sign with your stored SSH private keys.
pub const SSH_PRIVATE_KEYS_USE: &str = "ssh_private_keys:use";
/// Have the platform sign with any account's stored SSH private keys (administrators).
pub const SSH_PRIVATE_KEYS_USE_ALL: &str = "ssh_private_keys:use_all";

/// List the organisation's members, their roles and status.
pub const ORG_MEMBERS_READ: &str = "org:members:read";
/// Add members, change roles, disable and enable members, reset their 2-step verification.
pub const ORG_MEMBERS_WRITE: &str = "org:members:write";
/// List every key of the organisation: members' API keys, Public API Keys, the Team
/// Computer Key and the SCIM key.
pub const ORG_KEYS_READ: &str = "org:keys:read";
/// Create, duplicate, disable and delete the organisation's keys, and disable or delete
/// members' API keys.
pub const ORG_KEYS_WRITE: &str = "org:keys:write";
/// Read and export the organisation's audit log.
pub const ORG_AUDIT_READ: &str = "org:audit:read";
/// Change the organisation's credential policies.
pub const ORG_POLICY_WRITE: &str = "org:policy:write";
/// Provision the organisation's accounts through SCIM (the SCIM key's only permission).
pub const SCIM_PROVISION: &str = "scim:provision";

/// The organisation scopes: administrators hold them, and the organisation's Public API
/// Keys may carry them.
pub const ORG_SCOPES: &[&str] = &[
    ORG_MEMBERS_READ,
    ORG_MEMBERS_WRITE,
    ORG_KEYS_READ,
    ORG_KEYS_WRITE,
    ORG_AUDIT_READ,
    ORG_POLICY_WRITE,
];

/// What the Team Computer Key may do: read its own organisation's members' SSH public
/// keys, for sshd's `AuthorizedKeysCommand` on the organisation's clusters.
pub const TEAM_COMPUTER_KEY_SCOPES: &[&str] = &[SSH_KEYS_READ_ALL];

/// Gatehouse's own scopes. Platform scopes are added by configuration.
pub const BUILTIN_SCOPES: &[(&str, &str)] = &[
    (ACCOUNT_READ, "read your account and session details"),
    (API_KEYS_READ, "list your API keys"),
    (
        API_KEYS_WRITE,
        "create, disable, duplicate and delete your API keys",
    ),
    (TOKENS_WRITE, "issue and revoke your short-lived tokens"),
    (SSH_KEYS_READ, "list your SSH public keys"),
    (SSH_KEYS_WRITE, "add and delete your SSH public keys"),
    (
        SSH_PRIVATE_KEYS_READ,
        "list your stored SSH private keys (public halves and fingerprints only)",
    ),
    (
        SSH_PRIVATE_KEYS_WRITE,
        "upload and delete your stored SSH private keys",
    ),
    (
        SSH_PRIVATE_KEYS_USE,
        "have the platform sign with your stored SSH private keys",
    ),
    (
        SIGN_OUT_EVERYWHERE,
        "sign out everywhere: end every session and revoke every token of your account",
    ),
    (
        SSH_KEYS_READ_ALL,
        "read every user's SSH public keys (cluster machine credential; administrators only)",
    ),
    (
        SSH_PRIVATE_KEYS_USE_ALL,
        "have the platform sign with any account's stored SSH private keys (administrators only)",
    ),
    (
        ORG_MEMBERS_READ,
        "list your organisation's members (administrators only)",
    ),
    (
        ORG_MEMBERS_WRITE,
        "add, disable and re-enable members, change roles, reset 2-step verification (administrators only)",
    ),
    (
        ORG_KEYS_READ,
        "list every key of your organisation (administrators only)",
    ),
    (
        ORG_KEYS_WRITE,
        "create, disable and delete your organisation's keys and members' API keys (administrators only)",
    ),
    (
        ORG_AUDIT_READ,
        "read and export your organisation's audit log (administrators only)",
    ),
    (
        ORG_POLICY_WRITE,
        "change your organisation's credential policies (administrators only)",
    ),
];

/// The permission to sign an account out everywhere (every session and token).
pub const SIGN_OUT_EVERYWHERE: &str = "sessions:revoke_all";

/// Scopes only administrators may hold (and the organisation scopes of [`ORG_SCOPES`]).
pub const ADMIN_ONLY_SCOPES: &[&str] = &[
    SSH_KEYS_READ_ALL,
    SSH_PRIVATE_KEYS_USE_ALL,
    ORG_MEMBERS_READ,
    ORG_MEMBERS_WRITE,
    ORG_KEYS_READ,
    ORG_KEYS_WRITE,
    ORG_AUDIT_READ,
    ORG_POLICY_WRITE,
];

/// What a new key gets when the request names no permissions.
pub const DEFAULT_KEY_SCOPES: &[&str] = &[ACCOUNT_READ];

/// A set of scope names. Cloning shares the set (one reference count), so the many
/// credentials cached with the same permissions can hold one copy (see
/// [`crate::api_key::ApiKeyCache`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Arc<BTreeSet<String>>);

impl Scopes {
    /// Builds a set from names, without validation.
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        Scopes(Arc::new(names.into_iter().map(Into::into).collect()))
    }

    /// Whether the set contains `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope of `other` is in this set.
    pub fn covers(&self, other: &Scopes) -> bool {
        other.0.is_subset(&self.0)
    }

    /// The scopes of `other` missing here.
    pub fn missing<'a>(&'a self, other: &'a Scopes) -> Vec<&'a str> {
        other.0.difference(&self.0).map(String::as_str).collect()
    }

    /// Intersection.
    pub fn intersect(&self, other: &Scopes) -> Scopes {
        Scopes(Arc::new(self.0.intersection(&other.0).cloned().collect()))
    }

    /// Iterates in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Space-separated, the stored and the JWT `scope` form.
    pub fn to_space_separated(&self) -> String {
        self.iter().collect::<Vec<_>>().join(" ")
    }

    /// Parses the stored form.
    pub fn from_space_separated(s: &str) -> Self {
        Scopes::of(s.split_whitespace())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether another value shares this set (an interner drops the sets only it holds).
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }
}

/// The catalogue of scopes this deployment knows.
#[derive(Debug, Clone)]
pub struct ScopeCatalog {
    platform: Vec<String>,
}

impl ScopeCatalog {
    /// Built-in scopes plus the platform's (validated: `name:action`, lowercase).
    pub fn new(platform: &[String]) -> Result<Self> {
        for s in platform {
            let ok = s.len() <= 64
                && s.split_once(':')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                && s.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || matches!(c, ':' | '_' | '-' | '.')
                });
            if !ok {
                return Err(Error::invalid(
                    "platform_scopes",
                    format!("{s:?} is not a valid scope name"),
                ));
            }
        }
        Ok(ScopeCatalog {
            platform: platform.to_vec(),
        })
    }

    /// Every scope name with its description.
    pub fn all(&self) -> Vec<(String, String)> {
        BUILTIN_SCOPES
            .iter()
            .map(|(n, d)| ((*n).to_owned(), (*d).to_owned()))
            .chain(
                self.platform
                    .iter()
                    .map(|n| (n.clone(), "platform scope (configured)".to_owned())),
            )
            .collect()
    }

    /// The scopes an account's credentials may hold: for an owner or admin every scope,
    /// for a member everything but the admin-only ones; for an organisation's own
    /// principal (its keys) the organisation scopes, reading its members' SSH keys, SCIM
    /// and the platform's scopes, and none of a person's.
    pub fn for_account(&self, account: &crate::account::Account) -> Scopes {
        if account.kind == crate::account::AccountKind::Org {
            return Scopes::of(
                ORG_SCOPES
                    .iter()
                    .chain(TEAM_COMPUTER_KEY_SCOPES)
                    .chain([SCIM_PROVISION].iter())
                    .map(|s| (*s).to_owned())
                    .chain(self.platform.iter().cloned()),
            );
        }
        self.for_person(account.is_admin())
    }

    /// What a session of a person with `role` holds.
    pub fn for_role(&self, role: crate::account::Role) -> Scopes {
        self.for_person(role != crate::account::Role::Member)
    }

    fn for_person(&self, is_admin: bool) -> Scopes {
        Scopes::of(
            BUILTIN_SCOPES
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| is_admin || !ADMIN_ONLY_SCOPES.contains(n))
                .map(str::to_owned)
                .chain(self.platform.iter().cloned()),
        )
    }

    /// The permissions a Public API Key may carry: the organisation scopes, reading the
    /// members' SSH public keys, and the platform's scopes; with descriptions.
    pub fn org_key_catalog(&self) -> Vec<(String, String)> {
        self.all()
            .into_iter()
            .filter(|(n, _)| {
                ORG_SCOPES.contains(&n.as_str())
                    || n == SSH_KEYS_READ_ALL
                    || self.platform.contains(n)
            })
            .collect()
    }

    /// Validates the permissions requested for a Public API Key (at least one, each from
    /// [`ScopeCatalog::org_key_catalog`]).
    pub fn parse_org_key_request(&self, requested: &[String]) -> Result<Scopes> {
        let known: Vec<String> = self.org_key_catalog().into_iter().map(|(n, _)| n).collect();
        if requested.is_empty() {
            return Err(Error::invalid(
                "permissions",
                "must name at least one permission",
            ));
        }
        for n in requested {
            if !known.contains(n) {
                return Err(Error::invalid(
                    "permissions",
                    format!("{n:?} is not a permission an organisation key can carry"),
                ));
            }
        }
        Ok(Scopes::of(requested.iter().cloned()))
    }

    /// Validates requested names; `None` means the default set.
    pub fn parse_request(&self, requested: Option<&[String]>) -> Result<Scopes> {
        let Some(names) = requested else {
            return Ok(Scopes::of(DEFAULT_KEY_SCOPES.iter().copied()));
        };
        let known = self.for_person(true);
        for n in names {
            if !known.contains(n) {
                return Err(Error::invalid(
                    "permissions",
                    format!("unknown permission {n:?}"),
                ));
            }
        }
        if names.is_empty() {
            return Err(Error::invalid(
                "permissions",
                "must name at least one permission",
            ));
        }
        Ok(Scopes::of(names.iter().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_never_hold_admin_only_scopes() {
        let c = ScopeCatalog::new(&["compute:run".into()]).expect("catalog");
        assert!(!c.for_person(false).contains("ssh_keys:read_all"));
        assert!(c.for_person(true).contains("ssh_keys:read_all"));
        assert!(!c.for_person(false).contains("ssh_private_keys:use_all"));
        assert!(c.for_person(true).contains("ssh_private_keys:use_all"));
        assert!(c.for_person(false).contains("ssh_private_keys:use"));
        assert!(c.for_person(false).contains("compute:run"));
        for s in ORG_SCOPES {
            assert!(!c.for_person(false).contains(s), "{s}");
            assert!(c.for_person(true).contains(s), "{s}");
        }
        assert!(!c.for_person(true).contains(SCIM_PROVISION));
    }

    #[test]
    fn organisation_keys_carry_organisation_and_platform_scopes_only() {
        let c = ScopeCatalog::new(&["compute:run".into()]).expect("catalog");
        assert!(
            c.parse_org_key_request(&["org:keys:read".into(), "compute:run".into()])
                .is_ok()
        );
        assert!(c.parse_org_key_request(&["api_keys:write".into()]).is_err());
        assert!(c.parse_org_key_request(&[SCIM_PROVISION.into()]).is_err());
        assert!(c.parse_org_key_request(&[]).is_err());
    }

    #[test]
    fn requests_default_to_account_read_and_unknown_names_are_refused() {
        let c = ScopeCatalog::new(&[]).expect("catalog");
        assert_eq!(
            c.parse_request(None).expect("default"),
            Scopes::of(["account:read"])
        );
        assert!(c.parse_request(Some(&["nope:x".into()])).is_err());
        assert!(c.parse_request(Some(&[])).is_err());
        assert!(ScopeCatalog::new(&["Bad Scope".into()]).is_err());
    }

    #[test]
    fn covers_and_missing_compare_sets() {
        let big = Scopes::of(["a:r", "b:w"]);
        let small = Scopes::of(["a:r"]);
        assert!(big.covers(&small) && !small.covers(&big));
        assert_eq!(small.missing(&big), ["b:w"]);
        assert_eq!(Scopes::from_space_separated(&big.to_space_separated()), big);
    }
}
