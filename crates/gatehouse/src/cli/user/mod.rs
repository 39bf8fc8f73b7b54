//! The user CLI: `login`, `logout`, `auth session`, `mfa status`, `api-keys …`,
//! `tokens …`, `ssh-keys …`, `ssh-private-keys …`, and `org …` for organisation admins. Credentials live in `~/.config/gatehouse/credentials.toml` (mode 0600);
//! `GATEHOUSE_TOKEN` or `GATEHOUSE_API_KEY` override them.
//!
//! # Layout
//! - `session.rs`: the stored credential, the authenticated connection, error wording.
//! - `login.rs`: `login` (with the 2-step verification code when asked), `logout`,
//!   `auth session`, `mfa status`.
//! - `api_keys.rs`, `tokens.rs`, `ssh_keys.rs`, `ssh_private_keys.rs`, `org.rs`: one command
//!   group each.
//! - Tables and `--json` are in `cli/output.rs`, shared with `gatehouse admin`.

pub mod api_keys;
pub mod credentials;
pub mod login;
pub mod org;
pub mod session;
pub mod ssh_keys;
pub mod ssh_private_keys;
pub mod tokens;

use anyhow::bail;
use serde_json::Value;

pub use api_keys::{ApiKeysCommand, api_keys};
pub use login::{LoginArgs, auth_session, login, logout, mfa_status};
pub use org::{OrgCommand, org};
pub use session::{Credentials, ServerArgs, Session, credentials_path, load_credentials};
pub use ssh_keys::{SshKeysCommand, ssh_keys};
pub use ssh_private_keys::{SshPrivateKeysCommand, ssh_private_keys};
pub use tokens::{TokensCommand, tokens};

use crate::cli::output::text;
use crate::cli::term::safe;

/// The id of the item in `items` whose id is `wanted`, or else whose name is `wanted`
/// (several with that name: they are listed and none is picked). `what` names the kind
/// of item, `list` the command that lists them.
pub fn resolve(items: &[Value], wanted: &str, what: &str, list: &str) -> anyhow::Result<String> {
    if items.iter().any(|i| text(i, "id", "") == wanted) {
        return Ok(wanted.to_owned());
    }
    let named: Vec<&Value> = items
        .iter()
        .filter(|i| text(i, "name", "") == wanted)
        .collect();
    match named.as_slice() {
        [one] => Ok(text(one, "id", "").to_owned()),
        [] => bail!(
            "no {what} has the id or name {:?} (see \"{list}\")",
            safe(wanted)
        ),
        many => {
            let ids: Vec<&str> = many.iter().map(|i| text(i, "id", "")).collect();
            bail!(
                "{} {what}s are named {:?}; give one of their ids: {}",
                many.len(),
                safe(wanted),
                ids.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_id_or_a_unique_name_picks_one_and_a_shared_name_lists_them() {
        let items = vec![
            json!({"id": "ak_1", "name": "ci"}),
            json!({"id": "ak_2", "name": "dup"}),
            json!({"id": "ak_3", "name": "dup"}),
        ];
        let pick = |w| super::resolve(&items, w, "API key", "gatehouse api-keys list");
        assert_eq!(pick("ak_3").expect("id"), "ak_3");
        assert_eq!(pick("ci").expect("name"), "ak_1");
        let err = pick("dup").expect_err("ambiguous").to_string();
        assert!(err.contains("ak_2") && err.contains("ak_3"), "{err}");
        assert!(pick("nope").is_err());
    }
}
