//! The server-rendered web UI: sign-in, Account → Authentication with its tabs, and the
//! static assets (served from the binary; no CDN).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use gatehouse_core::page::PageRequest;
use gatehouse_core::session::csrf_token;

use crate::error::ApiError;
use crate::extract::auth::session_cookie;
use crate::state::AppState;

/// The tabs of Account → Authentication: (path segment, title).
pub const TABS: &[(&str, &str)] = &[
    ("api-keys", "API Keys"),
    ("tokens", "Tokens"),
    ("ssh-keys", "SSH Keys"),
    ("ssh-private-keys", "SSH Private Keys"),
    ("2-step-verification", "2-Step Verification"),
];

/// The page a sign-in lands on by default.
pub const HOME: &str = "/account/authentication/api-keys";

/// UI routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page))
        .route("/account", get(home))
        .route("/account/authentication", get(home))
        .route("/account/authentication/{tab}", get(account_page))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    username: &'a str,
    display_name: &'a str,
    csrf: String,
    tabs: Vec<TabLink>,
    active: &'a str,
    title: &'a str,
    keys: KeysPanel,
    tokens: TokensPanel,
    ssh: SshKeysPanel,
}

/// What the API Keys tab shows (empty on other tabs).
#[derive(Default)]
struct KeysPanel {
    rows: Vec<KeyRow>,
    /// The next page's cursor, when there are more keys.
    next: Option<String>,
    expirations: Vec<Choice>,
    permissions: Vec<PermissionChoice>,
    require_disable_before_delete: bool,
}

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    created: String,
    created_by: String,
    expires: String,
    last_used: String,
    last_used_from: String,
    enabled: bool,
    /// Revoked with the key or token that made it: it cannot be enabled again.
    revoked: bool,
    permissions: Vec<String>,
}

/// What the Tokens tab shows (empty on other tabs).
#[derive(Default)]
struct TokensPanel {
    rows: Vec<TokenRow>,
    /// The next page's cursor, when there are more tokens.
    next: Option<String>,
    /// The lifetimes the policy offers, in hours (what `/api/tokens/options` lists).
    hours: Vec<Choice>,
    /// False when the organisation imposes one lifetime.
    user_may_choose: bool,
    /// "from 1 to 24 hours", or the one imposed lifetime ("8 hours").
    lifetime_text: String,
}

struct TokenRow {
    id: String,
    name: String,
    created: String,
    expires: String,
    scopes: Vec<String>,
}

/// What the SSH Keys tab shows (empty on other tabs).
#[derive(Default)]
struct SshKeysPanel {
    rows: Vec<SshKeyRow>,
    /// The next page's cursor, when there are more keys.
    next: Option<String>,
}

struct SshKeyRow {
    id: String,
    name: String,
    key_type: String,
    bits: u32,
    fingerprint: String,
    comment: String,
    created: String,
    created_iso: String,
    /// The whole authorized_keys line, for the copy button (a public key: not a secret).
    line: String,
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

struct PermissionChoice {
    name: String,
    description: String,
    checked: bool,
}

fn when(t: Option<time::OffsetDateTime>, none: &str) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| none.to_owned())
}

async fn keys_panel(
    state: &AppState,
    session: &gatehouse_core::session::SessionPrincipal,
    page: &PageRequest,
) -> gatehouse_core::Result<KeysPanel> {
    let actor = state.core.session_actor(session);
    let keys = state.core.list_api_keys(&actor, page).await?;
    let policy = state.core.policy_for(&actor).await?;
    let default = policy.api_key_default_expiration;
    Ok(KeysPanel {
        next: keys.next.clone(),
        rows: keys
            .items
            .iter()
            .map(|k| KeyRow {
                id: k.id.to_string(),
                name: k.name.clone(),
                prefix: k.display_prefix.clone(),
                created: when(Some(k.created_at), "-"),
                created_by: k.created_by.clone(),
                expires: when(k.expires_at, "never"),
                last_used: when(k.last_used_at, "never"),
                last_used_from: k.last_used_ip.clone().unwrap_or_default(),
                enabled: k.enabled,
                revoked: k.revoked_at.is_some(),
                permissions: k.permissions.iter().map(str::to_owned).collect(),
            })
            .collect(),
        expirations: policy
            .offered_expirations()
            .iter()
            .map(|e| Choice {
                value: e.as_code(),
                label: e.label(),
                selected: *e == default,
            })
            .collect(),
        permissions: state
            .core
            .scope_catalog()
            .into_iter()
            .filter(|(name, _)| actor.scopes.contains(name))
            .map(|(name, description)| PermissionChoice {
                checked: gatehouse_core::scope::DEFAULT_KEY_SCOPES.contains(&name.as_str()),
                name,
                description,
            })
            .collect(),
        require_disable_before_delete: policy.require_disable_before_delete,
    })
}

fn hours_label(h: u32) -> String {
    if h == 1 {
        "1 hour".to_owned()
    } else {
        format!("{h} hours")
    }
}

