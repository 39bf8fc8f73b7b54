//! Security keys and passkeys: adding, naming and listing keys, the key as the second
//! step of a sign-in, and signing in with a passkey alone. The WebAuthn checks are
//! webauthn-rs's (`mfa/webauthn.rs`); this file keeps ceremonies single-use and bound to
//! their account in the store, counters compare-and-set, and the organisation's rules.

use std::net::IpAddr;
use std::sync::Arc;

use secrecy::SecretString;

use crate::account::Account;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::{AccountId, MfaFactorId};
use crate::mfa::webauthn::{
    AssertionResponse, CEREMONY_LIFETIME, CeremonyKind, CeremonyRecord, CeremonyStart, MAX_KEYS,
    Refusal, RegistrationResponse, RelyingParty, credential_id_text, passkey_from_stored,
    passkey_to_stored, reported_discoverable,
};
use crate::mfa::{Amr, FactorKind, FactorRecord, KeyData, RecoveryCode};
use crate::secret::{TokenHash, random_token};
use crate::session::{LoginOutcome, SessionPrincipal};

use super::Core;
use super::mfa::mfa_subject;

/// A key added: the re-issued session (it now records the key) and the recovery codes
/// when this turned 2-step verification on.
#[derive(Debug)]
pub struct KeyAdded {
    /// The new factor.
    pub factor: FactorRecord,
    /// The session that replaces the caller's.
    pub session: LoginOutcome,
    /// New recovery codes, shown once (`None` if 2-step verification was already on).
    pub recovery_codes: Option<Vec<RecoveryCode>>,
}

/// A passkey sign-in's answer.
pub struct PasskeySignIn<'a> {
    /// The ceremony token from the start.
    pub ceremony: &'a str,
    /// The browser's assertion.
    pub answer: &'a AssertionResponse,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
    /// The session cookie the client already had, to be replaced.
    pub previous_session: Option<&'a str>,
}

impl Core {
    /// Gives the core its WebAuthn relying party (security keys are off without one).
    pub fn with_webauthn(mut self, rp: Arc<RelyingParty>) -> Self {
        self.webauthn = Some(rp);
        self
    }

    /// Whether security keys are available on this server.
    pub fn webauthn_enabled(&self) -> bool {
        self.webauthn.is_some()
    }

    fn rp(&self) -> Result<&RelyingParty> {
        self.webauthn
            .as_deref()
            .ok_or_else(|| Error::Forbidden("security keys are not enabled on this server".into()))
    }

    async fn start_ceremony(
        &self,
        kind: CeremonyKind,
        user: Option<&AccountId>,
        options: serde_json::Value,
        state: String,
    ) -> Result<CeremonyStart> {
        let now = self.clock.now();
        let token = random_token::<32>();
        self.store
            .insert_ceremony(&CeremonyRecord {
                token_hash: TokenHash::of(&token),
                kind,
                user_id: user.cloned(),
                state,
                created_at: now,
                expires_at: now + CEREMONY_LIFETIME,
            })
            .await?;
        Ok(CeremonyStart {
            token: SecretString::from(token),
            options,
        })
    }

    /// Takes a ceremony of `kind` for `user` (single use). Another account's ceremony,
    /// an expired or a used one, or one of another kind: `Unauthenticated`.
    async fn take_ceremony(
        &self,
        token: &str,
        kind: CeremonyKind,
        user: Option<&AccountId>,
    ) -> Result<CeremonyRecord> {
        let c = self
            .store
            .take_ceremony(&TokenHash::of(token), kind, self.clock.now())
            .await?
            .ok_or(Error::Unauthenticated)?;
        if c.user_id.as_ref() != user {
            return Err(Error::Unauthenticated);
        }
        Ok(c)
    }

    async fn keys_of(&self, user: &AccountId) -> Result<Vec<FactorRecord>> {
        let mut all = self.confirmed_factors(user).await?;
        all.retain(|f| f.kind == FactorKind::WebAuthn && f.key.is_some());
        Ok(all)
    }

