//! 2-step verification: the second step of a sign-in, re-authentication, and managing
//! one's factors (an authenticator app, recovery codes). Rules: SECURITY.md (TOTP and
//! recovery codes, sessions, failed attempts).
//!
//! - A correct password for an account with 2-step verification opens no session: it
//!   stores a half-finished sign-in ([`ChallengeRecord`], 5 minutes) whose secret goes
//!   to the client in a cookie of its own. Only [`Core::login_mfa`] accepts it.
//! - Wrong codes count against the account (`mfa:<account id>`, in the store), not
//!   against the half-finished sign-in, so entering the password again does not reset
//!   them; the backoff and the hard limit are the passwords' ([`Core::check_lockout`]).
//! - A code is accepted once: its time step is committed with one compare-and-set in the
//!   store before the answer is sent; a recovery code is consumed by one guarded update.
//! - Changing factors needs a cookie session that proved itself within
//!   [`REAUTH_WINDOW`] (a sign-in, or [`Core::reauthenticate`]).

use std::net::IpAddr;

use secrecy::SecretString;

use crate::account::Account;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::{AccountId, MfaFactorId};
use crate::mfa::{
    Amr, CHALLENGE_LIFETIME, CHALLENGE_MAX_FAILURES, ChallengeRecord, ENROLMENT_LIFETIME,
    FactorKind, FactorRecord, REAUTH_WINDOW, RecoveryCode, TotpSecret, TotpVerifier, recovery,
    seed_context,
};
use crate::secret::TokenHash;
use crate::session::{LoginOutcome, SessionPrincipal, SessionToken};

use super::Core;
use super::accounts::login_subject;
use super::password::OwnPassword;

/// What a correct password leads to.
#[derive(Debug)]
pub enum LoginStep {
    /// Signed in: the account has no second factor.
    Done(LoginOutcome),
    /// The account has 2-step verification: a code must follow.
    MfaRequired(MfaChallenge),
}

impl LoginStep {
    /// The session, when the sign-in is complete.
    pub fn into_session(self) -> Option<LoginOutcome> {
        match self {
            LoginStep::Done(o) => Some(o),
            LoginStep::MfaRequired(_) => None,
        }
    }
}

/// The half-finished sign-in handed to the client.
#[derive(Debug)]
pub struct MfaChallenge {
    /// The pending credential's secret (its own cookie; never `cloud.sso`).
    pub token: SessionToken,
    /// The methods that can complete it (`totp`, `recovery_code`).
    pub methods: Vec<&'static str>,
    /// Seconds it stays usable.
    pub expires_in: i64,
}

/// A second factor as presented: a code from the app, a recovery code, or a security
/// key's answer.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    /// Six digits from the authenticator app.
    Code(&'a str),
    /// One of the recovery codes.
    RecoveryCode(&'a str),
    /// A security key's assertion for a ceremony started by `start_second_step_key`.
    SecurityKey {
        /// The ceremony token.
        ceremony: &'a str,
        /// The browser's answer.
        answer: &'a crate::mfa::webauthn::AssertionResponse,
    },
}

/// The second step of a sign-in.
pub struct MfaLoginAttempt<'a> {
    /// The pending credential from the password step.
    pub pending: &'a str,
    /// The code.
    pub factor: SecondFactor<'a>,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
    /// The session cookie the client already had, to be replaced.
    pub previous_session: Option<&'a str>,
}

/// What proves a re-authentication.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// The account's password.
    Password(&'a str),
    /// A code from the authenticator app.
    Code(&'a str),
}

/// An account's 2-step verification, as the API and the page show it.
#[derive(Debug, Clone)]
pub struct MfaStatus {
    /// Whether a confirmed factor exists.
    pub enabled: bool,
    /// Confirmed factors, oldest first.
    pub factors: Vec<FactorRecord>,
    /// Unused recovery codes.
    pub recovery_codes_left: u64,
    /// Whether the organisation requires 2-step verification.
    pub required_by_org: bool,
    /// Whether the organisation requires security keys ("Enforce Security Key MFA").
    pub security_key_required_by_org: bool,
    /// Whether the organisation allows passkey sign-in.
    pub passkey_sign_in_allowed: bool,
}

/// A started authenticator-app enrolment: shown once, on the setup page.
pub struct TotpEnrolment {
    /// The pending factor, to confirm with its first code.
    pub factor_id: MfaFactorId,
    /// The `otpauth://` URI for the QR code.
    pub uri: SecretString,
    /// The secret in grouped base32, for typing in by hand.
    pub secret: SecretString,
    /// When the enrolment expires unconfirmed.
    pub expires_at: time::OffsetDateTime,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("factor_id", &self.factor_id)
            .finish_non_exhaustive()
    }
}

