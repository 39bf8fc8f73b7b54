//! The tabs of Account → Authentication, one variant each: what a tab is called, where it
//! lives, which script it loads and which module renders its panel.
//!
//! Adding a tab: a module beside this one (its panel and template), `static/tabs/<slug>.js`,
//! and a variant here. Nothing else changes: the page, the nav, the script route and the
//! tests' tab list all walk [`Tab::ALL`].

use std::sync::Arc;

use gatehouse_core::actor::Actor;
use gatehouse_core::page::PageRequest;
use gatehouse_core::session::SessionPrincipal;

use super::{api_keys, ssh_keys, ssh_private_keys, tokens, two_step};
use crate::state::AppState;

/// One tab of Account → Authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Machine credentials for HTTP Basic.
    ApiKeys,
    /// Short-lived bearer tokens.
    Tokens,
    /// SSH public keys for cluster log-in.
    SshKeys,
    /// Stored SSH private keys.
    SshPrivateKeys,
    /// Second factors: the authenticator app and recovery codes.
    TwoStep,
}

/// What a tab's panel needs to render: who is asking and which page of the list.
pub struct TabContext<'a> {
    /// Core and settings.
    pub state: &'a AppState,
    /// The signed-in session (username for usage hints).
    pub session: &'a SessionPrincipal,
    /// The session as an actor, for the core's permission checks.
    pub actor: Arc<Actor>,
    /// `?cursor=` of the page: which page of the tab's list.
    pub page: PageRequest,
}

impl Tab {
    /// Every tab, in the order the nav shows them.
    pub const ALL: [Tab; 5] = [
        Tab::ApiKeys,
        Tab::Tokens,
        Tab::SshKeys,
        Tab::SshPrivateKeys,
        Tab::TwoStep,
    ];

    /// The path segment (`/account/authentication/{slug}`) and script name.
    pub fn slug(self) -> &'static str {
        match self {
            Tab::ApiKeys => "api-keys",
            Tab::Tokens => "tokens",
            Tab::SshKeys => "ssh-keys",
            Tab::SshPrivateKeys => "ssh-private-keys",
            Tab::TwoStep => "2-step-verification",
        }
    }

    /// The label, exactly as the platform documentation writes it.
    pub fn title(self) -> &'static str {
        match self {
            Tab::ApiKeys => "API Keys",
            Tab::Tokens => "Tokens",
            Tab::SshKeys => "SSH Keys",
            Tab::SshPrivateKeys => "SSH Private Keys",
            Tab::TwoStep => "2-Step Verification",
        }
    }

    /// The panel's heading: the label, except where the product names the page itself.
    pub fn heading(self) -> &'static str {
        match self {
            Tab::TwoStep => "Manage MFA Settings",
            other => other.title(),
        }
    }

    /// The tab's script, served as `/static/tabs/{slug}.js` and loaded on that tab only.
    pub fn script(self) -> &'static str {
        match self {
            Tab::ApiKeys => include_str!("../../static/tabs/api-keys.js"),
            Tab::Tokens => include_str!("../../static/tabs/tokens.js"),
            Tab::SshKeys => include_str!("../../static/tabs/ssh-keys.js"),
            Tab::SshPrivateKeys => include_str!("../../static/tabs/ssh-private-keys.js"),
            Tab::TwoStep => include_str!("../../static/tabs/2-step-verification.js"),
        }
    }

    /// The tab named by a path segment.
    pub fn from_slug(slug: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.slug() == slug)
    }

    /// The tab whose script is `file` (`api-keys.js`).
    pub fn from_script(file: &str) -> Option<Tab> {
        Tab::from_slug(file.strip_suffix(".js")?)
    }

    /// The panel's HTML (escaped by its own template).
    pub async fn render(self, cx: &TabContext<'_>) -> gatehouse_core::Result<String> {
        match self {
            Tab::ApiKeys => api_keys::render(cx).await,
            Tab::Tokens => tokens::render(cx).await,
            Tab::SshKeys => ssh_keys::render(cx).await,
            Tab::SshPrivateKeys => ssh_private_keys::render(cx).await,
            Tab::TwoStep => two_step::render(cx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tab_round_trips_through_its_slug_and_script_name() {
        for tab in Tab::ALL {
            assert_eq!(Tab::from_slug(tab.slug()), Some(tab));
            assert_eq!(Tab::from_script(&format!("{}.js", tab.slug())), Some(tab));
            assert!(
                tab.script().starts_with("//"),
                "{tab:?}: a script with its doc line"
            );
        }
        assert_eq!(Tab::from_slug("nope"), None);
        assert_eq!(Tab::from_script("api-keys"), None);
        assert_eq!(Tab::from_script("../app.js"), None);
    }

    #[test]
    fn the_labels_are_the_documentations() {
        let titles: Vec<_> = Tab::ALL.iter().map(|t| t.title()).collect();
        assert_eq!(
            titles,
            [
                "API Keys",
                "Tokens",
                "SSH Keys",
                "SSH Private Keys",
                "2-Step Verification"
            ]
        );
        assert_eq!(Tab::TwoStep.heading(), "Manage MFA Settings");
        assert_eq!(Tab::Tokens.heading(), "Tokens");
    }
}
