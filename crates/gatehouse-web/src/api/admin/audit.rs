//! `/api/admin/audit`: the organisation's audit log, filtered, a page at a time or
//! exported whole as JSON Lines or CSV.
//!
//! The export streams: the body is produced batch by batch (each batch one cursor query
//! of [`gatehouse_core::service::EXPORT_BATCH`] records), so exporting a year of records
//! holds one batch in memory, never the year. The permission check, the filters'
//! validation and the first batch happen before the first byte, so a refusal is still
//! our JSON error.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::actor::Actor;
use gatehouse_core::audit::AuditEvent;
use gatehouse_core::page::Page;
use gatehouse_core::scope;
use gatehouse_core::service::AuditQuery;
use gatehouse_core::store::AuditFilter;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiResult;
use crate::extract::{Caller, PageParams};
use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(export))
}

/// `?actor=&action=&credential=&since=&until=` (and `format=` for the export).
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    actor: Option<String>,
    action: Option<String>,
    credential: Option<String>,
    since: Option<String>,
    until: Option<String>,
    format: Option<String>,
}

impl AuditParams {
    fn filter(&self) -> gatehouse_core::Result<AuditFilter> {
        AuditQuery {
            actor: self.actor.as_deref(),
            action: self.action.as_deref(),
            credential: self.credential.as_deref(),
            since: self.since.as_deref(),
            until: self.until.as_deref(),
        }
        .parse()
    }
}

/// An account named in a record.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Who {
    id: Option<String>,
    username: Option<String>,
}

/// The credential an actor used.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CredentialUsed {
    /// `session`, `api_key` or `token`.
    kind: String,
    /// The key's or token's id (`null` for a session).
    id: Option<String>,
}

/// One record: who, what, which credential, from which address, when.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    action: String,
    /// Who acted: the account concerned, unless someone else (an admin, an
    /// organisation key) acted on it.
    actor: Who,
    credential: Option<CredentialUsed>,
    /// The account the record is about.
    subject: Who,
    factor: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: Option<String>,
}

impl From<&AuditEvent> for AuditRecord {
    fn from(e: &AuditEvent) -> Self {
        let subject = Who {
            id: e.user_id.as_ref().map(ToString::to_string),
            username: e.username.clone(),
        };
        let (actor_id, actor_name) = e.acted_by();
        let actor = Who {
            id: actor_id.map(ToString::to_string),
            username: actor_name.map(str::to_owned),
        };
        AuditRecord {
            id: e.id.0.clone(),
            at: e.at,
            action: e.action.clone(),
            actor,
            credential: e.credential_kind.as_ref().map(|k| CredentialUsed {
                kind: k.clone(),
                id: e.credential_id.clone(),
            }),
            subject,
            factor: e.factor.clone(),
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// `GET /api/admin/audit?actor=&action=&credential=&since=&until=&limit=&cursor=`: a
/// page of the organisation's audit log, newest first. `action` ending in `.` matches
/// every action it starts (`api_key.`); `since`/`until` take a date or an RFC 3339 time.
/// Requires: `org:audit:read`.
#[utoipa::path(
    get,
    operation_id = "admin_audit_list",
    path = "/api/admin/audit",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(crate::extract::PageQuery, AuditParams),
    responses((status = 200, description = "A page of the organisation's audit log, newest first", body = Vec<AuditRecord>, headers(("Link" = String, description = "`<…>; rel=\"next\"` when there is a next page"), ("X-Next-Cursor" = String, description = "The next page's cursor, when there is one")))),
    extensions(("x-permissions" = json!(["org:audit:read"])))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageParams,
) -> ApiResult<Response> {
    caller.require(scope::ORG_AUDIT_READ)?;
    let q: AuditParams = page.filters("actor, action, credential, since, until")?;
    let events = state
        .core
        .org_audit(&caller.actor, &q.filter()?, &page.request)
        .await?;
    Ok(page.respond(events, |e| AuditRecord::from(e)))
}

/// The export's two formats.
#[derive(Clone, Copy)]
enum Format {
    JsonLines,
    Csv,
}

/// The CSV header: the JSON record's fields, flattened.
const CSV_HEADER: [&str; 13] = [
    "id",
    "at",
    "action",
    "actor_id",
    "actor_username",
    "credential_kind",
    "credential_id",
    "subject_id",
    "subject_username",
    "factor",
    "ip",
    "user_agent",
    "detail",
];

/// SECURITY: a cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR
/// first) gets a leading `'`: usernames and user agents are attacker-controlled text,
/// and an admin opening the export must not run them (CSV injection).
fn cell(v: Option<&str>) -> String {
    let v = v.unwrap_or_default();
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_owned()
    }
}

/// One batch of records in the export's format.
fn encode(format: Format, events: &[AuditEvent], header: bool) -> std::io::Result<Vec<u8>> {
    match format {
        Format::JsonLines => {
            let mut out = Vec::with_capacity(events.len() * 320);
            for e in events {
                serde_json::to_writer(&mut out, &AuditRecord::from(e))?;
                out.push(b'\n');
            }
            Ok(out)
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::with_capacity(events.len() * 240));
            if header {
                w.write_record(CSV_HEADER).map_err(std::io::Error::other)?;
            }
            for e in events {
                let r = AuditRecord::from(e);
                let at =
                    r.at.format(&time::format_description::well_known::Rfc3339)
                        .ok();
                let (kind, cred) = r
                    .credential
                    .as_ref()
                    .map_or((None, None), |c| (Some(c.kind.as_str()), c.id.as_deref()));
                w.write_record([
                    cell(Some(&r.id)),
                    cell(at.as_deref()),
                    cell(Some(&r.action)),
                    cell(r.actor.id.as_deref()),
                    cell(r.actor.username.as_deref()),
                    cell(kind),
                    cell(cred),
                    cell(r.subject.id.as_deref()),
                    cell(r.subject.username.as_deref()),
                    cell(r.factor.as_deref()),
                    cell(r.ip.as_deref()),
                    cell(r.user_agent.as_deref()),
                    cell(r.detail.as_deref()),
                ])
                .map_err(std::io::Error::other)?;
            }
            w.into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))
        }
    }
}

