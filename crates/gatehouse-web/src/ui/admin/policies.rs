//! The Policies section: a placeholder panel for now (the rules are read and set with
//! `gatehouse org policy` meanwhile). Filling it in is this module,
//! `templates/admin/policies.html` and `static/admin/policies.js`.

use askama::Template;

use super::super::render_panel;
use super::section::SectionContext;

#[derive(Template)]
#[template(path = "admin/policies.html")]
struct Panel<'a> {
    org_name: &'a str,
}

/// Renders the section's panel.
pub async fn render(cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
    render_panel(&Panel {
        org_name: &cx.org.name,
    })
}
