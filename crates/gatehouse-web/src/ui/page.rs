//! The pages around the tabs: the account frame (nav, change password, the tab's panel and
//! script), sign-in (a plain form post that works without JavaScript; its second step is
//! `login_mfa.rs`), the HTML 404 page, and the `next=` rule that brings a user back after
//! signing in.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::page::PageRequest;
use gatehouse_core::session::{SessionPrincipal, csrf_token};

use super::tab::{Tab, TabContext};
use super::{not_found_for, render};
use crate::error::ApiError;
use crate::extract::auth::session_cookie;
use crate::state::AppState;

/// Where a signed-in user lands by default.
pub const HOME: &str = "/account/authentication/api-keys";

/// Longest `next=` accepted; a real page path is far shorter.
const MAX_NEXT: usize = 512;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    username: &'a str,
    display_name: &'a str,
    csrf: String,
    /// 2-step verification is on: the nav says so.
    mfa_on: bool,
    /// An authenticator app is set up: "Confirm it's you" offers a code (security keys
    /// alone cannot answer it; the password does).
    totp_on: bool,
    /// "Admin panel", for owners and admins.
    other_area: Option<AreaLink>,
    tabs: Vec<TabLink>,
    active: Tab,
    /// The tab's panel, already rendered (and escaped) by its own template.
    panel: String,
}

/// The header's link to the other area of the site (Account ⇄ Admin panel).
pub(super) struct AreaLink {
    pub(super) id: &'static str,
    pub(super) href: &'static str,
    pub(super) label: &'static str,
}

impl AreaLink {
    /// Back to Account, from the admin panel.
    pub(super) fn account() -> AreaLink {
        AreaLink {
            id: "account-link",
            href: "/account",
            label: "Account",
        }
    }

    /// To the admin panel, from Account.
    fn admin_panel() -> AreaLink {
        AreaLink {
            id: "admin-panel-link",
            href: "/admin",
            label: "Admin panel",
        }
    }
}

