//! Changing one's own password: the current password proves it is the account's owner
//! (throttled like a sign-in), the new one must pass every password rule, and the
//! session that asked is re-issued under a new id.

use crate::account::Account;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::password::{NewPassword, PresentedPassword};
use crate::session::{LoginOutcome, SessionPrincipal};

use super::Core;
use super::accounts::login_subject;

/// A request to change the signed-in account's password.
pub struct PasswordChange<'a> {
    /// The password the account has now.
    pub current: &'a str,
    /// The password it should have.
    pub new: &'a str,
    /// End every other session and revoke every token of the account too.
    pub sign_out_others: bool,
    /// The cookie value of the session making the change (it is replaced).
    pub cookie: &'a str,
    /// Client address and user agent, for the new session.
    pub ip: Option<std::net::IpAddr>,
    /// The client's user agent.
    pub user_agent: Option<&'a str>,
}

/// How a wrong password is refused and audited by [`Core::confirm_own_password`].
pub(super) struct OwnPassword {
    /// The request field at fault.
    pub field: &'static str,
    /// What the refusal says of it.
    pub reason: &'static str,
    /// The audit action of a wrong password.
    pub failed_action: &'static str,
}

impl Core {
    /// Checks that `presented` is the signed-in account's own password, throttled like a
    /// sign-in (SECURITY: a route that checks a password must not be a way around the
    /// sign-in throttle): a wrong one counts against the account's sign-in failures and
    /// is audited. The caller clears the failures once its change has gone through.
    pub(super) async fn confirm_own_password(
        &self,
        user: &Account,
        presented: &str,
        how: OwnPassword,
    ) -> Result<()> {
        let now = self.clock.now();
        let subject = login_subject(&user.username);
        self.check_lockout(&subject, now, "wrong passwords").await?;
        let presented = PresentedPassword::parse(presented)
            .map_err(|_| Error::invalid(how.field, how.reason))?;
        let record = self
            .store
            .account_by_id(&user.id)
            .await?
            .filter(|r| !r.user.disabled)
            .ok_or(Error::Unauthenticated)?;
        let verified = self
            .hasher
            .verify(presented.expose(), record.password_hash.as_deref())
            .await?;
        if !verified.matched {
            self.store.record_failure(&subject, now).await?;
            self.audit(
                AuditEvent::new(now, how.failed_action)
                    .user(&user.id)
                    .factor("password"),
            )
            .await;
            return Err(Error::invalid(how.field, how.reason));
        }
        Ok(())
    }

    /// Changes the password of the session's account and returns the session that
    /// replaces the caller's. A wrong current password counts as a failed sign-in
    /// (SECURITY: this route must not be a way around the sign-in throttle).
    #[tracing::instrument(skip_all, fields(user = %session.user.id))]
    pub async fn change_password(
        &self,
        session: &SessionPrincipal,
        req: PasswordChange<'_>,
    ) -> Result<LoginOutcome> {
        self.fail_closed()?;
        let now = self.clock.now();
        let user = &session.user;
        let subject = login_subject(&user.username);
        self.confirm_own_password(
            user,
            req.current,
            OwnPassword {
                field: "current_password",
                reason: "is not your current password",
                failed_action: "user.password_change_failed",
            },
        )
        .await?;
        let new = NewPassword::parse(req.new, &user.username).map_err(|e| match e {
            Error::Invalid { reason, .. } => Error::Invalid {
                field: "new_password",
                reason,
            },
            other => other,
        })?;
        if req.new == req.current {
            return Err(Error::invalid(
                "new_password",
                "is the same as your current password; choose a new one",
            ));
        }
        let hash = self.hasher.hash(new.expose()).await?;
        self.store.set_password_hash(&user.id, &hash).await?;
        self.store.clear_failures(&subject).await?;
        if req.sign_out_others {
            // Every session (this one included) and every token ends; this one is
            // re-issued below.
            self.end_all_sessions(&user.id).await?;
        } else {
            self.logout(req.cookie).await?;
        }
        // SECURITY: re-authentication mints a new session id.
        let outcome = self
            .open_session(user, session.amr, req.ip, req.user_agent, self.clock.now())
            .await?;
        self.audit(
            AuditEvent::new(now, "user.password_changed")
                .user(&user.id)
                .factor("password")
                .detail(format!("signed_out_others={}", req.sign_out_others)),
        )
        .await;
        Ok(outcome)
    }
}
