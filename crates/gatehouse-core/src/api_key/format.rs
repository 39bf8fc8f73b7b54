//! The API key format: `gwk_` + 32 base62 characters (~190 random bits) + a 6-character
//! base62 CRC32 of everything before it. The prefix lets secret scanners find leaked
//! keys; the checksum lets us refuse typos and junk before any lookup.

use secrecy::{ExposeSecret, SecretString};

use crate::secret::{TokenHash, random_bytes};

/// The type prefix of every Gatehouse API key. A test pins it: it must never change.
pub const PREFIX: &str = "gwk_";
const BODY_LEN: usize = 32;
const CHECK_LEN: usize = 6;
/// Total length of a key.
pub const KEY_LEN: usize = PREFIX.len() + BODY_LEN + CHECK_LEN;
/// Characters of the key shown in listings (prefix plus the first 6 random characters).
pub const DISPLAY_LEN: usize = PREFIX.len() + 6;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly minted key; the only moment the secret exists in full.
pub struct ApiKeySecret(SecretString);

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.display_prefix())
    }
}

impl ApiKeySecret {
    /// Mints a new random key.
    pub fn generate() -> Self {
        let mut body = String::with_capacity(KEY_LEN);
        body.push_str(PREFIX);
        // Rejection sampling: 248 = 4 × 62 keeps every character uniform.
        while body.len() < PREFIX.len() + BODY_LEN {
            for b in random_bytes::<48>() {
                if b < 248 && body.len() < PREFIX.len() + BODY_LEN {
                    body.push(BASE62[(b % 62) as usize] as char);
                }
            }
        }
        let check = checksum(&body);
        body.extend(check.iter().map(|&b| char::from(b)));
        ApiKeySecret(SecretString::from(body))
    }

    /// The full key, to show once.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The stored hash.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.expose())
    }

    /// The non-secret start of the key, shown in listings.
    pub fn display_prefix(&self) -> String {
        self.expose()[..DISPLAY_LEN].to_owned()
    }
}

/// Checks the shape and checksum of a presented key, without any lookup.
pub fn is_well_formed(key: &str) -> bool {
    if key.len() != KEY_LEN || !key.starts_with(PREFIX) {
        return false;
    }
    let rest = &key.as_bytes()[PREFIX.len()..];
    if !rest.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (body, check) = key.split_at(PREFIX.len() + BODY_LEN);
    crate::secret::constant_time_eq(&checksum(body), check.as_bytes())
}

/// The CRC32 of `body` in base62, fixed width (no allocation: it runs on every request).
fn checksum(body: &str) -> [u8; CHECK_LEN] {
    let mut n = crc32(body.as_bytes());
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// CRC-32 (IEEE 802.3, as in zlib and GitHub's token checksums), table-driven: it runs
/// on every API-key request.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_prefix_is_pinned_forever() {
        // Secret scanners and users' tooling match on this. Never change it.
        assert_eq!(PREFIX, "gwk_");
        assert_eq!(KEY_LEN, 42);
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn minted_keys_are_well_formed_distinct_and_carry_over_128_bits() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(is_well_formed(a.expose()), "{}", a.expose());
        assert_eq!(a.expose().len(), KEY_LEN);
        // 32 base62 characters: 32 × log2(62) ≈ 190 bits.
        assert!(32.0 * 62f64.log2() >= 128.0);
        assert!(a.display_prefix().starts_with("gwk_") && a.display_prefix().len() == 10);
        assert!(!format!("{a:?}").contains(&a.expose()[DISPLAY_LEN..]));
    }

    #[test]
    fn typos_bad_checksums_and_junk_are_refused_before_lookup() {
        let k = ApiKeySecret::generate();
        let key = k.expose();
        let mut typo: Vec<u8> = key.as_bytes().to_vec();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        assert!(!is_well_formed(&String::from_utf8(typo).expect("utf8")));
        assert!(!is_well_formed(&key[..KEY_LEN - 1]));
        assert!(!is_well_formed(&format!("ghp_{}", &key[4..])));
        assert!(!is_well_formed(&format!("{}!", &key[..KEY_LEN - 1])));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("gwk_ünïcödé"));
    }
}