struct TabLink {
    slug: &'static str,
    name: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    /// The validated page to return to, sent back in the form's hidden field.
    next: &'a str,
    /// A fixed sentence for a known `?error=` code (never the query's own text).
    error: &'static str,
    /// Security keys are on in this server: the script offers "Sign in with a passkey"
    /// when the browser can do WebAuthn too.
    passkeys: bool,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage;

/// `next` if it is a path on this site that is safe to send the browser to after sign-in.
///
/// SECURITY: no open redirect. Only an absolute path is accepted: not `//host` or `/\host`
/// (browsers read both as another host), no backslash, control or space character
/// (URL parsers drop tabs and newlines, turning `/\t/host` into `//host`), only visible
/// ASCII (it goes into a `Location` header as it is), and not the API or the sign-in
/// pages themselves.
pub fn local_next(next: &str) -> Option<&str> {
    let ok = next.len() <= MAX_NEXT
        && next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.bytes().all(|b| b.is_ascii_graphic())
        && !next.starts_with("/api/")
        && next != "/login"
        && !next.starts_with("/login?")
        && !next.starts_with("/login/");
    ok.then_some(next)
}

/// Percent-encodes a query value (everything but unreserved characters and `/`).
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The sign-in page, returning to `uri` afterwards.
pub(super) fn to_login(uri: &Uri) -> Response {
    let here = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    match local_next(here) {
        Some(next) => Redirect::to(&format!("/login?next={}", query_value(next))).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

/// The HTML 404 page (the security headers are added by the middleware like any page's).
pub fn not_found_page() -> Response {
    let mut res = render(NotFoundPage);
    if res.status() == StatusCode::OK {
        *res.status_mut() = StatusCode::NOT_FOUND;
    }
    res
}

/// The session behind the page request's cookie, if it is valid.
pub(super) async fn page_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<(String, Arc<SessionPrincipal>)> {
    let cookie = session_cookie(headers)?;
    let s = state.core.authenticate_session(cookie).await.ok()?;
    Some((cookie.to_owned(), s))
}

pub async fn home() -> Redirect {
    Redirect::to(HOME)
}

/// `?next=&error=` of the sign-in page.
#[derive(serde::Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    error: Option<String>,
}

/// The sentence shown for a sign-in `error=` code; unknown codes get the generic one.
fn login_error(code: Option<&str>) -> &'static str {
    match code {
        None | Some("") => "",
        Some("invalid_credentials") => "The username or password is incorrect.",
        Some("rate_limited") => "Too many attempts. Wait a little, then try again.",
        Some("unavailable") => "The service is temporarily unavailable. Try again shortly.",
        Some("mfa_expired") => {
            "Your sign-in was not finished in time, so it was cancelled. Sign in again."
        }
        Some(_) => "Sign-in failed. Try again.",
    }
}

pub async fn login_page(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let q = Query::<LoginQuery>::try_from_uri(&uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let next = q.next.as_deref().and_then(local_next).unwrap_or("");
    if page_session(&state, &headers).await.is_some() {
        return Redirect::to(if next.is_empty() { HOME } else { next }).into_response();
    }
    render(LoginPage {
        next,
        error: login_error(q.error.as_deref()),
        passkeys: state.core.webauthn_enabled(),
    })
}

/// `?cursor=` of an account page: which page of the tab's list to show (a stale or
/// foreign cursor shows the first page rather than an error page).
#[derive(serde::Deserialize, Default)]
struct PageQuery {
    cursor: Option<String>,
}

pub async fn account_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(active) = Tab::from_slug(&slug) else {
        return not_found_for(&uri, &headers);
    };
    let Some((cookie, session)) = page_session(&state, &headers).await else {
        return to_login(&uri);
    };
    // A session that must set up 2-step verification can use no other tab (their API
    // calls answer 403): it is sent to the one it can use, which says why.
    if session.mfa_setup_required && active != Tab::TwoStep {
        return Redirect::to(&format!("/account/authentication/{}", Tab::TwoStep.slug()))
            .into_response();
    }
    let (mfa_on, totp_on) = match state.core.mfa_status(&session.user).await {
        Ok(s) => (
            s.enabled,
            s.factors
                .iter()
                .any(|f| f.kind == gatehouse_core::mfa::FactorKind::Totp),
        ),
        Err(e) => return ApiError::Core(e).into_response(),
    };
    let cursor = Query::<PageQuery>::try_from_uri(&uri)
        .ok()
        .and_then(|Query(q)| q.cursor);
    let cx = TabContext {
        state: &state,
        session: &session,
        actor: state.core.session_actor(&session),
        page: PageRequest::parse(None, cursor.as_deref()).unwrap_or_default(),
    };
    let panel = match active.render(&cx).await {
        Ok(p) => p,
        Err(e) => return ApiError::Core(e).into_response(),
    };
    render(AccountPage {
        username: &session.user.username,
        display_name: &session.user.display_name,
        csrf: csrf_token(&cookie),
        mfa_on,
        totp_on,
        other_area: super::admin::may_administer(&session.actor).then(AreaLink::admin_panel),
        tabs: Tab::ALL
            .iter()
            .map(|t| TabLink {
                slug: t.slug(),
                name: t.title(),
                current: *t == active,
            })
            .collect(),
        active,
        panel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_local_page_paths_only() {
        for ok in [
            "/account/authentication/tokens",
            "/account/authentication/api-keys?cursor=abc",
            "/",
        ] {
            assert_eq!(local_next(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil",
            "javascript:alert(1)",
            "account",
            "/api/auth/logout",
            "/login",
            "/login?next=/login",
            "/login/mfa",
            "/caf\u{e9}",
        ] {
            assert_eq!(local_next(bad), None, "{bad:?}");
        }
        assert_eq!(local_next(&format!("/{}", "a".repeat(MAX_NEXT))), None);
    }

    #[test]
    fn the_return_path_is_percent_encoded_into_the_sign_in_link() {
        let uri: Uri = "/account/authentication/api-keys?cursor=a+b&x=1"
            .parse()
            .expect("uri");
        let res = to_login(&uri);
        assert_eq!(
            res.headers()["location"],
            "/login?next=/account/authentication/api-keys%3Fcursor%3Da%2Bb%26x%3D1"
        );
    }

    #[test]
    fn unknown_sign_in_error_codes_get_a_fixed_sentence() {
        assert_eq!(login_error(None), "");
        assert!(login_error(Some("invalid_credentials")).contains("incorrect"));
        assert_eq!(
            login_error(Some("<script>call 555-0100</script>")),
            "Sign-in failed. Try again."
        );
        assert!(login_error(Some("mfa_expired")).contains("Sign in again"));
    }
}
