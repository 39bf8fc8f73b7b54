//! `gatehouse ssh authorized-keys USERNAME [--fingerprint FP]`: the program a cluster's
//! sshd runs as its `AuthorizedKeysCommand`.
//!
//! It prints one authorized_keys line per active key of the user, and nothing else. It
//! asks Gatehouse with a machine credential (an API key holding `ssh_keys:read_all`) read
//! from a small config file, and keeps the last good answer per user on disk: while
//! Gatehouse cannot be reached (connection failure, timeout, 5xx) that answer is served for
//! up to `cache_ttl_seconds`. Without a usable cache it fails closed: no output, within
//! `timeout_seconds`, so sshd is never left hanging. A definite refusal (401/403) is not an
//! outage and never falls back to the cache. Malformed usernames get no output at all and
//! never reach the network or the file system.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use gatehouse_core::account::Username;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::client::{Trust, http_client_with_timeout, normalize_fingerprint};

/// The default config file.
pub const DEFAULT_CONFIG: &str = "/etc/gatehouse/ssh.toml";

/// `gatehouse ssh …`
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    /// Print the authorized_keys lines of USERNAME (for sshd's AuthorizedKeysCommand,
    /// e.g. `AuthorizedKeysCommand /usr/local/bin/gatehouse ssh authorized-keys %u
    /// --fingerprint %f`).
    AuthorizedKeys {
        /// The login name sshd is authenticating (`%u`).
        username: String,
        /// Print only the key with this fingerprint (`%f`, `SHA256:…`).
        #[arg(long, value_name = "FP")]
        fingerprint: Option<String>,
        /// The config file (server, machine credential, cache).
        #[arg(long, env = "GATEHOUSE_SSH_CONFIG", value_name = "FILE", default_value = DEFAULT_CONFIG)]
        ssh_config: PathBuf,
    },
}

/// The config file of `gatehouse ssh authorized-keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// Gatehouse's URL (`https://…`).
    pub server: String,
    /// Pin Gatehouse's certificate (`SHA256:…` as printed by `gatehouse serve`).
    #[serde(default)]
    pub server_fingerprint: Option<String>,
    /// Or trust this CA (PEM).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The machine credential inline…
    #[serde(default)]
    pub api_key: Option<String>,
    /// …or in its own file.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Where the last good answers are kept ("" or absent: no cache).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// How long a kept answer may be served during an outage.
    #[serde(default = "default_ttl")]
    pub cache_ttl_seconds: u64,
    /// How long to wait for Gatehouse.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_ttl() -> u64 {
    3600
}

fn default_timeout() -> u64 {
    5
}

impl std::fmt::Debug for SshConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConfig")
            .field("server", &self.server)
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl SshConfig {
    /// Reads and checks the file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let c: SshConfig =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if !c.server.starts_with("https://") {
            bail!("{}: server must start with https://", path.display());
        }
        if c.api_key.is_some() == c.api_key_file.is_some() {
            bail!(
                "{}: set exactly one of api_key and api_key_file",
                path.display()
            );
        }
        Ok(c)
    }

    fn trust(&self) -> anyhow::Result<Trust> {
        Ok(match (&self.server_fingerprint, &self.ca_file) {
            (Some(fp), None) => Trust::Fingerprint(normalize_fingerprint(fp)?),
            (None, Some(ca)) => Trust::CaFile(ca.clone()),
            (None, None) => Trust::System,
            (Some(_), Some(_)) => bail!("set server_fingerprint or ca_file, not both"),
        })
    }

    fn api_key(&self) -> anyhow::Result<Zeroizing<String>> {
        match (&self.api_key, &self.api_key_file) {
            (Some(k), _) => Ok(Zeroizing::new(k.trim().to_owned())),
            (None, Some(path)) => Ok(Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .trim()
                    .to_owned(),
            )),
            (None, None) => bail!("no api_key"),
        }
    }

    fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir
            .as_deref()
            .filter(|d| !d.as_os_str().is_empty() && self.cache_ttl_seconds > 0)
    }
}

