//! The 2-Step Verification tab: a placeholder until second factors arrive; it says what
//! the tab will hold.

use askama::Template;

use super::render_panel;
use super::tab::TabContext;

#[derive(Template)]
#[template(path = "tabs/two_step.html")]
struct Panel;

/// Renders the tab's panel.
pub fn render(_cx: &TabContext<'_>) -> gatehouse_core::Result<String> {
    render_panel(&Panel)
}