async fn tokens_panel(
    state: &AppState,
    session: &gatehouse_core::session::SessionPrincipal,
    page: &PageRequest,
) -> gatehouse_core::Result<TokensPanel> {
    let actor = state.core.session_actor(session);
    let tokens = state.core.list_tokens(&actor, page).await?;
    let policy = state.core.policy_for(&actor).await?;
    let offered = policy.offered_token_hours();
    // The policy's default, or the longest offered lifetime if the default is not offered.
    let default = if offered.contains(&policy.token_default_hours) {
        policy.token_default_hours
    } else {
        offered.last().copied().unwrap_or_default()
    };
    Ok(TokensPanel {
        next: tokens.next.clone(),
        rows: tokens
            .items
            .iter()
            .map(|t| TokenRow {
                id: t.id.to_string(),
                name: t.name.clone(),
                created: when(Some(t.created_at), "-"),
                expires: when(Some(t.expires_at), "-"),
                scopes: t.scopes.iter().map(str::to_owned).collect(),
            })
            .collect(),
        hours: offered
            .iter()
            .map(|h| Choice {
                value: h.to_string(),
                label: hours_label(*h),
                selected: *h == default,
            })
            .collect(),
        lifetime_text: match (policy.token_user_choice, offered.last()) {
            (true, Some(&max)) if max > 1 => format!("from 1 to {max} hours"),
            (_, Some(&h)) => hours_label(h),
            (_, None) => "a few hours".to_owned(),
        },
        user_may_choose: policy.token_user_choice,
    })
}

async fn ssh_keys_panel(
    state: &AppState,
    session: &gatehouse_core::session::SessionPrincipal,
    page: &PageRequest,
) -> gatehouse_core::Result<SshKeysPanel> {
    let actor = state.core.session_actor(session);
    let keys = state.core.list_ssh_keys(&actor, page).await?;
    Ok(SshKeysPanel {
        next: keys.next.clone(),
        rows: keys
            .items
            .iter()
            .map(|k| SshKeyRow {
                id: k.id.to_string(),
                name: k.name.clone(),
                key_type: k.key_type.clone(),
                bits: k.bits,
                fingerprint: k.fingerprint.clone(),
                comment: k.comment.clone(),
                created: when(Some(k.created_at), "-"),
                created_iso: k
                    .created_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                line: k.authorized_keys_line(),
            })
            .collect(),
    })
}

struct TabLink {
    slug: &'static str,
    name: &'static str,
    current: bool,
}

fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::Core(gatehouse_core::Error::internal(e)).into_response(),
    }
}

/// The session behind the page request's cookie, if it is valid.
async fn page_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<(
    String,
    std::sync::Arc<gatehouse_core::session::SessionPrincipal>,
)> {
    let cookie = session_cookie(headers)?;
    let s = state.core.authenticate_session(cookie).await.ok()?;
    Some((cookie.to_owned(), s))
}

async fn home() -> Redirect {
    Redirect::to(HOME)
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if page_session(&state, &headers).await.is_some() {
        return Redirect::to(HOME).into_response();
    }
    render(LoginPage)
}

/// `?cursor=` of an account page: which page of the tab's list to show (a stale or
/// foreign cursor shows the first page rather than an error page).
#[derive(serde::Deserialize, Default)]
struct PageQuery {
    cursor: Option<String>,
}

async fn account_page(
    State(state): State<AppState>,
    Path(tab): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let cursor = Query::<PageQuery>::try_from_uri(&uri)
        .ok()
        .and_then(|Query(q)| q.cursor);
    let page = PageRequest::parse(None, cursor.as_deref()).unwrap_or_default();
    let Some((cookie, session)) = page_session(&state, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    let Some((active, title)) = TABS.iter().find(|(slug, _)| *slug == tab) else {
        return (StatusCode::NOT_FOUND, ApiError::RouteNotFound).into_response();
    };
    let keys = if *active == "api-keys" {
        match keys_panel(&state, &session, &page).await {
            Ok(k) => k,
            Err(e) => return ApiError::Core(e).into_response(),
        }
    } else {
        KeysPanel::default()
    };
    let tokens = if *active == "tokens" {
        match tokens_panel(&state, &session, &page).await {
            Ok(t) => t,
            Err(e) => return ApiError::Core(e).into_response(),
        }
    } else {
        TokensPanel::default()
    };
    let ssh = if *active == "ssh-keys" {
        match ssh_keys_panel(&state, &session, &page).await {
            Ok(s) => s,
            Err(e) => return ApiError::Core(e).into_response(),
        }
    } else {
        SshKeysPanel::default()
    };
    render(AccountPage {
        keys,
        tokens,
        ssh,
        username: &session.user.username,
        display_name: &session.user.display_name,
        csrf: csrf_token(&cookie),
        tabs: TABS
            .iter()
            .map(|(slug, name)| TabLink {
                slug,
                name,
                current: slug == active,
            })
            .collect(),
        active,
        title,
    })
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

async fn css() -> Response {
    asset(
        include_str!("../../static/app.css"),
        "text/css; charset=utf-8",
    )
}

async fn js() -> Response {
    asset(
        include_str!("../../static/app.js"),
        "text/javascript; charset=utf-8",
    )
}
