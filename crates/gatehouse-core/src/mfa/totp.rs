//! Time-based one-time passwords (RFC 6238) with what every authenticator app scans:
//! HMAC-SHA-1, 6 digits, 30-second steps. The arithmetic is totp-rs's; this module fixes
//! the parameters, the secret's size and source, the accepted window and the enrolment URI.
//!
//! Accepted window (SECURITY): the current step and the one before it, by the server's
//! clock only. A code from the next step is refused. A code is good once: [`TotpVerifier::check`]
//! returns the matched step, which the store must compare-and-set against the factor's last
//! accepted step before the sign-in succeeds.

use secrecy::{ExposeSecret, SecretBox};
use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Secret};

use crate::error::{Error, Result};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u8 = 6;
/// Secret size in bytes: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// A TOTP seed. Zeroised on drop; `Debug` shows nothing of it.
pub struct TotpSecret(SecretBox<[u8; SECRET_BYTES]>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh seed from the OS random number generator.
    pub fn generate() -> Self {
        TotpSecret(SecretBox::new(Box::new(crate::secret::random_bytes::<
            SECRET_BYTES,
        >())))
    }

    /// A seed read back from its sealed form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let array: [u8; SECRET_BYTES] = bytes
            .try_into()
            .map_err(|_| Error::internal("a stored TOTP seed has the wrong length"))?;
        Ok(TotpSecret(SecretBox::new(Box::new(array))))
    }

    /// A seed from its base32 form as shown for manual entry (spaces and case ignored):
    /// what an authenticator app does with it, and what tests do.
    pub fn from_base32(text: &str) -> Result<Self> {
        let clean: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let secret = Secret::try_from_base32(clean)
            .map_err(|_| Error::invalid("secret", "is not base32"))?;
        Self::from_bytes(secret.as_ref())
    }

    /// The raw seed, for sealing.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The seed in base32 (RFC 4648, no padding), for manual entry, in groups of four
    /// characters so a person can type it without losing their place.
    pub fn grouped_base32(&self) -> String {
        let plain = Secret::from(*self.0.expose_secret()).to_base32();
        plain
            .trim_end_matches('=')
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Checks codes against one seed, and writes the enrolment URI for it.
pub struct TotpVerifier {
    totp: totp_rs::Totp,
}

impl std::fmt::Debug for TotpVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpVerifier(..)")
    }
}

impl TotpVerifier {
    /// A verifier for `secret`, labelled `issuer:account` in authenticator apps.
    pub fn new(secret: &TotpSecret, issuer: &str, account: &str) -> Result<Self> {
        // The label's parts may not contain a colon (the otpauth format's separator).
        let clean = |s: &str| s.replace(':', " ");
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            // Skew is applied by `check` itself: current step and one back, not forward.
            .with_skew(0)
            .with_step_duration(STEP_SECONDS)
            .with_secret(secret.expose())
            .with_issuer(Some(clean(issuer)))
            .with_account_name(clean(account))
            .build()
            .map_err(Error::internal)?;
        Ok(TotpVerifier { totp })
    }

    /// The `otpauth://totp/…` URI an authenticator app scans (it carries the secret: show it
    /// only on the setup page, never log it).
    pub fn enrolment_uri(&self) -> Result<String> {
        self.totp.to_url().map_err(Error::internal)
    }

    /// The step a code matches at `now`: the current step or the one before it. `None`
    /// for a wrong, malformed or too old code. Spaces in the code (as apps show it) are
    /// ignored.
    pub fn check(&self, code: &str, now: OffsetDateTime) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = u64::try_from(now.unix_timestamp()).ok()?;
        self.totp
            .check(&code, now)
            .or_else(|| self.totp.check(&code, now.checked_sub(STEP_SECONDS)?))
    }

    /// The code for `at` (tests and diagnostics only; never sent to a client).
    pub fn code_at(&self, at: OffsetDateTime) -> String {
        self.totp
            .generate(u64::try_from(at.unix_timestamp()).unwrap_or_default())
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grouped_base32_form_reads_back_to_the_same_seed() {
        let s = TotpSecret::generate();
        let back = TotpSecret::from_base32(&s.grouped_base32()).expect("base32");
        assert_eq!(s.expose(), back.expose());
        assert!(TotpSecret::from_base32("not base32 !").is_err());
    }

    /// RFC 6238 Appendix B, SHA-1 rows: the seed is the ASCII "12345678901234567890" and
    /// the codes have 8 digits; a 6-digit code is their last six.
    const RFC_VECTORS: &[(i64, &str)] = &[
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).expect("time")
    }

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").expect("20 bytes")
    }

    #[test]
    fn the_rfc_6238_appendix_b_vectors_hold() {
        let eight = Builder::new()
            .with_digits(8)
            .with_skew(0)
            .with_secret(b"12345678901234567890".as_slice())
            .with_account_name("rfc")
            .build()
            .expect("totp");
        let six = TotpVerifier::new(&rfc_secret(), "Gatehouse", "rfc").expect("verifier");
        for (t, code) in RFC_VECTORS {
            let t_u = u64::try_from(*t).expect("positive");
            assert_eq!(eight.generate(t_u).to_string(), *code, "T={t}");
            assert_eq!(six.code_at(at(*t)), code[2..], "T={t}");
            assert_eq!(six.check(&code[2..], at(*t)), Some(t_u / 30), "T={t}");
        }
    }

    #[test]
    fn the_current_and_previous_steps_are_accepted_and_no_others() {
        let v = TotpVerifier::new(&TotpSecret::generate(), "Gatehouse", "alice").expect("v");
        let now = at(1_800_000_015);
        let step = 1_800_000_015 / 30;
        let code = |t: i64| v.code_at(at(t));
        assert_eq!(v.check(&code(1_800_000_015), now), Some(step));
        assert_eq!(v.check(&code(1_800_000_015 - 30), now), Some(step - 1));
        assert_eq!(
            v.check(&code(1_800_000_015 - 60), now),
            None,
            "two steps back"
        );
        assert_eq!(
            v.check(&code(1_800_000_015 + 30), now),
            None,
            "the next step"
        );
        let spaced = format!(
            "{} {}",
            &code(1_800_000_015)[..3],
            &code(1_800_000_015)[3..]
        );
        assert_eq!(
            v.check(&spaced, now),
            Some(step),
            "spaces as apps show them"
        );
        for junk in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(v.check(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn seeds_are_160_random_bits_grouped_for_typing_and_never_debugged() {
        let a = TotpSecret::generate();
        assert_eq!(a.expose().len(), 20);
        assert_ne!(a.expose(), TotpSecret::generate().expose());
        let grouped = rfc_secret().grouped_base32();
        assert_eq!(grouped, "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
        assert_eq!(format!("{a:?}"), "TotpSecret(..)");
        let v = TotpVerifier::new(&rfc_secret(), "Gatehouse", "ali:ce").expect("v");
        let uri = v.enrolment_uri().expect("uri");
        assert!(
            uri.starts_with("otpauth://totp/Gatehouse:ali%20ce?"),
            "{uri}"
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Gatehouse"), "{uri}");
    }
}
