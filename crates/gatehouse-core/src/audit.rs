//! The audit trail: who did what, with which factor, from where, and when (UTC).
//!
//! Where a request came from (client address and user agent) is known to the front end,
//! not to each use case. The front end runs every request inside [`with_origin`], and
//! [`crate::Core`] fills those fields of a record from [`current_origin`] when the use
//! case did not set them, so no credential event can be recorded without its origin and
//! no use-case signature has to carry it.
//!
//! Who acted is known only once the request's credential is checked, inside the handler:
//! the front end then calls [`note_actor`], and every record the request writes after
//! that names the acting account and the credential it used (an API key's or token's
//! id, never a secret). Operator commands run inside [`Origin::operator`], so their
//! records name the operator; a record with neither was made by the account concerned
//! itself (signing in, setting a password) or by the server.

use serde::Serialize;
use time::OffsetDateTime;

use std::sync::{Arc, OnceLock};

use crate::actor::Actor;
use crate::ids::{AccountId, AuditId, OrgId};

/// One audit record.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    /// Record id.
    pub id: AuditId,
    /// When it happened (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The account concerned, when known.
    pub user_id: Option<AccountId>,
    /// The organisation concerned; when unset, the store records the account's.
    pub org_id: Option<OrgId>,
    /// The name that was presented, for failures against unknown accounts.
    pub username: Option<String>,
    /// What happened, e.g. `login.succeeded`.
    pub action: String,
    /// The factor involved (`password`, `session`, …).
    pub factor: Option<String>,
    /// The client address.
    pub ip: Option<String>,
    /// The client's user agent (bounded).
    pub user_agent: Option<String>,
    /// Extra non-secret detail.
    pub detail: Option<String>,
    /// The account that acted, when it is not the account concerned (an admin, an
    /// organisation key); unset, the account concerned acted itself.
    pub actor_id: Option<AccountId>,
    /// The acting account's username at the time.
    pub actor_username: Option<String>,
    /// The kind of credential the actor used (`session`, `api_key`, `token`).
    pub credential_kind: Option<String>,
    /// The id of that API key or token (`None` for a session).
    pub credential_id: Option<String>,
}

/// Where the current request came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client address (after trusted-proxy processing).
    pub ip: Option<std::net::IpAddr>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// Who is acting, once the request's credential has been checked.
    pub actor: Arc<OnceLock<Arc<Actor>>>,
    /// A server operator's command (`gatehouse admin …`), not a request.
    pub operator: bool,
}

/// The actor name of records an operator command wrote (an `@` name no person can have).
pub const OPERATOR_ACTOR: &str = "@operator";

impl Origin {
    /// The origin of an operator command: its records name the operator as the actor.
    pub fn operator() -> Self {
        Origin {
            operator: true,
            ..Origin::default()
        }
    }
}

/// Records the request's authenticated caller as the actor of every audit record the
/// request writes from now on (the first caller noted wins; a request has one).
pub fn note_actor(actor: &Arc<Actor>) {
    let _ = ORIGIN.try_with(|o| o.actor.set(actor.clone()));
}

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Runs `fut` with `origin` as the origin of every audit record it writes.
pub async fn with_origin<F: std::future::Future>(origin: Origin, fut: F) -> F::Output {
    ORIGIN.scope(origin, fut).await
}

/// The origin of the request being served, if any (none for operator commands and
/// background jobs).
pub fn current_origin() -> Option<Origin> {
    ORIGIN.try_with(Clone::clone).ok()
}

impl AuditEvent {
    /// A new record at `at` for `action`. Its id starts with `at` in microseconds, so
    /// records of one second (times are stored in whole seconds) still list in the order
    /// they happened.
    pub fn new(at: OffsetDateTime, action: &str) -> Self {
        let micros = (at.unix_timestamp_nanos() / 1000).max(0);
        AuditEvent {
            id: AuditId(format!(
                "aud_{micros:014x}{}",
                hex::encode(crate::secret::random_bytes::<6>())
            )),
            at,
            user_id: None,
            org_id: None,
            username: None,
            action: action.to_owned(),
            factor: None,
            ip: None,
            user_agent: None,
            detail: None,
            actor_id: None,
            actor_username: None,
            credential_kind: None,
            credential_id: None,
        }
    }

