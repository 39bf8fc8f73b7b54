//! Who is calling. A request may carry exactly one credential: the `cloud.sso` cookie
//! or an `Authorization` header (`Bearer` with a token, or `Basic` with an API key as
//! the username and an empty password). Cookie-authenticated state changes must also prove they come from our own
//! pages (same-origin `Origin`, or the session's CSRF token).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::Error as CoreError;
use gatehouse_core::actor::Actor;
use gatehouse_core::api_key::ApiKeyPrincipal;
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use gatehouse_core::service::UseContext;
use gatehouse_core::session::{SessionPrincipal, csrf_token_matches};
use gatehouse_core::token::TokenPrincipal;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::middleware::client_ip::ClientIp;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cloud.sso";

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The `cloud.sso` session cookie.
    Cookie,
    /// HTTP Basic with an API key.
    ApiKey,
    /// `Authorization: Bearer` with a token.
    Bearer,
}

impl AuthMethod {
    /// The name reported by `/api/auth/session`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Cookie => "cookie",
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Bearer => "bearer",
        }
    }
}

/// An authenticated caller: the actor the use cases see, and the one credential it
/// authenticated with.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account and the credential's permissions.
    pub actor: Arc<Actor>,
    /// The credential and what it resolved to.
    pub credential: CallerCredential,
}

/// The credential behind a request, with its principal. Each fact about the caller
/// (method, expiry, session, cookie) is read from here, never stored twice.
#[derive(Debug, Clone)]
pub enum CallerCredential {
    /// The `cloud.sso` cookie and its session.
    Cookie {
        /// The session.
        session: Arc<SessionPrincipal>,
        /// The cookie value (to derive the CSRF token, and to end or replace the session).
        cookie: SecretString,
    },
    /// An API key (HTTP Basic).
    ApiKey(Arc<ApiKeyPrincipal>),
    /// A bearer token.
    Bearer(Arc<TokenPrincipal>),
}

impl Caller {
    /// Fails with 403 `insufficient_permissions` unless the credential holds `scope`.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        self.actor.require(scope).map_err(ApiError::from)
    }

    /// Fails with 403 unless the credential holds one of `scopes` (the error names the
    /// first).
    pub fn require_any(&self, scopes: &[&str]) -> Result<(), ApiError> {
        self.actor.require_any(scopes).map_err(ApiError::from)
    }

    /// How it authenticated.
    pub fn method(&self) -> AuthMethod {
        match self.credential {
            CallerCredential::Cookie { .. } => AuthMethod::Cookie,
            CallerCredential::ApiKey(_) => AuthMethod::ApiKey,
            CallerCredential::Bearer(_) => AuthMethod::Bearer,
        }
    }

    /// When the credential stops working (`None`: never).
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        match &self.credential {
            CallerCredential::Cookie { session, .. } => Some(session.expires_at),
            CallerCredential::ApiKey(k) => k.expires_at(),
            CallerCredential::Bearer(t) => Some(t.expires_at),
        }
    }

    /// The session and its cookie value, or 403 `forbidden` saying `why`: for changes
    /// only a browser session may make (factors, the password, re-authentication).
    pub fn browser_session(&self, why: &str) -> Result<(&Arc<SessionPrincipal>, &str), ApiError> {
        self.session()
            .ok_or_else(|| CoreError::Forbidden(why.to_owned()).into())
    }

    /// The session and its cookie value, for cookie callers.
    pub fn session(&self) -> Option<(&Arc<SessionPrincipal>, &str)> {
        match &self.credential {
            CallerCredential::Cookie { session, cookie } => Some((session, cookie.expose_secret())),
            _ => None,
        }
    }
}

/// The credential a request presents.
pub enum Presented<'a> {
    /// None at all.
    Nothing,
    /// The session cookie.
    Cookie(&'a str),
    /// An `Authorization` header (scheme not yet interpreted).
    Authorization(&'a str),
}

/// Finds the single credential in a request; two is an error.
pub fn presented(headers: &HeaderMap) -> Result<Presented<'_>, ApiError> {
    let cookie = session_cookie(headers);
    let mut auths = headers.get_all(header::AUTHORIZATION).iter();
    let auth = auths
        .next()
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::BadRequest("malformed Authorization header".into()))
        })
        .transpose()?;
    if auths.next().is_some() {
        return Err(ApiError::MultipleAuthMethods);
    }
    match (cookie, auth) {
        (Some(_), Some(_)) => Err(ApiError::MultipleAuthMethods),
        (Some(c), None) => Ok(Presented::Cookie(c)),
        (None, Some(a)) => Ok(Presented::Authorization(a)),
        (None, None) => Ok(Presented::Nothing),
    }
}

