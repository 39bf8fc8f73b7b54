//! The API Keys tab: the caller's keys (a page at a time), the Add API Key form with the
//! choices the organisation's policy offers, and the delete rule of that policy.

use askama::Template;
use gatehouse_core::api_key::ApiKeyRecord;
use gatehouse_core::org::KeyExpiration;
use time::OffsetDateTime;

use super::format::{Stamp, count};
use super::tab::TabContext;
use super::{Choice, render_panel};

#[derive(Template)]
#[template(path = "tabs/api_keys.html")]
struct Panel {
    rows: Vec<KeyRow>,
    /// The next page's cursor, when there are more keys.
    next: Option<String>,
    /// The expirations the policy offers (one, when the organisation fixes it).
    expirations: Vec<Choice>,
    /// False when the organisation fixes the expiration: it is shown as text.
    user_may_choose: bool,
    /// The fixed or default expiration's label ("30 days") and form code ("30").
    default_label: String,
    default_code: String,
    /// The permissions the caller may grant (never more than it holds).
    permissions: Vec<PermissionChoice>,
    /// An enabled key cannot be deleted: the delete icon says so before any dialog.
    require_disable_before_delete: bool,
}

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    created: Stamp,
    created_by: String,
    expires: Option<Stamp>,
    last_used: Option<Stamp>,
    last_used_from: String,
    enabled: bool,
    /// Revoked with the key or token that made it: it cannot be enabled again.
    revoked: bool,
    /// Past its expiry: refused whatever its enabled flag says.
    expired: bool,
    permissions: Vec<String>,
    permissions_label: String,
    /// The original's expiration as the form's code, for a duplicate's draft.
    expiration_code: String,
}

struct PermissionChoice {
    name: String,
    description: String,
    checked: bool,
}

/// The offered expiration closest to the key's own lifetime (`none` when it never expires).
pub(super) fn expiration_code(
    k: &ApiKeyRecord,
    offered: &[KeyExpiration],
    default: KeyExpiration,
) -> String {
    let wanted = match k.expires_at {
        None => KeyExpiration::Never,
        Some(at) => {
            let days = (at - k.created_at).whole_hours().div_euclid(24);
            KeyExpiration::Days(u32::try_from(days.max(0)).unwrap_or(0))
        }
    };
    if offered.contains(&wanted) {
        wanted.as_code()
    } else {
        default.as_code()
    }
}

/// The Expiration select's options: what the policy offers, its default selected.
pub(super) fn expiration_choices(offered: &[KeyExpiration], default: KeyExpiration) -> Vec<Choice> {
    offered
        .iter()
        .map(|e| Choice {
            value: e.as_code(),
            label: e.label(),
            selected: *e == default,
        })
        .collect()
}

fn row(
    k: &ApiKeyRecord,
    offered: &[KeyExpiration],
    default: KeyExpiration,
    now: OffsetDateTime,
) -> KeyRow {
    let permissions: Vec<String> = k.permissions.iter().map(str::to_owned).collect();
    KeyRow {
        id: k.id.to_string(),
        name: k.name.clone(),
        prefix: k.display_prefix.clone(),
        created: Stamp::of(k.created_at),
        created_by: k.created_by.clone(),
        expires: Stamp::of_opt(k.expires_at),
        last_used: Stamp::of_opt(k.last_used_at),
        last_used_from: k.last_used_ip.clone().unwrap_or_default(),
        enabled: k.enabled,
        revoked: k.revoked_at.is_some(),
        expired: k.expires_at.is_some_and(|at| at <= now),
        permissions_label: count(permissions.len(), "permission"),
        permissions,
        expiration_code: expiration_code(k, offered, default),
    }
}

/// Renders the tab's panel.
pub async fn render(cx: &TabContext<'_>) -> gatehouse_core::Result<String> {
    let core = &cx.state.core;
    let keys = core.list_api_keys(&cx.actor, &cx.page).await?;
    let policy = core.policy_for(&cx.actor).await?;
    let default = policy.api_key_default_expiration;
    let offered = policy.offered_expirations();
    let now = core.clock().now();
    render_panel(&Panel {
        next: keys.next.clone(),
        rows: keys
            .items
            .iter()
            .map(|k| row(k, &offered, default, now))
            .collect(),
        expirations: expiration_choices(&offered, default),
        user_may_choose: policy.api_key_user_choice && offered.len() > 1,
        default_label: default.label(),
        default_code: default.as_code(),
        permissions: core
            .scope_catalog()
            .into_iter()
            .filter(|(name, _)| cx.actor.scopes.contains(name))
            .map(|(name, description)| PermissionChoice {
                checked: gatehouse_core::scope::DEFAULT_KEY_SCOPES.contains(&name.as_str()),
                name,
                description,
            })
            .collect(),
        require_disable_before_delete: policy.require_disable_before_delete,
    })
}
