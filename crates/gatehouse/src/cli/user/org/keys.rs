//! `gatehouse org keys …`: the Keys page from the command line.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::with_query;
use crate::cli::out::{note, outln};
use crate::cli::output::{Table, print_json, text};
use crate::cli::term::safe;
use crate::cli::user::api_keys::{expires_days, print_key_fields, status as key_status};
use crate::cli::user::resolve;
use crate::cli::user::session::{Session, path_segment};

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
pub(super) async fn run(s: &Session, json_out: bool, cmd: &OrgKeysCommand) -> anyhow::Result<()> {
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
            print_key_fields(
                &v,
                &[
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
                ],
            )
        }
        OrgKeysCommand::Create {
            name,
            permissions,
            expires,
        } => {
            let mut body = json!({"type": "public", "name": name, "permissions": permissions});
            if let Some(days) = expires_days(expires.as_deref())? {
                body["expires_in_days"] = days;
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
/// The id of the organisation key named `key` (an id, or a unique name).
async fn find_key(s: &Session, key: &str) -> anyhow::Result<String> {
    let keys = s.list_all("/api/admin/keys").await?;
    let id = resolve(&keys, key, "key", "gatehouse org keys list")?;
    Ok(path_segment(&id)?.to_owned())
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
