//! The organisation's admin panel in the browser, `/admin/{section}`, for its owners and
//! admins: the frame (organisation, edition, the sections' nav, the link back to Account)
//! around one section's panel, and the sections' scripts.
//!
//! # Layout
//! - `section.rs`: the [`Section`] enum; each section has one module here, one template in
//!   `templates/admin/` and one script in `static/admin/`, loaded on that section only.
//! - `members.rs`, `keys.rs`, `policies.rs`, `scim.rs`, `audit_log.rs`: the Members (with
//!   Add member), Keys, Policies, SCIM and Audit log panels.
//! - `filters.rs`: the filter bars' choices and the query a list's pager keeps.
//!
//! The panels call the core's use cases with the session's actor, as the account tabs do,
//! and the scripts change things through `/api/admin/…`, then re-render the lists.

mod audit_log;
mod filters;
mod keys;
mod members;
mod policies;
mod scim;
pub mod section;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::actor::Actor;
use gatehouse_core::org::Edition;
use gatehouse_core::scope;
use gatehouse_core::session::{SessionPrincipal, csrf_token};

pub use section::Section;
use section::SectionContext;

use super::page::{AreaLink, page_session, to_login};
use super::tab::Tab;
use super::{JS, asset, not_found_for, render};
use crate::error::ApiError;
use crate::state::AppState;

/// Where `/admin` leads.
const FIRST: Section = Section::Members;

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage<'a> {
    username: &'a str,
    display_name: &'a str,
    csrf: String,
    other_area: Option<AreaLink>,
    org_name: &'a str,
    edition_label: &'static str,
    sections: Vec<SectionLink>,
    active: Section,
    /// The section's panel, already rendered (and escaped) by its own template.
    panel: String,
}

struct SectionLink {
    slug: &'static str,
    name: &'static str,
    current: bool,
}

/// Whether the actor runs its organisation: owners' and admins' sessions hold the
/// organisation scopes, members' never do (the core's catalogue decides, not the page).
pub fn may_administer(actor: &Actor) -> bool {
    actor.user.kind == gatehouse_core::account::AccountKind::Person
        && [scope::ORG_MEMBERS_READ, scope::ORG_KEYS_READ]
            .iter()
            .any(|s| actor.scopes.contains(s))
}

/// What a page request may see of the panel: the session, or the answer to send instead.
///
/// SECURITY: a signed-in member gets the same 404 page as a path that does not exist, so
/// the panel is not even hinted at; only the signed-out are sent to sign in (they would be
/// for any account page, so that tells nothing either).
async fn admin_session(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(String, std::sync::Arc<SessionPrincipal>), Response> {
    let Some((cookie, session)) = page_session(state, headers).await else {
        return Err(to_login(uri));
    };
    if !may_administer(&session.actor) {
        return Err(not_found_for(uri, headers));
    }
    // A session that must set up 2-step verification can use nothing else (its API calls
    // answer 403): it goes where it can, which says why.
    if session.mfa_setup_required {
        let to = format!("/account/authentication/{}", Tab::TwoStep.slug());
        return Err(Redirect::to(&to).into_response());
    }
    Ok((cookie, session))
}

/// `/admin`: the first section, for those who may see the panel.
pub async fn admin_home(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    match admin_session(&state, &uri, &headers).await {
        Ok(_) => Redirect::to(&format!("/admin/{}", FIRST.slug())).into_response(),
        Err(res) => res,
    }
}

/// `/admin/{section}`.
pub async fn admin_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(active) = Section::from_slug(&slug) else {
        return not_found_for(&uri, &headers);
    };
    let (cookie, session) = match admin_session(&state, &uri, &headers).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let actor = state.core.session_actor(&session);
    let org = match state.core.actor_org(&actor).await {
        Ok(o) => o,
        Err(e) => return ApiError::Core(e).into_response(),
    };
    let cx = SectionContext {
        state: &state,
        actor,
        org: &org,
        uri: &uri,
        headers: &headers,
    };
    let panel = match active.render(&cx).await {
        Ok(p) => p,
        Err(e) => return ApiError::Core(e).into_response(),
    };
    render(AdminPage {
        username: &session.user.username,
        display_name: &session.user.display_name,
        csrf: csrf_token(&cookie),
        other_area: Some(AreaLink::account()),
        org_name: &org.name,
        edition_label: edition_label(org.edition),
        sections: Section::ALL
            .iter()
            .map(|s| SectionLink {
                slug: s.slug(),
                name: s.title(),
                current: *s == active,
            })
            .collect(),
        active,
        panel,
    })
}

/// "Team" or "Enterprise", as the plans are called.
fn edition_label(e: Edition) -> &'static str {
    match e {
        Edition::Team => "Team",
        Edition::Enterprise => "Enterprise",
    }
}

/// `/static/admin/{slug}.js`: one section's script.
pub async fn admin_js(Path(file): Path<String>) -> Response {
    match Section::from_script(&file) {
        Some(section) => asset(section.script(), JS),
        None => (StatusCode::NOT_FOUND, ApiError::RouteNotFound).into_response(),
    }
}
