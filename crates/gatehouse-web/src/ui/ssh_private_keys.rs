//! The SSH Private Keys tab: the keys the platform signs with on the caller's behalf
//! (metadata and public halves only), the New SSH Private Key form, the created dialog
//! with the public half to install on the remote host, the connection test and delete.

use askama::Template;

use super::format::Stamp;
use super::render_panel;
use super::tab::TabContext;

#[derive(Template)]
#[template(path = "tabs/ssh_private_keys.html")]
struct Panel {
    rows: Vec<Row>,
    /// The next page's cursor, when there are more keys.
    next: Option<String>,
}

struct Row {
    id: String,
    name: String,
    description: String,
    key_type: String,
    fingerprint: String,
    /// The public half, for the copy button (not a secret).
    public_key: String,
    created: Stamp,
    last_used: Option<Stamp>,
}

/// Renders the tab's panel.
pub async fn render(cx: &TabContext<'_>) -> gatehouse_core::Result<String> {
    let keys = cx
        .state
        .core
        .list_ssh_private_keys(&cx.actor, &cx.page)
        .await?;
    render_panel(&Panel {
        next: keys.next.clone(),
        rows: keys
            .items
            .iter()
            .map(|k| Row {
                id: k.id.to_string(),
                name: k.name.clone(),
                description: k.description.clone().unwrap_or_default(),
                key_type: k.key_type.clone(),
                fingerprint: k.fingerprint.clone(),
                public_key: k.public_key.clone(),
                created: Stamp::of(k.created_at),
                last_used: k.last_used_at.map(Stamp::of),
            })
            .collect(),
    })
}
