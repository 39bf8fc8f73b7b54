//! The SSH Private Keys tab: a placeholder until stored private keys arrive; it says what
//! the tab will hold.

use askama::Template;

use super::render_panel;
use super::tab::TabContext;

#[derive(Template)]
#[template(path = "tabs/ssh_private_keys.html")]
struct Panel;

/// Renders the tab's panel.
pub fn render(_cx: &TabContext<'_>) -> gatehouse_core::Result<String> {
    render_panel(&Panel)
}
