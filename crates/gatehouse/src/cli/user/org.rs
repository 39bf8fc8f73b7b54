//! `gatehouse org …`: the admin panel from the command line, for owners and admins (or
//! an organisation key with the org scopes): the organisation's keys, its members, its
//! policy and its audit log export. Keys are named by id or unique name, members by
//! username.

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::api_keys::status as key_status;
use super::resolve;
use super::session::{ServerArgs, Session, path_segment};
use crate::cli::out::{note, outln};
use crate::cli::output::{OutputArgs, Table, print_json, text, words};
use crate::cli::term::safe;

/// API body fields and the flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("name", "--name"),
    ("permissions", "--permission"),
    ("expires_in_days", "--expires"),
    ("username", "USERNAME"),
    ("email", "--email"),
    ("display_name", "--display-name"),
    ("role", "--role"),
    ("type", "--type"),
    ("owner", "--owner"),
    ("status", "--status"),
    ("actor", "--actor"),
    ("action", "--action"),
    ("credential", "--credential"),
    ("since", "--since"),
    ("until", "--until"),
    ("format", "--format"),
];

/// `gatehouse org …`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Every key of the organisation: members' API keys, Public API Keys, the Team
    /// Computer Key and the SCIM key.
    Keys {
        /// The operation.
        #[command(subcommand)]
        command: OrgKeysCommand,
    },
    /// The organisation's members.
    Members {
        /// The operation.
        #[command(subcommand)]
        command: OrgMembersCommand,
    },
    /// Show the organisation's policy, with what each field does.
    Policy,
    /// Export the audit log to standard output (streamed), newest first.
    Audit(AuditArgs),
}

/// `gatehouse org keys …`
#[derive(Debug, Subcommand)]
pub enum OrgKeysCommand {
    /// List the keys.
    List {
        /// personal, public, team_computer or scim.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// Only this member's personal keys.
        #[arg(long, value_name = "USERNAME")]
        owner: Option<String>,
        /// enabled or disabled.
        #[arg(long)]
        status: Option<String>,
    },
    /// Show one key and its permissions.
    Show {
        /// Key id or name.
        key: String,
    },
    /// Generate a Public API Key (Enterprise edition) and print it (once).
    Create {
        /// Name, unique among the organisation's keys.
        #[arg(long)]
        name: String,
        /// A permission to give it (repeatable; at least one).
        #[arg(long = "permission", value_name = "SCOPE", required = true)]
        permissions: Vec<String>,
        /// none, 7d, 30d, 60d or 90d (default: the organisation's default).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Generate a Public API Key with another's permissions (adjusted by
    /// --permission); the original is unchanged.
    Duplicate {
        /// Key id or name.
        key: String,
        /// Name of the copy (default: "Copy of <name>").
        #[arg(long)]
        name: Option<String>,
        /// The copy's permissions instead of the original's (repeatable).
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
    },
    /// Disable a key: it stops working at once (re-enable it at any time).
    Disable {
        /// Key id or name.
        key: String,
    },
    /// Re-enable a key.
    Enable {
        /// Key id or name.
        key: String,
    },
    /// Delete a key, irreversibly (organisation keys must be disabled first).
    Delete {
        /// Key id or name.
        key: String,
    },
    /// Generate the Team Computer Key and print it (once); delete the existing one first.
    CreateTeamComputerKey,
    /// Generate a new SCIM key and print it (once); the old one stops working at once.
    RegenerateScimKey,
}

/// `gatehouse org members …`
#[derive(Debug, Subcommand)]
pub enum OrgMembersCommand {
    /// List the members.
    List {
        /// owner, admin or member.
        #[arg(long)]
        role: Option<String>,
        /// active or disabled.
        #[arg(long)]
        status: Option<String>,
    },
    /// Add a member and print their one-time set-password link (once).
    Add {
        /// Their username.
        username: String,
        /// Their email address.
        #[arg(long)]
        email: String,
        /// Their display name (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// owner, admin or member (default: member).
        #[arg(long)]
        role: Option<String>,
    },
    /// Print a fresh set-password link for a member who has not set a password yet.
    PasswordLink {
        /// Their username.
        username: String,
    },
    /// Change a member's role (an organisation keeps at least one owner).
    SetRole {
        /// Their username.
        username: String,
        /// owner, admin or member.
        role: String,
    },
    /// Disable a member: their sessions, tokens and keys stop at once.
    Disable {
        /// Their username.
        username: String,
    },
    /// Re-enable a member.
    Enable {
        /// Their username.
        username: String,
    },
}

/// `gatehouse org audit` flags.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// jsonl (one JSON object per line) or csv.
    #[arg(long, default_value = "jsonl")]
    format: String,
    /// Only what this username did.
    #[arg(long, value_name = "USERNAME")]
    actor: Option<String>,
    /// Only this action, or with a trailing '.', every action it starts (api_key.).
    #[arg(long)]
    action: Option<String>,
    /// Only what was done with this API key or token (its id).
    #[arg(long, value_name = "ID")]
    credential: Option<String>,
    /// From this date or RFC 3339 time (inclusive).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Up to this date or RFC 3339 time (exclusive).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
}

