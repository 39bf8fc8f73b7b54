//! Reading the pieces of a public key line and the SSH wire format of its blob.

use super::*;

/// Control characters, plus the Unicode line separators and the invisible marks that
/// reorder or hide text (a comment is displayed back to users and admins).
pub(super) fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// The field up to the first space, and the rest with its leading spaces removed.
pub(super) fn split_field(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((field, rest)) => (field, rest.trim_start_matches(' ')),
        None => (s, ""),
    }
}

/// The error for a first field that is not an accepted type.
pub(super) fn unknown_type(name: &str) -> SshKeyError {
    if name == "ssh-dss" || name.starts_with("ssh-dss-cert-") {
        return SshKeyError::Dsa;
    }
    // Every blob starts with the type's length, under 2^24: base64 "AAAA".
    if name.starts_with("AAAA") && STANDARD.decode(name).is_ok() {
        return SshKeyError::MissingKeyType;
    }
    let is_option = name.contains('=')
        || name.contains('"')
        || name
            .split(',')
            .any(|opt| OPTION_NAMES.iter().any(|o| o.eq_ignore_ascii_case(opt)));
    if is_option {
        return SshKeyError::OptionsNotAllowed;
    }
    SshKeyError::UnsupportedType(echo(name))
}

/// User-supplied text made safe and short enough to repeat in a message.
pub(super) fn echo(raw: &str) -> String {
    let mut chars = raw.chars().filter(|c| !is_forbidden_char(*c));
    let mut out: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Collapses whitespace runs into single spaces, trims, and cuts to
/// [`MAX_COMMENT_CHARS`] characters.
pub(super) fn normalise_comment(raw: &str) -> String {
    let mut comment = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = comment.char_indices().nth(MAX_COMMENT_CHARS) {
        comment.truncate(cut);
        comment.truncate(comment.trim_end().len());
    }
    comment
}

/// Reads SSH wire-format fields (RFC 4251 §5) without ever reading past the end.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A `string`: a big-endian `u32` length and that many bytes.
    fn string(&mut self) -> Result<&'a [u8], BlobProblem> {
        let (len, rest) = self
            .rest
            .split_first_chunk::<4>()
            .ok_or(BlobProblem::Truncated)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| BlobProblem::Truncated)?;
        let (field, rest) = rest.split_at_checked(len).ok_or(BlobProblem::Truncated)?;
        self.rest = rest;
        Ok(field)
    }

    /// Fails unless every byte was read.
    fn finish(&self) -> Result<(), BlobProblem> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(BlobProblem::TrailingBytes)
        }
    }
}

/// Checks a blob against its declared type, returning the key size in bits.
pub(super) fn parse_blob(key_type: KeyType, blob: &[u8]) -> Result<u32, SshKeyError> {
    let malformed = |problem| SshKeyError::Malformed { key_type, problem };
    let mut r = Reader { rest: blob };
    let inner = r.string().map_err(malformed)?;
    if inner != key_type.as_str().as_bytes() {
        return Err(SshKeyError::TypeMismatch {
            declared: key_type,
            inner: echo(&String::from_utf8_lossy(inner)),
        });
    }
    let bits = match key_type {
        KeyType::Ed25519 => {
            ed25519_key(&mut r).map_err(malformed)?;
            256
        }
        KeyType::SkEd25519 => {
            ed25519_key(&mut r).map_err(malformed)?;
            application(&mut r).map_err(malformed)?;
            256
        }
        KeyType::EcdsaP256 => ecdsa_point(&mut r, "nistp256", 65, 256).map_err(malformed)?,
        KeyType::EcdsaP384 => ecdsa_point(&mut r, "nistp384", 97, 384).map_err(malformed)?,
        KeyType::EcdsaP521 => ecdsa_point(&mut r, "nistp521", 133, 521).map_err(malformed)?,
        KeyType::SkEcdsaP256 => {
            let bits = ecdsa_point(&mut r, "nistp256", 65, 256).map_err(malformed)?;
            application(&mut r).map_err(malformed)?;
            bits
        }
        KeyType::Rsa => rsa_modulus_bits(&mut r).map_err(malformed)?,
    };
    r.finish().map_err(malformed)?;
    if key_type == KeyType::Rsa {
        if bits < MIN_RSA_BITS {
            return Err(SshKeyError::RsaTooSmall { bits });
        }
        if bits > MAX_RSA_BITS {
            return Err(SshKeyError::RsaTooLarge { bits });
        }
    }
    Ok(bits)
}

pub(super) fn ed25519_key(r: &mut Reader<'_>) -> Result<(), BlobProblem> {
    let key = r.string()?;
    if key.len() != 32 {
        return Err(BlobProblem::WrongKeyLength {
            expected: 32,
            actual: key.len(),
        });
    }
    Ok(())
}

pub(super) fn ecdsa_point(
    r: &mut Reader<'_>,
    curve: &str,
    point_len: usize,
    bits: u32,
) -> Result<u32, BlobProblem> {
    if r.string()? != curve.as_bytes() {
        return Err(BlobProblem::CurveMismatch);
    }
    let point = r.string()?;
    match point.first() {
        None => Err(BlobProblem::WrongKeyLength {
            expected: point_len,
            actual: 0,
        }),
        Some(0x04) if point.len() == point_len => Ok(bits),
        Some(0x04) => Err(BlobProblem::WrongKeyLength {
            expected: point_len,
            actual: point.len(),
        }),
        Some(_) => Err(BlobProblem::PointNotUncompressed),
    }
}

/// A security key's application string (usually `ssh:`), NUL-free as OpenSSH requires.
pub(super) fn application(r: &mut Reader<'_>) -> Result<(), BlobProblem> {
    if r.string()?.contains(&0) {
        return Err(BlobProblem::InvalidApplication);
    }
    Ok(())
}

/// Reads `e` and `n` and returns the modulus size in bits.
pub(super) fn rsa_modulus_bits(r: &mut Reader<'_>) -> Result<u32, BlobProblem> {
    let exponent = mpint_magnitude(r.string()?)?;
    let modulus = mpint_magnitude(r.string()?)?;
    if exponent.is_empty() || modulus.is_empty() {
        return Err(BlobProblem::MissingNumber);
    }
    Ok(bit_length(modulus))
}

/// The big-endian magnitude of a non-negative `mpint`, without leading zero bytes.
pub(super) fn mpint_magnitude(raw: &[u8]) -> Result<&[u8], BlobProblem> {
    if raw.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(BlobProblem::NegativeNumber);
    }
    let zeros = raw.iter().take_while(|b| **b == 0).count();
    raw.get(zeros..).ok_or(BlobProblem::Truncated)
}

/// Significant bits of a big-endian magnitude whose first byte is non-zero.
pub(super) fn bit_length(magnitude: &[u8]) -> u32 {
    let Some(first) = magnitude.first() else {
        return 0;
    };
    let whole_bytes = u32::try_from(magnitude.len() - 1).unwrap_or(u32::MAX);
    whole_bytes
        .saturating_mul(8)
        .saturating_add(8 - first.leading_zeros())
}
