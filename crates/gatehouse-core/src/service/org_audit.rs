//! The organisation's audit log for its owners and admins: filtered pages for the panel
//! and the API, and the batches an export streams (each read by cursor, so a year of
//! records never sits in memory at once).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Core;
use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::page::{After, Page, PageRequest};
use crate::scope;
use crate::store::AuditFilter;

/// Records an export reads per store query.
pub const EXPORT_BATCH: u32 = 500;

/// The filters as a client writes them (each optional; empty means unset).
#[derive(Debug, Default, Clone, Copy)]
pub struct AuditQuery<'a> {
    /// The actor's username.
    pub actor: Option<&'a str>,
    /// An action, or an action prefix ending in `.`.
    pub action: Option<&'a str>,
    /// An API key or token id.
    pub credential: Option<&'a str>,
    /// RFC 3339 time or `YYYY-MM-DD` (UTC midnight), inclusive.
    pub since: Option<&'a str>,
    /// RFC 3339 time or `YYYY-MM-DD` (UTC midnight), exclusive.
    pub until: Option<&'a str>,
}

impl AuditQuery<'_> {
    /// Checks each filter and turns it into the store's form.
    pub fn parse(&self) -> Result<AuditFilter> {
        let set = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let word = |field: &'static str,
                    v: Option<String>,
                    extra: &str|
         -> Result<Option<String>> {
            match v {
                Some(s)
                    if s.len() > 64
                        || !s.chars().all(|c| {
                            c.is_ascii_alphanumeric() || c == '_' || c == '-' || extra.contains(c)
                        }) =>
                {
                    Err(Error::invalid(
                        field,
                        "must be at most 64 letters, digits, '_' or '-'".to_owned()
                            + if extra.is_empty() { "" } else { " or '.'" },
                    ))
                }
                other => Ok(other),
            }
        };
        let filter = AuditFilter {
            actor: word("actor", set(self.actor).map(|s| s.to_lowercase()), ".@")?,
            action: word("action", set(self.action).map(|s| s.to_lowercase()), ".")?,
            credential: word("credential", set(self.credential), "")?,
            since: time_bound("since", set(self.since))?,
            until: time_bound("until", set(self.until))?,
        };
        if let (Some(s), Some(u)) = (filter.since, filter.until)
            && s >= u
        {
            return Err(Error::invalid("until", "must be later than since"));
        }
        Ok(filter)
    }
}

/// `2026-01-31T12:00:00Z` or `2026-01-31` (UTC midnight) as Unix seconds.
fn time_bound(field: &'static str, v: Option<String>) -> Result<Option<i64>> {
    let Some(s) = v else { return Ok(None) };
    if let Ok(t) = OffsetDateTime::parse(&s, &Rfc3339) {
        return Ok(Some(t.unix_timestamp()));
    }
    let day = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(&s, &day)
        .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
        .map_err(|_| {
            Error::invalid(
                field,
                "must be a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)",
            )
        })
}

impl Core {
    /// A page of the actor's organisation's audit log, newest first. Requires
    /// `org:audit:read`.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn org_audit(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        actor.require(scope::ORG_AUDIT_READ)?;
        let rows = self
            .store
            .list_org_audit(&actor.user.org_id, filter, page)
            .await?;
        Ok(Page::from_rows(rows, page, |e| After {
            created_at: e.at.unix_timestamp(),
            id: e.id.0.clone(),
        }))
    }

    /// Records that an export of the actor's organisation's log began, with its filters
    /// (an export reads every record, so it is itself on the record). Requires
    /// `org:audit:read`.
    pub async fn note_audit_export(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        format: &str,
    ) -> Result<()> {
        actor.require(scope::ORG_AUDIT_READ)?;
        self.audit(
            AuditEvent::new(self.clock.now(), "audit.exported")
                .org(&actor.user.org_id)
                .detail(format!("format={format} filter={filter:?}")),
        )
        .await;
        Ok(())
    }

    /// The next batch of an export: the records after `after` (from the newest when
    /// `None`). Requires `org:audit:read` of the credential as it was when the export
    /// began (a long export is not cut off mid-file by a later change).
    pub async fn org_audit_batch(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        after: Option<String>,
    ) -> Result<Page<AuditEvent>> {
        let page = PageRequest {
            limit: EXPORT_BATCH,
            after: after.as_deref().map(After::decode).transpose()?,
        };
        self.org_audit(actor, filter, &page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_and_dates_mean_utc_midnight() {
        let f = AuditQuery {
            actor: Some(" Alice "),
            action: Some("api_key."),
            credential: Some(""),
            since: Some("2026-01-31"),
            until: Some("2026-02-01T00:00:00Z"),
        }
        .parse()
        .expect("valid");
        assert_eq!(f.actor.as_deref(), Some("alice"));
        assert_eq!(f.action.as_deref(), Some("api_key."));
        assert_eq!(f.credential, None);
        assert_eq!(f.since, Some(1_769_817_600));
        assert_eq!(f.until, Some(1_769_904_000));
        for (q, field) in [
            (
                AuditQuery {
                    action: Some("x' OR 1=1"),
                    ..Default::default()
                },
                "action",
            ),
            (
                AuditQuery {
                    since: Some("yesterday"),
                    ..Default::default()
                },
                "since",
            ),
            (
                AuditQuery {
                    since: Some("2026-02-01"),
                    until: Some("2026-01-01"),
                    ..Default::default()
                },
                "until",
            ),
            (
                AuditQuery {
                    credential: Some("a.b"),
                    ..Default::default()
                },
                "credential",
            ),
        ] {
            let err = q.parse().expect_err(field);
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
    }
}
