//! The Keys section: every key of the organisation in one list (members' API Keys, Public
//! API Keys, the Team Computer Key, the SCIM Key) filtered by type, owner and status, and
//! the Create Key dialog with what the edition offers. The delete rule shows before any
//! dialog: the organisation's own keys are deleted only once disabled, members' keys
//! follow the policy.

use askama::Template;
use gatehouse_core::api_key::ApiKeyKind;
use gatehouse_core::org::{KeyExpiration, OrgPolicy};
use gatehouse_core::page::PageRequest;
use gatehouse_core::store::{MemberFilter, OrgKeyFilter, OrgKeyRecord};
use time::OffsetDateTime;

use super::super::api_keys::{expiration_choices, expiration_code};
use super::super::format::{Stamp, count};
use super::super::{Choice, render_panel};
use super::filters::{choices, keep, offered};
use super::section::SectionContext;

const TYPES: [(&str, &str); 4] = [
    ("personal", "API Key"),
    ("public", "Public API Key"),
    ("team_computer", "Team Computer Key"),
    ("scim", "SCIM Key"),
];
const STATUSES: [(&str, &str); 2] = [("enabled", "Enabled"), ("disabled", "Disabled")];

/// Usernames offered as the owner filter's suggestions (a longer list is typed).
const OWNER_SUGGESTIONS: u32 = 200;

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct Panel {
    /// The organisation has Public API Keys (the Enterprise edition).
    enterprise: bool,
    rows: Vec<KeyRow>,
    next: Option<String>,
    /// The filters, for the next page's link.
    kept: String,
    types: Vec<Choice>,
    statuses: Vec<Choice>,
    /// The owner filter as typed, and the refusal when it names nobody here.
    owner: String,
    owner_error: String,
    owner_suggestions: Vec<String>,
    filtered: bool,
    /// One of each exists already: the dialog explains instead of failing.
    has_team_computer_key: bool,
    has_scim_key: bool,
    /// What a Public API Key may carry (what `/api/admin/keys/options` lists).
    permissions: Vec<PermissionChoice>,
    expirations: Vec<Choice>,
    user_may_choose: bool,
    default_label: String,
    default_code: String,
    /// Where the identity provider sends SCIM requests, told with a new SCIM Key.
    scim_base_url: String,
}

struct PermissionChoice {
    name: String,
    description: String,
    /// The viewer holds it, so may grant it.
    grantable: bool,
}

struct KeyRow {
    id: String,
    kind: &'static str,
    type_label: &'static str,
    name: String,
    prefix: String,
    /// The member holding a personal key; `None` for the organisation's own keys.
    owner: Option<String>,
    owner_display_name: String,
    created: Stamp,
    created_by: String,
    last_used: Option<Stamp>,
    last_used_from: String,
    last_used_agent: String,
    enabled: bool,
    revoked: bool,
    expired: bool,
    permissions: Vec<String>,
    permissions_label: String,
    expiration_code: String,
    /// Enabled, and the rule wants it disabled before deleting: why, in a sentence.
    delete_blocked: Option<&'static str>,
    /// A Public API Key on an Enterprise organisation: Duplicate Key.
    duplicable: bool,
    /// The SCIM Key: Regenerate.
    regenerable: bool,
}

/// `?type=&owner=&status=&cursor=` of the page.
#[derive(serde::Deserialize, Default)]
struct KeysQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    owner: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

const ORG_KEYS_RULE: &str =
    "Disable this key first: an organisation's keys can be deleted only once disabled.";
const POLICY_RULE: &str =
    "Disable this key first: your organisation requires disabling an API key before deleting it.";

fn row(r: &OrgKeyRecord, rules: &Rules<'_>) -> KeyRow {
    let k = &r.key;
    let personal = k.kind == ApiKeyKind::Personal;
    let permissions: Vec<String> = k.permissions.iter().map(str::to_owned).collect();
    let delete_blocked = match (k.enabled, personal) {
        (false, _) => None,
        (true, false) => Some(ORG_KEYS_RULE),
        (true, true) => rules
            .policy
            .require_disable_before_delete
            .then_some(POLICY_RULE),
    };
    KeyRow {
        id: k.id.to_string(),
        kind: k.kind.as_str(),
        type_label: k.kind.label(),
        name: k.name.clone(),
        prefix: k.display_prefix.clone(),
        owner: personal.then(|| r.owner_username.clone()),
        owner_display_name: r.owner_display_name.clone(),
        created: Stamp::of(k.created_at),
        created_by: k.created_by.clone(),
        last_used: Stamp::of_opt(k.last_used_at),
        last_used_from: k.last_used_ip.clone().unwrap_or_default(),
        last_used_agent: k.last_used_user_agent.clone().unwrap_or_default(),
        enabled: k.enabled,
        revoked: k.revoked_at.is_some(),
        expired: k.expires_at.is_some_and(|at| at <= rules.now),
        permissions_label: count(permissions.len(), "permission"),
        permissions,
        expiration_code: expiration_code(
            k,
            &rules.offered,
            rules.policy.api_key_default_expiration,
        ),
        delete_blocked,
        duplicable: k.kind == ApiKeyKind::Public && rules.enterprise,
        regenerable: k.kind == ApiKeyKind::Scim,
    }
}

