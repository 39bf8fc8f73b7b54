//! The Policies section: every field of the organisation's policy in one form, grouped
//! as members meet them (API keys, tokens, sign-in, per-account limits). Each field's
//! label and effect come from the core's [`POLICY_FIELDS`], so the form, the API and the
//! CLI explain a rule in the same words. The script saves the whole document with
//! `PUT /api/admin/policy`; the server decides what is refused.

use askama::Template;
use gatehouse_core::org::{KEY_EXPIRATIONS, OrgPolicy, POLICY_FIELDS, PolicyField};
use gatehouse_core::scope;

use super::super::format::hours;
use super::super::{Choice, render_panel};
use super::section::SectionContext;

#[derive(Template)]
#[template(path = "admin/policies.html")]
struct Panel {
    groups: Vec<Group>,
    /// The viewer holds `org:policy:write`: the form can be saved.
    writable: bool,
}

/// One fieldset of the form.
struct Group {
    id: &'static str,
    title: &'static str,
    fields: Vec<FieldView>,
}

/// How a field is edited.
#[derive(PartialEq, Eq)]
enum Widget {
    /// A checkbox per offered expiration.
    Expirations,
    /// One choice among `options`.
    Select,
    /// On or off.
    Switch,
    /// Comma-separated AAGUIDs.
    Models,
    /// A cap: a number, or empty for the server's limit.
    Cap,
}

struct FieldView {
    name: &'static str,
    label: &'static str,
    effect: &'static str,
    widget: Widget,
    options: Vec<Choice>,
    checked: bool,
    value: String,
    placeholder: String,
}

/// The groups, in the form's order; a field joins the group its name says it belongs to.
const GROUPS: [(&str, &str); 4] = [
    ("policy-api-keys", "API keys"),
    ("policy-tokens", "Tokens"),
    ("policy-sign-in", "Sign-in & 2-Step Verification"),
    ("policy-limits", "Per-account limits"),
];

fn group_of(name: &str) -> usize {
    if name.starts_with("max_") {
        3
    } else if name.starts_with("token_") {
        1
    } else if name.starts_with("api_key_") || name == "require_disable_before_delete" {
        0
    } else {
        2
    }
}

/// The server's own caps, which an organisation's can only lower.
struct Limits {
    api_keys: u64,
    tokens: u64,
    ssh_keys: u64,
    ssh_private_keys: u64,
}

fn hour_choices(selected: u32) -> Vec<Choice> {
    (1..=24)
        .map(|h| Choice {
            value: h.to_string(),
            label: hours(h),
            selected: h == selected,
        })
        .collect()
}

fn cap(value: Option<u32>, server: u64) -> (String, String) {
    (
        value.map(|v| v.to_string()).unwrap_or_default(),
        format!("Server limit ({server})"),
    )
}

/// The field's widget and current value, or `None` for a field this form does not know
/// (a test keeps that from happening).
fn view(f: &PolicyField, p: &OrgPolicy, l: &Limits) -> Option<FieldView> {
    let mut v = FieldView {
        name: f.name,
        label: f.label,
        effect: f.effect,
        widget: Widget::Switch,
        options: Vec::new(),
        checked: false,
        value: String::new(),
        placeholder: String::new(),
    };
    let expirations = |is: &dyn Fn(&gatehouse_core::org::KeyExpiration) -> bool| {
        KEY_EXPIRATIONS
            .iter()
            .map(|e| Choice {
                value: e.as_code(),
                label: e.label(),
                selected: is(e),
            })
            .collect()
    };
    let caps = &p.caps;
    match f.name {
        "api_key_expirations" => {
            v.widget = Widget::Expirations;
            v.options = expirations(&|e| p.api_key_expirations.contains(e));
        }
        "api_key_default_expiration" => {
            // Every expiration is offered: the server, not the form, refuses a default
            // outside the allowed ones, and says why at this field.
            v.widget = Widget::Select;
            v.options = expirations(&|e| *e == p.api_key_default_expiration);
        }
        "token_max_hours" => {
            v.widget = Widget::Select;
            v.options = hour_choices(p.token_max_hours);
        }
        "token_default_hours" => {
            v.widget = Widget::Select;
            v.options = hour_choices(p.token_default_hours);
        }
        "api_key_user_choice" => v.checked = p.api_key_user_choice,
        "token_user_choice" => v.checked = p.token_user_choice,
        "require_disable_before_delete" => v.checked = p.require_disable_before_delete,
        "require_mfa" => v.checked = p.require_mfa,
        "enforce_security_key" => v.checked = p.enforce_security_key,
        "passkey_sign_in" => v.checked = p.passkey_sign_in,
        "security_key_models" => {
            v.widget = Widget::Models;
            v.value = p.models_text().replace(',', ", ");
        }
        "max_api_keys_per_account" => {
            v.widget = Widget::Cap;
            (v.value, v.placeholder) = cap(caps.api_keys, l.api_keys);
        }
        "max_tokens_per_account" => {
            v.widget = Widget::Cap;
            (v.value, v.placeholder) = cap(caps.tokens, l.tokens);
        }
        "max_ssh_keys_per_account" => {
            v.widget = Widget::Cap;
            (v.value, v.placeholder) = cap(caps.ssh_keys, l.ssh_keys);
        }
        "max_ssh_private_keys_per_account" => {
            v.widget = Widget::Cap;
            (v.value, v.placeholder) = cap(caps.ssh_private_keys, l.ssh_private_keys);
        }
        _ => return None,
    }
    Some(v)
}

fn groups(p: &OrgPolicy, l: &Limits) -> Vec<Group> {
    let mut groups: Vec<Group> = GROUPS
        .iter()
        .map(|(id, title)| Group {
            id,
            title,
            fields: Vec::new(),
        })
        .collect();
    for f in POLICY_FIELDS {
        if let Some(v) = view(f, p, l) {
            groups[group_of(f.name)].fields.push(v);
        }
    }
    groups
}

/// Renders the section's panel.
pub async fn render(cx: &SectionContext<'_>) -> gatehouse_core::Result<String> {
    let (policy, limits) = cx.state.core.admin_policy(&cx.actor).await?;
    let limits = Limits {
        api_keys: limits.api_keys,
        tokens: limits.tokens,
        ssh_keys: limits.ssh_keys,
        ssh_private_keys: limits.ssh_private_keys,
    };
    render_panel(&Panel {
        groups: groups(&policy, &limits),
        writable: cx.actor.scopes.contains(scope::ORG_POLICY_WRITE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_field_has_a_widget_and_a_group() {
        let l = Limits {
            api_keys: 100,
            tokens: 50,
            ssh_keys: 20,
            ssh_private_keys: 10,
        };
        let g = groups(&OrgPolicy::default(), &l);
        let shown: usize = g.iter().map(|g| g.fields.len()).sum();
        assert_eq!(shown, POLICY_FIELDS.len(), "a field the form does not know");
        assert!(g.iter().all(|g| !g.fields.is_empty()));
        let tokens = g[3]
            .fields
            .iter()
            .find(|f| f.name == "max_tokens_per_account")
            .expect("the tokens cap");
        assert_eq!(tokens.placeholder, "Server limit (50)");
        assert!(tokens.value.is_empty(), "no cap: the server's limit");
    }
}
