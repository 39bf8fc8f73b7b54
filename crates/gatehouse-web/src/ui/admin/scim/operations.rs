//! The SCIM section's recent operations: each `scim.*` audit record in the words a
//! person would use — what was done, to which user or group, and whether it went
//! through, was refused (and why) or was skipped by the last-owner guard.
//!
//! What a record says beyond its action is in its `detail`, read by `detail.rs`.

use std::collections::HashMap;

use gatehouse_core::audit::AuditEvent;

use super::super::super::format::{Stamp, count};
use gatehouse_core::scim::detail::{fields, value as get};

/// What became of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused: nothing changed (the reason says why).
    Refused,
    /// A role change the last-owner guard did not make.
    Skipped,
}

impl Outcome {
    /// The row's `data-result`.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Skipped => "skipped",
        }
    }

    /// The badge's text.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::Refused => "Refused",
            Outcome::Skipped => "Skipped",
        }
    }

    /// The badge's class.
    pub fn badge(self) -> &'static str {
        match self {
            Outcome::Ok => "badge-ok",
            Outcome::Refused => "badge-danger",
            Outcome::Skipped => "badge-warn",
        }
    }
}

/// What an operation was done to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
    /// The mappings themselves: no one target.
    Nothing,
}

/// One row of the list.
pub struct OpRow {
    pub id: String,
    pub action: String,
    pub at: Stamp,
    /// "Created user".
    pub what: String,
    /// A second line, when there is more to say: "Member → Admin", "2 API keys revoked".
    pub note: String,
    /// Who acted, when a person did (an admin saving the group roles); empty for the SCIM Key.
    pub by: String,
    /// The user's username or the group's name; empty when the operation has no target.
    pub target: String,
    /// "User" or "Group".
    pub target_kind: &'static str,
    /// The target's id, for the tooltip (empty for a user that was never created).
    pub target_id: String,
    pub outcome: Outcome,
    /// Why it was refused or skipped, as a sentence.
    pub reason: String,
}

/// The plain words of an action, and what it is done to.
fn words(action: &str) -> (&'static str, Kind) {
    match action {
        "scim.user.created" => ("Created user", Kind::User),
        "scim.user.replaced" | "scim.user.patched" => ("Updated user", Kind::User),
        "scim.user.deleted" => ("Deleted user", Kind::User),
        "scim.user.deactivated" => ("Deactivated user", Kind::User),
        "scim.user.reactivated" => ("Reactivated user", Kind::User),
        "scim.group.created" => ("Created group", Kind::Group),
        "scim.group.replaced" | "scim.group.patched" => ("Updated group", Kind::Group),
        "scim.group.deleted" => ("Deleted group", Kind::Group),
        "scim.role.changed" => ("Changed role", Kind::User),
        "scim.role.kept" => ("Kept role", Kind::User),
        "scim.role_mappings_changed" => ("Changed group roles", Kind::Nothing),
        _ => ("", Kind::Nothing),
    }
}

