//! The SCIM section: what connecting an identity provider takes — the Base URL to paste
//! and the SCIM Key (its status and last use, or a way to generate it) — then the group
//! roles (the group-to-role mappings) as an editable list, and the recent SCIM operations
//! in plain words (`operations.rs`, which reads each record's detail with the core's `scim::detail`).
//! Everything comes from the core's `scim_overview`, as the JSON API's answer does; the
//! script changes things through `/api/admin/scim-key` and
//! `/api/admin/scim/role-mappings`, then re-renders the regions.
//!
//! Which groups make owners is an owner's decision: the core takes a list from an admin
//! only when its Owner rows are the stored ones (the same group names, in any case). An
//! admin therefore sees each row mapped to Owner locked — shown, not editable, not
//! removable, with a note saying why — and edits every other row; Save sends the locked
//! rows back as they are. An owner edits everything. Without `org:members:write` the
//! whole list is read-only, with that reason.
//!
//! The group-name fields suggest the organisation's SCIM groups (a `<datalist>`), and a
//! row naming none of them (in any case) says so quietly: it may be a typo, or a group
//! the identity provider has not sent yet, so saving it is still allowed.

mod operations;

use askama::Template;
use gatehouse_core::api_key::ApiKeyRecord;
use gatehouse_core::org::Role;
use gatehouse_core::scim::MAX_RESULTS;
use gatehouse_core::scope;
use gatehouse_core::service::MAX_ROLE_MAPPINGS;
use gatehouse_core::store::RoleMapping;
use time::OffsetDateTime;

use super::super::format::Stamp;
use super::super::{Choice, render_panel};
use super::section::SectionContext;
use operations::OpRow;

const ROLES: [(&str, &str); 3] = [("owner", "Owner"), ("admin", "Admin"), ("member", "Member")];

#[derive(Template)]
#[template(path = "admin/scim.html")]
struct Panel {
    /// Paste into the identity provider: `https://host/scim/v2`.
    base_url: String,
    /// The SCIM Key, or `None` before one is generated.
    key: Option<KeyView>,
    /// The viewer may generate (or regenerate) it: `org:keys:write`.
    may_generate: bool,
    mappings: Vec<MappingRow>,
    /// The organisation's SCIM group names, suggested in the group fields.
    groups: Vec<String>,
    /// `groups` is every SCIM group, so a name outside it has not been provisioned (the
    /// core lists at most `MAX_RESULTS`: past that no row is said to be unknown).
    groups_complete: bool,
    /// A new row's roles (Member selected): what the viewer may give.
    new_roles: Vec<Choice>,
    /// Why the mappings cannot be changed by this viewer; empty when they can.
    read_only: &'static str,
    max_mappings: usize,
    ops: Vec<OpRow>,
}

struct KeyView {
    prefix: String,
    created: Stamp,
    created_by: String,
    last_used: Option<Stamp>,
    last_used_from: String,
    last_used_agent: String,
    status: &'static str,
    badge: &'static str,
    /// Why the identity provider's calls are refused, when they are.
    not_working: &'static str,
}

struct MappingRow {
    group: String,
    roles: Vec<Choice>,
    /// Mapped to Owner and viewed by an admin: shown, not changed, sent back as it is.
    locked: bool,
    /// No SCIM group has this name (in any case), as far as the viewer can tell.
    unknown: bool,
}

/// Whether `name` is none of the provisioned `groups`, compared as the core matches
/// names: trimmed, in any case. Always `false` when the list is not complete.
fn is_unknown(name: &str, groups: &[String], complete: bool) -> bool {
    let name = name.trim().to_lowercase();
    complete && !name.is_empty() && !groups.iter().any(|g| g.trim().to_lowercase() == name)
}

/// The group names to suggest: in alphabetical order (any case), as a person looks for one.
fn suggestions(groups: &[String]) -> Vec<String> {
    let mut out = groups.to_vec();
    out.sort_by_key(|g| g.to_lowercase());
    out
}

/// Whether a row is locked to this viewer: an Owner row, to someone who may change the
/// other rows but is not an owner.
fn locked(role: Role, may_write: bool, owner_viewing: bool) -> bool {
    may_write && !owner_viewing && role == Role::Owner
}

fn key_view(k: &ApiKeyRecord, now: OffsetDateTime) -> KeyView {
    let (status, badge, not_working) = if k.revoked_at.is_some() {
        (
            "Revoked",
            "badge-danger",
            "It was revoked and cannot be enabled again: generate a new one.",
        )
    } else if !k.enabled {
        (
            "Disabled",
            "badge-off",
            "Your identity provider's calls are refused until you enable it again on the Keys page.",
        )
    } else if k.expires_at.is_some_and(|at| at <= now) {
        (
            "Expired",
            "badge-off",
            "Your identity provider's calls are refused: generate a new one.",
        )
    } else {
        ("Enabled", "badge-ok", "")
    };
    KeyView {
        prefix: k.display_prefix.clone(),
        created: Stamp::of(k.created_at),
        created_by: k.created_by.clone(),
        last_used: Stamp::of_opt(k.last_used_at),
        last_used_from: k.last_used_ip.clone().unwrap_or_default(),
        last_used_agent: k.last_used_user_agent.clone().unwrap_or_default(),
        status,
        badge,
        not_working,
    }
}

