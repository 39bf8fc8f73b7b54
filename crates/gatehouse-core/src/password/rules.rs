//! The guessability rules for new passwords (SECURITY.md "Passwords", NIST SP 800-63B
//! §3.1.1.2): after NFKC, refuse passwords that are only spaces, a short pattern repeated,
//! a run of consecutive characters, the user or service name, or a common password or
//! account word with nothing but digits, symbols or repetition added.
//!
//! These are not composition rules: nothing here asks for a digit or a capital letter, and
//! any passphrase of a few unrelated words passes. Each refusal says what to do instead.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The service's own name, refused inside passwords.
const SERVICE_NAME: &str = "gatehouse";

/// Words tied to this service and to accounts in general (NIST's "context-specific
/// words"), refused like blocklist entries. `administrator` is not in the frequency list,
/// but it is the first guess against an `admin` account.
const CONTEXT_WORDS: &[&str] = &[
    "admin",
    "administrator",
    "changeme",
    "default",
    "gatehouse",
    "letmein",
    "login",
    "operator",
    "passphrase",
    "password",
    "root",
    "secret",
    "superuser",
    "sysadmin",
    "welcome",
];

/// Sequences a "run" may follow, read cyclically: digits and letters at any constant
/// step (`13579…`, `acegi…`), keyboard layouts one key at a time, row after row
/// (`qwertyuiopas`) or column after column (`1qaz2wsx…`).
const ORDERED: &[&str] = &["0123456789", "abcdefghijklmnopqrstuvwxyz"];
const KEYBOARDS: &[&str] = &[
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
];

/// Fewest different characters a password may use.
const MIN_DISTINCT: usize = 5;
/// Shortest letters-only core worth looking up (shorter cores are no evidence).
const MIN_CORE: usize = 4;

const PASSPHRASE_HINT: &str = "choose a passphrase of several unrelated words";

/// Checks an NFKC-normalised password of valid length, chosen for `username`.
pub(super) fn check(normalized: &str, username: &str) -> Result<()> {
    let lower = normalized.to_lowercase();
    let compact: Vec<char> = lower.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(refuse("must not be only spaces"));
    }
    if repeated_unit(&compact).is_some() {
        return Err(refuse(format!(
            "must not be a short pattern repeated (such as \"abcabc…\"); {PASSPHRASE_HINT}"
        )));
    }
    if compact.iter().collect::<HashSet<_>>().len() < MIN_DISTINCT {
        return Err(refuse(format!(
            "uses too few different characters; {PASSPHRASE_HINT}"
        )));
    }
    if is_run(&compact) {
        return Err(refuse(format!(
            "must not be a run of consecutive characters (such as \"1234…\", \"abcd…\", \
             \"9876…\" or a keyboard row like \"qwer…\"); {PASSPHRASE_HINT}"
        )));
    }
    let cores = cores(&compact);
    let user = username.to_lowercase();
    let user_letters = letters(&user.chars().collect::<Vec<_>>());
    let has_user = (user.chars().count() >= 3 && lower.contains(&user))
        || (user_letters.chars().count() >= 3 && cores.iter().any(|c| c.contains(&user_letters)));
    if has_user || cores.iter().any(|c| c.contains(SERVICE_NAME)) {
        return Err(refuse("must not contain the user name or the service name"));
    }
    let compact: String = compact.iter().collect();
    if blocklist().contains(lower.as_str()) || blocklist().contains(compact.as_str()) {
        return Err(refuse("is too common; choose a less predictable password"));
    }
    if cores.iter().any(|c| is_known_word(c)) {
        return Err(refuse(format!(
            "is too common: it is a well-known password or account word with only digits, \
             symbols or repetition added; {PASSPHRASE_HINT}"
        )));
    }
    Ok(())
}

fn refuse(reason: impl std::fmt::Display) -> Error {
    Error::invalid("password", reason)
}

/// The unit, if `s` is two or more copies of a unit shorter than the minimum length (the
/// last copy may be cut short): such a password is no stronger than its unit.
fn repeated_unit(s: &[char]) -> Option<&[char]> {
    let most = (s.len() / 2).min(super::MIN_LEN - 1);
    (1..=most)
        .find(|&u| s.iter().enumerate().all(|(i, c)| *c == s[i % u]))
        .map(|u| &s[..u])
}

/// Whether `s` walks one of the sequences at a constant step.
fn is_run(s: &[char]) -> bool {
    let walks = |seq: &str, any_step: bool| {
        let seq: Vec<char> = seq.chars().collect();
        let n = seq.len();
        let Some(pos) = s
            .iter()
            .map(|c| seq.iter().position(|x| x == c))
            .collect::<Option<Vec<usize>>>()
        else {
            return false;
        };
        let step = |w: &[usize]| (w[1] + n - w[0]) % n;
        let Some(first) = pos.windows(2).map(step).next() else {
            return false;
        };
        first != 0
            && (any_step || first == 1 || first == n - 1)
            && pos.windows(2).all(|w| step(w) == first)
    };
    ORDERED.iter().any(|q| walks(q, true)) || KEYBOARDS.iter().any(|q| walks(q, false))
}

/// The letters of `s`, in order.
fn letters(s: &[char]) -> String {
    s.iter().filter(|c| c.is_alphabetic()).collect()
}

