//! The server-rendered web UI: sign-in, Account → Authentication with its tabs, and the
//! static assets (served from the binary; no CDN).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
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

const HOME: &str = "/account/authentication/api-keys";

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

async fn account_page(
    State(state): State<AppState>,
    Path(tab): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((cookie, session)) = page_session(&state, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    let Some((active, title)) = TABS.iter().find(|(slug, _)| *slug == tab) else {
        return (StatusCode::NOT_FOUND, ApiError::RouteNotFound).into_response();
    };
    render(AccountPage {
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
