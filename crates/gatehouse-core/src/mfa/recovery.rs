//! Recovery codes: ten one-time codes that sign in when the authenticator is lost. Each
//! carries 80 random bits in Crockford-style base32 (no I, L, O or U, so nothing is
//! misread), shown as `XXXX-XXXX-XXXX-XXXX`; only their SHA-256 is stored, and each is
//! consumed once by the store.

use crate::secret::TokenHash;

/// Codes per set.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Random bytes per code (80 bits, above SECURITY.md's 64).
const CODE_BYTES: usize = 10;
/// The alphabet: digits and letters without I, L, O and U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// One recovery code as shown to the user once.
pub struct RecoveryCode(secrecy::SecretString);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

impl RecoveryCode {
    /// A new set of [`RECOVERY_CODE_COUNT`] codes.
    pub fn generate_set() -> Vec<RecoveryCode> {
        (0..RECOVERY_CODE_COUNT).map(|_| Self::generate()).collect()
    }

    fn generate() -> Self {
        let bytes = crate::secret::random_bytes::<CODE_BYTES>();
        // 80 bits are exactly sixteen 5-bit symbols.
        let mut bits: u128 = 0;
        for b in bytes {
            bits = (bits << 8) | u128::from(b);
        }
        let symbols: Vec<u8> = (0..16)
            .rev()
            .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize])
            .collect();
        let text = symbols
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-");
        RecoveryCode(text.into())
    }

    /// The code, for the one response that shows it.
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }

    /// What the store keeps.
    pub fn hash(&self) -> TokenHash {
        hash_typed(self.expose()).unwrap_or_else(|| TokenHash::of(self.expose()))
    }
}

/// The stored hash of a code as a person typed it: case, spaces and dashes do not
/// matter, and the look-alikes `I`/`L` → `1` and `O` → `0` are read as the digits they
/// resemble. `None` when it cannot be a code (wrong length or characters).
pub fn hash_typed(typed: &str) -> Option<TokenHash> {
    let mut canonical = String::with_capacity(19);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        if canonical.len() % 5 == 4 {
            canonical.push('-');
        }
        canonical.push(c);
    }
    (canonical.len() == 19).then(|| TokenHash::of(&canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_distinct_grouped_codes_stored_as_hashes() {
        let set = RecoveryCode::generate_set();
        assert_eq!(set.len(), 10);
        let mut seen = std::collections::HashSet::new();
        for code in &set {
            let text = code.expose();
            assert_eq!(text.len(), 19, "{text}");
            assert_eq!(text.matches('-').count(), 3, "{text}");
            assert!(
                text.chars()
                    .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
            );
            assert!(seen.insert(text.to_owned()), "codes differ");
            assert_eq!(hash_typed(text), Some(code.hash()));
            assert_eq!(format!("{code:?}"), "RecoveryCode(..)");
        }
    }

    #[test]
    fn typed_codes_match_whatever_their_case_spacing_or_look_alikes() {
        let code = RecoveryCode::generate();
        let text = code.expose().to_owned();
        let sloppy = text.to_ascii_lowercase().replace('-', " ");
        assert_eq!(hash_typed(&sloppy), Some(code.hash()));
        assert_eq!(hash_typed(&text.replace('-', "")), Some(code.hash()));
        let with_look_alikes = "1O1O-0000-0000-0000".replace('1', "l");
        assert_eq!(
            hash_typed(&with_look_alikes),
            hash_typed("1010-0000-0000-0000")
        );
        for bad in [
            "",
            "0000-0000-0000",
            "0000-0000-0000-0000-0",
            "UUUU-0000-0000-0000",
            "ÄÄÄÄ-0000-0000-0000",
        ] {
            assert_eq!(hash_typed(bad), None, "{bad}");
        }
    }
}
