//! Sign-in, sign-out and per-request session authentication.

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::account::Username;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::SessionId;
use crate::mfa::Amr;
use crate::password::PresentedPassword;
use crate::secret::TokenHash;
use crate::session::{LoginOutcome, SessionPrincipal, SessionRecord, SessionToken};
use crate::throttle::Lockout;

use super::Core;
use super::accounts::login_subject;
use super::mfa::LoginStep;

/// A sign-in attempt.
pub struct LoginAttempt<'a> {
    /// The name as typed.
    pub username: &'a str,
    /// The password as typed.
    pub password: &'a str,
    /// Client address (after trusted-proxy processing).
    pub ip: Option<IpAddr>,
    /// Client user agent.
    pub user_agent: Option<&'a str>,
    /// The session cookie the client already had, to be replaced.
    pub previous_session: Option<&'a str>,
}

impl Core {
    /// Checks a username and password and opens a new session, or — for an account with
    /// 2-step verification — a half-finished sign-in that [`Core::login_mfa`] completes.
    ///
    /// Unknown users, disabled users and wrong passwords all get `InvalidCredentials`
    /// after the same amount of hashing work.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, attempt: LoginAttempt<'_>) -> Result<LoginStep> {
        self.fail_closed()?;
        let now = self.clock.now();
        let password = PresentedPassword::parse(attempt.password)?;
        self.check_sign_in_address(attempt.ip, now)?;
        let subject = login_subject(attempt.username);
        self.check_lockout(&subject, now, "failed sign-ins").await?;

        let record = match Username::parse(attempt.username) {
            Ok(name) => self.store.account_by_username(&name).await?,
            Err(_) => None,
        };
        let usable = record.as_ref().filter(|r| !r.user.disabled);
        let verified = self
            .hasher
            .verify(
                password.expose(),
                usable.and_then(|r| r.password_hash.as_deref()),
            )
            .await?;

        let Some(record) = usable.filter(|_| verified.matched) else {
            self.store.record_failure(&subject, now).await?;
            if let Some(ip) = attempt.ip {
                self.ip_limiter.record_failure(ip, now);
            }
            let mut ev = AuditEvent::new(now, "login.failed")
                .factor("password")
                .ip(attempt.ip)
                .username(attempt.username);
            if let Some(r) = &record {
                ev = ev.user(&r.user.id);
            }
            self.audit(ev).await;
            return Err(Error::InvalidCredentials);
        };

