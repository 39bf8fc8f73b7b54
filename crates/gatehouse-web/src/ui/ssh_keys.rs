//! The SSH Keys tab: the caller's public keys with their fingerprints, the Add Key form,
//! and how to log in to a cluster with the key.

use askama::Template;

use super::format::Stamp;
use super::render_panel;
use super::tab::TabContext;

#[derive(Template)]
#[template(path = "tabs/ssh_keys.html")]
struct Panel<'a> {
    rows: Vec<SshKeyRow>,
    /// The next page's cursor, when there are more keys.
    next: Option<String>,
    /// For the `ssh user@cluster` usage line.
    username: &'a str,
}

struct SshKeyRow {
    id: String,
    name: String,
    key_type: String,
    bits: u32,
    fingerprint: String,
    comment: String,
    created: Stamp,
    /// The whole authorized_keys line, for the copy button (a public key: not a secret).
    line: String,
}

/// Renders the tab's panel.
pub async fn render(cx: &TabContext<'_>) -> gatehouse_core::Result<String> {
    let keys = cx.state.core.list_ssh_keys(&cx.actor, &cx.page).await?;
    render_panel(&Panel {
        next: keys.next.clone(),
        username: &cx.session.user.username,
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
                created: Stamp::of(k.created_at),
                line: k.authorized_keys_line(),
            })
            .collect(),
    })
}
