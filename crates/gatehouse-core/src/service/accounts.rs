//! Account use cases: bootstrap, creation, password resets, disabling, listing.

use crate::account::{Account, DisplayName, Email, NewAccountRecord, Username};
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::org::{DEFAULT_ORG_NAME, Role};
use crate::password::{NewPassword, generate_password_for};
use crate::store::MemberChange;

use super::Core;

/// Input for a new account, as typed by an operator.
pub struct NewAccount<'a> {
    /// Requested username.
    pub username: &'a str,
    /// Contact address.
    pub email: &'a str,
    /// Display name; the username when absent.
    pub display_name: Option<&'a str>,
    /// Initial password.
    pub password: &'a str,
    /// The account's role in its organisation.
    pub role: Role,
    /// The organisation's name; `None`: the default organisation.
    pub org: Option<&'a str>,
}

/// What the first start did.
pub enum BootstrapOutcome {
    /// The store already had accounts.
    AlreadyInitialised,
    /// The admin account was made with the operator's password.
    Created,
    /// The admin account was made with this random password, to be shown once.
    CreatedWithPassword(secrecy::SecretString),
}

/// The name of the account made on first start.
pub const BOOTSTRAP_USERNAME: &str = "admin";

impl Core {
    /// On an empty store, makes the `admin` account (with `password`, or a random one).
    #[tracing::instrument(skip_all)]
    pub async fn bootstrap(&self, password: Option<&str>) -> Result<BootstrapOutcome> {
        if self.store.count_accounts().await? > 0 {
            return Ok(BootstrapOutcome::AlreadyInitialised);
        }
        let generated = password
            .is_none()
            .then(|| generate_password_for(BOOTSTRAP_USERNAME));
        let chosen = password.or(generated.as_deref()).unwrap_or_default();
        // The first account owns the default organisation and operates the server.
        self.insert_new_account(
            NewAccount {
                username: BOOTSTRAP_USERNAME,
                email: "admin@localhost.localdomain",
                display_name: Some("Administrator"),
                password: chosen,
                role: Role::Owner,
                org: None,
            },
            true,
        )
        .await?;
        Ok(match generated {
            Some(p) => BootstrapOutcome::CreatedWithPassword(p.into()),
            None => BootstrapOutcome::Created,
        })
    }

    /// Creates an account in the named (or the default) organisation.
    #[tracing::instrument(skip_all, fields(username = %input.username))]
    pub async fn create_account(&self, input: NewAccount<'_>) -> Result<Account> {
        self.insert_new_account(input, false).await
    }

    async fn insert_new_account(&self, input: NewAccount<'_>, operator: bool) -> Result<Account> {
        let username = Username::parse(input.username)?;
        let email = Email::parse(input.email)?;
        let display_name = DisplayName::parse(input.display_name.unwrap_or(username.as_str()))?;
        let password = NewPassword::parse(input.password, username.as_str())?;
        let now = self.clock.now();
        let org = match input.org {
            None => self.store.ensure_org(DEFAULT_ORG_NAME, now).await?,
            Some(name) => self.org_named(name).await?,
        };
        let password_hash = self.hasher.hash(password.expose()).await?;
        let user = self
            .store
            .insert_account(&NewAccountRecord {
                id: AccountId::generate(),
                username,
                email,
                display_name,
                org_id: org.id,
                password_hash: Some(password_hash),
                role: input.role,
                operator,
                created_at: now,
            })
            .await?;
        self.audit(AuditEvent::new(now, "user.created").user(&user.id))
            .await;
        Ok(user)
    }

    /// Sets a new password (operator reset): clears the lockout and ends every session.
    #[tracing::instrument(skip_all, fields(username = %username))]
    pub async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        let user = self.account_named(username).await?;
        let password = NewPassword::parse(password, &user.username)?;
        let hash = self.hasher.hash(password.expose()).await?;
        self.store.set_password_hash(&user.id, &hash).await?;
        self.store
            .clear_failures(&login_subject(&user.username))
            .await?;
        self.end_all_sessions(&user.id).await?;
        self.audit(
            AuditEvent::new(self.clock.now(), "user.password_set")
                .user(&user.id)
                .factor("password"),
        )
        .await;
        Ok(())
    }

    /// Disables or re-enables an account. Disabling ends every session at once.
    #[tracing::instrument(skip_all, fields(username = %username, disabled))]
    pub async fn set_account_disabled(&self, username: &str, disabled: bool) -> Result<Account> {
        let user = self.account_named(username).await?;
        self.change_member(None, &user.id, MemberChange::Disabled(disabled), None)
            .await
    }

    /// The organisation new accounts join.
    pub async fn default_org(&self) -> Result<crate::org::Org> {
        self.store
            .ensure_org(DEFAULT_ORG_NAME, self.clock.now())
            .await
    }

    /// Every person's account on the server.
    pub async fn list_accounts(&self) -> Result<Vec<Account>> {
        self.store.list_accounts().await
    }

    /// The newest audit records.
    pub async fn recent_audit(
        &self,
        user: Option<&AccountId>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        self.store.list_audit(user, limit).await
    }

    pub(super) async fn account_named(&self, username: &str) -> Result<Account> {
        let name = Username::parse(username).map_err(|_| Error::NotFound)?;
        Ok(self
            .store
            .account_by_username(&name)
            .await?
            .ok_or(Error::NotFound)?
            .user)
    }

    /// Ends every session and revokes every token of an account (password reset,
    /// disabling, "sign out everywhere"). Its API keys are reloaded on next use.
    pub(crate) async fn end_all_sessions(&self, user: &AccountId) -> Result<()> {
        self.store
            .delete_user_sessions(user, self.clock.now())
            .await?;
        self.sessions.remove_user(user);
        self.revoke_all_tokens(user).await?;
        self.api_keys.invalidate_user(user);
        Ok(())
    }

    /// Appends to the audit trail. A failure to audit is logged, not fatal: the
    /// decision it records has already been made.
    pub(crate) async fn audit(&self, event: AuditEvent) {
        let event = event.with_request_origin();
        if let Err(e) = self.store.insert_audit(&event).await {
            tracing::error!(action = %event.action, error = %e, "audit write failed");
        }
    }
}

/// The throttling key for sign-ins to an account name (known or not, so that unknown
/// names are throttled exactly like real ones).
pub(crate) fn login_subject(username: &str) -> String {
    let name: String = username.trim().to_lowercase().chars().take(64).collect();
    format!("login:{name}")
}