/// Runs `gatehouse ssh …`. Errors go to stderr (sshd logs them); stdout carries only keys.
pub async fn run(cmd: &SshCommand) -> anyhow::Result<()> {
    let SshCommand::AuthorizedKeys {
        username,
        fingerprint,
        ssh_config,
    } = cmd;
    // SECURITY: only canonical account names go further (no `../x`, `alice;id`, case
    // variants or 300-character names); anything else is "no keys".
    let Ok(name) = Username::parse(username) else {
        eprintln!("gatehouse: not a Gatehouse username; no keys");
        return Ok(());
    };
    if name.as_str() != username {
        eprintln!("gatehouse: not a canonical Gatehouse username; no keys");
        return Ok(());
    }
    let config = SshConfig::load(ssh_config)?;
    let lines = match fetch(&config, name.as_str()).await {
        Ok(lines) => {
            if let Some(dir) = config.cache_dir()
                && let Err(e) = write_cache(dir, name.as_str(), &lines)
            {
                eprintln!("gatehouse: cannot update the cache: {e:#}");
            }
            lines
        }
        Err(Failure::Refused(e)) => return Err(e),
        Err(Failure::Unreachable(e)) => {
            let cached = config.cache_dir().and_then(|dir| {
                read_cache(
                    dir,
                    name.as_str(),
                    Duration::from_secs(config.cache_ttl_seconds),
                )
            });
            match cached {
                Some(lines) => {
                    eprintln!("gatehouse: {e:#}; serving the cached answer");
                    lines
                }
                None => return Err(e.context("no cached answer; refusing (fail closed)")),
            }
        }
    };
    // An empty `%f` (no key offered yet) means every key.
    let wanted = fingerprint
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let mut out = std::io::stdout().lock();
    for (line, fp) in &lines {
        if wanted.is_none_or(|w| w == fp) {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(())
}

enum Failure {
    /// Gatehouse answered no (bad credential, bad request): never use the cache.
    Refused(anyhow::Error),
    /// Gatehouse could not be reached or failed: the cache may stand in.
    Unreachable(anyhow::Error),
}

/// A key line and its fingerprint.
type KeyLine = (String, String);

async fn fetch(config: &SshConfig, username: &str) -> Result<Vec<KeyLine>, Failure> {
    let timeout = Duration::from_secs(config.timeout_seconds.max(1));
    let client = http_client_with_timeout(&config.trust().map_err(Failure::Refused)?, timeout)
        .map_err(Failure::Refused)?;
    let key = config.api_key().map_err(Failure::Refused)?;
    let url = format!(
        "{}/api/ssh/authorized-keys/{username}",
        config.server.trim_end_matches('/')
    );
    let res = client
        .get(url)
        .basic_auth(key.as_str(), Some(""))
        .send()
        .await
        .map_err(|e| Failure::Unreachable(anyhow::anyhow!("cannot reach Gatehouse: {e}")))?;
    let status = res.status();
    if status.is_server_error() {
        return Err(Failure::Unreachable(anyhow::anyhow!(
            "Gatehouse answered HTTP {}",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(Failure::Refused(anyhow::anyhow!(
            "Gatehouse refused the request (HTTP {}); check the machine credential in the config file",
            status.as_u16()
        )));
    }
    let body: serde_json::Value = res
        .json()
        .await
        .map_err(|e| Failure::Unreachable(anyhow::anyhow!("unreadable answer: {e}")))?;
    let keys = body["keys"]
        .as_array()
        .ok_or_else(|| Failure::Unreachable(anyhow::anyhow!("unexpected answer")))?;
    Ok(keys
        .iter()
        .filter_map(|k| Some((k["line"].as_str()?, k["fingerprint"].as_str()?)))
        // Belt and braces: one line each, whatever the server sent.
        .filter(|(line, _)| !line.is_empty() && !line.chars().any(char::is_control))
        .map(|(l, f)| (l.to_owned(), f.to_owned()))
        .collect())
}

const CACHE_HEADER: &str = "# gatehouse authorized-keys cache v1";

fn cache_file(dir: &Path, username: &str) -> PathBuf {
    dir.join(format!("{username}.keys"))
}

/// Writes the answer atomically (temporary file, then rename), readable only by us.
fn write_cache(dir: &Path, username: &str, lines: &[KeyLine]) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut text = format!("{CACHE_HEADER}\n{now}\n");
    for (line, fp) in lines {
        text.push_str(&format!("{fp}\t{line}\n"));
    }
    let target = cache_file(dir, username);
    let tmp = dir.join(format!(".{username}.{}.tmp", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &target).with_context(|| format!("replacing {}", target.display()))?;
    Ok(())
}

/// The kept answer, if younger than `ttl`.
fn read_cache(dir: &Path, username: &str, ttl: Duration) -> Option<Vec<KeyLine>> {
    let text = std::fs::read_to_string(cache_file(dir, username)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != CACHE_HEADER {
        return None;
    }
    let written: u64 = lines.next()?.parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    if now.saturating_sub(written) > ttl.as_secs() || written > now + 60 {
        return None;
    }
    lines
        .map(|l| {
            l.split_once('\t')
                .map(|(fp, line)| (line.to_owned(), fp.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_round_trips_and_expires() {
        let dir = tempfile::tempdir().expect("dir");
        let lines = vec![
            ("ssh-ed25519 AAAA a@b".to_owned(), "SHA256:x".to_owned()),
            ("ssh-rsa BBBB".to_owned(), "SHA256:y".to_owned()),
        ];
        write_cache(dir.path(), "alice", &lines).expect("write");
        assert_eq!(
            read_cache(dir.path(), "alice", Duration::from_secs(60)),
            Some(lines)
        );
        assert_eq!(read_cache(dir.path(), "bob", Duration::from_secs(60)), None);
        // Age the file: an answer older than the TTL is not served.
        let path = cache_file(dir.path(), "alice");
        let text = std::fs::read_to_string(&path).expect("read");
        let aged = text.replacen(text.lines().nth(1).expect("ts"), "1000", 1);
        std::fs::write(&path, aged).expect("write");
        assert_eq!(
            read_cache(dir.path(), "alice", Duration::from_secs(60)),
            None
        );
        std::fs::write(&path, "garbage").expect("write");
        assert_eq!(
            read_cache(dir.path(), "alice", Duration::from_secs(60)),
            None
        );
    }

    #[test]
    fn the_config_needs_https_and_one_credential() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ssh.toml");
        std::fs::write(&path, "server = \"http://x\"\napi_key = \"k\"\n").expect("w");
        assert!(SshConfig::load(&path).is_err());
        std::fs::write(&path, "server = \"https://x\"\n").expect("w");
        assert!(SshConfig::load(&path).is_err());
        std::fs::write(
            &path,
            "server = \"https://x\"\napi_key = \"k\"\ncache_dir = \"/tmp/c\"\n",
        )
        .expect("w");
        let c = SshConfig::load(&path).expect("ok");
        assert_eq!(c.cache_ttl_seconds, 3600);
        assert_eq!(c.timeout_seconds, 5);
        assert!(
            !format!("{c:?}").contains("api_key: Some"),
            "Debug hides the key"
        );
    }
}