/// What is left of the password once digits, symbols and repetition are taken away:
/// its letters; and, once the digits and symbols at either end are cut, its letters read
/// through common substitutions (`p@ssw0rd`); each reduced to its unit when it repeats.
fn cores(compact: &[char]) -> Vec<String> {
    let start = compact
        .iter()
        .position(|c| c.is_alphabetic())
        .unwrap_or(compact.len());
    let end = compact
        .iter()
        .rposition(|c| c.is_alphabetic())
        .map_or(start, |i| i + 1);
    let inner = &compact[start..end.max(start)];
    let unleet = |one: char| -> Vec<char> {
        inner
            .iter()
            .map(|c| match c {
                '@' | '4' => 'a',
                '3' => 'e',
                '1' | '!' | '|' => one,
                '0' => 'o',
                '$' | '5' => 's',
                '7' | '+' => 't',
                other => *other,
            })
            .collect()
    };
    [compact.to_vec(), unleet('i'), unleet('l')]
        .iter()
        .map(|v| {
            let l: Vec<char> = letters(v).chars().collect();
            repeated_unit(&l).unwrap_or(&l).iter().collect::<String>()
        })
        .filter(|c| !c.is_empty())
        .collect()
}

fn is_known_word(core: &str) -> bool {
    core.chars().count() >= MIN_CORE
        && (blocklist().contains(core) || CONTEXT_WORDS.contains(&core))
}

pub(super) fn blocklist() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| include_str!("common-passwords.txt").lines().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::NewPassword;

    fn reason(raw: &str, user: &str) -> String {
        match NewPassword::parse(raw, user) {
            Err(Error::Invalid { reason, field }) => {
                assert_eq!(field, "password");
                reason
            }
            Ok(_) => panic!("{raw:?} was accepted"),
            Err(other) => panic!("{raw:?}: expected Invalid, got {other:?}"),
        }
    }

    /// A random printable-ASCII string of `len` characters.
    fn random_string(len: usize) -> String {
        let mut out = String::new();
        while out.len() < len {
            for b in crate::secret::random_bytes::<64>() {
                // 95 printable characters from the space to the tilde; 190 = 2 * 95.
                if b < 190 && out.len() < len {
                    out.push(char::from(b' ' + b % 95));
                }
            }
        }
        out
    }

    #[test]
    fn only_spaces_are_refused() {
        assert!(reason(&" ".repeat(12), "bob").contains("only spaces"));
        assert!(reason("\u{3000}".repeat(12).as_str(), "bob").contains("only spaces"));
    }

    #[test]
    fn short_patterns_repeated_are_refused() {
        for p in [
            "111111111111",
            "abcabcabcabc",
            "passwordpassword",
            "Abc Abc Abc Abc",
            "xyzzyxyzzyxyzzy",
        ] {
            assert!(reason(p, "bob").contains("pattern repeated"), "{p}");
        }
        assert!(reason(&("x".repeat(63) + "y"), "bob").contains("too few different"));
    }

    #[test]
    fn runs_of_consecutive_characters_are_refused_in_either_direction() {
        for p in [
            "123456789012",
            "abcdefghijkl",
            "ABCDEFGHIJKLM",
            "210987654321",
            "zyxwvutsrqpo",
            "qwertyuiopas",
            "lkjhgfdsapoiu",
            "azertyuiopqsd",
            "1qaz2wsx3edc4rfv",
            "acegikmoqsuw",
        ] {
            assert!(reason(p, "bob").contains("consecutive"), "{p}");
        }
    }

    #[test]
    fn common_words_with_only_digits_symbols_or_repetition_added_are_refused() {
        for p in [
            "administrator",
            "Administrator!",
            "password1234",
            "!!password!!",
            "P@ssw0rd2024!",
            "1234welcome!!",
            "letmein2024!",
            "dragon!!!!!!!",
        ] {
            assert!(reason(p, "bob").contains("too common"), "{p}");
        }
    }

    #[test]
    fn full_width_forms_are_judged_after_nfkc() {
        assert!(reason("ｐａｓｓｗｏｒｄ１２３４", "bob").contains("too common"));
        assert!(reason("１２３４５６７８９０１２", "bob").contains("consecutive"));
        assert!(reason("ｇａｔｅｈｏｕｓｅ！２０２６", "bob").contains("service name"));
    }

    #[test]
    fn the_user_name_is_refused_even_with_separators_or_substitutions() {
        assert!(reason("GhAlice-2024!!", "gh-alice").contains("user name"));
        assert!(reason("gate-house is great", "bob").contains("service name"));
        assert!(reason("my name is Al1ce!!", "alice").contains("user name"));
    }

    #[test]
    fn good_passphrases_and_random_strings_are_accepted() {
        for p in [
            "correct horse battery staple",
            "zwölf Äpfel im Korb",
            "パスワードはとても長いです",
            "Tr0ub4dor&3 was not enough",
            "x9$k!2#7@qz%",
        ] {
            assert!(NewPassword::parse(p, "bob").is_ok(), "{p}");
        }
        for len in [12, 64, 128] {
            let p = random_string(len);
            assert_eq!(p.chars().count(), len);
            assert!(NewPassword::parse(&p, "bob").is_ok(), "{p}");
        }
    }
}
