//! The 2-Step Verification tab ("Manage MFA Settings"): whether it is on, the
//! authenticator app (set up, listed, removed), the security keys (Feature Preview:
//! added, listed, renamed, removed), the recovery codes left, and turning it off. The secret and the codes never pass through this page: the script fetches them
//! once from `/api/mfa` and shows them in its dialogs.

use askama::Template;
use gatehouse_core::mfa::{FactorKind, RECOVERY_LOW};

use super::format::{Stamp, count};
use super::render_panel;
use super::tab::TabContext;

#[derive(Template)]
#[template(path = "tabs/two_step.html")]
struct Panel {
    /// At least one confirmed factor.
    enabled: bool,
    /// The confirmed authenticator apps (one at most today).
    apps: Vec<AppRow>,
    /// Security keys are on in this server (`mfa.webauthn_preview`): the card shows.
    keys_available: bool,
    /// The security keys and passkeys, oldest first.
    keys: Vec<KeyRow>,
    /// "7 recovery codes left".
    codes_left: String,
    /// Three or fewer left: say so, and point at making a new set.
    codes_low: bool,
    /// The organisation requires 2-step verification: turning it off is refused, so the
    /// page says so instead of offering it.
    required_by_org: bool,
    /// This session was opened without 2-step verification its organisation requires:
    /// the notice at the top, and nothing else of the account works until it is set up.
    setup_required: bool,
    /// The organisation enforces security keys: the notice asks for a key, not any method.
    key_required_by_org: bool,
}

struct KeyRow {
    id: String,
    name: String,
    /// Discoverable: it signs in on its own ("Sign in with a passkey").
    passkey: bool,
    added: Stamp,
    last_used: Option<Stamp>,
}

struct AppRow {
    id: String,
    name: String,
    added: Stamp,
    last_used: Option<Stamp>,
}

/// Renders the tab's panel.
pub async fn render(cx: &TabContext<'_>) -> gatehouse_core::Result<String> {
    let s = cx.state.core.mfa_status(&cx.session.user).await?;
    let left = usize::try_from(s.recovery_codes_left).unwrap_or(usize::MAX);
    render_panel(&Panel {
        enabled: s.enabled,
        apps: s
            .factors
            .iter()
            .filter(|f| f.kind == FactorKind::Totp)
            .map(|f| AppRow {
                id: f.id.to_string(),
                name: f.name.clone(),
                added: Stamp::of(f.confirmed_at.unwrap_or(f.created_at)),
                last_used: Stamp::of_opt(f.last_used_at),
            })
            .collect(),
        keys_available: cx.state.core.webauthn_enabled(),
        keys: s
            .factors
            .iter()
            .filter(|f| f.kind == FactorKind::WebAuthn)
            .map(|f| KeyRow {
                id: f.id.to_string(),
                name: f.name.clone(),
                passkey: f.key.as_ref().is_some_and(|k| k.discoverable),
                added: Stamp::of(f.confirmed_at.unwrap_or(f.created_at)),
                last_used: Stamp::of_opt(f.last_used_at),
            })
            .collect(),
        codes_left: format!("{} left", count(left, "recovery code")),
        codes_low: s.enabled && s.recovery_codes_left <= RECOVERY_LOW,
        required_by_org: s.required_by_org,
        setup_required: cx.session.mfa_setup_required,
        key_required_by_org: s.security_key_required_by_org,
    })
}
