//! Second factors for 2-step verification: TOTP authenticator apps ([`totp`]) and the
//! one-time recovery codes that stand in for a lost device ([`recovery`]). Security keys
//! (WebAuthn) join them as another factor kind.
//!
//! This is the factor model's domain half: secrets, codes, keys and their checks. Storing
//! factors (sealed seeds, last accepted step, keys' public halves and counters), the
//! sign-in step that asks for a second factor and the setup flows build on it
//! (`service/mfa.rs`, `service/webauthn.rs`).

pub mod recovery;
pub mod totp;
pub mod webauthn;

pub use recovery::{RECOVERY_CODE_COUNT, RecoveryCode};
pub use totp::{TotpSecret, TotpVerifier};

use time::OffsetDateTime;

use crate::ids::{AccountId, MfaFactorId};
use crate::secret::TokenHash;

/// How long a started authenticator-app enrolment may wait for its first code.
pub const ENROLMENT_LIFETIME: time::Duration = time::Duration::minutes(10);
/// How long the half-signed-in state after a correct password lasts.
pub const CHALLENGE_LIFETIME: time::Duration = time::Duration::minutes(5);
/// Wrong codes one pending sign-in may take before the password must be entered again
/// (the per-account counter keeps counting across pending sign-ins).
pub const CHALLENGE_MAX_FAILURES: u32 = 5;
/// How recent a re-authentication must be for a sensitive change.
pub const REAUTH_WINDOW: time::Duration = time::Duration::minutes(10);
/// Recovery codes left at which the user is warned to make a new set.
pub const RECOVERY_LOW: u64 = 3;

/// The kinds of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactorKind {
    /// An authenticator app (TOTP, RFC 6238).
    Totp,
    /// A security key or passkey (WebAuthn).
    WebAuthn,
}

impl FactorKind {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::WebAuthn => "webauthn",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(FactorKind::Totp),
            "webauthn" => Some(FactorKind::WebAuthn),
            _ => None,
        }
    }
}

/// A second factor as stored. An authenticator app is written when its enrolment starts
/// (`confirmed_at` empty) and counts only once a first code has confirmed it.
#[derive(Debug, Clone)]
pub struct FactorRecord {
    /// Public id.
    pub id: MfaFactorId,
    /// Owner.
    pub user_id: AccountId,
    /// What kind of factor.
    pub kind: FactorKind,
    /// The name shown in lists ("Authenticator app").
    pub name: String,
    /// The TOTP seed, sealed (`seal.rs`) with the context [`seed_context`].
    pub sealed_secret: Option<String>,
    /// When enrolment started.
    pub created_at: OffsetDateTime,
    /// When the first code confirmed it; `None` while enrolment is pending.
    pub confirmed_at: Option<OffsetDateTime>,
    /// When it last completed a sign-in or re-authentication.
    pub last_used_at: Option<OffsetDateTime>,
    /// The last accepted TOTP time step (a code is accepted only for a later step).
    pub last_step: i64,
    /// A security key's public half and counter.
    pub key: Option<KeyData>,
}

/// What is stored of a security key (nothing secret: the private key never leaves it).
#[derive(Debug, Clone)]
pub struct KeyData {
    /// The credential id, base64url (unique across every account).
    pub credential_id: String,
    /// webauthn-rs's `Passkey`, serialised (public key, counter, flags).
    pub credential: String,
    /// Whether the browser reported a discoverable credential (passkey sign-in).
    pub discoverable: bool,
    /// The last signature counter seen.
    pub sign_count: i64,
}