    /// Starts adding a security key. Requires: a recently re-authenticated session.
    pub async fn start_key_registration(
        &self,
        session: &SessionPrincipal,
    ) -> Result<CeremonyStart> {
        self.fail_closed()?;
        let rp = self.rp()?;
        self.require_recent_auth(session)?;
        let user = &session.user;
        let keys = self.keys_of(&user.id).await?;
        if keys.len() >= MAX_KEYS {
            return Err(Error::invalid(
                "security_key",
                format!(
                    "you already have {MAX_KEYS} security keys; remove one you no longer use first"
                ),
            ));
        }
        let existing = passkeys(&keys)?;
        let models = self
            .store
            .org_policy(&user.org_id)
            .await?
            .security_key_models;
        let (options, state) = rp.start_registration(user, &existing, &models)?;
        self.start_ceremony(CeremonyKind::Register, Some(&user.id), options, state)
            .await
    }

    /// Finishes adding a security key named `name`. The first factor turns 2-step
    /// verification on (with recovery codes); the session is re-issued recording the key.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all, fields(user = %session.user.id))]
    pub async fn finish_key_registration(
        &self,
        session: &SessionPrincipal,
        cookie: &str,
        ceremony: &str,
        name: &str,
        answer: &RegistrationResponse,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<KeyAdded> {
        self.fail_closed()?;
        let rp = self.rp()?;
        let user = &session.user;
        let name = crate::name::parse("name", name)?;
        let now = self.clock.now();
        let c = self
            .take_ceremony(ceremony, CeremonyKind::Register, Some(&user.id))
            .await
            .map_err(|_| {
                Error::invalid(
                    "ceremony",
                    "this security key setup has expired or was already used; start again with \
                     Add security key",
                )
            })?;
        let models = self
            .store
            .org_policy(&user.org_id)
            .await?
            .security_key_models;
        let passkey = match rp.finish_registration(answer, &c.state, &models) {
            Ok(p) => p,
            Err(Refusal::Stale) => {
                return Err(Error::invalid(
                    "ceremony",
                    "your organisation changed which security key models it accepts; start \
                     again with Add security key",
                ));
            }
            Err(r) => {
                let why = match r {
                    Refusal::Invalid(why) | Refusal::Internal(why) => why,
                    Refusal::CounterRegression => "counter".into(),
                    Refusal::Stale => "stale".into(),
                };
                tracing::info!(reason = %why, "security key registration refused");
                // webauthn-rs refuses a key from the ceremony's exclude list (one this
                // account already has) with an unrelated error ("a credential alg that was
                // not allowed"); answer it as the duplicate it is, like a key of another
                // account (the store's unique credential id).
                let named = credential_id_text(answer.raw_id.as_ref());
                if self
                    .keys_of(&user.id)
                    .await?
                    .iter()
                    .any(|k| k.key.as_ref().is_some_and(|k| k.credential_id == named))
                {
                    return Err(Error::Conflict(
                        "this security key is registered already".into(),
                    ));
                }
                return Err(Error::invalid(
                    "credential",
                    "the security key's answer could not be verified; try again",
                ));
            }
        };
        let first = self
            .store
            .mfa_factors(&user.id)
            .await?
            .iter()
            .all(|f| !f.is_confirmed());
        let codes = first.then(RecoveryCode::generate_set);
        let hashes: Option<Vec<TokenHash>> = codes
            .as_ref()
            .map(|c| c.iter().map(RecoveryCode::hash).collect());
        let factor = FactorRecord {
            id: MfaFactorId::generate(),
            user_id: user.id.clone(),
            kind: FactorKind::WebAuthn,
            name,
            sealed_secret: None,
            created_at: now,
            confirmed_at: Some(now),
            last_used_at: None,
            last_step: -1,
            key: Some(KeyData {
                credential_id: credential_id_text(passkey.cred_id().as_ref()),
                credential: passkey_to_stored(&passkey)?,
                discoverable: reported_discoverable(answer),
                sign_count: 0,
            }),
        };
        self.store
            .insert_confirmed_factor(&factor, hashes.as_deref())
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => {
                    Error::Conflict("this security key is registered already".into())
                }
                other => other,
            })?;
        self.audit(
            AuditEvent::new(now, "mfa.security_key_added")
                .user(&user.id)
                .factor("webauthn")
                .detail(format!(
                    "factor={} discoverable={} first={first}",
                    factor.id,
                    factor.key.as_ref().is_some_and(|k| k.discoverable)
                )),
        )
        .await;
        self.logout(cookie).await?;
        let amr = session.amr.with(Amr {
            hwk: true,
            uv: true,
            ..Amr::default()
        });
        let outcome = self.open_session(user, amr, ip, user_agent, now).await?;
        Ok(KeyAdded {
            factor,
            session: outcome,
            recovery_codes: codes,
        })
    }

    /// Renames one of the caller's factors.
    pub async fn rename_factor(
        &self,
        session: &SessionPrincipal,
        id: &MfaFactorId,
        name: &str,
    ) -> Result<()> {
        self.fail_closed()?;
        let name = crate::name::parse("name", name)?;
        if !self
            .store
            .rename_factor(&session.user.id, id, &name)
            .await?
        {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// Starts the second step of a sign-in with a security key: the pending sign-in must
    /// be live, and the account must have keys.
    pub async fn start_second_step_key(&self, pending: &str) -> Result<CeremonyStart> {
        self.fail_closed()?;
        let rp = self.rp()?;
        let challenge = self
            .store
            .challenge_by_hash(&TokenHash::of(pending), self.clock.now())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let keys = passkeys(&self.keys_of(&challenge.user_id).await?)?;
        if keys.is_empty() {
            return Err(Error::invalid(
                "method",
                "this account has no security key; use your authenticator app or a recovery code",
            ));
        }
        let (options, state) = rp.start_authentication(&keys)?;
        self.start_ceremony(
            CeremonyKind::SecondStep,
            Some(&challenge.user_id),
            options,
            state,
        )
        .await
    }

    /// Checks a security key's answer for the second step of `user`'s sign-in and records
    /// the key's use. `None` when it is refused (audited).
    pub(crate) async fn check_key_answer(
        &self,
        user: &Account,
        ceremony: &str,
        answer: &AssertionResponse,
    ) -> Result<Option<Amr>> {
        let rp = self.rp()?;
        let Ok(c) = self
            .take_ceremony(ceremony, CeremonyKind::SecondStep, Some(&user.id))
            .await
        else {
            return Ok(None);
        };
        let credential_id = credential_id_text(answer.get_credential_id());
        let Some(factor) = self.keys_of(&user.id).await?.into_iter().find(|f| {
            f.key
                .as_ref()
                .is_some_and(|k| k.credential_id == credential_id)
        }) else {
            return Ok(None);
        };
        let result = rp.finish_authentication(answer, &c.state);
        self.accept_key_use(user, &factor, result).await
    }

    /// Records a verified key use (counter compare-and-set) or audits a refusal.
    async fn accept_key_use(
        &self,
        user: &Account,
        factor: &FactorRecord,
        result: std::result::Result<webauthn_rs::prelude::AuthenticationResult, Refusal>,
    ) -> Result<Option<Amr>> {
        let now = self.clock.now();
        let key = factor
            .key
            .as_ref()
            .ok_or_else(|| Error::internal("a security key without its data"))?;
        let result = match result {
            Ok(r) => r,
            Err(Refusal::CounterRegression) => {
                self.audit_counter_regression(user, factor).await;
                return Ok(None);
            }
            Err(Refusal::Invalid(why)) => {
                tracing::info!(reason = %why, "security key answer refused");
                return Ok(None);
            }
            Err(Refusal::Stale) => return Ok(None),
            Err(Refusal::Internal(why)) => return Err(Error::internal(why)),
        };
        let mut passkey = passkey_from_stored(&key.credential)?;
        passkey.update_credential(&result);
        let count = i64::from(result.counter());
        if !self
            .store
            .record_key_use(
                &user.id,
                &factor.id,
                &passkey_to_stored(&passkey)?,
                count,
                now,
            )
            .await?
        {
            // Another sign-in recorded a later counter first: this answer is older.
            self.audit_counter_regression(user, factor).await;
            return Ok(None);
        }
        Ok(Some(Amr {
            hwk: true,
            uv: result.user_verified(),
            ..Amr::default()
        }))
    }

    async fn audit_counter_regression(&self, user: &Account, factor: &FactorRecord) {
        self.audit(
            AuditEvent::new(self.clock.now(), "mfa.security_key_counter_regression")
                .user(&user.id)
                .factor("webauthn")
                .detail(format!(
                    "factor={} (the key may have been cloned)",
                    factor.id
                )),
        )
        .await;
    }

    /// Starts a passkey sign-in (public; the key will say whose account it is).
    pub async fn start_passkey_sign_in(&self, ip: Option<IpAddr>) -> Result<CeremonyStart> {
        self.fail_closed()?;
        let rp = self.rp()?;
        self.check_sign_in_address(ip, self.clock.now())?;
        let (options, state) = rp.start_passkey_sign_in()?;
        self.start_ceremony(CeremonyKind::Passkey, None, options, state)
            .await
    }

    /// Finishes a passkey sign-in: a discoverable key with user verification counts as
    /// both factors, unless the account's organisation turned passkey sign-in off.
    #[tracing::instrument(skip_all)]
    pub async fn finish_passkey_sign_in(&self, attempt: PasskeySignIn<'_>) -> Result<LoginOutcome> {
        self.fail_closed()?;
        let rp = self.rp()?;
        let now = self.clock.now();
        let refused = |ip| {
            if let Some(ip) = ip {
                self.ip_limiter.record_failure(ip, now);
            }
            Error::InvalidCredentials
        };
        let c = self
            .take_ceremony(attempt.ceremony, CeremonyKind::Passkey, None)
            .await
            .map_err(|_| refused(attempt.ip))?;
        let Some((handle, raw_id)) = RelyingParty::identify(attempt.answer) else {
            return Err(refused(attempt.ip));
        };
        let Some(factor) = self
            .store
            .factor_by_credential_id(&credential_id_text(&raw_id))
            .await?
        else {
            return Err(refused(attempt.ip));
        };
        let user = match self.store.account_by_id(&factor.user_id).await? {
            Some(r) if !r.user.disabled => r.user,
            _ => return Err(refused(attempt.ip)),
        };
        // SECURITY: the key's user handle must be this account's.
        if RelyingParty::user_handle(&user.id) != handle {
            return Err(refused(attempt.ip));
        }
        let subject = mfa_subject(&user.id);
        self.check_lockout(&subject, now, "failed sign-ins").await?;
        let key = factor
            .key
            .as_ref()
            .ok_or_else(|| Error::internal("a security key without its data"))?;
        let passkey = passkey_from_stored(&key.credential)?;
        let result = rp.finish_passkey_sign_in(attempt.answer, &c.state, &passkey);
        let Some(amr) = self.accept_key_use(&user, &factor, result).await? else {
            self.store.record_failure(&subject, now).await?;
            self.audit(
                AuditEvent::new(now, "login.failed")
                    .user(&user.id)
                    .factor("passkey")
                    .ip(attempt.ip),
            )
            .await;
            return Err(refused(attempt.ip));
        };
        self.store.clear_failures(&subject).await?;
        // SECURITY: checked only after the key proved itself, so the policy is not told
        // to someone who merely knows a credential id and user handle.
        if !self.store.org_policy(&user.org_id).await?.passkey_sign_in {
            return Err(Error::Forbidden(
                "your organisation does not allow passkey sign-in: sign in with your password"
                    .into(),
            ));
        }
        if let Some(old) = attempt.previous_session {
            self.logout(old).await?;
        }
        let outcome = self
            .open_session(&user, amr, attempt.ip, attempt.user_agent, now)
            .await?;
        self.audit(
            AuditEvent::new(now, "login.succeeded")
                .user(&user.id)
                .factor("passkey")
                .ip(attempt.ip),
        )
        .await;
        Ok(outcome)
    }
}

/// The webauthn-rs form of stored keys.
fn passkeys(keys: &[FactorRecord]) -> Result<Vec<webauthn_rs::prelude::Passkey>> {
    keys.iter()
        .filter_map(|k| k.key.as_ref())
        .map(|k| passkey_from_stored(&k.credential))
        .collect()
}
