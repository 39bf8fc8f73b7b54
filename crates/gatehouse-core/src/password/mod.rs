//! Password rules (SECURITY.md "Passwords") and argon2id hashing on a bounded blocking pool.
//!
//! The blocklist `common-passwords.txt` is the 10,000 most common passwords from the
//! frequency lists of zxcvbn (MIT licence, Copyright (c) 2016 Daniel Wolf).

mod hasher;
mod rules;

pub use hasher::{HashParams, HashPoolStats, PasswordHasher};

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// Fewest characters a new password may have.
pub const MIN_LEN: usize = 12;
/// Most characters any password may have; longer input is refused before hashing.
pub const MAX_LEN: usize = 128;

/// A password that passed the rules for new passwords, NFKC-normalised.
pub struct NewPassword(SecretString);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

impl NewPassword {
    /// Validates a password chosen for `username`: the one place where every rule for a
    /// new password is applied (bootstrap, account creation, operator resets), so no path
    /// can set a password the rules refuse.
    pub fn parse(raw: &str, username: &str) -> Result<Self> {
        let normalized = normalize(raw)?;
        let len = normalized.chars().count();
        if len < MIN_LEN {
            return Err(Error::invalid(
                "password",
                format!("must be at least {MIN_LEN} characters"),
            ));
        }
        rules::check(&normalized, username)?;
        Ok(NewPassword(SecretString::from(normalized)))
    }

    /// The normalised password.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A password presented at sign-in: only the length cap applies, so that accounts made
/// under older rules can still sign in.
pub struct PresentedPassword(SecretString);

impl std::fmt::Debug for PresentedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedPassword([redacted])")
    }
}

impl PresentedPassword {
    /// Normalises a sign-in password, refusing oversize input with no hashing work.
    pub fn parse(raw: &str) -> Result<Self> {
        Ok(PresentedPassword(SecretString::from(normalize(raw)?)))
    }

    /// The normalised password.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// NFKC plus the length cap and the printable-characters rule.
fn normalize(raw: &str) -> Result<String> {
    // SECURITY: a cheap byte-length bound first, so a megabyte "password" costs nothing.
    if raw.len() > MAX_LEN * 4 {
        return Err(too_long());
    }
    let normalized: String = raw.nfkc().collect();
    if normalized.chars().count() > MAX_LEN {
        return Err(too_long());
    }
    if normalized.chars().any(char::is_control) {
        return Err(Error::invalid(
            "password",
            "must not contain control characters",
        ));
    }
    Ok(normalized)
}

fn too_long() -> Error {
    Error::invalid("password", format!("must be at most {MAX_LEN} characters"))
}

/// A random password for the bootstrap account: 24 characters from a 62-letter alphabet (~143 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    crate::secret::random_bytes::<48>()
        .iter()
        // Rejection sampling keeps the distribution uniform (248 = 4 * 62).
        .filter(|b| **b < 248)
        .take(24)
        .map(|b| ALPHABET[(*b % 62) as usize] as char)
        .collect()
}

/// A random password for `username` that passes the rules for new passwords: a draw that
/// happens to spell a refused word (odds of about one in a million) is drawn again, so
/// the first start never fails on its own password.
pub fn generate_password_for(username: &str) -> String {
    let mut password = generate_password();
    for _ in 0..16 {
        if NewPassword::parse(&password, username).is_ok() {
            break;
        }
        password = generate_password();
    }
    password
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<NewPassword>) -> String {
        match r {
            Err(Error::Invalid { reason, .. }) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn eleven_characters_are_too_few_and_twelve_are_enough() {
        assert!(reason(NewPassword::parse("abcdefghijk", "bob")).contains("at least 12"));
        assert!(NewPassword::parse("correct horse", "bob").is_ok());
    }

    #[test]
    fn passwords_up_to_128_characters_are_accepted_and_longer_are_refused() {
        let p64: String = (0..4).map(|_| generate_password()).collect::<String>()[..64].into();
        let p128 = p64.repeat(2);
        assert!(NewPassword::parse(&p64, "bob").is_ok());
        assert!(NewPassword::parse(&p128, "bob").is_ok());
        assert!(reason(NewPassword::parse(&(p128 + "x"), "bob")).contains("at most 128"));
        assert!(PresentedPassword::parse(&"a".repeat(10_000)).is_err());
    }

    #[test]
    fn spaces_and_unicode_are_allowed_but_control_characters_are_not() {
        assert!(NewPassword::parse("zwölf Äpfel im Korb", "bob").is_ok());
        assert!(NewPassword::parse("パスワードはとても長いです", "bob").is_ok());
        assert!(reason(NewPassword::parse("line one\nline two", "bob")).contains("control"));
    }

    #[test]
    fn nfkc_normalisation_makes_compatible_forms_equal() {
        // U+FB01 (the "fi" ligature) normalises to "fi".
        let a = PresentedPassword::parse("\u{FB01}ne and dandy!").expect("valid");
        let b = PresentedPassword::parse("fine and dandy!").expect("valid");
        assert_eq!(a.expose(), b.expose());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        let list = rules::blocklist();
        assert!(list.len() >= 10_000 - 10);
        assert!(list.contains("password"));
        let long: Vec<&str> = list
            .iter()
            .copied()
            .filter(|p| p.chars().count() >= MIN_LEN)
            .collect();
        assert!(!long.is_empty(), "the list has long entries");
        // Every long entry is refused, by the blocklist or by an earlier rule.
        for p in long {
            assert!(NewPassword::parse(p, "bob").is_err(), "{p}");
            assert!(NewPassword::parse(&p.to_uppercase(), "bob").is_err(), "{p}");
        }
        // Listed, and refused by no other rule.
        assert!(list.contains("leavemealone"));
        assert!(reason(NewPassword::parse("LeaveMeAlone", "bob")).contains("too common"));
    }

    #[test]
    fn the_user_name_and_service_name_are_refused_inside_a_password() {
        assert!(reason(NewPassword::parse("my name is Alice!!", "alice")).contains("user name"));
        assert!(reason(NewPassword::parse("Gatehouse-rocks-2026", "bob")).contains("service"));
    }

    #[test]
    fn generated_passwords_are_long_random_and_pass_the_rules() {
        let a = generate_password_for("admin");
        assert_eq!(a.len(), 24);
        assert_ne!(a, generate_password_for("admin"));
        assert!(NewPassword::parse(&a, "admin").is_ok());
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let p = NewPassword::parse("a very secret phrase", "bob").expect("valid");
        assert!(!format!("{p:?}").contains("secret"));
    }
}
