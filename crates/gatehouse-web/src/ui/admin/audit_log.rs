//! The Audit log section: a placeholder panel for now (read and exported with
//! `gatehouse org audit` meanwhile). Filling it in is this module,
//! `templates/admin/audit_log.html` and `static/admin/audit-log.js`.

use askama::Template;

use super::super::render_panel;
use super::section::SectionContext;

#[derive(Template)]
#[template(path = "admin/audit_log.html")]
struct Panel<'a> {
    org_name: &'a str,
}

/// Renders the section's panel.
pub async fn render(cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
    render_panel(&Panel {
        org_name: &cx.org.name,
    })
}
