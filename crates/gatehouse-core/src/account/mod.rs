//! Accounts: validated names and addresses, and the user records built from them.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::ids::{AccountId, OrgId};

mod password_link;

pub use password_link::{PASSWORD_LINK_LIFETIME, PASSWORD_LINK_PREFIX, PasswordLinkSecret};

/// A username: 2–32 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
/// Usernames are case-insensitive, so the parsed form is lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Validates and lowercases a username.
    pub fn parse(raw: &str) -> Result<Self> {
        parse_slug(raw, 32).map(Username).map_err(|rule| {
            Error::invalid(
                "username",
                match rule {
                    SlugRule::Length => "must be 2 to 32 characters",
                    SlugRule::Charset => "may contain only letters, digits, '.', '_' and '-'",
                    SlugRule::Start => "must start with a letter or digit",
                },
            )
        })
    }

    /// The normalised username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule of [`parse_slug`] a name broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlugRule {
    /// Not 2 to `max` characters.
    Length,
    /// A character outside `a-z 0-9 . _ -`.
    Charset,
    /// Does not start with a letter or digit.
    Start,
}

/// The rules usernames and organisation names share (both appear in command lines and
/// paths): trimmed and lowercased, 2 to `max` characters of `a-z 0-9 . _ -`, starting with
/// a letter or digit.
pub(crate) fn parse_slug(raw: &str, max: usize) -> std::result::Result<String, SlugRule> {
    let s = raw.trim().to_ascii_lowercase();
    if !(2..=max).contains(&s.chars().count()) {
        return Err(SlugRule::Length);
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err(SlugRule::Charset);
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(SlugRule::Start);
    }
    Ok(s)
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, checked for shape only (delivery is not verified here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates an address and lowercases its domain.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        let bad = || Error::invalid("email", "must look like name@example.org");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty() || local.contains('@') || domain.len() < 3 || !domain.contains('.') {
            return Err(bad());
        }
        if domain.starts_with('.') || domain.ends_with('.') {
            return Err(bad());
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: up to 128 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Validates a display name, trimming surrounding space.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.is_empty() || s.chars().count() > 128 {
            return Err(Error::invalid(
                "display_name",
                "must be 1 to 128 characters",
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid(
                "display_name",
                "must not contain control characters",
            ));
        }
        Ok(DisplayName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The public view of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Stable id.
    pub id: AccountId,
    /// Lowercase login name.
    pub username: String,
    /// Contact address.
    pub email: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// The organisation the account belongs to.
    pub org_id: OrgId,
    /// The account's role there.
    pub role: Role,
    /// A server operator: may create organisations and move accounts between them.
    pub operator: bool,
    /// A person, or the organisation's own principal (which holds the keys the
    /// organisation owns and never signs in).
    pub kind: AccountKind,
    /// Disabled accounts cannot authenticate by any means.
    pub disabled: bool,
    /// When the account was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Account {
    /// Whether the account runs its organisation (an owner or an admin, never the
    /// organisation's principal).
    pub fn is_admin(&self) -> bool {
        self.kind == AccountKind::Person && self.role.is_admin()
    }
}

/// A member's role in their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the organisation, including who else is an owner. An organisation always keeps
    /// at least one active owner.
    Owner,
    /// Runs members, keys and policies, but cannot make or unmake owners.
    Admin,
    /// Manages their own credentials only.
    Member,
}

impl Role {
    /// The stored and API form.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Parses the stored and API form.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(Error::invalid("role", "must be owner, admin or member")),
        }
    }

    /// Owners and admins run the organisation: its admin panel, its keys, its policy.
    pub fn is_admin(&self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// What an account stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// A person, who signs in.
    Person,
    /// An organisation's own principal: the holder of its Public API Keys, its Team
    /// Computer Key and its SCIM key, so they belong to the organisation and outlive
    /// whoever created them. It has no password and is never listed as a member.
    Org,
}

impl AccountKind {
    /// The stored form.
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountKind::Person => "person",
            AccountKind::Org => "org",
        }
    }
}

/// An account as stored, including its password hash (never leaves the core).
#[derive(Clone)]
pub struct AccountRecord {
    /// The public part.
    pub user: Account,
    /// argon2id PHC string, or `None` for accounts without a password.
    pub password_hash: Option<String>,
    /// Tokens issued before this time are void ("sign out everywhere", disabling).
    pub tokens_not_before: Option<OffsetDateTime>,
}

/// What the store needs to insert an account.
#[derive(Clone)]
pub struct NewAccountRecord {
    /// The new account's id.
    pub id: AccountId,
    /// Validated username.
    pub username: Username,
    /// Validated email.
    pub email: Email,
    /// Validated display name.
    pub display_name: DisplayName,
    /// Owning organisation.
    pub org_id: OrgId,
    /// argon2id PHC string; `None` for a member an admin created, until they set one
    /// through their one-time link (no password can sign in meanwhile).
    pub password_hash: Option<String>,
    /// The account's role in its organisation.
    pub role: Role,
    /// Whether the account is a server operator.
    pub operator: bool,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// A plain member account with fresh ids, for the unit tests of the caches and services.
#[cfg(test)]
pub(crate) fn test_account() -> Account {
    Account {
        id: AccountId::generate(),
        username: "u".into(),
        email: "u@example.org".into(),
        display_name: "u".into(),
        org_id: OrgId::generate(),
        role: Role::Member,
        operator: false,
        kind: AccountKind::Person,
        disabled: false,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_so_they_compare_case_insensitively() {
        assert_eq!(Username::parse("Alice").expect("ok").as_str(), "alice");
        assert_eq!(
            Username::parse(" bob.smith-2 ").expect("ok").as_str(),
            "bob.smith-2"
        );
    }

    #[test]
    fn hostile_or_odd_usernames_are_refused() {
        for bad in [
            "a",
            "",
            "alice;id",
            "../x",
            "-dash",
            "al ice",
            "ålice",
            &"x".repeat(33),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(
            Email::parse("Bob@Example.ORG").expect("ok").as_str(),
            "Bob@example.org"
        );
        for bad in [
            "bob",
            "@x.org",
            "bob@",
            "bob@localhost",
            "bo b@x.org",
            "bob@x.org.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ada L. ").expect("ok").as_str(),
            "Ada L."
        );
        assert!(DisplayName::parse("").is_err());
        assert!(DisplayName::parse("tab\there").is_err());
        assert!(DisplayName::parse(&"x".repeat(129)).is_err());
    }
}
