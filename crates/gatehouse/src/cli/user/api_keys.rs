//! `gatehouse api-keys …`: create, list, show, disable, enable, duplicate and delete
//! one's API keys. A key is named by its id or by its (unique) name.

use anyhow::bail;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::resolve;
use super::session::{ServerArgs, Session, path_segment};
use crate::cli::out::{note, outln};
use crate::cli::output::{OutputArgs, Table, print_json, text, words};
use crate::cli::term::safe;

/// API body fields and the flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("name", "--name"),
    ("expires_in_days", "--expires"),
    ("expiration", "--expires"),
    ("permissions", "--permission"),
];

/// `gatehouse api-keys …`
#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key and print it (once).
    Create {
        /// Name, unique among your keys.
        #[arg(long)]
        name: String,
        /// none, 7d, 30d, 60d or 90d (default: your organisation's default).
        #[arg(long)]
        expires: Option<String>,
        /// A permission to grant (repeatable; default: account:read).
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
    },
    /// List your keys.
    List,
    /// Show one key.
    Show {
        /// Key id or name.
        key: String,
    },
    /// Disable a key (it stops working at once).
    Disable {
        /// Key id or name.
        key: String,
    },
    /// Re-enable a key.
    Enable {
        /// Key id or name.
        key: String,
    },
    /// Create a key with the same permissions and a new secret.
    Duplicate {
        /// Key id or name.
        key: String,
        /// Name of the copy (default: "<name> (copy)").
        #[arg(long)]
        name: Option<String>,
        /// Expiration of the copy: none, 7d, 30d, 60d or 90d.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Delete a key.
    Delete {
        /// Key id or name.
        key: String,
    },
}

/// `--expires` as the API's `expires_in_days` (`null` for none), checked here so that
/// the message speaks of the flag.
pub(super) fn expires_days(expires: Option<&str>) -> anyhow::Result<Option<Value>> {
    let Some(e) = expires else { return Ok(None) };
    match gatehouse_core::org::KeyExpiration::parse_code(e) {
        Ok(parsed) => Ok(Some(json!(parsed.days()))),
        Err(_) => bail!(
            "--expires must be none, 7d, 30d, 60d or 90d (not {:?})",
            safe(e)
        ),
    }
}

/// `gatehouse api-keys …`
pub async fn api_keys(
    server: &ServerArgs,
    output: &OutputArgs,
    cmd: &ApiKeysCommand,
) -> anyhow::Result<()> {
    let json_out = output.is_json();
    // Checked before connecting: a typo costs no round trip.
    if let ApiKeysCommand::Create { expires, .. } | ApiKeysCommand::Duplicate { expires, .. } = cmd
    {
        expires_days(expires.as_deref())?;
    }
    let s = Session::open(server)?.with_flags(FLAGS);
    match cmd {
        ApiKeysCommand::Create {
            name,
            expires,
            permissions,
        } => {
            let mut body = json!({"name": name});
            if let Some(e) = expires_days(expires.as_deref())? {
                body["expires_in_days"] = e;
            }
            if !permissions.is_empty() {
                body["permissions"] = json!(permissions);
            }
            let (_, v) = s.call(Method::POST, "/api/api-keys", Some(body)).await?;
            print_created(&v, json_out)
        }
        ApiKeysCommand::List => {
            let keys = s.list_all("/api/api-keys").await?;
            if json_out {
                return print_json(&Value::Array(keys));
            }
            let mut table = Table::new(&[
                "ID",
                "NAME",
                "PREFIX",
                "STATUS",
                "EXPIRES",
                "LAST USED",
                "PERMISSIONS",
            ])
            .shorten(&["NAME"]);
            for k in &keys {
                table.row(&[
                    text(k, "id", ""),
                    text(k, "name", ""),
                    text(k, "display_prefix", ""),
                    status(k),
                    text(k, "expires_at", "never"),
                    text(k, "last_used_at", "never"),
                    &words(&k["permissions"]),
                ]);
            }
            table.print()
        }
        ApiKeysCommand::Show { key } => {
            let id = find(&s, key).await?;
            let (_, v) = s
                .call(Method::GET, &format!("/api/api-keys/{id}"), None)
                .await?;
            if json_out {
                return print_json(&v);
            }
            print_key(&v)
        }
        ApiKeysCommand::Disable { key } | ApiKeysCommand::Enable { key } => {
            let verb = if matches!(cmd, ApiKeysCommand::Disable { .. }) {
                "disable"
            } else {
                "enable"
            };
            let id = find(&s, key).await?;
            let (_, v) = s
                .call(Method::POST, &format!("/api/api-keys/{id}/{verb}"), None)
                .await?;
            if json_out {
                return print_json(&v);
            }
            outln!("{verb}d {id}")
        }
        ApiKeysCommand::Duplicate { key, name, expires } => {
            let id = find(&s, key).await?;
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if let Some(e) = expires_days(expires.as_deref())? {
                body["expires_in_days"] = e;
            }
            let (_, v) = s
                .call(
                    Method::POST,
                    &format!("/api/api-keys/{id}/duplicate"),
                    Some(body),
                )
                .await?;
            print_created(&v, json_out)
        }
        ApiKeysCommand::Delete { key } => {
            let id = find(&s, key).await?;
            s.call(Method::DELETE, &format!("/api/api-keys/{id}"), None)
                .await?;
            if json_out {
                return print_json(&json!({"id": id, "deleted": true}));
            }
            outln!("deleted {id}")
        }
    }
}

/// The id of the key named `key` (an id, or a unique name).
async fn find(s: &Session, key: &str) -> anyhow::Result<String> {
    let keys = s.list_all("/api/api-keys").await?;
    let id = resolve(&keys, key, "API key", "gatehouse api-keys list")?;
    Ok(path_segment(&id)?.to_owned())
}

/// A key's state as listings show it (shared with `gatehouse org keys`).
pub(super) fn status(k: &Value) -> &'static str {
    if !k["revoked_at"].is_null() {
        "revoked"
    } else if k["enabled"].as_bool().unwrap_or(false) {
        "enabled"
    } else {
        "disabled"
    }
}

fn print_key(v: &Value) -> anyhow::Result<()> {
    print_key_fields(
        v,
        &[
            ("id", "id"),
            ("name", "name"),
            ("prefix", "display_prefix"),
            ("created at", "created_at"),
            ("created by", "created_by"),
            ("expires at", "expires_at"),
            ("last used at", "last_used_at"),
            ("last used from", "last_used_ip"),
        ],
    )
}

/// One key as `show` prints it: `fields` as (label, JSON field), then its status and
/// permissions (shared with `gatehouse org keys show`).
pub(super) fn print_key_fields(v: &Value, fields: &[(&str, &str)]) -> anyhow::Result<()> {
    for (label, key) in fields {
        outln!("{label:<15} {}", safe(text(v, key, "-")))?;
    }
    outln!("{:<15} {}", "status", status(v))?;
    outln!("{:<15} {}", "permissions", words(&v["permissions"]))
}

fn print_created(v: &Value, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        print_json(v)?;
    } else {
        outln!("{}", text(v, "key", ""))?;
    }
    note!(
        "Created API key {:?} ({}), expires {}. This is the only time the key is shown: store it now.",
        safe(text(v, "name", "")),
        text(v, "id", ""),
        text(v, "expires_at", "never"),
    );
    Ok(())
}
