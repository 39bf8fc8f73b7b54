//! `/set-password`: where a new member chooses their first password with the one-time
//! link an admin handed them (`/set-password#gsp_…`).
//!
//! SECURITY: the secret is in the URL's fragment, which a browser never sends, so the
//! server renders the same page for everyone and learns the secret only from the body of
//! `POST /api/auth/set-password`. The page's script reads the fragment and takes it out
//! of the address bar and history at once; the site's `Referrer-Policy: no-referrer`
//! and a fragment's never being part of a referrer keep it off other sites.

use askama::Template;
use axum::response::Response;

use super::render;

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage;

/// `GET /set-password`: the page; the script does the rest.
pub async fn set_password_page() -> Response {
    render(SetPasswordPage)
}

/// The page's script, `/static/set-password.js`.
pub const SCRIPT: &str = include_str!("../../static/set-password.js");