/// What every row is judged by.
struct Rules<'a> {
    policy: &'a OrgPolicy,
    offered: Vec<KeyExpiration>,
    enterprise: bool,
    now: OffsetDateTime,
}

/// Whether the organisation holds a key of this kind (the Team Computer Key and the SCIM
/// Key are one each).
async fn has_one(cx: &SectionContext<'_>, kind: ApiKeyKind) -> gatehouse_core::Result<bool> {
    let filter = OrgKeyFilter {
        kind: Some(kind),
        ..OrgKeyFilter::default()
    };
    let one = PageRequest {
        limit: 1,
        after: None,
    };
    let page = cx
        .state
        .core
        .list_org_keys(&cx.actor, &filter, &one)
        .await?;
    Ok(!page.items.is_empty())
}

/// The owner filter's suggestions: the first members' usernames, or none when the
/// viewer cannot list members (the filter still takes a typed name).
async fn owner_suggestions(cx: &SectionContext<'_>) -> Vec<String> {
    let first = PageRequest {
        limit: OWNER_SUGGESTIONS,
        after: None,
    };
    match cx
        .state
        .core
        .list_members(&cx.actor, &MemberFilter::default(), &first)
        .await
    {
        Ok(page) => page.items.into_iter().map(|m| m.account.username).collect(),
        Err(_) => Vec::new(),
    }
}

/// The reason of a refusal as a sentence ("No member of your organisation is named …").
fn sentence(e: &gatehouse_core::Error) -> String {
    let text = match e {
        gatehouse_core::Error::Invalid { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>() + "."
    })
}

/// Renders the section's panel.
pub async fn render(cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
    let core = &cx.state.core;
    let q: KeysQuery = cx.query();
    let kind = offered(q.kind.as_deref(), &TYPES);
    let status = offered(q.status.as_deref(), &STATUSES);
    let owner = q.owner.as_deref().unwrap_or("").trim().to_owned();
    let mut owner_error = String::new();
    let owner_id = if owner.is_empty() {
        None
    } else {
        match core.member_named(&cx.actor, &owner).await {
            Ok(a) => Some(a.id),
            Err(e @ gatehouse_core::Error::Invalid { .. }) => {
                owner_error = sentence(&e);
                None
            }
            Err(e) => return Err(e),
        }
    };
    let filter = OrgKeyFilter {
        kind: (!kind.is_empty())
            .then(|| ApiKeyKind::parse(kind))
            .transpose()?,
        owner: owner_id,
        enabled: match status {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        },
    };
    // An owner nobody has lists nothing (rather than every key under a filter that
    // looks applied).
    let keys = if owner_error.is_empty() {
        let page = SectionContext::page(q.cursor.as_deref());
        core.list_org_keys(&cx.actor, &filter, &page).await?
    } else {
        gatehouse_core::page::Page {
            items: Vec::new(),
            next: None,
        }
    };
    let policy = core.policy_for(&cx.actor).await?;
    let enterprise = cx.org.edition.has_public_api_keys();
    let rules = Rules {
        policy: &policy,
        offered: policy.offered_expirations(),
        enterprise,
        now: core.clock().now(),
    };
    let default = policy.api_key_default_expiration;
    render_panel(&Panel {
        enterprise,
        rows: keys.items.iter().map(|k| row(k, &rules)).collect(),
        next: keys.next.clone(),
        kept: keep(&[("type", kind), ("owner", &owner), ("status", status)]),
        types: choices("All types", &TYPES, kind),
        statuses: choices("All statuses", &STATUSES, status),
        filtered: !kind.is_empty() || !owner.is_empty() || !status.is_empty(),
        owner,
        owner_error,
        owner_suggestions: owner_suggestions(cx).await,
        has_team_computer_key: has_one(cx, ApiKeyKind::TeamComputer).await?,
        has_scim_key: has_one(cx, ApiKeyKind::Scim).await?,
        permissions: core
            .org_key_permissions()
            .into_iter()
            .map(|(name, description)| PermissionChoice {
                grantable: cx.actor.scopes.contains(&name),
                name,
                description,
            })
            .collect(),
        expirations: expiration_choices(&rules.offered, default),
        user_may_choose: policy.api_key_user_choice && rules.offered.len() > 1,
        default_label: default.label(),
        default_code: default.as_code(),
        scim_base_url: crate::scim::base_url(cx.state, cx.headers),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_a_sentence() {
        let e = gatehouse_core::Error::invalid("owner", "no member is named \"x\"");
        assert_eq!(sentence(&e), "No member is named \"x\".");
    }
}
