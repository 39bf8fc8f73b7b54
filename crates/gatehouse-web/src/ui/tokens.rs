//! The Tokens tab: the caller's live tokens, and the Generate Token form with the
//! lifetimes the organisation's policy offers (or the one it imposes, shown as text).

use askama::Template;

use super::format::{Stamp, count, hours};
use super::tab::TabContext;
use super::{Choice, render_panel};

#[derive(Template)]
#[template(path = "tabs/tokens.html")]
struct Panel {
    rows: Vec<TokenRow>,
    /// The next page's cursor, when there are more tokens.
    next: Option<String>,
    /// The lifetimes the policy offers, in hours (what `/api/tokens/options` lists).
    hours: Vec<Choice>,
    /// False when the organisation imposes one lifetime: it is shown as text.
    user_may_choose: bool,
    /// The imposed or default lifetime ("24 hours") and its value.
    default_label: String,
    default_value: u32,
    /// "from 1 to 24 hours", or the one imposed lifetime ("8 hours").
    lifetime_text: String,
}

struct TokenRow {
    id: String,
    name: String,
    created: Stamp,
    expires: Stamp,
    scopes: Vec<String>,
    scopes_label: String,
}

/// Renders the tab's panel.
pub async fn render(cx: &TabContext<'_>) -> gatehouse_core::Result<String> {
    let core = &cx.state.core;
    let tokens = core.list_tokens(&cx.actor, &cx.page).await?;
    let policy = core.policy_for(&cx.actor).await?;
    let offered = policy.offered_token_hours();
    // The policy's default, or the longest offered lifetime if the default is not offered.
    let default = if offered.contains(&policy.token_default_hours) {
        policy.token_default_hours
    } else {
        offered.last().copied().unwrap_or_default()
    };
    render_panel(&Panel {
        next: tokens.next.clone(),
        rows: tokens
            .items
            .iter()
            .map(|t| TokenRow {
                id: t.id.to_string(),
                name: t.name.clone(),
                created: Stamp::of(t.created_at),
                expires: Stamp::of(t.expires_at),
                scopes_label: count(t.scopes.iter().count(), "scope"),
                scopes: t.scopes.iter().map(str::to_owned).collect(),
            })
            .collect(),
        hours: offered
            .iter()
            .map(|h| Choice {
                value: h.to_string(),
                label: hours(*h),
                selected: *h == default,
            })
            .collect(),
        lifetime_text: match (policy.token_user_choice, offered.last()) {
            (true, Some(&max)) if max > 1 => format!("from 1 to {max} hours"),
            (_, Some(&h)) => hours(h),
            (_, None) => "a few hours".to_owned(),
        },
        user_may_choose: policy.token_user_choice && offered.len() > 1,
        default_label: hours(default),
        default_value: default,
    })
}