    /// Who acted, as the log shows it: the acting account or the operator when one is
    /// recorded, otherwise the account concerned itself (signing in, setting its
    /// password). The store's actor filter follows the same rule.
    pub fn acted_by(&self) -> (Option<&AccountId>, Option<&str>) {
        if self.actor_id.is_some() || self.actor_username.is_some() {
            (self.actor_id.as_ref(), self.actor_username.as_deref())
        } else {
            (self.user_id.as_ref(), self.username.as_deref())
        }
    }

    /// Sets the acting account and its credential.
    pub fn by(mut self, actor: &Actor) -> Self {
        self.actor_id = Some(actor.user.id.clone());
        self.actor_username = Some(actor.user.username.clone());
        self.credential_kind = Some(actor.credential.kind().to_owned());
        self.credential_id = actor.credential.credential_id();
        self
    }

    /// Sets the account.
    pub fn user(mut self, id: &AccountId) -> Self {
        self.user_id = Some(id.clone());
        self
    }

    /// Sets the organisation (for records about an organisation rather than an account).
    pub fn org(mut self, id: &OrgId) -> Self {
        self.org_id = Some(id.clone());
        self
    }

    /// Sets the presented username.
    pub fn username(mut self, name: &str) -> Self {
        // Bounded: this is attacker-controlled text.
        self.username = Some(name.chars().take(64).collect());
        self
    }

    /// Sets the factor.
    pub fn factor(mut self, factor: &str) -> Self {
        self.factor = Some(factor.to_owned());
        self
    }

    /// Sets the client address.
    pub fn ip(mut self, ip: Option<std::net::IpAddr>) -> Self {
        self.ip = ip.map(|i| i.to_string());
        self
    }

    /// Sets the user agent.
    pub fn user_agent(mut self, ua: Option<&str>) -> Self {
        // Bounded: this is client-controlled text.
        self.user_agent = ua.map(|u| u.chars().take(256).collect());
        self
    }

    /// Fills the address and user agent from the request's origin where unset.
    pub fn with_request_origin(mut self) -> Self {
        if let Some(o) = current_origin() {
            if self.ip.is_none() {
                self.ip = o.ip.map(|i| i.to_string());
            }
            if self.user_agent.is_none() {
                self = self.user_agent(o.user_agent.as_deref());
            }
            if let (None, Some(actor)) = (&self.actor_id, o.actor.get()) {
                self = self.by(actor);
            } else if o.operator && self.actor_username.is_none() {
                self.actor_username = Some(OPERATOR_ACTOR.to_owned());
                self.credential_kind = Some("operator".to_owned());
            }
        }
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_one_second_sort_in_the_order_the_records_were_made() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let first = AuditEvent::new(t, "a");
        let second = AuditEvent::new(t + time::Duration::microseconds(1), "b");
        assert!(first.id.0 < second.id.0, "{} {}", first.id.0, second.id.0);
        assert!(first.id.0.starts_with("aud_"));
    }

    #[tokio::test]
    async fn records_take_the_address_and_user_agent_of_the_request_they_are_made_in() {
        let at = time::OffsetDateTime::UNIX_EPOCH;
        let bare = AuditEvent::new(at, "x").with_request_origin();
        assert!(bare.ip.is_none() && bare.user_agent.is_none());
        let origin = Origin {
            ip: Some([192, 0, 2, 7].into()),
            user_agent: Some("curl/8.0".into()),
            ..Origin::default()
        };
        let ev = with_origin(origin, async {
            AuditEvent::new(at, "x").with_request_origin()
        })
        .await;
        assert_eq!(ev.ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(ev.user_agent.as_deref(), Some("curl/8.0"));
    }
}
