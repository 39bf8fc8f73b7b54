//! The Audit log section: the organisation's records a page at a time, newest first,
//! filtered by actor, event type, credential and dates, with the two export links for the
//! same filters. The filters are checked by the core's [`AuditQuery`], as the API's are,
//! and a refused one is shown at its field instead of a list.
//!
//! The page's To date is inclusive (the whole day), which a person picking dates means;
//! the core's `until` is exclusive, so the list and the export links get the next day.

use askama::Template;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::service::AuditQuery;
use time::macros::format_description;

use super::super::format::Stamp;
use super::super::{Choice, render_panel};
use super::filters::keep;
use super::section::SectionContext;

/// The event types the filter suggests: each prefix matches every action it starts.
const PREFIXES: [(&str, &str); 8] = [
    ("api_key.", "Members' API keys"),
    ("org_key.", "Organisation keys"),
    ("member.", "Members added and changed"),
    ("user.", "Accounts: passwords, disabling, sign-outs"),
    ("login.", "Sign-ins"),
    ("token.", "Tokens"),
    ("mfa.", "2-Step Verification"),
    ("org.", "Organisation and policy"),
];

#[derive(Template)]
#[template(path = "admin/audit_log.html")]
struct Panel {
    rows: Vec<AuditRow>,
    next: Option<String>,
    /// The filters as typed, for the page's fields and its pager.
    f: Filters,
    kept: String,
    /// The filters as the export takes them (`until` the day after To).
    export_query: String,
    /// The event types the filter suggests.
    prefixes: Vec<Choice>,
    filtered: bool,
    /// The refused filter's name (`since`…) and the sentence shown at it.
    error_field: &'static str,
    error: String,
}

/// `?actor=&action=&credential=&since=&until=&cursor=` of the page.
#[derive(serde::Deserialize, Default)]
struct AuditPageQuery {
    actor: Option<String>,
    action: Option<String>,
    credential: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
}

#[derive(Default)]
struct Filters {
    actor: String,
    action: String,
    credential: String,
    since: String,
    until: String,
}

struct AuditRow {
    id: String,
    at: Stamp,
    action: String,
    actor: String,
    credential_kind: &'static str,
    credential_id: String,
    subject: String,
    ip: String,
    user_agent: String,
    detail: String,
}

fn credential_label(kind: &str) -> &'static str {
    match kind {
        "session" => "Session",
        "api_key" => "API key",
        "token" => "Token",
        _ => "Other",
    }
}

fn row(e: &AuditEvent) -> AuditRow {
    let subject = e.username.clone().unwrap_or_default();
    AuditRow {
        id: e.id.0.clone(),
        at: Stamp::of(e.at),
        action: e.action.clone(),
        actor: e.acted_by().1.unwrap_or_default().to_owned(),
        credential_kind: e.credential_kind.as_deref().map_or("", credential_label),
        credential_id: e.credential_id.clone().unwrap_or_default(),
        subject,
        ip: e.ip.clone().unwrap_or_default(),
        user_agent: e.user_agent.clone().unwrap_or_default(),
        detail: e.detail.clone().unwrap_or_default(),
    }
}

/// The core's `until` for the page's To: a date means through the end of that day.
fn until_bound(to: &str) -> String {
    let day = format_description!("[year]-[month]-[day]");
    match time::Date::parse(to, &day).map(|d| d.next_day()) {
        Ok(Some(next)) => next.format(&day).unwrap_or_else(|_| to.to_owned()),
        _ => to.to_owned(),
    }
}

/// Where a refused filter is shown, and what it says, in the page's words.
fn refusal(e: &gatehouse_core::Error) -> Option<(&'static str, String)> {
    let gatehouse_core::Error::Invalid { field, reason } = e else {
        return None;
    };
    let (field, label) = match *field {
        "actor" => ("actor", "Actor"),
        "action" => ("action", "Event type"),
        "credential" => ("credential", "Credential"),
        "since" => ("since", "From"),
        "until" => ("until", "To"),
        _ => return None,
    };
    // The page's To is inclusive (see the module doc), so the core's words would mislead.
    let reason = if reason == "must be later than since" {
        "must be on or after the From date".to_owned()
    } else {
        reason.clone()
    };
    Some((field, format!("{label} {reason}.")))
}

/// Renders the section's panel.
pub async fn render(cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
    let q: AuditPageQuery = cx.query();
    let set = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_owned();
    let f = Filters {
        actor: set(&q.actor),
        action: set(&q.action),
        credential: set(&q.credential),
        since: set(&q.since),
        until: set(&q.until),
    };
    let until = until_bound(&f.until);
    let parsed = AuditQuery {
        actor: Some(&f.actor),
        action: Some(&f.action),
        credential: Some(&f.credential),
        since: Some(&f.since),
        until: Some(&until),
    }
    .parse();
    let kept = keep(&[
        ("actor", &f.actor),
        ("action", &f.action),
        ("credential", &f.credential),
        ("since", &f.since),
        ("until", &f.until),
    ]);
    let export_query = keep(&[
        ("actor", &f.actor),
        ("action", &f.action),
        ("credential", &f.credential),
        ("since", &f.since),
        ("until", &until),
    ]);
    let filtered = !kept.is_empty();
    let (rows, next, error_field, error) = match parsed {
        Ok(filter) => {
            let page = SectionContext::page(q.cursor.as_deref());
            let events = cx.state.core.org_audit(&cx.actor, &filter, &page).await?;
            let rows = events.items.iter().map(row).collect();
            (rows, events.next, "", String::new())
        }
        Err(e) => match refusal(&e) {
            Some((field, text)) => (Vec::new(), None, field, text),
            None => return Err(e),
        },
    };
    render_panel(&Panel {
        rows,
        next,
        f,
        kept,
        export_query: export_query.trim_end_matches('&').to_owned(),
        prefixes: PREFIXES
            .iter()
            .map(|(value, label)| Choice {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
                selected: false,
            })
            .collect(),
        filtered,
        error_field,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_to_date_takes_in_its_whole_day() {
        assert_eq!(until_bound("2026-01-31"), "2026-02-01");
        assert_eq!(until_bound("2026-12-31"), "2027-01-01");
        assert_eq!(until_bound("2026-01-31T12:00:00Z"), "2026-01-31T12:00:00Z");
        assert_eq!(until_bound(""), "");
    }

    #[test]
    fn a_refused_filter_reads_as_a_sentence_at_its_field() {
        let e = gatehouse_core::Error::invalid("until", "must be later than since");
        assert_eq!(
            refusal(&e),
            Some(("until", "To must be on or after the From date.".to_owned()))
        );
        assert_eq!(refusal(&gatehouse_core::Error::NotFound), None);
    }
}