/// `path?k=v&…` with each set value percent-encoded.
fn with_query(path: &str, pairs: &[(&str, Option<&str>)]) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(&format!("https://x{path}"))?;
    let set: Vec<_> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect();
    if !set.is_empty() {
        url.query_pairs_mut().extend_pairs(set);
    }
    Ok(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    })
}

/// `gatehouse org …`
pub async fn org(server: &ServerArgs, output: &OutputArgs, cmd: &OrgCommand) -> anyhow::Result<()> {
    let s = Session::open(server)?.with_flags(FLAGS);
    let json_out = output.is_json();
    match cmd {
        OrgCommand::Keys { command } => keys(&s, json_out, command).await,
        OrgCommand::Members { command } => members(&s, json_out, command).await,
        OrgCommand::Policy => policy(&s, json_out).await,
        OrgCommand::Audit(a) => {
            let path = with_query(
                "/api/admin/audit/export",
                &[
                    ("format", Some(a.format.as_str())),
                    ("actor", a.actor.as_deref()),
                    ("action", a.action.as_deref()),
                    ("credential", a.credential.as_deref()),
                    ("since", a.since.as_deref()),
                    ("until", a.until.as_deref()),
                ],
            )?;
            let bytes = s.download(&path).await?;
            note!("exported {bytes} bytes of audit records");
            Ok(())
        }
    }
}