/// A confirmed enrolment: the session that replaces the caller's, and the recovery codes
/// when this turned 2-step verification on.
#[derive(Debug)]
pub struct TotpConfirmed {
    /// The re-issued session (it now records the second factor).
    pub session: LoginOutcome,
    /// The new recovery codes, shown once (`None` if 2-step verification was already on).
    pub recovery_codes: Option<Vec<RecoveryCode>>,
}

/// The name every authenticator app gets in lists.
const TOTP_NAME: &str = "Authenticator app";

/// The failure counter of an account's second-step codes (separate from its password
/// counter: a correct password must not reset the count of wrong codes).
pub(crate) fn mfa_subject(user: &AccountId) -> String {
    format!("mfa:{user}")
}

impl Core {
    /// After a correct password: a session, or a half-finished sign-in when the account
    /// has a second factor.
    pub(crate) async fn after_password(
        &self,
        user: &Account,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<LoginStep> {
        let now = self.clock.now();
        let factors = self.confirmed_factors(&user.id).await?;
        if factors.is_empty() {
            let outcome = self
                .open_session(user, Amr::PASSWORD, ip, user_agent, now)
                .await?;
            return Ok(LoginStep::Done(outcome));
        }
        let token = SessionToken::generate();
        self.store
            .insert_challenge(&ChallengeRecord {
                token_hash: token.hash(),
                user_id: user.id.clone(),
                created_at: now,
                expires_at: now + CHALLENGE_LIFETIME,
                failures: 0,
            })
            .await?;
        let mut methods = Vec::with_capacity(3);
        if self.webauthn_enabled() && factors.iter().any(|f| f.kind == FactorKind::WebAuthn) {
            methods.push("webauthn");
        }
        if factors.iter().any(|f| f.kind == FactorKind::Totp) {
            methods.push("totp");
        }
        methods.push("recovery_code");
        Ok(LoginStep::MfaRequired(MfaChallenge {
            token,
            methods,
            expires_in: CHALLENGE_LIFETIME.whole_seconds(),
        }))
    }

    /// Completes a sign-in with a code or a recovery code, opening a fresh session.
    #[tracing::instrument(skip_all)]
    pub async fn login_mfa(&self, attempt: MfaLoginAttempt<'_>) -> Result<LoginOutcome> {
        self.fail_closed()?;
        let now = self.clock.now();
        self.check_sign_in_address(attempt.ip, now)?;
        let hash = TokenHash::of(attempt.pending);
        let challenge = self
            .store
            .challenge_by_hash(&hash, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let user = match self.store.account_by_id(&challenge.user_id).await? {
            Some(r) if !r.user.disabled => r.user,
            _ => return Err(Error::Unauthenticated),
        };
        let subject = mfa_subject(&user.id);
        self.check_lockout(&subject, now, "wrong codes").await?;
        let Some(amr) = self.check_second_factor(&user, attempt.factor).await? else {
            self.store.record_failure(&subject, now).await?;
            if let Some(ip) = attempt.ip {
                self.ip_limiter.record_failure(ip, now);
            }
            self.store
                .fail_challenge(&hash, CHALLENGE_MAX_FAILURES)
                .await?;
            self.audit(
                AuditEvent::new(now, "login.mfa_failed")
                    .user(&user.id)
                    .factor(factor_name(attempt.factor))
                    .ip(attempt.ip),
            )
            .await;
            return Err(Error::InvalidCode);
        };
        // SECURITY: the half-finished sign-in is single-use; of two requests that both
        // brought a good code, one opens a session.
        if !self.store.take_challenge(&hash, now).await? {
            return Err(Error::Unauthenticated);
        }
        self.store.clear_failures(&subject).await?;
        if let Some(old) = attempt.previous_session {
            self.logout(old).await?;
        }
        let outcome = self
            .open_session(
                &user,
                Amr::PASSWORD.with(amr),
                attempt.ip,
                attempt.user_agent,
                now,
            )
            .await?;
        self.audit(
            AuditEvent::new(now, "login.succeeded")
                .user(&user.id)
                .factor(factor_name(attempt.factor))
                .ip(attempt.ip),
        )
        .await;
        Ok(outcome)
    }

    /// Checks a second factor for `user` and consumes it (a TOTP step, a recovery code).
    /// `None` when it does not match or was already used; replays are audited.
    async fn check_second_factor(
        &self,
        user: &Account,
        factor: SecondFactor<'_>,
    ) -> Result<Option<Amr>> {
        let now = self.clock.now();
        match factor {
            SecondFactor::Code(code) => {
                for f in self.confirmed_factors(&user.id).await? {
                    if f.kind != FactorKind::Totp {
                        continue;
                    }
                    let verifier = self.verifier(user, &f)?;
                    let Some(step) = verifier.check(code, now) else {
                        continue;
                    };
                    let step = i64::try_from(step).map_err(Error::internal)?;
                    if self
                        .store
                        .advance_totp_step(&user.id, &f.id, step, now)
                        .await?
                    {
                        return Ok(Some(Amr {
                            otp: true,
                            ..Amr::default()
                        }));
                    }
                    self.audit(
                        AuditEvent::new(now, "mfa.code_replayed")
                            .user(&user.id)
                            .factor("totp")
                            .detail(format!("factor={}", f.id)),
                    )
                    .await;
                }
                Ok(None)
            }
            SecondFactor::SecurityKey { ceremony, answer } => {
                self.check_key_answer(user, ceremony, answer).await
            }
            SecondFactor::RecoveryCode(code) => {
                let Some(hash) = recovery::hash_typed(code) else {
                    return Ok(None);
                };
                if !self.store.use_recovery_code(&user.id, &hash, now).await? {
                    return Ok(None);
                }
                let left = self.store.recovery_codes_left(&user.id).await?;
                self.audit(
                    AuditEvent::new(now, "mfa.recovery_code_used")
                        .user(&user.id)
                        .factor("recovery_code")
                        .detail(format!("left={left}")),
                )
                .await;
                Ok(Some(Amr {
                    recovery: true,
                    ..Amr::default()
                }))
            }
        }
    }

    /// Re-authenticates a cookie session with its password or a current code, and
    /// re-issues it under a new id (SECURITY.md: a new id at re-authentication). For
    /// [`REAUTH_WINDOW`] after, factor changes are allowed.
    #[tracing::instrument(skip_all, fields(user = %session.user.id))]
    pub async fn reauthenticate(
        &self,
        session: &SessionPrincipal,
        cookie: &str,
        proof: Proof<'_>,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome> {
        self.fail_closed()?;
        let now = self.clock.now();
        let user = &session.user;
        let used = match proof {
            Proof::Password(password) => {
                self.confirm_own_password(
                    user,
                    password,
                    OwnPassword {
                        field: "password",
                        reason: "is not your password",
                        failed_action: "user.reauthentication_failed",
                    },
                )
                .await?;
                self.store
                    .clear_failures(&login_subject(&user.username))
                    .await?;
                Amr::PASSWORD
            }
            Proof::Code(code) => {
                let subject = mfa_subject(&user.id);
                self.check_lockout(&subject, now, "wrong codes").await?;
                let Some(amr) = self
                    .check_second_factor(user, SecondFactor::Code(code))
                    .await?
                else {
                    self.store.record_failure(&subject, now).await?;
                    self.audit(
                        AuditEvent::new(now, "user.reauthentication_failed")
                            .user(&user.id)
                            .factor("totp"),
                    )
                    .await;
                    return Err(Error::invalid(
                        "code",
                        "is not a current code from your authenticator app",
                    ));
                };
                self.store.clear_failures(&subject).await?;
                amr
            }
        };
        self.logout(cookie).await?;
        let outcome = self
            .open_session(user, session.amr.with(used), ip, user_agent, now)
            .await?;
        self.audit(
            AuditEvent::new(now, "user.reauthenticated")
                .user(&user.id)
                .factor(match proof {
                    Proof::Password(_) => "password",
                    Proof::Code(_) => "totp",
                }),
        )
        .await;
        Ok(outcome)
    }

    /// Refuses a factor change unless the session proved itself recently.
    pub(super) fn require_recent_auth(&self, session: &SessionPrincipal) -> Result<()> {
        if self.clock.now() - session.reauthenticated_at > REAUTH_WINDOW {
            return Err(Error::ReauthenticationRequired);
        }
        Ok(())
    }

    /// The account's 2-step verification status.
    pub async fn mfa_status(&self, user: &Account) -> Result<MfaStatus> {
        let factors = self.confirmed_factors(&user.id).await?;
        let left = if factors.is_empty() {
            0
        } else {
            self.store.recovery_codes_left(&user.id).await?
        };
        let policy = self.store.org_policy(&user.org_id).await?;
        Ok(MfaStatus {
            enabled: !factors.is_empty(),
            factors,
            recovery_codes_left: left,
            required_by_org: policy.require_mfa || policy.enforce_security_key,
            security_key_required_by_org: policy.enforce_security_key,
            passkey_sign_in_allowed: policy.passkey_sign_in,
        })
    }

    /// Starts setting up an authenticator app: a new seed, sealed and stored as a
    /// pending factor for [`ENROLMENT_LIFETIME`], and what the setup page shows.
    #[tracing::instrument(skip_all, fields(user = %session.user.id))]
    pub async fn start_totp(&self, session: &SessionPrincipal) -> Result<TotpEnrolment> {
        self.fail_closed()?;
        self.require_recent_auth(session)?;
        let user = &session.user;
        let now = self.clock.now();
        if self
            .confirmed_factors(&user.id)
            .await?
            .iter()
            .any(|f| f.kind == FactorKind::Totp)
        {
            return Err(Error::Conflict(
                "an authenticator app is already set up; remove it first to set up another".into(),
            ));
        }
        let secret = TotpSecret::generate();
        let id = MfaFactorId::generate();
        let sealed = self
            .master()?
            .seal(secret.expose(), &seed_context(&user.id, &id))?;
        self.store
            .insert_pending_factor(&FactorRecord {
                id: id.clone(),
                user_id: user.id.clone(),
                kind: FactorKind::Totp,
                name: TOTP_NAME.into(),
                sealed_secret: Some(sealed),
                created_at: now,
                confirmed_at: None,
                last_used_at: None,
                last_step: -1,
                key: None,
            })
            .await?;
        let verifier = TotpVerifier::new(&secret, &self.settings.mfa_issuer, &user.username)?;
        self.audit(
            AuditEvent::new(now, "mfa.totp_setup_started")
                .user(&user.id)
                .factor("totp"),
        )
        .await;
        Ok(TotpEnrolment {
            factor_id: id,
            uri: SecretString::from(verifier.enrolment_uri()?),
            secret: SecretString::from(secret.grouped_base32()),
            expires_at: now + ENROLMENT_LIFETIME,
        })
    }

    /// Confirms a pending authenticator app with its first code. The first factor turns
    /// 2-step verification on and brings a new set of recovery codes; the session is
    /// re-issued recording the second factor.
    #[tracing::instrument(skip_all, fields(user = %session.user.id))]
    pub async fn confirm_totp(
        &self,
        session: &SessionPrincipal,
        cookie: &str,
        factor_id: Option<&MfaFactorId>,
        code: &str,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<TotpConfirmed> {
        self.fail_closed()?;
        let user = &session.user;
        let now = self.clock.now();
        let all = self.store.mfa_factors(&user.id).await?;
        let expired = || {
            Error::invalid(
                "code",
                "this setup has expired or was replaced; start again with Use Authenticator",
            )
        };
        let pending = all
            .iter()
            .rfind(|f| {
                !f.is_confirmed()
                    && f.kind == FactorKind::Totp
                    && factor_id.is_none_or(|id| *id == f.id)
            })
            .filter(|f| f.created_at > now - ENROLMENT_LIFETIME)
            .ok_or_else(expired)?;
        let step = self
            .verifier(user, pending)?
            .check(code, now)
            .ok_or_else(|| {
                Error::invalid(
                    "code",
                    "does not match: enter the 6-digit code your authenticator app shows now \
                     (if it keeps failing, check that your phone's clock is set automatically)",
                )
            })?;
        let first = !all.iter().any(FactorRecord::is_confirmed);
        let codes = first.then(RecoveryCode::generate_set);
        let hashes: Option<Vec<TokenHash>> = codes
            .as_ref()
            .map(|c| c.iter().map(RecoveryCode::hash).collect());
        let confirmed = self
            .store
            .confirm_factor(
                &user.id,
                &pending.id,
                i64::try_from(step).map_err(Error::internal)?,
                now - ENROLMENT_LIFETIME,
                now,
                hashes.as_deref(),
            )
            .await?;
        if !confirmed {
            return Err(expired());
        }
        self.audit(
            AuditEvent::new(now, "mfa.totp_enabled")
                .user(&user.id)
                .factor("totp")
                .detail(format!("factor={} first={first}", pending.id)),
        )
        .await;
        self.logout(cookie).await?;
        let amr = session.amr.with(Amr {
            otp: true,
            ..Amr::default()
        });
        let outcome = self.open_session(user, amr, ip, user_agent, now).await?;
        Ok(TotpConfirmed {
            session: outcome,
            recovery_codes: codes,
        })
    }

    /// Removes one factor (the last one turns 2-step verification off, and its recovery
    /// codes go with it).
    #[tracing::instrument(skip_all, fields(user = %session.user.id))]
    pub async fn remove_factor(
        &self,
        session: &SessionPrincipal,
        kind: FactorKind,
        id: &MfaFactorId,
    ) -> Result<()> {
        self.fail_closed()?;
        let user = &session.user;
        let factors = self.store.mfa_factors(&user.id).await?;
        let factor = factors
            .iter()
            .find(|f| f.id == *id && f.kind == kind)
            .ok_or(Error::NotFound)?;
        self.require_recent_auth(session)?;
        let last =
            factor.is_confirmed() && factors.iter().filter(|f| f.is_confirmed()).count() == 1;
        if last {
            self.refuse_if_required(user, "remove your only 2-step verification method")
                .await?;
        }
        if !self
            .store
            .delete_factor(&user.id, id, self.clock.now())
            .await?
        {
            return Err(Error::NotFound);
        }
        self.audit(
            AuditEvent::new(self.clock.now(), "mfa.factor_removed")
                .user(&user.id)
                .factor(factor.kind.as_str())
                .detail(format!("factor={id} mfa_off={last}")),
        )
        .await;
        Ok(())
    }

    /// Turns 2-step verification off: every factor and recovery code goes.
    #[tracing::instrument(skip_all, fields(user = %session.user.id))]
    pub async fn turn_off_mfa(&self, session: &SessionPrincipal) -> Result<()> {
        self.fail_closed()?;
        self.require_recent_auth(session)?;
        let user = &session.user;
        self.refuse_if_required(user, "turn off 2-step verification")
            .await?;
        let removed = self
            .store
            .delete_all_factors(&user.id, self.clock.now())
            .await?;
        self.audit(
            AuditEvent::new(self.clock.now(), "mfa.turned_off")
                .user(&user.id)
                .detail(format!("factors={removed}")),
        )
        .await;
        Ok(())
    }

    /// Replaces the recovery codes with a new set (the old ones stop working).
    #[tracing::instrument(skip_all, fields(user = %session.user.id))]
    pub async fn regenerate_recovery_codes(
        &self,
        session: &SessionPrincipal,
    ) -> Result<Vec<RecoveryCode>> {
        self.fail_closed()?;
        self.require_recent_auth(session)?;
        let user = &session.user;
        if self.confirmed_factors(&user.id).await?.is_empty() {
            return Err(Error::Conflict(
                "2-step verification is off: set up an authenticator app first".into(),
            ));
        }
        let codes = RecoveryCode::generate_set();
        let hashes: Vec<TokenHash> = codes.iter().map(RecoveryCode::hash).collect();
        self.store
            .replace_recovery_codes(&user.id, &hashes, self.clock.now())
            .await?;
        self.audit(
            AuditEvent::new(self.clock.now(), "mfa.recovery_codes_regenerated")
                .user(&user.id)
                .factor("recovery_code"),
        )
        .await;
        Ok(codes)
    }

    /// Operator recovery (lost phone and codes): removes every factor and recovery code,
    /// resets the code counter and ends every session and token of the account.
    #[tracing::instrument(skip_all, fields(username = %username))]
    pub async fn reset_mfa(&self, username: &str, reason: &str) -> Result<u64> {
        let user = self.account_named(username).await?;
        self.remove_all_factors(&user, reason, "mfa.reset_by_operator", None)
            .await
    }

    /// Removes every factor and recovery code of `user`, clears its code counter and
    /// ends its sessions and tokens; audited as `action`, with the reason and who did it.
    pub(crate) async fn remove_all_factors(
        &self,
        user: &Account,
        reason: &str,
        action: &str,
        by: Option<&crate::actor::Actor>,
    ) -> Result<u64> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(Error::invalid(
                "reason",
                "say why, in 1 to 500 characters (it goes to the audit trail)",
            ));
        }
        let now = self.clock.now();
        let removed = self.store.delete_all_factors(&user.id, now).await?;
        self.store.clear_failures(&mfa_subject(&user.id)).await?;
        self.end_all_sessions(&user.id).await?;
        let by = by
            .map(|a| format!(" by={}", a.user.username))
            .unwrap_or_default();
        self.audit(
            AuditEvent::new(now, action)
                .user(&user.id)
                .detail(format!("factors={removed} reason={reason:?}{by}")),
        )
        .await;
        Ok(removed)
    }

    /// Whether a session must set up 2-step verification before anything else (its
    /// organisation requires it and the sign-in used no second factor), and whether what
    /// it must set up is a security key (the organisation requires those, and the sign-in
    /// used none).
    pub(crate) async fn needs_mfa_setup(&self, user: &Account, amr: Amr) -> Result<(bool, bool)> {
        if amr.hwk {
            return Ok((false, false));
        }
        let policy = self.store.org_policy(&user.org_id).await?;
        if policy.enforce_security_key {
            return Ok((true, true));
        }
        Ok((policy.require_mfa && !amr.has_second_factor(), false))
    }

    async fn refuse_if_required(&self, user: &Account, what: &str) -> Result<()> {
        let policy = self.store.org_policy(&user.org_id).await?;
        if policy.require_mfa || policy.enforce_security_key {
            return Err(Error::Conflict(format!(
                "your organisation requires 2-step verification, so you cannot {what}"
            )));
        }
        Ok(())
    }

    pub(super) async fn confirmed_factors(&self, user: &AccountId) -> Result<Vec<FactorRecord>> {
        let mut all = self.store.mfa_factors(user).await?;
        all.retain(FactorRecord::is_confirmed);
        Ok(all)
    }

    fn verifier(&self, user: &Account, factor: &FactorRecord) -> Result<TotpVerifier> {
        let sealed = factor
            .sealed_secret
            .as_deref()
            .ok_or_else(|| Error::internal("authenticator app without a seed"))?;
        let seed = self
            .master()?
            .open(sealed, &seed_context(&user.id, &factor.id))?;
        let secret = TotpSecret::from_bytes(&seed)?;
        TotpVerifier::new(&secret, &self.settings.mfa_issuer, &user.username)
    }
}

fn factor_name(f: SecondFactor<'_>) -> &'static str {
    match f {
        SecondFactor::Code(_) => "totp",
        SecondFactor::RecoveryCode(_) => "recovery_code",
        SecondFactor::SecurityKey { .. } => "webauthn",
    }
}