impl FactorRecord {
    /// Whether the factor is set up (not a pending enrolment).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// The sealing context of a TOTP seed: SECURITY, it binds the ciphertext to its factor
/// and owner, so a seed copied to another row or account does not open.
pub fn seed_context(user: &AccountId, factor: &MfaFactorId) -> String {
    format!("totp-seed:{user}:{factor}")
}

/// The half-signed-in state between a correct password and the second step, kept by the
/// hash of its cookie secret.
#[derive(Debug, Clone)]
pub struct ChallengeRecord {
    /// SHA-256 of the pending credential.
    pub token_hash: TokenHash,
    /// Who passed the password step.
    pub user_id: AccountId,
    /// When.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// Wrong codes sent with it so far.
    pub failures: u32,
}

/// How a session's holder proved who they are (RFC 8176 `amr` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amr {
    /// `pwd`: a password.
    pub pwd: bool,
    /// `otp`: a code from an authenticator app.
    pub otp: bool,
    /// A one-time recovery code (Gatehouse's own value: RFC 8176 has none for it).
    pub recovery: bool,
    /// `hwk`: a security key or passkey.
    pub hwk: bool,
    /// The key verified its user (PIN or biometric): with `hwk`, two factors in one.
    pub uv: bool,
}

impl Amr {
    /// A password alone.
    pub const PASSWORD: Amr = Amr {
        pwd: true,
        otp: false,
        recovery: false,
        hwk: false,
        uv: false,
    };

    /// The values, in a fixed order.
    pub fn values(&self) -> Vec<&'static str> {
        let mut v = Vec::with_capacity(3);
        if self.pwd {
            v.push("pwd");
        }
        if self.otp {
            v.push("otp");
        }
        if self.recovery {
            v.push("recovery");
        }
        if self.hwk {
            v.push("hwk");
        }
        if v.len() + usize::from(self.uv) > 1 {
            v.push("mfa");
        }
        v
    }

    /// The stored form (`pwd,otp`).
    pub fn to_stored(&self) -> String {
        let mut v: Vec<&str> = self.values().into_iter().filter(|v| *v != "mfa").collect();
        if self.uv {
            v.push("uv");
        }
        v.join(",")
    }

    /// From the stored form; unknown values are ignored.
    pub fn from_stored(s: &str) -> Amr {
        let mut a = Amr::default();
        for v in s.split(',') {
            match v.trim() {
                "pwd" => a.pwd = true,
                "otp" => a.otp = true,
                "recovery" => a.recovery = true,
                "hwk" => a.hwk = true,
                "uv" => a.uv = true,
                _ => {}
            }
        }
        a
    }

    /// Whether a second factor was used.
    pub fn has_second_factor(&self) -> bool {
        self.otp || self.recovery || self.hwk
    }

    /// This with `other`'s methods added.
    pub fn with(self, other: Amr) -> Amr {
        Amr {
            pwd: self.pwd || other.pwd,
            otp: self.otp || other.otp,
            recovery: self.recovery || other.recovery,
            hwk: self.hwk || other.hwk,
            uv: self.uv || other.uv,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_round_trips_and_reports_mfa_for_two_factors() {
        let a = Amr::PASSWORD.with(Amr {
            otp: true,
            ..Amr::default()
        });
        assert_eq!(a.values(), ["pwd", "otp", "mfa"]);
        assert_eq!(a.to_stored(), "pwd,otp");
        assert_eq!(Amr::from_stored("pwd,otp"), a);
        assert_eq!(Amr::PASSWORD.values(), ["pwd"]);
        assert!(!Amr::PASSWORD.has_second_factor());
        assert!(a.has_second_factor());
        // A passkey alone is two factors: the key and its user verification.
        let passkey = Amr {
            hwk: true,
            uv: true,
            ..Amr::default()
        };
        assert_eq!(passkey.values(), ["hwk", "mfa"]);
        assert_eq!(Amr::from_stored(&passkey.to_stored()), passkey);
        let key_only = Amr {
            hwk: true,
            ..Amr::default()
        };
        assert_eq!(key_only.values(), ["hwk"]);
    }

    #[test]
    fn seed_contexts_differ_per_factor_and_owner() {
        let u = AccountId("usr_a".into());
        let v = AccountId("usr_b".into());
        let f = MfaFactorId("mfa_1".into());
        assert_ne!(seed_context(&u, &f), seed_context(&v, &f));
    }
}