/// "Admin" for `admin`; anything else as it is.
fn role_label(role: &str) -> String {
    let mut c = role.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// The rows, newest first as given. Groups are named from any record that names them
/// (a patch names none, its group's creation does).
pub fn rows(events: &[AuditEvent]) -> Vec<OpRow> {
    let parsed: Vec<Vec<(String, String)>> = events
        .iter()
        .map(|e| fields(e.detail.as_deref().unwrap_or("")))
        .collect();
    let mut group_names: HashMap<&str, &str> = HashMap::new();
    for f in &parsed {
        if let (Some(t), Some(n)) = (get(f, "target"), get(f, "name"))
            && t.starts_with("grp_")
        {
            group_names.entry(t).or_insert(n);
        }
    }
    events
        .iter()
        .zip(&parsed)
        .map(|(e, f)| row(e, f, &group_names))
        .collect()
}

fn row(e: &AuditEvent, f: &[(String, String)], group_names: &HashMap<&str, &str>) -> OpRow {
    let (what, kind) = words(&e.action);
    let target_id = get(f, "target").unwrap_or_default();
    let (target, target_id) = match kind {
        Kind::User => match (&e.username, &e.user_id) {
            (Some(name), id) => (
                name.clone(),
                id.as_ref()
                    .map_or(target_id.to_owned(), ToString::to_string),
            ),
            (None, _) => (
                get(f, "name").unwrap_or(target_id).to_owned(),
                target_id.to_owned(),
            ),
        },
        Kind::Group => (
            get(f, "name")
                .or_else(|| group_names.get(target_id).copied())
                .unwrap_or(target_id)
                .to_owned(),
            target_id.to_owned(),
        ),
        Kind::Nothing => (String::new(), String::new()),
    };
    let refused = get(f, "result") == Some("refused");
    let outcome = if refused {
        Outcome::Refused
    } else if e.action == "scim.role.kept" {
        Outcome::Skipped
    } else {
        Outcome::Ok
    };
    let reason = match outcome {
        Outcome::Ok => String::new(),
        _ => get(f, "reason").map(sentence).unwrap_or_default(),
    };
    let by = match e.acted_by().1 {
        Some(name) if !name.starts_with('@') && e.actor_username.is_some() => name.to_owned(),
        _ => String::new(),
    };
    OpRow {
        id: e.id.0.clone(),
        action: e.action.clone(),
        at: Stamp::of(e.at),
        what: if what.is_empty() {
            e.action.clone()
        } else {
            what.to_owned()
        },
        note: if refused {
            String::new()
        } else {
            note(&e.action, f)
        },
        by,
        target,
        target_kind: match kind {
            Kind::User => "User",
            Kind::Group => "Group",
            Kind::Nothing => "",
        },
        target_id,
        outcome,
        reason,
    }
}

/// The second line of an operation that did something worth spelling out.
fn note(action: &str, f: &[(String, String)]) -> String {
    match action {
        "scim.role.changed" => match (get(f, "from"), get(f, "to")) {
            (Some(from), Some(to)) => format!("{} → {}", role_label(from), role_label(to)),
            _ => String::new(),
        },
        "scim.role.kept" => match (get(f, "role"), get(f, "wanted")) {
            (Some(role), Some(wanted)) => format!(
                "Stays {}; its groups give {}",
                role_label(role),
                role_label(wanted)
            ),
            _ => String::new(),
        },
        "scim.user.deactivated" => {
            let n = |k: &str| get(f, k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
            let mut parts = vec!["Signed out everywhere".to_owned()];
            for (key, noun, verb) in [
                ("api_keys_revoked", "API key", "revoked"),
                ("ssh_keys_deleted", "SSH key", "deleted"),
                ("ssh_private_keys_deleted", "SSH private key", "deleted"),
            ] {
                if n(key) > 0 {
                    parts.push(format!("{} {verb}", count(n(key), noun)));
                }
            }
            parts.join("; ")
        }
        "scim.role_mappings_changed" => match get(f, "mappings") {
            Some("") => "No group is mapped: SCIM leaves roles alone".to_owned(),
            Some(list) => list
                .split(", ")
                .map(|m| match m.rsplit_once('=') {
                    Some((group, role)) => format!("{group} → {}", role_label(role)),
                    None => m.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// A refusal's reason as a sentence: without the SCIM field the core puts first
/// (`value: userName is required`), capitalised unless it starts with an attribute's
/// camelCase name, and with a full stop.
fn sentence(reason: &str) -> String {
    let reason = reason.trim();
    let text = match reason.split_once(": ") {
        Some((field, rest))
            if !field.is_empty()
                && field
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.') =>
        {
            rest
        }
        _ => reason,
    };
    let first_word = text.split(' ').next().unwrap_or("");
    let camel = first_word.chars().skip(1).any(char::is_uppercase);
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(c) if !camel => c.to_uppercase().chain(chars).collect(),
        Some(c) => std::iter::once(c).chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::ids::AccountId;

    fn event(action: &str, detail: &str) -> AuditEvent {
        let mut e = AuditEvent::new(time::OffsetDateTime::UNIX_EPOCH, action);
        e.detail = Some(detail.to_owned());
        e
    }

    #[test]
    fn a_refusal_reads_as_a_sentence_without_the_scim_field() {
        assert_eq!(
            sentence("value: userName is required"),
            "userName is required."
        );
        assert_eq!(
            sentence(r#"the userName "x" is taken"#),
            r#"The userName "x" is taken."#
        );
        assert_eq!(sentence("not found"), "Not found.");
        assert_eq!(
            sentence("this is the organisation's last active owner."),
            "This is the organisation's last active owner."
        );
    }

    #[test]
    fn operations_read_in_plain_words_with_their_target_and_result() {
        let mut created = event("scim.user.created", r#"name="jdoe" target=usr_1 result=ok"#);
        created.user_id = Some(AccountId("usr_1".into()));
        created.username = Some("jdoe".into());
        let taken = event(
            "scim.user.created",
            r#"name="jdoe" result=refused reason="the userName \"jdoe\" is taken""#,
        );
        let group = event(
            "scim.group.created",
            r#"name="Gatehouse Admins" target=grp_9 result=ok"#,
        );
        let patched = event("scim.group.patched", "target=grp_9 result=ok");
        let mut role = event("scim.role.changed", "from=member to=admin");
        role.username = Some("jdoe".into());
        let kept = event(
            "scim.role.kept",
            r#"role=owner wanted=member reason="this is the organisation's last active owner""#,
        );
        let mut mappings = event(
            "scim.role_mappings_changed",
            r#"mappings="Gatehouse Admins=admin, Staff=member""#,
        );
        mappings.actor_username = Some("acme-owner".into());
        let r = rows(&[patched, created, taken, group, role, kept, mappings]);
        assert_eq!(
            (r[0].what.as_str(), r[0].target.as_str()),
            ("Updated group", "Gatehouse Admins")
        );
        assert_eq!(r[0].target_kind, "Group");
        assert_eq!(
            (r[1].what.as_str(), r[1].target.as_str(), r[1].outcome),
            ("Created user", "jdoe", Outcome::Ok)
        );
        assert_eq!(r[1].target_id, "usr_1");
        assert_eq!(r[2].outcome, Outcome::Refused);
        assert_eq!(r[2].target, "jdoe", "named from the request");
        assert_eq!(r[2].reason, r#"The userName "jdoe" is taken."#);
        assert_eq!(r[4].note, "Member → Admin");
        assert_eq!(r[5].outcome, Outcome::Skipped);
        assert_eq!(r[5].note, "Stays Owner; its groups give Member");
        assert_eq!(r[6].note, "Gatehouse Admins → Admin, Staff → Member");
        assert_eq!(r[6].by, "acme-owner");
        assert_eq!(r[1].by, "", "the SCIM Key is not named on every row");
    }

    #[test]
    fn deactivation_says_what_was_taken_away() {
        let e = event(
            "scim.user.deactivated",
            "api_keys_revoked=2 ssh_keys_deleted=1 ssh_private_keys_deleted=0",
        );
        assert_eq!(
            rows(&[e])[0].note,
            "Signed out everywhere; 2 API keys revoked; 1 SSH key deleted"
        );
    }
}
