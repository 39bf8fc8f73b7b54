//! The pages around the tabs: the account frame (nav, change password, the tab's panel and
//! script), sign-in and its second step (plain form posts that work without JavaScript),
//! the HTML 404 page, and the `next=` rule that brings a user back after signing in.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::page::PageRequest;
use gatehouse_core::session::{SessionPrincipal, csrf_token};

use super::tab::{Tab, TabContext};
use super::{render, wants_html};
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
    tabs: Vec<TabLink>,
    active: Tab,
    /// The tab's panel, already rendered (and escaped) by its own template.
    panel: String,
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
#[template(path = "login_mfa.html")]
struct LoginMfaPage<'a> {
    /// The validated page to return to, sent back in the form's hidden field.
    next: &'a str,
    /// A fixed sentence for a known `?error=` code.
    error: &'static str,
    /// The way shown: the security key's button, or one of the two code forms.
    method: Method,
    /// `methods=…` as the form sends it back, so an error keeps the same choices.
    methods: String,
    /// The other ways this account has, as links that keep `next` and `methods`.
    others: Vec<OtherMethod>,
    /// The sign-in page, keeping `next`.
    back_href: String,
}

/// A link to another way of finishing the sign-in.
struct OtherMethod {
    id: &'static str,
    label: &'static str,
    href: String,
}

/// One way of finishing a sign-in with 2-step verification (`?method=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Key,
    Totp,
    Recovery,
}

impl Method {
    fn slug(self) -> &'static str {
        match self {
            Method::Key => "key",
            Method::Totp => "totp",
            Method::Recovery => "recovery",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Method::Key => "Use your security key",
            Method::Totp => "Use a code from your authenticator app",
            Method::Recovery => "Use a recovery code",
        }
    }

    fn link_id(self) -> &'static str {
        match self {
            Method::Key => "login-mfa-use-key",
            Method::Totp => "login-mfa-use-totp",
            Method::Recovery => "login-mfa-use-recovery",
        }
    }
}

/// The second factors an account can finish its sign-in with, as the password step
/// named them (`methods` of `mfa_required`, or `?methods=` of the page). They are not
/// secret: the page only uses them to choose which ways to offer, and the server checks
/// whatever comes back. Recovery codes always work.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SecondStepMethods {
    key: bool,
    totp: bool,
    /// Whether the list was given: without it (a typed address) every way is offered
    /// and the authenticator code comes first, as before security keys.
    known: bool,
}

impl SecondStepMethods {
    /// From a comma-separated list; unknown names are ignored (SECURITY: nothing of
    /// the query's own text is ever echoed).
    pub fn parse(list: Option<&str>) -> Self {
        let Some(list) = list.filter(|l| !l.is_empty()) else {
            return SecondStepMethods {
                key: true,
                totp: true,
                known: false,
            };
        };
        let has = |m: &str| list.split(',').any(|x| x.trim() == m);
        SecondStepMethods {
            key: has("webauthn"),
            totp: has("totp"),
            known: true,
        }
    }

    /// From the core's list of method names.
    pub fn of(methods: &[&str]) -> Self {
        Self::parse(Some(&methods.join(",")))
    }

    /// `methods=webauthn,totp,recovery_code`, or "" when the list was not given.
    pub fn query(self) -> String {
        if !self.known {
            return String::new();
        }
        let mut names = Vec::with_capacity(3);
        if self.key {
            names.push("webauthn");
        }
        if self.totp {
            names.push("totp");
        }
        names.push("recovery_code");
        format!("methods={}", names.join(","))
    }

    /// The way shown first: the security key when there is one.
    fn default_method(self) -> Method {
        if self.key && self.known {
            Method::Key
        } else if self.totp {
            Method::Totp
        } else {
            Method::Recovery
        }
    }

    fn offers(self, m: Method) -> bool {
        match m {
            Method::Key => self.key,
            Method::Totp => self.totp,
            Method::Recovery => true,
        }
    }