/// Where the export has got to.
struct Cursor {
    state: AppState,
    actor: Arc<Actor>,
    filter: AuditFilter,
    format: Format,
    /// The first batch, read before the response began (so that a refusal or a store
    /// failure is still our JSON error); taken by the first chunk.
    pending: Option<Page<AuditEvent>>,
    /// The next batch's cursor.
    after: Option<String>,
    first: bool,
    done: bool,
}

/// The next chunk of the body, or `None` at the end. A store error mid-stream ends the
/// body with an error (the client sees a cut-short transfer, never a silent truncation
/// dressed as complete: chunked encoding's last chunk is not sent).
async fn next_chunk(mut c: Cursor) -> Option<(std::io::Result<Bytes>, Cursor)> {
    if c.done {
        return None;
    }
    let read = match c.pending.take() {
        Some(first) => Ok(first),
        None => {
            c.state
                .core
                .org_audit_batch(&c.actor, &c.filter, c.after.take())
                .await
        }
    };
    let page = match read {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, request_id = %crate::context::current_request_id(), "audit export stopped");
            c.done = true;
            return Some((Err(std::io::Error::other("audit export stopped")), c));
        }
    };
    let chunk = encode(c.format, &page.items, c.first).map(Bytes::from);
    c.first = false;
    c.done = page.next.is_none();
    c.after = page.next;
    Some((chunk, c))
}

/// `GET /api/admin/audit/export?format=jsonl|csv&actor=&action=&credential=&since=&until=`:
/// every matching record, newest first, as one JSON object per line (JSON Lines) or as
/// CSV with a header row, streamed. Requires: `org:audit:read`.
#[utoipa::path(
    get,
    operation_id = "admin_audit_export",
    path = "/api/admin/audit/export",
    tag = "admin",
    security(("api_key" = []), ("bearer" = []), ("session" = [])),
    params(AuditParams),
    responses((status = 200, description = "Every matching record, newest first, streamed", content((String = "application/jsonl"), (String = "text/csv")), headers(("Content-Disposition" = String, description = "A file name")))),
    extensions(("x-permissions" = json!(["org:audit:read"])))
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    page: PageParams,
) -> ApiResult<Response> {
    caller.require(scope::ORG_AUDIT_READ)?;
    let q: AuditParams = page.filters("format, actor, action, credential, since, until")?;
    let (format, content_type, ext) = match q.format.as_deref().unwrap_or("jsonl") {
        "jsonl" | "ndjson" => (Format::JsonLines, "application/jsonl", "jsonl"),
        "csv" => (Format::Csv, "text/csv; charset=utf-8", "csv"),
        _ => {
            return Err(gatehouse_core::Error::invalid("format", "must be jsonl or csv").into());
        }
    };
    let filter = q.filter()?;
    state
        .core
        .note_audit_export(&caller.actor, &filter, ext)
        .await?;
    // The first batch before the first byte: a store failure is still a JSON error.
    let first = state
        .core
        .org_audit_batch(&caller.actor, &filter, None)
        .await?;
    let start = Cursor {
        pending: Some(first),
        state,
        actor: caller.actor.clone(),
        filter,
        format,
        after: None,
        first: true,
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(start, next_chunk));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"audit.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_defused() {
        assert_eq!(cell(Some("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        assert_eq!(cell(Some("+1")), "'+1");
        assert_eq!(cell(Some("@SUM(A1)")), "'@SUM(A1)");
        assert_eq!(cell(Some("curl/8.5")), "curl/8.5");
        assert_eq!(cell(None), "");
    }
}