async fn keys(s: &Session, json_out: bool, cmd: &OrgKeysCommand) -> anyhow::Result<()> {
    match cmd {
        OrgKeysCommand::List {
            kind,
            owner,
            status,
        } => {
            let path = with_query(
                "/api/admin/keys",
                &[
                    ("type", kind.as_deref()),
                    ("owner", owner.as_deref()),
                    ("status", status.as_deref()),
                ],
            )?;
            let keys = s.list_all(&path).await?;
            if json_out {
                return print_json(&Value::Array(keys));
            }
            let mut table = Table::new(&[
                "ID",
                "TYPE",
                "NAME",
                "OWNER",
                "STATUS",
                "CREATED",
                "CREATED BY",
                "LAST USED",
                "FROM",
            ])
            .shorten(&["NAME"]);
            for k in &keys {
                table.row(&[
                    text(k, "id", ""),
                    text(k, "type_label", ""),
                    text(k, "name", ""),
                    text(k, "owner", "organisation"),
                    key_status(k),
                    text(k, "created_at", ""),
                    text(k, "created_by", ""),
                    text(k, "last_used_at", "never"),
                    text(k, "last_used_ip", "-"),
                ]);
            }
            table.print()
        }
        OrgKeysCommand::Show { key } => {
            let id = find_key(s, key).await?;
            let (_, v) = s
                .call(Method::GET, &format!("/api/admin/keys/{id}"), None)
                .await?;
            if json_out {
                return print_json(&v);
            }
            for (label, field) in [
                ("id", "id"),
                ("type", "type_label"),
                ("name", "name"),
                ("prefix", "display_prefix"),
                ("owner", "owner"),
                ("created at", "created_at"),
                ("created by", "created_by"),
                ("expires at", "expires_at"),
                ("last used at", "last_used_at"),
                ("last used from", "last_used_ip"),
            ] {
                outln!("{label:<15} {}", safe(text(&v, field, "-")))?;
            }
            outln!("{:<15} {}", "status", key_status(&v))?;
            outln!("{:<15} {}", "permissions", words(&v["permissions"]))
        }
        OrgKeysCommand::Create {
            name,
            permissions,
            expires,
        } => {
            let mut body = json!({"type": "public", "name": name, "permissions": permissions});
            if let Some(e) = expires {
                let parsed = gatehouse_core::org::KeyExpiration::parse_code(e).map_err(|_| {
                    anyhow::anyhow!(
                        "--expires must be none, 7d, 30d, 60d or 90d (not {:?})",
                        safe(e)
                    )
                })?;
                body["expires_in_days"] = json!(parsed.days());
            }
            let (_, v) = s.call(Method::POST, "/api/admin/keys", Some(body)).await?;
            print_created(&v, json_out)
        }
        OrgKeysCommand::Duplicate {
            key,
            name,
            permissions,
        } => {
            let id = find_key(s, key).await?;
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if !permissions.is_empty() {
                body["permissions"] = json!(permissions);
            }
            let (_, v) = s
                .call(
                    Method::POST,
                    &format!("/api/admin/keys/{id}/duplicate"),
                    Some(body),
                )
                .await?;
            print_created(&v, json_out)
        }
        OrgKeysCommand::Disable { key } | OrgKeysCommand::Enable { key } => {
            let verb = if matches!(cmd, OrgKeysCommand::Disable { .. }) {
                "disable"
            } else {
                "enable"
            };
            let id = find_key(s, key).await?;
            let (_, v) = s
                .call(Method::POST, &format!("/api/admin/keys/{id}/{verb}"), None)
                .await?;
            if json_out {
                return print_json(&v);
            }
            outln!("{verb}d {id}")
        }
        OrgKeysCommand::Delete { key } => {
            let id = find_key(s, key).await?;
            s.call(Method::DELETE, &format!("/api/admin/keys/{id}"), None)
                .await?;
            if json_out {
                return print_json(&json!({"id": id, "deleted": true}));
            }
            outln!("deleted {id}")
        }
        OrgKeysCommand::CreateTeamComputerKey => {
            let (_, v) = s
                .call(Method::POST, "/api/admin/team-computer-key", None)
                .await?;
            print_created(&v, json_out)
        }
        OrgKeysCommand::RegenerateScimKey => {
            let (_, v) = s.call(Method::POST, "/api/admin/scim-key", None).await?;
            print_created(&v, json_out)
        }
    }
}

async fn members(s: &Session, json_out: bool, cmd: &OrgMembersCommand) -> anyhow::Result<()> {
    match cmd {
        OrgMembersCommand::List { role, status } => {
            let path = with_query(
                "/api/admin/members",
                &[("role", role.as_deref()), ("status", status.as_deref())],
            )?;
            let list = s.list_all(&path).await?;
            if json_out {
                return print_json(&Value::Array(list));
            }
            let mut table =
                Table::new(&["USERNAME", "NAME", "ROLE", "STATUS", "2SV", "LAST SIGN-IN"])
                    .shorten(&["NAME"]);
            for m in &list {
                table.row(&[
                    text(m, "username", ""),
                    text(m, "display_name", ""),
                    text(m, "role", ""),
                    if m["disabled"].as_bool().unwrap_or(false) {
                        "disabled"
                    } else {
                        "active"
                    },
                    if m["two_step_verification"].as_bool().unwrap_or(false) {
                        "on"
                    } else {
                        "off"
                    },
                    text(m, "last_sign_in_at", "never"),
                ]);
            }
            table.print()
        }
        OrgMembersCommand::Add {
            username,
            email,
            display_name,
            role,
        } => {
            let mut body = json!({"username": username, "email": email});
            if let Some(d) = display_name {
                body["display_name"] = json!(d);
            }
            if let Some(r) = role {
                body["role"] = json!(r);
            }
            let (_, v) = s
                .call(Method::POST, "/api/admin/members", Some(body))
                .await?;
            print_link(
                &v,
                json_out,
                &format!("Added {}", safe(text(&v["member"], "username", ""))),
            )
        }
        OrgMembersCommand::PasswordLink { username } => {
            let id = find_member(s, username).await?;
            let (_, v) = s
                .call(
                    Method::POST,
                    &format!("/api/admin/members/{id}/password-link"),
                    None,
                )
                .await?;
            print_link(&v, json_out, &format!("New link for {}", safe(username)))
        }
        OrgMembersCommand::SetRole { username, role } => {
            let id = find_member(s, username).await?;
            let (_, v) = s
                .call(
                    Method::POST,
                    &format!("/api/admin/members/{id}/role"),
                    Some(json!({"role": role})),
                )
                .await?;
            if json_out {
                return print_json(&v);
            }
            outln!("{} is now {}", safe(username), text(&v, "role", ""))
        }
        OrgMembersCommand::Disable { username } | OrgMembersCommand::Enable { username } => {
            let verb = if matches!(cmd, OrgMembersCommand::Disable { .. }) {
                "disable"
            } else {
                "enable"
            };
            let id = find_member(s, username).await?;
            let (_, v) = s
                .call(
                    Method::POST,
                    &format!("/api/admin/members/{id}/{verb}"),
                    None,
                )
                .await?;
            if json_out {
                return print_json(&v);
            }
            outln!("{verb}d {}", safe(username))
        }
    }
}