    /// The way asked for by `?method=`, if this account has it, else the default.
    fn pick(self, asked: Option<&str>) -> Method {
        let asked = match asked {
            Some("key") => Some(Method::Key),
            Some("totp") => Some(Method::Totp),
            Some("recovery") => Some(Method::Recovery),
            _ => None,
        };
        asked
            .filter(|m| self.offers(*m))
            .unwrap_or_else(|| self.default_method())
    }
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
fn to_login(uri: &Uri) -> Response {
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
async fn page_session(
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

/// The sentence shown for a second-step `error=` code; unknown codes get the generic one.
fn second_step_error(code: Option<&str>, recovery: bool) -> &'static str {
    match code {
        None | Some("") => "",
        Some("invalid_code") if recovery => {
            "That recovery code did not work. Check it, or use another: each works once."
        }
        Some("invalid_code") => {
            "That code did not work. Enter the 6-digit code your authenticator app shows now."
        }
        Some("invalid_request") if recovery => "Enter one of your recovery codes.",
        Some("invalid_request") => "Enter the 6-digit code from your authenticator app.",
        Some("rate_limited") => "Too many attempts. Wait a little, then try again.",
        Some("unavailable") => "The service is temporarily unavailable. Try again shortly.",
        Some(_) => "That did not work. Try again, or go back and sign in again.",
    }
}

/// `?next=&error=&method=&methods=` of the second-step page.
#[derive(serde::Deserialize, Default)]
pub struct LoginMfaQuery {
    next: Option<String>,
    error: Option<String>,
    method: Option<String>,
    methods: Option<String>,
}

/// `path`, with `next` as its query when there is one (and `extra` before it).
fn with_next(path: &str, extra: &str, next: &str) -> String {
    match (extra.is_empty(), next.is_empty()) {
        (true, true) => path.to_owned(),
        (true, false) => format!("{path}?next={}", query_value(next)),
        (false, true) => format!("{path}?{extra}"),
        (false, false) => format!("{path}?{extra}&next={}", query_value(next)),
    }
}

/// `GET /login/mfa`: the second step of a sign-in with 2-step verification, where the
/// password's form post (or the script, on `mfa_required`) lands. The pending sign-in's
/// cookie is scoped to the sign-in API, so this page cannot see it: a stale visit learns
/// it at the post, which sends it back to sign in with `mfa_expired`.
pub async fn login_mfa_page(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let q = Query::<LoginMfaQuery>::try_from_uri(&uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let next = q.next.as_deref().and_then(local_next).unwrap_or("");
    if page_session(&state, &headers).await.is_some() {
        return Redirect::to(if next.is_empty() { HOME } else { next }).into_response();
    }
    let methods = SecondStepMethods::parse(q.methods.as_deref());
    let method = methods.pick(q.method.as_deref());
    let listed = methods.query();
    let others = [Method::Key, Method::Totp, Method::Recovery]
        .into_iter()
        .filter(|m| *m != method && methods.offers(*m))
        .map(|m| {
            let mut extra = format!("method={}", m.slug());
            if !listed.is_empty() {
                extra = format!("{extra}&{listed}");
            }
            OtherMethod {
                id: m.link_id(),
                label: m.label(),
                href: with_next("/login/mfa", &extra, next),
            }
        })
        .collect();
    render(LoginMfaPage {
        next,
        error: second_step_error(q.error.as_deref(), method == Method::Recovery),
        method,
        methods: listed
            .strip_prefix("methods=")
            .unwrap_or_default()
            .to_owned(),
        others,
        back_href: with_next("/login", "", next),
    })
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
        return if wants_html(&uri, &headers) {
            not_found_page()
        } else {
            ApiError::RouteNotFound.into_response()
        };
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

    #[test]
    fn the_second_step_names_the_code_it_asked_for() {
        assert_eq!(second_step_error(None, false), "");
        assert!(second_step_error(Some("invalid_code"), false).contains("authenticator app"));
        assert!(second_step_error(Some("invalid_code"), true).contains("recovery code"));
        assert!(second_step_error(Some("rate_limited"), true).contains("Too many"));
        assert!(second_step_error(Some("<b>x</b>"), false).starts_with("That did not work"));
    }

    #[test]
    fn the_second_step_offers_the_security_key_first_and_only_known_methods() {
        let key_and_app = SecondStepMethods::parse(Some("webauthn,totp,recovery_code"));
        assert_eq!(key_and_app.pick(None), Method::Key);
        assert_eq!(key_and_app.pick(Some("totp")), Method::Totp);
        assert_eq!(key_and_app.query(), "methods=webauthn,totp,recovery_code");
        let app = SecondStepMethods::parse(Some("totp,recovery_code"));
        assert_eq!(app.pick(None), Method::Totp);
        assert_eq!(app.pick(Some("key")), Method::Totp, "no key to offer");
        let key = SecondStepMethods::of(&["webauthn", "recovery_code"]);
        assert_eq!(key.pick(Some("totp")), Method::Key);
        assert_eq!(
            SecondStepMethods::parse(Some("<script>,totp&next=//evil")).query(),
            "methods=recovery_code",
            "only known names survive"
        );
        let typed = SecondStepMethods::parse(None);
        assert_eq!(typed.pick(None), Method::Totp, "a typed address: as before");
        assert_eq!(typed.query(), "");
    }

    #[test]
    fn the_second_steps_links_keep_the_return_path() {
        assert_eq!(with_next("/login", "", ""), "/login");
        assert_eq!(
            with_next("/login/mfa", "method=recovery", "/account?x=1"),
            "/login/mfa?method=recovery&next=/account%3Fx%3D1"
        );
        assert_eq!(with_next("/login", "", "/a b"), "/login?next=/a%20b");
    }
}
