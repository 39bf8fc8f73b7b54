//! The Members section: the organisation's members a page at a time, filtered by role and
//! status, with what the viewer may do to each (change the role, disable or enable, reset
//! 2-step verification), and adding members: the Add member dialog, and a fresh
//! set-password link for a member who has not used theirs. Only owners make or unmake
//! owners, so an admin sees an owner's row without its controls and is not offered the
//! owner role for a new member.

use askama::Template;
use gatehouse_core::org::Role;
use gatehouse_core::scope;
use gatehouse_core::store::{MemberFilter, MemberRecord};

use super::super::format::Stamp;
use super::super::{Choice, render_panel};
use super::filters::{choices, keep, offered};
use super::section::SectionContext;

const ROLES: [(&str, &str); 3] = [("owner", "Owner"), ("admin", "Admin"), ("member", "Member")];
const STATUSES: [(&str, &str); 2] = [("active", "Active"), ("disabled", "Disabled")];

#[derive(Template)]
#[template(path = "admin/members.html")]
struct Panel {
    rows: Vec<MemberRow>,
    /// The next page's cursor, when there are more members.
    next: Option<String>,
    /// The filters, for the next page's link (`role=admin&`).
    kept: String,
    roles: Vec<Choice>,
    statuses: Vec<Choice>,
    /// Some filter is set: the bar offers to clear it, and an empty list says why.
    filtered: bool,
    /// The viewer may add members (`org:members:write`).
    may_add: bool,
    /// The roles a new member may be given by the viewer, Member first and selected.
    add_roles: Vec<Choice>,
}

struct MemberRow {
    id: String,
    username: String,
    display_name: String,
    email: String,
    role: &'static str,
    role_label: &'static str,
    disabled: bool,
    two_step: bool,
    /// False until the member uses their set-password link.
    password_set: bool,
    last_sign_in: Option<Stamp>,
    /// The viewer's own row (they cannot disable themselves).
    is_you: bool,
    /// The viewer may change this member: everyone but an owner, unless the viewer owns.
    manageable: bool,
    /// The roles the viewer may give (an admin cannot make owners).
    role_choices: Vec<Choice>,
}

/// `?role=&status=&cursor=` of the page.
#[derive(serde::Deserialize, Default)]
struct MembersQuery {
    role: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

fn role_label(r: Role) -> &'static str {
    match r {
        Role::Owner => "Owner",
        Role::Admin => "Admin",
        Role::Member => "Member",
    }
}

fn row(m: &MemberRecord, cx: &SectionContext<'_>) -> MemberRow {
    let viewer = &cx.actor.user;
    let owner_viewing = viewer.role == Role::Owner;
    let a = &m.account;
    let manageable = owner_viewing || a.role != Role::Owner;
    MemberRow {
        id: a.id.to_string(),
        username: a.username.clone(),
        display_name: a.display_name.clone(),
        email: a.email.clone(),
        role: a.role.as_str(),
        role_label: role_label(a.role),
        disabled: a.disabled,
        two_step: m.mfa_enabled,
        password_set: m.password_set,
        last_sign_in: Stamp::of_opt(m.last_sign_in_at),
        is_you: a.id == viewer.id,
        manageable,
        role_choices: ROLES
            .iter()
            .filter(|(value, _)| owner_viewing || *value != "owner")
            .map(|(value, label)| Choice {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
                selected: *value == a.role.as_str(),
            })
            .collect(),
    }
}

/// Renders the section's panel.
pub async fn render(cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
    let q: MembersQuery = cx.query();
    let role = offered(q.role.as_deref(), &ROLES);
    let status = offered(q.status.as_deref(), &STATUSES);
    let filter = MemberFilter {
        role: (!role.is_empty()).then(|| Role::parse(role)).transpose()?,
        disabled: match status {
            "active" => Some(false),
            "disabled" => Some(true),
            _ => None,
        },
    };
    let page = SectionContext::page(q.cursor.as_deref());
    let members = cx
        .state
        .core
        .list_members(&cx.actor, &filter, &page)
        .await?;
    render_panel(&Panel {
        rows: members.items.iter().map(|m| row(m, cx)).collect(),
        next: members.next.clone(),
        kept: keep(&[("role", role), ("status", status)]),
        roles: choices("All roles", &ROLES, role),
        statuses: choices("All statuses", &STATUSES, status),
        filtered: !role.is_empty() || !status.is_empty(),
        may_add: cx.actor.scopes.contains(scope::ORG_MEMBERS_WRITE),
        add_roles: ROLES
            .iter()
            .rev()
            .filter(|(value, _)| cx.actor.user.role == Role::Owner || *value != "owner")
            .map(|(value, label)| Choice {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
                selected: *value == "member",
            })
            .collect(),
    })
}
