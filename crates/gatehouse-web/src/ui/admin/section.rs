//! The sections of the organisation's admin panel, one variant each: what a section is
//! called, where it lives, which script it loads and which module renders its panel.
//!
//! Adding a section: a module beside this one (its panel and
//! template in `templates/admin/`), `static/admin/<slug>.js`, and its variant here. The
//! frame, the nav and the script route all walk [`Section::ALL`].

use std::sync::Arc;

use axum::extract::Query;
use axum::http::{HeaderMap, Uri};
use gatehouse_core::actor::Actor;
use gatehouse_core::org::Org;
use gatehouse_core::page::PageRequest;

use super::{audit_log, keys, members, policies, scim};
use crate::state::AppState;

/// One section of the admin panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The organisation's people: roles, status, 2-step verification.
    Members,
    /// Every key of the organisation, and its own keys.
    Keys,
    /// The rules for members' credentials, in one form.
    Policies,
    /// Provisioning from the identity provider: the Base URL, the SCIM Key, the
    /// group-to-role mappings and what SCIM did lately.
    Scim,
    /// What happened in the organisation, filtered and exported.
    AuditLog,
}

/// What a section's panel needs to render: who is asking, in which organisation, and the
/// page's query (its filters and `?cursor=`).
pub struct SectionContext<'a> {
    /// Core and settings.
    pub state: &'a AppState,
    /// The session as an actor, for the core's permission checks.
    pub actor: Arc<Actor>,
    /// The actor's organisation (its edition decides what the Keys page offers).
    pub org: &'a Org,
    /// The page's URI, for the section's own filters.
    pub uri: &'a Uri,
    /// The request's headers, for the origin the SCIM Base URL is written with.
    pub headers: &'a HeaderMap,
}

impl SectionContext<'_> {
    /// The section's filters (and cursor) from the query; a malformed query reads as no
    /// filters rather than an error page.
    pub fn query<T: serde::de::DeserializeOwned + Default>(&self) -> T {
        Query::<T>::try_from_uri(self.uri)
            .map(|Query(q)| q)
            .unwrap_or_default()
    }

    /// Which page of the list `cursor` names (a stale or foreign cursor shows the first).
    pub fn page(cursor: Option<&str>) -> PageRequest {
        PageRequest::parse(None, cursor).unwrap_or_default()
    }
}

impl Section {
    /// Every section, in the order the nav shows them.
    pub const ALL: [Section; 5] = [
        Section::Members,
        Section::Keys,
        Section::Policies,
        Section::Scim,
        Section::AuditLog,
    ];

    /// The path segment (`/admin/{slug}`) and script name.
    pub fn slug(self) -> &'static str {
        match self {
            Section::Members => "members",
            Section::Keys => "keys",
            Section::Policies => "policies",
            Section::Scim => "scim",
            Section::AuditLog => "audit-log",
        }
    }

    /// The label in the nav.
    pub fn title(self) -> &'static str {
        match self {
            Section::Members => "Members",
            Section::Keys => "Keys",
            Section::Policies => "Policies",
            Section::Scim => "SCIM",
            Section::AuditLog => "Audit log",
        }
    }

    /// The panel's heading.
    pub fn heading(self) -> &'static str {
        self.title()
    }

    /// The section's script, served as `/static/admin/{slug}.js` and loaded there only.
    pub fn script(self) -> &'static str {
        match self {
            Section::Members => include_str!("../../../static/admin/members.js"),
            Section::Keys => include_str!("../../../static/admin/keys.js"),
            Section::Policies => include_str!("../../../static/admin/policies.js"),
            Section::Scim => include_str!("../../../static/admin/scim.js"),
            Section::AuditLog => include_str!("../../../static/admin/audit-log.js"),
        }
    }

    /// The section named by a path segment.
    pub fn from_slug(slug: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.slug() == slug)
    }

    /// The section whose script is `file` (`members.js`).
    pub fn from_script(file: &str) -> Option<Section> {
        Section::from_slug(file.strip_suffix(".js")?)
    }

    /// The panel's HTML (escaped by its own template).
    pub async fn render(self, cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
        match self {
            Section::Members => members::render(cx).await,
            Section::Keys => keys::render(cx).await,
            Section::Policies => policies::render(cx).await,
            Section::Scim => scim::render(cx).await,
            Section::AuditLog => audit_log::render(cx).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_round_trips_through_its_slug_and_script_name() {
        for s in Section::ALL {
            assert_eq!(Section::from_slug(s.slug()), Some(s));
            assert_eq!(Section::from_script(&format!("{}.js", s.slug())), Some(s));
            assert!(
                s.script().starts_with("//"),
                "{s:?}: a script with its doc line"
            );
        }
        assert_eq!(Section::from_slug("nope"), None);
        assert_eq!(Section::from_script("members"), None);
        assert_eq!(Section::from_script("../app.js"), None);
    }

    #[test]
    fn the_nav_reads_members_keys_policies_scim_audit_log() {
        let titles: Vec<_> = Section::ALL.iter().map(|s| s.title()).collect();
        assert_eq!(titles, ["Members", "Keys", "Policies", "SCIM", "Audit log"]);
    }
}
