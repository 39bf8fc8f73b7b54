//! `gatehouse org …`: the admin panel from the command line, for owners and admins (or
//! an organisation key with the org scopes): the organisation's keys, its members, its
//! policy and its audit log export. Keys are named by id or unique name, members by
//! username.
//!
//! `keys.rs`, `members.rs` and `scim.rs` hold those command groups; this file the command
//! tree, the policy listing and the audit export.

mod keys;
mod members;
mod scim;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

pub use keys::OrgKeysCommand;
pub use members::OrgMembersCommand;
pub use scim::OrgScimCommand;

use super::session::{ServerArgs, Session};
use crate::cli::out::{note, outln};
use crate::cli::output::{OutputArgs, print_json, text, words};
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
    /// SCIM provisioning: the base URL, the SCIM Key's use, recent operations, group
    /// roles.
    Scim {
        /// The operation.
        #[command(subcommand)]
        command: OrgScimCommand,
    },
    /// Show the organisation's policy, with what each field does.
    Policy,
    /// Export the audit log to standard output (streamed), newest first.
    Audit(AuditArgs),
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
pub(super) fn with_query(path: &str, pairs: &[(&str, Option<&str>)]) -> anyhow::Result<String> {
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
        OrgCommand::Keys { command } => keys::run(&s, json_out, command).await,
        OrgCommand::Members { command } => members::run(&s, json_out, command).await,
        OrgCommand::Scim { command } => scim::run(&s, json_out, command).await,
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
