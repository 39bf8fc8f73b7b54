//! Second factors for 2-step verification: TOTP authenticator apps ([`totp`]) and the
//! one-time recovery codes that stand in for a lost device ([`recovery`]). Security keys
//! (WebAuthn) join them as another factor kind.
//!
//! This is the factor model's domain half: secrets, codes and their checks. Storing
//! factors (sealed seeds, last accepted step), the sign-in step that asks for a code and
//! the setup flow build on it.

pub mod recovery;
pub mod totp;

pub use recovery::{RECOVERY_CODE_COUNT, RecoveryCode};
pub use totp::{TotpSecret, TotpVerifier};