/// What a request presented, for the metrics: `api_key` (Basic), `bearer`, `session`
/// (the cookie), `none`, or `other` (another scheme, or more than one credential).
fn method_label(headers: &HeaderMap) -> &'static str {
    match presented(headers) {
        Ok(Presented::Nothing) => "none",
        Ok(Presented::Cookie(_)) => "session",
        Ok(Presented::Authorization(v)) => {
            let scheme = v.split_once(' ').map_or(v, |(s, _)| s);
            if scheme.eq_ignore_ascii_case("basic") {
                "api_key"
            } else if scheme.eq_ignore_ascii_case("bearer") {
                "bearer"
            } else {
                "other"
            }
        }
        Err(_) => "other",
    }
}

/// The value of the `cloud.sso` cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_named(headers, SESSION_COOKIE)
}

/// The value of the cookie `name`, if any (empty values count as none).
pub fn cookie_named<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The routes a session that must first set up 2-step verification may use: the
/// 2-step verification API, re-authentication, "who am I" and signing out.
pub fn allowed_before_mfa_setup(path: &str) -> bool {
    path == "/api/mfa"
        || path.starts_with("/api/mfa/")
        || matches!(
            path,
            "/api/auth/session" | "/api/auth/logout" | "/api/auth/reauthenticate"
        )
}

/// Decodes `Basic base64(user:password)`; `None` if the header is not Basic or malformed.
pub fn basic_credentials(header: &str) -> Option<(Zeroizing<String>, Zeroizing<String>)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Zeroizing::new(STANDARD.decode(rest.trim()).ok()?);
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((
        Zeroizing::new(user.to_owned()),
        Zeroizing::new(pass.to_owned()),
    ))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let result = Self::authenticate(parts, state).await;
        if crate::observe::enabled() {
            crate::observe::auth(
                method_label(&parts.headers),
                result.as_ref().map_or_else(ApiError::code, |_| "accepted"),
            );
        }
        let caller = result?;
        // Every audit record this request writes names who acted and with which key.
        gatehouse_core::audit::note_actor(&caller.actor);
        Ok(caller)
    }
}

impl Caller {
    async fn authenticate(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        match presented(&parts.headers)? {
            Presented::Nothing => Err(CoreError::Unauthenticated.into()),
            Presented::Authorization(value) => {
                authenticate_authorization(parts, state, value).await
            }
            Presented::Cookie(cookie) => {
                let session = state.core.authenticate_session(cookie).await?;
                // SECURITY: a session its organisation wants 2-step verification for,
                // opened without it, can only set it up.
                if session.mfa_setup_required && !allowed_before_mfa_setup(parts.uri.path()) {
                    return Err(if session.security_key_setup_required {
                        CoreError::SecurityKeySetupRequired
                    } else {
                        CoreError::MfaSetupRequired
                    }
                    .into());
                }
                if is_state_changing(&parts.method) {
                    check_csrf(&parts.headers, cookie, state.web.public_origin.as_deref())?;
                }
                Ok(Caller {
                    actor: state.core.session_actor(&session),
                    credential: CallerCredential::Cookie {
                        session,
                        cookie: SecretString::from(cookie),
                    },
                })
            }
        }
    }
}

async fn authenticate_authorization(
    parts: &Parts,
    state: &AppState,
    value: &str,
) -> Result<Caller, ApiError> {
    let ip = ClientIp::current().0;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim();
        let principal = state
            .core
            .authenticate_token(token, ip)
            .await
            .map_err(|e| match e {
                CoreError::Unauthenticated => ApiError::BadCredential("Bearer"),
                other => other.into(),
            })?;
        return Ok(Caller {
            actor: principal.actor.clone(),
            credential: CallerCredential::Bearer(principal),
        });
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::BadCredential("Bearer"));
    }
    // SECURITY: an API key is the username and the password must be empty; anything
    // else (a password, a malformed header) is refused without saying which part failed.
    let Some((user, pass)) = basic_credentials(value) else {
        return Err(ApiError::BadCredential("Basic"));
    };
    if !pass.is_empty() {
        return Err(ApiError::BadCredential("Basic"));
    }
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let key = state
        .core
        .authenticate_api_key(&user, UseContext { ip, user_agent })
        .await
        .map_err(|e| match e {
            CoreError::Unauthenticated => ApiError::BadCredential("Basic"),
            other => other.into(),
        })?;
    Ok(Caller {
        actor: state.core.key_actor(&key),
        credential: CallerCredential::ApiKey(key),
    })
}

