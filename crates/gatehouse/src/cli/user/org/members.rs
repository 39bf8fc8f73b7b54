//! `gatehouse org members …`: the Members page from the command line.

use anyhow::bail;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::with_query;
use crate::cli::out::{note, outln};
use crate::cli::output::{Table, print_json, text};
use crate::cli::term::safe;
use crate::cli::user::session::{Session, path_segment};

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
pub(super) async fn run(
    s: &Session,
    json_out: bool,
    cmd: &OrgMembersCommand,
) -> anyhow::Result<()> {
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
