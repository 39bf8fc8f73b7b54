//! `gatehouse org scim …`: the admin panel's SCIM section from the command line — the
//! base URL to give the identity provider, the SCIM Key's last use, the recent SCIM
//! operations, and the group-to-role mappings (`set-roles "Gatehouse Admins=admin" …`).

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::super::session::Session;
use crate::cli::out::outln;
use crate::cli::output::{print_json, text};
use crate::cli::term::safe;

/// `gatehouse org scim …`
#[derive(Debug, Subcommand)]
pub enum OrgScimCommand {
    /// The base URL, the SCIM Key's last use, the mappings and the recent operations.
    Show,
    /// Replace the group-to-role mappings: each GROUP=ROLE (owner, admin or member);
    /// none clears them.
    SetRoles {
        /// "Group name=role" pairs.
        #[arg(value_name = "GROUP=ROLE")]
        mappings: Vec<String>,
    },
}

/// Runs one `gatehouse org scim` command.
pub async fn run(s: &Session, json_out: bool, cmd: &OrgScimCommand) -> anyhow::Result<()> {
    let v = match cmd {
        OrgScimCommand::Show => s.call(Method::GET, "/api/admin/scim", None).await?.1,
        OrgScimCommand::SetRoles { mappings } => {
            let mut list = Vec::with_capacity(mappings.len());
            for m in mappings {
                let Some((group, role)) = m.rsplit_once('=') else {
                    anyhow::bail!(
                        "{:?} is not GROUP=ROLE (for example \"Gatehouse Admins=admin\")",
                        safe(m)
                    );
                };
                list.push(json!({"group": group.trim(), "role": role.trim()}));
            }
            let body = json!({ "role_mappings": list });
            s.call(Method::PUT, "/api/admin/scim/role-mappings", Some(body))
                .await?
                .1
        }
    };
    if json_out {
        return print_json(&v);
    }
    show(&v)
}

fn show(v: &Value) -> anyhow::Result<()> {
    outln!("Base URL      {}", safe(text(v, "base_url", "")))?;
    match v.get("key").filter(|k| !k.is_null()) {
        None => outln!("SCIM Key      none yet: gatehouse org keys regenerate-scim-key")?,
        Some(k) => outln!(
            "SCIM Key      {}…  last used {} from {}",
            safe(text(k, "display_prefix", "")),
            safe(text(k, "last_used_at", "never")),
            safe(text(k, "last_used_ip", "-"))
        )?,
    }
    let empty = Vec::new();
    let mappings = v["role_mappings"].as_array().unwrap_or(&empty);
    if mappings.is_empty() {
        outln!("Group roles   none (roles are set in the admin panel)")?;
    }
    for m in mappings {
        outln!(
            "Group roles   {} → {}",
            safe(text(m, "group", "")),
            safe(text(m, "role", ""))
        )?;
    }
    let recent = v["recent"].as_array().unwrap_or(&empty);
    if !recent.is_empty() {
        outln!("Recent operations (newest first)")?;
    }
    for r in recent {
        outln!(
            "  {}  {:<24} {:<8} {}",
            safe(text(r, "at", "")),
            safe(text(r, "action", "")),
            safe(text(r, "result", "")),
            safe(text(r, "detail", ""))
        )?;
    }
    Ok(())
}
