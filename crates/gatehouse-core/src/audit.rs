//! The audit trail: who did what, with which factor, from where, and when (UTC).

use serde::Serialize;
use time::OffsetDateTime;

use crate::ids::{AuditId, UserId};

/// One audit record.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    /// Record id.
    pub id: AuditId,
    /// When it happened (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The account concerned, when known.
    pub user_id: Option<UserId>,
    /// The name that was presented, for failures against unknown accounts.
    pub username: Option<String>,
    /// What happened, e.g. `login.succeeded`.
    pub action: String,
    /// The factor involved (`password`, `session`, …).
    pub factor: Option<String>,
    /// The client address.
    pub ip: Option<String>,
    /// Extra non-secret detail.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// A new record at `at` for `action`.
    pub fn new(at: OffsetDateTime, action: &str) -> Self {
        AuditEvent {
            id: AuditId::generate(),
            at,
            user_id: None,
            username: None,
            action: action.to_owned(),
            factor: None,
            ip: None,
            detail: None,
        }
    }

    /// Sets the account.
    pub fn user(mut self, id: &UserId) -> Self {
        self.user_id = Some(id.clone());
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

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}
