//! Admins add members: the account is made without a password, and a one-time
//! set-password link (shown once to the admin, who hands it over) lets the new member
//! choose their own. Nobody else ever knows it: not the admin, not the server's logs.

use time::OffsetDateTime;

use super::Core;
use super::orgs::owner_only;
use crate::account::{
    Account, AccountKind, DisplayName, Email, NewAccountRecord, PASSWORD_LINK_LIFETIME,
    PasswordLinkSecret, Username,
};
use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::org::Role;
use crate::password::NewPassword;
use crate::scope;
use crate::store::MemberRecord;

/// A new member, as an admin typed it.
pub struct NewMember<'a> {
    /// Requested username (unique on the server).
    pub username: &'a str,
    /// Contact address.
    pub email: &'a str,
    /// Display name; the username when absent.
    pub display_name: Option<&'a str>,
    /// The member's role.
    pub role: Role,
}

/// A link just issued: show it once.
#[derive(Debug)]
pub struct IssuedLink {
    /// The secret for the link's fragment.
    pub secret: PasswordLinkSecret,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

impl IssuedLink {
    /// A new secret, working from `now` for [`PASSWORD_LINK_LIFETIME`].
    fn fresh(now: OffsetDateTime) -> Self {
        IssuedLink {
            secret: PasswordLinkSecret::generate(),
            expires_at: now + PASSWORD_LINK_LIFETIME,
        }
    }
}

fn link_refused() -> Error {
    Error::invalid(
        "link",
        "this set-password link is unknown, expired or already used; ask your administrator for a new one",
    )
}

impl Core {
    /// Adds a member to the actor's organisation, without a password, and issues their
    /// set-password link. Requires `org:members:write`; adding an owner takes an owner.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn create_member(
        &self,
        actor: &Actor,
        new: NewMember<'_>,
    ) -> Result<(MemberRecord, IssuedLink)> {
        actor.require(scope::ORG_MEMBERS_WRITE)?;
        self.may_hand_out_link(actor, new.role)?;
        let username = Username::parse(new.username)?;
        let email = Email::parse(new.email)?;
        let display_name = DisplayName::parse(new.display_name.unwrap_or(username.as_str()))?;
        let now = self.clock.now();
        let link = IssuedLink::fresh(now);
        let user = self
            .store
            .insert_member_with_link(
                &NewAccountRecord {
                    id: AccountId::generate(),
                    username,
                    email,
                    display_name,
                    org_id: actor.user.org_id.clone(),
                    password_hash: None,
                    role: new.role,
                    operator: false,
                    created_at: now,
                },
                &link.secret.hash(),
                &actor.user.id,
                link.expires_at,
            )
            .await?;
        self.audit(
            AuditEvent::new(now, "member.created")
                .user(&user.id)
                .detail(format!("role={}", new.role.as_str())),
        )
        .await;
        let member = self
            .store
            .member(&actor.user.org_id, &user.id)
            .await?
            .ok_or(Error::NotFound)?;
        Ok((member, link))
    }

    /// Issues a fresh set-password link for a member who has not set a password yet (the
    /// earlier link stops working). Requires `org:members:write`. A member with a
    /// password is refused: an admin never chooses or resets a member's password.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn reissue_password_link(&self, actor: &Actor, id: &AccountId) -> Result<IssuedLink> {
        actor.require(scope::ORG_MEMBERS_WRITE)?;
        let member = self
            .store
            .member(&actor.user.org_id, id)
            .await?
            .ok_or(Error::NotFound)?;
        self.may_hand_out_link(actor, member.account.role)?;
        if member.password_set {
            return Err(Error::Conflict(
                "this member has already set a password; they can change it under Account, \
                 or reset their 2-step verification here if they are locked out"
                    .into(),
            ));
        }
        let now = self.clock.now();
        let link = IssuedLink::fresh(now);
        self.store
            .put_password_link(
                id,
                &link.secret.hash(),
                &actor.user.id,
                now,
                link.expires_at,
            )
            .await?;
        self.audit(AuditEvent::new(now, "member.password_link_issued").user(id))
            .await;
        Ok(link)
    }

    /// SECURITY: a set-password link signs in as the member, so handing one out is
    /// minting their session. Only a person may (an organisation key provisions through
    /// SCIM, which issues no links), an owner's link takes an owner, and the caller's
    /// credential must hold everything that session would: a token narrowed to
    /// `org:members:write` cannot mint itself an admin.
    fn may_hand_out_link(&self, actor: &Actor, role: Role) -> Result<()> {
        if actor.user.kind != AccountKind::Person {
            return Err(Error::Forbidden(
                "adding a member or issuing a set-password link takes an owner's or an admin's \
                 own sign-in: the link signs in as the member (identity providers provision \
                 members through SCIM)"
                    .into(),
            ));
        }
        if role == Role::Owner {
            owner_only(actor, "add an owner or issue an owner's set-password link")?;
        }
        actor.require_all(&self.catalog.for_role(role))
    }

    /// Sets a new member's first password through their link, which then stops working.
    /// Unknown, expired and used links are refused alike.
    #[tracing::instrument(skip_all)]
    pub async fn redeem_password_link(&self, secret: &str, password: &str) -> Result<Account> {
        let hash = PasswordLinkSecret::presented_hash(secret).ok_or_else(link_refused)?;
        let now = self.clock.now();
        let id = self
            .store
            .password_link_account(&hash, now)
            .await?
            .ok_or_else(link_refused)?;
        let record = self
            .store
            .account_by_id(&id)
            .await?
            .ok_or_else(link_refused)?;
        let password = NewPassword::parse(password, &record.user.username)?;
        let password_hash = self.hasher.hash(password.expose()).await?;
        self.store
            .redeem_password_link(&hash, &password_hash, now)
            .await?
            .ok_or_else(link_refused)?;
        self.audit(
            AuditEvent::new(now, "user.password_set")
                .user(&id)
                .factor("password_link"),
        )
        .await;
        Ok(record.user)
    }
}
