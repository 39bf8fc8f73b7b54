//! The second step of a sign-in with 2-step verification (`/login/mfa`): which ways to
//! offer (the account's methods, as the password step named them), the security key's
//! button or a code form that works without JavaScript, and fixed sentences for errors.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};

use super::page::{HOME, local_next, page_session, query_value};
use super::render;
use crate::state::AppState;

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

#[cfg(test)]
mod tests {
    use super::*;

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