/// Methods that may change state (SECURITY: a GET never does).
pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The CSRF rule for cookie-authenticated changes.
pub fn check_csrf(
    headers: &HeaderMap,
    cookie: &str,
    public_origin: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(token) = headers.get("x-csrf-token").and_then(|v| v.to_str().ok())
        && csrf_token_matches(cookie, token)
    {
        return Ok(());
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && is_same_origin(headers, origin, public_origin)
    {
        return Ok(());
    }
    Err(ApiError::CsrfFailed)
}

/// Whether `origin` is our own: the configured public origin, or `https://<Host>`.
pub fn is_same_origin(headers: &HeaderMap, origin: &str, public_origin: Option<&str>) -> bool {
    if let Some(public) = public_origin {
        return origin.eq_ignore_ascii_case(public.trim_end_matches('/'));
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; cloud.sso=abc ; b=2")]);
        assert_eq!(session_cookie(&h), Some("abc"));
        assert_eq!(
            session_cookie(&headers(&[("cookie", "cloud.ssox=1")])),
            None
        );
        assert_eq!(session_cookie(&headers(&[("cookie", "cloud.sso=")])), None);
    }

    #[test]
    fn a_cookie_and_an_authorization_header_together_are_refused() {
        let h = headers(&[("cookie", "cloud.sso=abc"), ("authorization", "Bearer x")]);
        assert!(matches!(presented(&h), Err(ApiError::MultipleAuthMethods)));
        let two = headers(&[
            ("authorization", "Bearer x"),
            ("authorization", "Basic eDo="),
        ]);
        assert!(matches!(
            presented(&two),
            Err(ApiError::MultipleAuthMethods)
        ));
        let only_other_cookie = headers(&[("cookie", "theme=dark"), ("authorization", "Bearer x")]);
        assert!(matches!(
            presented(&only_other_cookie),
            Ok(Presented::Authorization(_))
        ));
    }

    #[test]
    fn basic_credentials_decode_user_and_password() {
        let (u, p) = basic_credentials("Basic Z3drX2FiYzo=").expect("decodes");
        assert_eq!((u.as_str(), p.as_str()), ("gwk_abc", ""));
        let (u, p) = basic_credentials("basic dTpw").expect("case-insensitive scheme");
        assert_eq!((u.as_str(), p.as_str()), ("u", "p"));
        assert!(basic_credentials("Basic !!!").is_none());
        assert!(
            basic_credentials("Basic bm9jb2xvbg==").is_none(),
            "no colon"
        );
        assert!(basic_credentials("Bearer x").is_none());
    }

    #[test]
    fn same_origin_means_https_and_the_same_host() {
        let h = headers(&[("host", "gh.example.org:8443")]);
        assert!(is_same_origin(&h, "https://gh.example.org:8443", None));
        assert!(!is_same_origin(&h, "http://gh.example.org:8443", None));
        assert!(!is_same_origin(&h, "https://evil.example", None));
        assert!(!is_same_origin(&h, "null", None));
        assert!(is_same_origin(
            &h,
            "https://sso.example.org",
            Some("https://sso.example.org/")
        ));
        assert!(!is_same_origin(
            &h,
            "https://gh.example.org:8443",
            Some("https://sso.example.org")
        ));
    }

    #[test]
    fn csrf_passes_with_the_token_or_a_same_origin_header_only() {
        let cookie = "the-cookie";
        let token = gatehouse_core::session::csrf_token(cookie);
        let mut h = headers(&[("host", "h:1")]);
        assert!(matches!(
            check_csrf(&h, cookie, None),
            Err(ApiError::CsrfFailed)
        ));
        h.insert("x-csrf-token", HeaderValue::from_str(&token).expect("hv"));
        assert!(check_csrf(&h, cookie, None).is_ok());
        let h = headers(&[("host", "h:1"), ("origin", "https://h:1")]);
        assert!(check_csrf(&h, cookie, None).is_ok());
        let h = headers(&[("host", "h:1"), ("origin", "https://other:1")]);
        assert!(check_csrf(&h, cookie, None).is_err());
    }
}
