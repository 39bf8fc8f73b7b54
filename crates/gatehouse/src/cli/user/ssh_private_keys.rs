//! `gatehouse ssh-private-keys …`: upload, list, show, test and delete the SSH private
//! keys the platform signs with on one's behalf. A key is named by its id or its (unique)
//! name. Nothing here prints a private key: the server never returns one.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::resolve;
use super::session::{Refused, ServerArgs, Session, path_segment};
use crate::cli::out::outln;
use crate::cli::output::{OutputArgs, Table, print_json, text};
use crate::cli::prompt::read_secret;
use crate::cli::term::safe;

/// API body fields and the flags that set them.
const FLAGS: &[(&str, &str)] = &[
    ("name", "--name"),
    ("description", "--description"),
    ("private_key", "--file"),
];

/// The largest file sent: the server reads at most 16 KiB.
const MAX_KEY_FILE: u64 = 16 * 1024;

const API: &str = "/api/ssh-private-keys";

/// `gatehouse ssh-private-keys …`
#[derive(Debug, Subcommand)]
pub enum SshPrivateKeysCommand {
    /// Upload a private key file (OpenSSH or PEM). A passphrase-protected key is
    /// decrypted by the server with the passphrase, which is not stored.
    Add {
        /// Name, unique among your stored private keys.
        #[arg(long)]
        name: String,
        /// What the key is for (at most 500 characters).
        #[arg(long)]
        description: Option<String>,
        /// The private key file, e.g. ~/.ssh/id_ed25519.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// Read the key's passphrase from standard input (one line) instead of being
        /// asked for it at the terminal when the key needs one.
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// List your stored private keys (public halves and fingerprints).
    List,
    /// Show one key's details and public key line.
    Show {
        /// Key id or name.
        key: String,
    },
    /// Have Gatehouse connect to a host and sign in with a stored key (no command runs).
    /// The first test of a host shows its host key for you to confirm; it is pinned
    /// from then on, and a changed host key is refused.
    Test {
        /// Key id or name.
        key: String,
        /// The host to connect to.
        #[arg(long)]
        host: String,
        /// Its SSH port.
        #[arg(long, default_value_t = 22)]
        port: u16,
        /// The user to sign in as there.
        #[arg(long = "user", value_name = "USER")]
        username: String,
        /// The host key fingerprint (SHA256:…) you have checked and trust, for a host
        /// tested for the first time (otherwise you are asked at a terminal).
        #[arg(long, value_name = "FINGERPRINT")]
        trust: Option<String>,
    },
    /// Delete a stored private key.
    Delete {
        /// Key id or name.
        key: String,
    },
}

/// The key file's text, within the size the server reads.
fn read_key_file(file: &Path) -> anyhow::Result<SecretString> {
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    if meta.len() > MAX_KEY_FILE {
        bail!(
            "{} is too large to be a private key file (at most {MAX_KEY_FILE} bytes)",
            file.display()
        );
    }
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes))
        .with_context(|| format!("reading {}", file.display()))?;
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("{} is not a text key file", file.display()))?;
    Ok(SecretString::from(text.to_owned()))
}

/// Whether the server refused for want of (or a wrong) passphrase.
fn passphrase_refusal(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Refused>()
        .is_some_and(|r| r.field.as_deref() == Some("passphrase"))
}