        self.store.clear_failures(&subject).await?;
        if verified.needs_rehash {
            let hash = self.hasher.hash(password.expose()).await?;
            self.store.set_password_hash(&record.user.id, &hash).await?;
        }
        // SECURITY: a sign-in always mints a new session id (no fixation), and the
        // one the browser had is ended.
        if let Some(old) = attempt.previous_session {
            self.logout(old).await?;
        }
        let step = self
            .after_password(&record.user, attempt.ip, attempt.user_agent)
            .await?;
        let action = match step {
            LoginStep::Done(_) => "login.succeeded",
            LoginStep::MfaRequired(_) => "login.mfa_required",
        };
        self.audit(
            AuditEvent::new(now, action)
                .user(&record.user.id)
                .factor("password")
                .ip(attempt.ip),
        )
        .await;
        Ok(step)
    }

    /// Stores a new session for `user` and caches it: the one way a session starts
    /// (sign-in, and re-authentication such as a password change, which rotate the id).
    /// `amr` records how its holder proved who they are; a new session counts as a
    /// fresh re-authentication.
    pub(crate) async fn open_session(
        &self,
        user: &crate::account::Account,
        amr: Amr,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<LoginOutcome> {
        let token = SessionToken::generate();
        let session = SessionRecord {
            id: SessionId::generate(),
            token_hash: token.hash(),
            user_id: user.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.settings.session.absolute_lifetime,
            ip: ip.map(|i| i.to_string()),
            user_agent: user_agent.map(|u| u.chars().take(256).collect()),
            amr,
            reauthenticated_at: now,
        };
        let (mfa_setup_required, security_key_setup_required) =
            self.needs_mfa_setup(user, amr).await?;
        self.store.insert_session(&session).await?;
        self.store.record_sign_in(&user.id, now).await?;
        let principal = Arc::new(SessionPrincipal {
            session_id: session.id.clone(),
            actor: self.actor_for_session(user),
            user: user.clone(),
            expires_at: session.expires_at,
            amr,
            reauthenticated_at: now,
            mfa_setup_required,
            security_key_setup_required,
        });
        self.sessions
            .insert(session.token_hash, principal.clone(), now, false, now);
        Ok(LoginOutcome { token, principal })
    }

    /// Refuses a sign-in step (password, second step, passkey) from an address with too
    /// many failed sign-ins in the window, before any work is done for it.
    pub(crate) fn check_sign_in_address(
        &self,
        ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<()> {
        if let Some(ip) = ip
            && let Some(wait) = self.ip_limiter.check(ip, now)
        {
            return Err(rate_limited(
                wait,
                "too many failed sign-ins from this address",
            ));
        }
        Ok(())
    }

    /// Refuses an attempt while `subject`'s failures (sign-ins, codes, current passwords:
    /// one counter per account) call for a wait; `what` names them in the message.
    pub(crate) async fn check_lockout(
        &self,
        subject: &str,
        now: OffsetDateTime,
        what: &str,
    ) -> Result<()> {
        let state = self.store.failure_state(subject).await?;
        match self.settings.lockout.check(state.as_ref(), now) {
            Some(Lockout::Backoff(wait)) => Err(rate_limited(
                wait,
                &format!("too many {what}; try again later"),
            )),
            Some(Lockout::Locked) => Err(rate_limited(
                3600,
                &format!(
                    "this account is locked after too many {what}; an administrator must reset it"
                ),
            )),
            None => Ok(()),
        }
    }

    /// Ends the session behind a cookie value, everywhere. Unknown values are ignored.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, cookie_value: &str) -> Result<()> {
        let hash = TokenHash::of(cookie_value);
        self.sessions.remove(&hash);
        if let Some(s) = self.store.session_by_hash(&hash).await? {
            self.store.delete_session(&hash, self.clock.now()).await?;
            self.audit(
                AuditEvent::new(self.clock.now(), "logout")
                    .user(&s.user_id)
                    .factor("session"),
            )
            .await;
        }
        Ok(())
    }

    /// Authenticates a request's session cookie. A cache hit costs a SHA-256 and a map
    /// lookup; a miss (or an entry older than the cache TTL) goes to the store.
    pub async fn authenticate_session(&self, cookie_value: &str) -> Result<Arc<SessionPrincipal>> {
        self.fail_closed()?;
        let now = self.clock.now();
        let hash = TokenHash::of(cookie_value);
        let policy = &self.settings.session;
        let mut cached_seen = None;
        if let Some(hit) = self.sessions.touch(&hash, now) {
            cached_seen = Some(hit.last_seen);
            let fresh = now.unix_timestamp() - hit.checked_at < policy.cache_ttl.whole_seconds();
            if fresh {
                if self.is_live(hit.principal.expires_at, hit.last_seen, now) {
                    return Ok(hit.principal);
                }
                self.sessions.remove(&hash);
                return Err(Error::Unauthenticated);
            }
        }
        self.load_session(hash, cached_seen, now).await
    }

    async fn load_session(
        &self,
        hash: TokenHash,
        cached_seen: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Arc<SessionPrincipal>> {
        // Activity seen only in memory still counts toward the idle timeout.
        self.sessions.remove(&hash);
        let Some(record) = self.store.session_by_hash(&hash).await? else {
            return Err(Error::Unauthenticated);
        };
        let last_seen = record
            .last_seen_at
            .unix_timestamp()
            .max(cached_seen.unwrap_or(i64::MIN));
        if !self.is_live(record.expires_at, last_seen, now) {
            return Err(Error::Unauthenticated);
        }
        let user = match self.store.account_by_id(&record.user_id).await? {
            Some(u) if !u.user.disabled => u.user,
            _ => return Err(Error::Unauthenticated),
        };
        let (mfa_setup_required, security_key_setup_required) =
            self.needs_mfa_setup(&user, record.amr).await?;
        let principal = Arc::new(SessionPrincipal {
            session_id: record.id,
            actor: self.actor_for_session(&user),
            user,
            expires_at: record.expires_at,
            amr: record.amr,
            reauthenticated_at: record.reauthenticated_at,
            mfa_setup_required,
            security_key_setup_required,
        });
        self.sessions
            .insert(hash, principal.clone(), now, true, now);
        Ok(principal)
    }

    fn is_live(&self, expires_at: OffsetDateTime, last_seen: i64, now: OffsetDateTime) -> bool {
        let idle = self.settings.session.idle_timeout.whole_seconds();
        now < expires_at && now.unix_timestamp() - last_seen < idle
    }
}

fn rate_limited(retry_after: u64, message: &str) -> Error {
    Error::RateLimited {
        retry_after,
        message: message.to_owned(),
    }
}
