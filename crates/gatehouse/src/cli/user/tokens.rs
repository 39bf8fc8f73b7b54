//! `gatehouse tokens …`: make, list and revoke bearer tokens.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::session::{ServerArgs, Session, path_segment};
use crate::cli::out::{note, outln};
use crate::cli::output::{OutputArgs, Table, print_json, text, words};
use crate::cli::term::safe;

/// API body fields and the flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("expires_in_hours", "--hours"),
    ("name", "--name"),
    ("permissions", "--permission"),
    ("scopes", "--permission"),
];

/// `gatehouse tokens …`
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token and print it (once).
    Create {
        /// Lifetime in hours, 1–24 (default: your organisation's default).
        #[arg(long, value_name = "N")]
        hours: Option<u32>,
        /// A label.
        #[arg(long)]
        name: Option<String>,
        /// A permission to give it (repeatable; default: all of yours).
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
    },
    /// List your live tokens.
    List,
    /// Revoke a token (it stops working at once).
    Revoke {
        /// Token id.
        id: String,
    },
}

/// `gatehouse tokens …`
pub async fn tokens(
    server: &ServerArgs,
    output: &OutputArgs,
    cmd: &TokensCommand,
) -> anyhow::Result<()> {
    let json_out = output.is_json();
    let s = Session::open(server)?.with_flags(FLAGS);
    match cmd {
        TokensCommand::Create {
            hours,
            name,
            permissions,
        } => {
            let mut body = json!({});
            if let Some(h) = hours {
                body["expires_in_hours"] = json!(h);
            }
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if !permissions.is_empty() {
                body["permissions"] = json!(permissions);
            }
            let (_, v) = s.call(Method::POST, "/api/tokens", Some(body)).await?;
            if json_out {
                print_json(&v)?;
            } else {
                outln!("{}", text(&v, "token", ""))?;
            }
            note!(
                "Created token {:?} ({}), expires {}. This is the only time the token is shown: store it now.",
                safe(text(&v, "name", "")),
                text(&v, "id", ""),
                text(&v, "expires_at", "?"),
            );
            Ok(())
        }
        TokensCommand::List => {
            let list = s.list_all("/api/tokens").await?;
            if json_out {
                return print_json(&Value::Array(list));
            }
            let mut table =
                Table::new(&["ID", "NAME", "CREATED", "EXPIRES", "SCOPES"]).shorten(&["NAME"]);
            for t in &list {
                table.row(&[
                    text(t, "id", ""),
                    text(t, "name", ""),
                    text(t, "created_at", ""),
                    text(t, "expires_at", ""),
                    &words(&t["scopes"]),
                ]);
            }
            table.print()
        }
        TokensCommand::Revoke { id } => {
            s.call(
                Method::DELETE,
                &format!("/api/tokens/{}", path_segment(id)?),
                None,
            )
            .await?;
            if json_out {
                return print_json(&json!({"id": id, "revoked": true}));
            }
            outln!("revoked {id}")
        }
    }
}
