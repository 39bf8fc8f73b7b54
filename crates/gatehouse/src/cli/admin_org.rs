//! `gatehouse admin org …`: the server operator's organisation commands. Like every
//! `admin` command they work on the store directly, so they work with the server
//! stopped; running servers follow role and membership changes at once (the change
//! publishes an invalidation).

use clap::Subcommand;
use gatehouse_core::Core;
use gatehouse_core::org::{Edition, Role};
use gatehouse_core::page::{MAX_LIMIT, Page, PageRequest};
use gatehouse_core::store::MemberRecord;
use serde_json::json;

use crate::cli::admin::{describe, parse_role};
use crate::cli::out::outln;
use crate::cli::output::{Table, print_json};
use crate::cli::term::safe;

/// Organisation commands.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation.
    Create {
        /// Its name (2–64 of a-z 0-9 . _ -).
        name: String,
        /// What its plan includes: `team` (the Keys page offers the Team Computer Key and
        /// the SCIM key) or `enterprise` (permission-scoped Public API Keys too).
        #[arg(long, default_value = "team", value_parser = parse_edition)]
        edition: Edition,
    },
    /// List organisations.
    List,
    /// List an organisation's members with their roles.
    Members {
        /// The organisation.
        name: String,
    },
    /// Change an organisation's edition.
    SetEdition {
        /// The organisation.
        name: String,
        /// `team` or `enterprise`.
        #[arg(value_parser = parse_edition)]
        edition: Edition,
    },
    /// Set an account's role in its organisation (owner, admin or member). An
    /// organisation's last active owner cannot be demoted.
    SetRole {
        /// Username.
        username: String,
        /// owner, admin or member.
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Move an account into another organisation, as a member there; its sessions and
    /// tokens end. The last active owner of an organisation cannot leave it.
    Move {
        /// Username.
        username: String,
        /// The organisation it joins.
        #[arg(long = "to", value_name = "ORG")]
        to: String,
    },
}

/// Every item of a paginated use case, following its cursors in pages of the largest size.
async fn every_page<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = gatehouse_core::Result<Page<T>>>,
{
    let mut items = Vec::new();
    let mut page = PageRequest::first(MAX_LIMIT);
    loop {
        let got = fetch(page).await.map_err(describe)?;
        items.extend(got.items);
        let Some(cursor) = got.next else {
            return Ok(items);
        };
        page = PageRequest::parse(Some(&MAX_LIMIT.to_string()), Some(&cursor)).map_err(describe)?;
    }
}

fn parse_edition(s: &str) -> Result<Edition, String> {
    Edition::parse(s).map_err(|e| e.to_string())
}

/// Runs an organisation command.
pub async fn run(core: &Core, cmd: &OrgCommand, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Create { name, edition } => {
            let org = core.create_org(name, *edition).await.map_err(describe)?;
            if json_out {
                print_json(&serde_json::to_value(&org)?)?;
            } else {
                outln!(
                    "created organisation {} ({}, {} edition)",
                    safe(&org.name),
                    org.id,
                    org.edition.as_str()
                )?;
            }
        }
        OrgCommand::List => {
            let orgs = every_page(|page| async move { core.list_orgs(&page).await }).await?;
            if json_out {
                print_json(&serde_json::to_value(&orgs)?)?;
            } else {
                let mut table = Table::new(&["ID", "NAME", "EDITION", "CREATED"]);
                for o in &orgs {
                    table.row(&[
                        o.id.to_string(),
                        o.name.clone(),
                        o.edition.as_str().to_owned(),
                        o.created_at.date().to_string(),
                    ]);
                }
                table.print()?;
            }
        }
        OrgCommand::Members { name } => {
            let members: Vec<MemberRecord> =
                every_page(|page| async move { core.org_members(name, &page).await }).await?;
            if json_out {
                let rows: Vec<_> = members
                    .iter()
                    .map(|m| {
                        json!({
                            "id": m.account.id,
                            "username": m.account.username,
                            "email": m.account.email,
                            "role": m.account.role,
                            "disabled": m.account.disabled,
                            "two_step_verification": m.mfa_enabled,
                        })
                    })
                    .collect();
                print_json(&json!(rows))?;
            } else {
                let mut table =
                    Table::new(&["USERNAME", "EMAIL", "ROLE", "STATUS", "2SV"]).shorten(&["EMAIL"]);
                for m in &members {
                    table.row(&[
                        m.account.username.clone(),
                        m.account.email.clone(),
                        m.account.role.as_str().to_owned(),
                        (if m.account.disabled {
                            "disabled"
                        } else {
                            "active"
                        })
                        .to_owned(),
                        (if m.mfa_enabled { "on" } else { "off" }).to_owned(),
                    ]);
                }
                table.print()?;
            }
        }
        OrgCommand::SetEdition { name, edition } => {
            let org = core
                .set_org_edition(name, *edition)
                .await
                .map_err(describe)?;
            if json_out {
                print_json(&serde_json::to_value(&org)?)?;
            } else {
                outln!(
                    "{} is now on the {} edition",
                    safe(&org.name),
                    edition.as_str()
                )?;
            }
        }
        OrgCommand::SetRole { username, role } => {
            let user = core
                .set_account_role(username, *role)
                .await
                .map_err(describe)?;
            if json_out {
                print_json(&serde_json::to_value(&user)?)?;
            } else {
                outln!("{} is now {}", safe(&user.username), role.as_str())?;
            }
        }
        OrgCommand::Move { username, to } => {
            let user = core.move_account(username, to).await.map_err(describe)?;
            if json_out {
                print_json(&serde_json::to_value(&user)?)?;
            } else {
                outln!(
                    "moved {} into {} as a member; its sessions and tokens were ended",
                    safe(&user.username),
                    safe(to)
                )?;
            }
        }
    }
    Ok(())
}