/// The roles a row offers: the viewer's own choices, and the row's role even when the
/// viewer could not give it (shown, read-only, to an admin).
fn role_choices(selected: Role, owner_viewing: bool) -> Vec<Choice> {
    ROLES
        .iter()
        .filter(|(value, _)| owner_viewing || *value != "owner" || selected == Role::Owner)
        .map(|(value, label)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            selected: *value == selected.as_str(),
        })
        .collect()
}

/// Why the viewer cannot change the mappings at all, or `""` when they can (an admin's
/// locked Owner rows are said at each row instead).
fn read_only_reason(may_write: bool) -> &'static str {
    if may_write {
        ""
    } else {
        "You can read the group roles but not change them: changing them takes the org:members:write permission."
    }
}

/// The rows as `mappings` hold them, for this viewer.
fn mapping_rows(
    mappings: &[RoleMapping],
    groups: &[String],
    groups_complete: bool,
    may_write: bool,
    owner_viewing: bool,
) -> Vec<MappingRow> {
    mappings
        .iter()
        .map(|m| MappingRow {
            group: m.group.clone(),
            roles: role_choices(m.role, owner_viewing),
            locked: locked(m.role, may_write, owner_viewing),
            unknown: is_unknown(&m.group, groups, groups_complete),
        })
        .collect()
}

/// Renders the section's panel.
pub async fn render(cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
    let core = &cx.state.core;
    let overview = core.scim_overview(&cx.actor).await?;
    let owner_viewing = cx.actor.user.role == Role::Owner;
    let scopes = &cx.actor.scopes;
    let may_write = scopes.contains(scope::ORG_MEMBERS_WRITE);
    let groups_complete = overview.groups.len() < MAX_RESULTS as usize;
    render_panel(&Panel {
        base_url: crate::scim::base_url(cx.state, cx.headers),
        key: overview
            .key
            .as_ref()
            .map(|k| key_view(&k.key, core.clock().now())),
        may_generate: scopes.contains(scope::ORG_KEYS_WRITE),
        mappings: mapping_rows(
            &overview.role_mappings,
            &overview.groups,
            groups_complete,
            may_write,
            owner_viewing,
        ),
        groups: suggestions(&overview.groups),
        groups_complete,
        new_roles: role_choices(Role::Member, owner_viewing)
            .into_iter()
            .filter(|c| owner_viewing || c.value != "owner")
            .collect(),
        read_only: read_only_reason(may_write),
        max_mappings: MAX_ROLE_MAPPINGS,
        ops: operations::rows(&overview.recent),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_sees_an_owner_mapping_but_is_offered_no_owner_role() {
        let admin = role_choices(Role::Member, false);
        assert_eq!(
            admin.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(),
            ["admin", "member"]
        );
        let shown = role_choices(Role::Owner, false);
        assert!(shown.iter().any(|c| c.value == "owner" && c.selected));
        assert_eq!(role_choices(Role::Admin, true).len(), 3);
    }

    fn mapping(group: &str, role: Role) -> RoleMapping {
        RoleMapping {
            group: group.into(),
            role,
        }
    }

    #[test]
    fn an_admin_edits_every_row_but_those_mapped_to_owner() {
        let list = [
            mapping("Founders", Role::Owner),
            mapping("Staff", Role::Member),
            mapping("Leads", Role::Admin),
        ];
        let locked_rows = |may_write, owner| -> Vec<bool> {
            mapping_rows(&list, &[], true, may_write, owner)
                .iter()
                .map(|r| r.locked)
                .collect()
        };
        assert_eq!(locked_rows(true, false), [true, false, false], "an admin");
        assert_eq!(
            locked_rows(true, true),
            [false; 3],
            "an owner edits everything"
        );
        assert_eq!(
            locked_rows(false, false),
            [false; 3],
            "read-only as a whole instead"
        );
        let founders = &mapping_rows(&list, &[], true, true, false)[0];
        assert!(
            founders
                .roles
                .iter()
                .any(|c| c.value == "owner" && c.selected)
        );
        assert_eq!(
            read_only_reason(true),
            "",
            "no longer read-only to an admin"
        );
        assert!(read_only_reason(false).contains("org:members:write"));
    }

    #[test]
    fn a_row_naming_no_provisioned_group_is_marked_in_any_case() {
        let groups = ["Initech Admins".to_owned(), "Initech Staff".to_owned()];
        assert!(!is_unknown("initech ADMINS", &groups, true));
        assert!(!is_unknown(" Initech Staff ", &groups, true));
        assert!(is_unknown("Initech Founders", &groups, true));
        assert!(
            is_unknown("Initech Founders", &[], true),
            "none provisioned yet"
        );
        assert!(
            !is_unknown("", &groups, true),
            "a blank name is an error instead"
        );
        assert!(
            !is_unknown("Initech Founders", &groups, false),
            "past the listed groups, nothing is said"
        );
        let rows = mapping_rows(
            &[
                mapping("initech staff", Role::Member),
                mapping("Typo", Role::Admin),
            ],
            &groups,
            true,
            true,
            true,
        );
        assert_eq!(
            rows.iter().map(|r| r.unknown).collect::<Vec<_>>(),
            [false, true]
        );
    }
}
