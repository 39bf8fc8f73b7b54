//! The server-rendered web UI: sign-in, Account → Authentication with its tabs, the HTML
//! 404 page, and the static assets (served from the binary; no CDN).
//!
//! # Layout
//! - `tab.rs`: the [`Tab`] enum; each tab has one module here, one template in
//!   `templates/tabs/` and one script in `static/tabs/`, loaded on that tab only.
//! - `api_keys.rs`, `tokens.rs`, `ssh_keys.rs`, `ssh_private_keys.rs`, `two_step.rs`: the
//!   tabs' panels.
//! - `admin/`: the organisation's admin panel (`/admin/{section}`), built the same way: a
//!   `Section` enum, one module, template (`templates/admin/`) and script
//!   (`static/admin/`) per section, around a frame of its own.
//! - `login_mfa.rs`: the sign-in's second step (`/login/mfa`).
//! - `set_password.rs`: a new member's first password, through the one-time link an
//!   admin handed them (`/set-password#gsp_…`).
//! - `page.rs`: the pages around the tabs (account frame, sign-in and its second step,
//!   not found) and the `next=` rule for returning after sign-in.
//! - `format.rs`: dates and counts as the pages write them.
//! - Shared pieces are written once: `templates/parts/ui.html` (dialog, list, pager, filter
//!   bar, icons), the show-once secret, "Confirm it's you" and the header's user bar in
//!   `templates/parts/`, and `static/app.js` (api helper with the re-authentication retry,
//!   dialogs, toasts, relative times, list refresh, filter bars, the secret panel, copy and
//!   download).

mod admin;
mod api_keys;
mod format;
mod login_mfa;
mod page;
mod set_password;
mod ssh_keys;
mod ssh_private_keys;
pub mod tab;
mod tokens;
mod two_step;

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

pub use login_mfa::SecondStepMethods;
pub use page::{HOME, local_next, not_found_page, query_value};
pub use tab::Tab;

use crate::error::ApiError;
use crate::state::AppState;

/// UI routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page::home))
        .route("/login", get(page::login_page))
        .route("/login/mfa", get(login_mfa::login_mfa_page))
        .route("/set-password", get(set_password::set_password_page))
        .route("/static/set-password.js", get(set_password_js))
        .route("/account", get(page::home))
        .route("/account/authentication", get(page::home))
        .route("/account/authentication/{tab}", get(page::account_page))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/static/tabs/{file}", get(tab_js))
        .route("/admin", get(admin::admin_home))
        .route("/admin/{section}", get(admin::admin_page))
        .route("/static/admin/{file}", get(admin::admin_js))
}

/// The fallback for paths no route matches: an HTML page for a browser that asked for one
/// outside `/api/`, our JSON error otherwise.
pub async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    not_found_for(&uri, &headers)
}

/// The same answer, for a page route that finds nothing to show (an unknown tab or
/// section).
fn not_found_for(uri: &Uri, headers: &HeaderMap) -> Response {
    if wants_html(uri, headers) {
        not_found_page()
    } else {
        ApiError::RouteNotFound.into_response()
    }
}

/// A browser's page request: not under `/api/`, and `Accept` names `text/html`
/// (`*/*` alone, as API clients send, keeps the JSON answer).
pub(crate) fn wants_html(uri: &Uri, headers: &HeaderMap) -> bool {
    let api = uri.path() == "/api" || uri.path().starts_with("/api/");
    !api && headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| m.trim().to_ascii_lowercase().starts_with("text/html"))
}

/// An `<option>` of a form's select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// A tab panel's HTML; a template error becomes an internal error.
fn render_panel(t: &impl Template) -> gatehouse_core::Result<String> {
    t.render().map_err(gatehouse_core::Error::internal)
}

/// A whole page; a template error answers 500 (cause logged, never sent).
fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::Core(gatehouse_core::Error::internal(e)).into_response(),
    }
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

const JS: &str = "text/javascript; charset=utf-8";

async fn css() -> Response {
    asset(
        include_str!("../../static/app.css"),
        "text/css; charset=utf-8",
    )
}

async fn js() -> Response {
    asset(include_str!("../../static/app.js"), JS)
}

async fn set_password_js() -> Response {
    asset(set_password::SCRIPT, JS)
}

/// `/static/tabs/{slug}.js`: one tab's script.
async fn tab_js(Path(file): Path<String>) -> Response {
    match Tab::from_script(&file) {
        Some(tab) => asset(tab.script(), JS),
        None => (StatusCode::NOT_FOUND, ApiError::RouteNotFound).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("hv"));
        h
    }

    #[test]
    fn only_a_browser_asking_for_a_page_outside_the_api_gets_html() {
        let browser = accept("text/html,application/xhtml+xml,*/*;q=0.8");
        let page: Uri = "/account/nope".parse().expect("uri");
        let api: Uri = "/api/nope".parse().expect("uri");
        assert!(wants_html(&page, &browser));
        assert!(!wants_html(&api, &browser), "the API answers JSON");
        assert!(!wants_html(&"/api".parse().expect("uri"), &browser));
        assert!(
            !wants_html(&page, &accept("*/*")),
            "curl and reqwest get JSON"
        );
        assert!(!wants_html(&page, &accept("application/json")));
        assert!(!wants_html(&page, &HeaderMap::new()));
        assert!(wants_html(&"/apiary".parse().expect("uri"), &browser));
    }
}