async fn policy(s: &Session, json_out: bool) -> anyhow::Result<()> {
    let (_, v) = s.call(Method::GET, "/api/admin/policy", None).await?;
    if json_out {
        return print_json(&v);
    }
    for f in v["fields"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = text(f, "name", "");
        let value = match &v["policy"][name] {
            Value::Null => "server limit".to_owned(),
            Value::Array(a) if a.is_empty() => "any".to_owned(),
            Value::Array(_) => words(&v["policy"][name]).replace(' ', ","),
            other => other.to_string().trim_matches('"').to_owned(),
        };
        outln!("{name:<34} = {}", safe(&value))?;
        outln!("    {}", safe(text(f, "effect", "")))?;
    }
    Ok(())
}

/// The id of the organisation key named `key` (an id, or a unique name).
async fn find_key(s: &Session, key: &str) -> anyhow::Result<String> {
    let keys = s.list_all("/api/admin/keys").await?;
    let id = resolve(&keys, key, "key", "gatehouse org keys list")?;
    Ok(path_segment(&id)?.to_owned())
}

/// The id of the member with this username.
async fn find_member(s: &Session, username: &str) -> anyhow::Result<String> {
    let wanted = username.trim().to_lowercase();
    let list = s.list_all("/api/admin/members").await?;
    let Some(m) = list.iter().find(|m| text(m, "username", "") == wanted) else {
        bail!(
            "no member of your organisation is named {:?} (see \"gatehouse org members list\")",
            safe(username)
        );
    };
    Ok(path_segment(text(m, "id", ""))?.to_owned())
}

fn print_created(v: &Value, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        print_json(v)?;
    } else {
        outln!("{}", text(v, "key", ""))?;
    }
    note!(
        "Generated {} {:?} ({}). This is the only time the key is shown: store it now; it cannot be recovered.",
        text(v, "type_label", "key"),
        safe(text(v, "name", "")),
        text(v, "id", ""),
    );
    Ok(())
}

fn print_link(v: &Value, json_out: bool, what: &str) -> anyhow::Result<()> {
    if json_out {
        print_json(v)?;
    } else {
        outln!("{}", text(v, "set_password_url", ""))?;
    }
    note!(
        "{what}. Give them this link to set their password; it works once, until {}, and is not shown again.",
        text(v, "expires_at", "")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_are_percent_encoded_and_unset_ones_left_out() {
        let p = super::with_query(
            "/api/admin/keys",
            &[("owner", Some("a b&c")), ("type", None)],
        )
        .expect("path");
        assert_eq!(p, "/api/admin/keys?owner=a+b%26c");
        assert_eq!(
            super::with_query("/api/admin/keys", &[("type", None)]).expect("path"),
            "/api/admin/keys"
        );
    }
}
