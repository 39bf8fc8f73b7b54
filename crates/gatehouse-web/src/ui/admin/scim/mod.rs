//! The SCIM section: what connecting an identity provider takes — the Base URL to paste
//! and the SCIM Key (its status and last use, or a way to generate it) — then the group
//! roles (the group-to-role mappings) as an editable list, and the recent SCIM operations
//! in plain words (`operations.rs`, which reads each record's detail with `detail.rs`).
//! Everything comes from the core's `scim_overview`, as the JSON API's answer does; the
//! script changes things through `/api/admin/scim-key` and
//! `/api/admin/scim/role-mappings`, then re-renders the regions.
//!
//! Only an owner maps a group to the owner role, and the core refuses the whole list from
//! anyone else while it holds such a mapping: an admin then sees the mappings read-only,
//! with that reason, rather than a form whose every save fails.

mod detail;
mod operations;

use askama::Template;
use gatehouse_core::api_key::ApiKeyRecord;
use gatehouse_core::org::Role;
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

/// Why the viewer cannot change the mappings, or `""` when they can.
fn read_only_reason(
    may_write: bool,
    owner_viewing: bool,
    mappings: &[RoleMapping],
) -> &'static str {
    if !may_write {
        "You can read the group roles but not change them: changing them takes the org:members:write permission."
    } else if !owner_viewing && mappings.iter().any(|m| m.role == Role::Owner) {
        "A group is mapped to Owner, so only an owner can change the group roles."
    } else {
        ""
    }
}

/// Renders the section's panel.
pub async fn render(cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
    let core = &cx.state.core;
    let overview = core.scim_overview(&cx.actor).await?;
    let owner_viewing = cx.actor.user.role == Role::Owner;
    let scopes = &cx.actor.scopes;
    render_panel(&Panel {
        base_url: crate::scim::base_url(cx.state, cx.headers),
        key: overview
            .key
            .as_ref()
            .map(|k| key_view(&k.key, core.clock().now())),
        may_generate: scopes.contains(scope::ORG_KEYS_WRITE),
        mappings: overview
            .role_mappings
            .iter()
            .map(|m| MappingRow {
                group: m.group.clone(),
                roles: role_choices(m.role, owner_viewing),
            })
            .collect(),
        new_roles: role_choices(Role::Member, owner_viewing)
            .into_iter()
            .filter(|c| owner_viewing || c.value != "owner")
            .collect(),
        read_only: read_only_reason(
            scopes.contains(scope::ORG_MEMBERS_WRITE),
            owner_viewing,
            &overview.role_mappings,
        ),
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

    #[test]
    fn the_mappings_are_read_only_to_whoever_could_not_save_them() {
        let owner_mapped = [RoleMapping {
            group: "Founders".into(),
            role: Role::Owner,
        }];
        assert_eq!(read_only_reason(true, true, &owner_mapped), "");
        assert!(read_only_reason(true, false, &owner_mapped).contains("only an owner"));
        assert_eq!(read_only_reason(true, false, &[]), "");
        assert!(read_only_reason(false, true, &[]).contains("org:members:write"));
    }
}