/// `gatehouse ssh-private-keys …`
pub async fn ssh_private_keys(
    server: &ServerArgs,
    output: &OutputArgs,
    cmd: &SshPrivateKeysCommand,
) -> anyhow::Result<()> {
    let json_out = output.is_json();
    let s = Session::open(server)?.with_flags(FLAGS);
    match cmd {
        SshPrivateKeysCommand::Add {
            name,
            description,
            file,
            passphrase_stdin,
        } => {
            let key = read_key_file(file)?;
            let mut passphrase = if *passphrase_stdin {
                Some(read_secret("Passphrase: ", "passphrase")?)
            } else {
                None
            };
            let v = loop {
                let body = json!({
                    "name": name,
                    "description": description,
                    "private_key": key.expose_secret(),
                    "passphrase": passphrase.as_ref().map(|p| p.expose_secret()),
                });
                match s.call(Method::POST, API, Some(body)).await {
                    Ok((_, v)) => break v,
                    // Asked once, at a terminal, when the key turns out to need one.
                    Err(e) if passphrase.is_none() && passphrase_refusal(&e) => {
                        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                            bail!(
                                "{} is protected by a passphrase: pass --passphrase-stdin and \
                                 give it on standard input",
                                file.display()
                            );
                        }
                        let prompt =
                            format!("Passphrase for {}: ", safe(&file.display().to_string()));
                        passphrase = Some(read_secret(&prompt, "passphrase")?);
                    }
                    Err(e) => return Err(e),
                }
            };
            if json_out {
                return print_json(&v);
            }
            outln!(
                "stored {} ({}) as {}",
                text(&v, "fingerprint", ""),
                text(&v, "key_type", ""),
                text(&v, "id", "")
            )
        }
        SshPrivateKeysCommand::List => {
            let keys = s.list_all(API).await?;
            if json_out {
                return print_json(&Value::Array(keys));
            }
            let mut table =
                Table::new(&["ID", "NAME", "TYPE", "FINGERPRINT", "ADDED", "LAST USED"])
                    .shorten(&["NAME"]);
            for k in &keys {
                table.row(&[
                    text(k, "id", ""),
                    text(k, "name", ""),
                    text(k, "key_type", ""),
                    text(k, "fingerprint", ""),
                    text(k, "created_at", ""),
                    text(k, "last_used_at", "never"),
                ]);
            }
            table.print()
        }
        SshPrivateKeysCommand::Show { key } => {
            let id = find(&s, key).await?;
            let (_, v) = s.call(Method::GET, &format!("{API}/{id}"), None).await?;
            if json_out {
                return print_json(&v);
            }
            outln!("id:          {}", safe(text(&v, "id", "")))?;
            outln!("name:        {}", safe(text(&v, "name", "")))?;
            outln!("description: {}", safe(text(&v, "description", "")))?;
            outln!("type:        {}", safe(text(&v, "key_type", "")))?;
            outln!("fingerprint: {}", safe(text(&v, "fingerprint", "")))?;
            outln!("added:       {}", safe(text(&v, "created_at", "")))?;
            outln!("last used:   {}", safe(text(&v, "last_used_at", "never")))?;
            outln!("public key:  {}", safe(text(&v, "public_key", "")))
        }
        SshPrivateKeysCommand::Test {
            key,
            host,
            port,
            username,
            trust,
        } => {
            let id = find(&s, key).await?;
            test(&s, &id, host, *port, username, trust.clone(), json_out).await
        }
        SshPrivateKeysCommand::Delete { key } => {
            let id = find(&s, key).await?;
            s.call(Method::DELETE, &format!("{API}/{id}"), None).await?;
            if json_out {
                return print_json(&json!({"id": id, "deleted": true}));
            }
            outln!("deleted {id}")
        }
    }
}

/// The id of the key named `key` (an id, or a unique name).
async fn find(s: &Session, key: &str) -> anyhow::Result<String> {
    let keys = s.list_all(API).await?;
    let id = resolve(
        &keys,
        key,
        "SSH private key",
        "gatehouse ssh-private-keys list",
    )?;
    Ok(path_segment(&id)?.to_owned())
}

/// `gatehouse ssh-private-keys test`: exits non-zero unless the host accepted the key.
async fn test(
    s: &Session,
    id: &str,
    host: &str,
    port: u16,
    username: &str,
    mut trust: Option<String>,
    json_out: bool,
) -> anyhow::Result<()> {
    let path = format!("{API}/{id}/test");
    loop {
        let body =
            json!({"host": host, "port": port, "username": username, "trust_host_key": trust});
        match s.call(Method::POST, &path, Some(body)).await {
            Ok((_, v)) => {
                if json_out {
                    print_json(&v)?;
                } else {
                    outln!("{}", safe(text(&v, "message", "")))?;
                    if v["pinned"].as_bool() == Some(true) {
                        outln!(
                            "pinned host key {} for {}:{}",
                            safe(text(&v, "host_key_fingerprint", "")),
                            safe(host),
                            port
                        )?;
                    }
                }
                if v["result"].as_str() == Some("success") {
                    return Ok(());
                }
                bail!(
                    "the test did not succeed: {}",
                    text(&v, "result", "unknown")
                );
            }
            Err(e) => {
                let Some(r) = e.downcast_ref::<Refused>() else {
                    return Err(e);
                };
                if r.code.as_deref() != Some("host_key_unknown") || trust.is_some() {
                    return Err(e);
                }
                let fp = text(&r.body, "fingerprint", "").to_owned();
                let kind = text(&r.body, "key_type", "").to_owned();
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) || json_out {
                    bail!(
                        "the authenticity of {}:{port} can't be established; its {} key \
                         fingerprint is {}. If that is right, run again with --trust {}",
                        safe(host),
                        safe(&kind),
                        safe(&fp),
                        safe(&fp)
                    );
                }
                outln!(
                    "The authenticity of host {}:{port} can't be established.",
                    safe(host)
                )?;
                outln!("Its {} key fingerprint is {}.", safe(&kind), safe(&fp))?;
                if !crate::cli::prompt::confirm("Trust this host key and connect (yes/no)? ")? {
                    bail!("host key not trusted; nothing was pinned");
                }
                trust = Some(fp);
            }
        }
    }
}
