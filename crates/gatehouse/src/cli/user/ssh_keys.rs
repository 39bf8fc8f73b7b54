//! `gatehouse ssh-keys …`: add, list, show and delete the SSH public keys that let one
//! log in to the clusters. A key is named by its id or by its (unique) name.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::resolve;
use super::session::{ServerArgs, Session, path_segment};
use crate::cli::out::outln;
use crate::cli::output::{OutputArgs, Table, print_json, text};
use crate::cli::term::safe;

/// API body fields and the flags that set them.
const FLAGS: &[(&str, &str)] = &[("name", "--name"), ("key", "--file")];

/// The largest file read as a public key.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// `gatehouse ssh-keys …`
#[derive(Debug, Subcommand)]
pub enum SshKeysCommand {
    /// Add a public key (the contents of a .pub file).
    Add {
        /// Name, unique among your keys.
        #[arg(long)]
        name: String,
        /// The public key file, e.g. ~/.ssh/id_ed25519.pub ("-" for standard input).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// List your keys.
    List,
    /// Print one key's authorized_keys line.
    Show {
        /// Key id or name.
        key: String,
    },
    /// Delete a key (it stops letting you log in).
    Delete {
        /// Key id or name.
        key: String,
    },
}

fn read_key_file(file: &PathBuf) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_KEY_FILE + 1)
            .read_to_string(&mut text)
            .context("reading the public key from standard input")?;
        if text.len() as u64 > MAX_KEY_FILE {
            bail!("standard input is too large to be a public key");
        }
        return Ok(text);
    }
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    if meta.len() > MAX_KEY_FILE {
        bail!("{} is too large to be a public key", file.display());
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// `gatehouse ssh-keys …`
pub async fn ssh_keys(
    server: &ServerArgs,
    output: &OutputArgs,
    cmd: &SshKeysCommand,
) -> anyhow::Result<()> {
    let json_out = output.is_json();
    let key_text = match cmd {
        SshKeysCommand::Add { file, .. } => Some(read_key_file(file)?),
        _ => None,
    };
    let s = Session::open(server)?.with_flags(FLAGS);
    match cmd {
        SshKeysCommand::Add { name, .. } => {
            let (_, v) = s
                .call(
                    Method::POST,
                    "/api/ssh-keys",
                    Some(json!({"name": name, "key": key_text.unwrap_or_default()})),
                )
                .await?;
            if json_out {
                return print_json(&v);
            }
            outln!(
                "added {} ({} {}) as {}",
                text(&v, "fingerprint", ""),
                text(&v, "key_type", ""),
                v["bits"],
                text(&v, "id", "")
            )
        }
        SshKeysCommand::List => {
            let keys = s.list_all("/api/ssh-keys").await?;
            if json_out {
                return print_json(&Value::Array(keys));
            }
            let mut table =
                Table::new(&["ID", "NAME", "TYPE", "FINGERPRINT", "ADDED"]).shorten(&["NAME"]);
            for k in &keys {
                table.row(&[
                    text(k, "id", ""),
                    text(k, "name", ""),
                    text(k, "key_type", ""),
                    text(k, "fingerprint", ""),
                    text(k, "created_at", ""),
                ]);
            }
            table.print()
        }
        SshKeysCommand::Show { key } => {
            let id = find(&s, key).await?;
            let (_, v) = s
                .call(Method::GET, &format!("/api/ssh-keys/{id}"), None)
                .await?;
            if json_out {
                return print_json(&v);
            }
            outln!("{}", safe(text(&v, "public_key", "")))
        }
        SshKeysCommand::Delete { key } => {
            let id = find(&s, key).await?;
            s.call(Method::DELETE, &format!("/api/ssh-keys/{id}"), None)
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
    let keys = s.list_all("/api/ssh-keys").await?;
    let id = resolve(&keys, key, "SSH key", "gatehouse ssh-keys list")?;
    Ok(path_segment(&id)?.to_owned())
}
