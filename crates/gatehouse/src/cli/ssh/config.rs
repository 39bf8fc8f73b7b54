//! The config file of `gatehouse ssh authorized-keys` (`/etc/gatehouse/ssh.toml`), and
//! the checks on it and on the files it names.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::files::read_trusted;
use crate::client::{Trust, normalize_fingerprint};

/// The default config file.
pub const DEFAULT_CONFIG: &str = "/etc/gatehouse/ssh.toml";

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
    /// How long the whole question to Gatehouse may take, answer included.
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
        // SECURITY: whoever can write this file chooses the server and so the keys that
        // log in; it must be root's or ours and not group- or world-writable. It may hold
        // the machine credential, so it is zeroised after parsing.
        let text = Zeroizing::new(read_trusted("the config file", path, false)?);
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

    /// How to trust the server; a CA file must be as protected as the config itself.
    pub fn trust(&self) -> anyhow::Result<Trust> {
        Ok(match (&self.server_fingerprint, &self.ca_file) {
            (Some(fp), None) => Trust::Fingerprint(normalize_fingerprint(fp)?),
            (None, Some(ca)) => {
                read_trusted("the CA file", ca, false)?;
                Trust::CaFile(ca.clone())
            }
            (None, None) => Trust::System,
            (Some(_), Some(_)) => bail!("set server_fingerprint or ca_file, not both"),
        })
    }

    /// The machine credential.
    pub fn api_key(&self) -> anyhow::Result<Zeroizing<String>> {
        match (&self.api_key, &self.api_key_file) {
            (Some(k), _) => Ok(Zeroizing::new(k.trim().to_owned())),
            (None, Some(path)) => {
                // SECURITY: the key can read every user's keys; others must not read it.
                let text = Zeroizing::new(read_trusted("the API key file", path, true)?);
                Ok(Zeroizing::new(text.trim().to_owned()))
            }
            (None, None) => bail!("no api_key"),
        }
    }

    /// The cache folder, when caching is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir
            .as_deref()
            .filter(|d| !d.as_os_str().is_empty() && self.cache_ttl_seconds > 0)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn write(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).expect("w");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn the_config_needs_https_and_one_credential() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ssh.toml");
        write(&path, "server = \"http://x\"\napi_key = \"k\"\n", 0o600);
        assert!(SshConfig::load(&path).is_err());
        write(&path, "server = \"https://x\"\n", 0o600);
        assert!(SshConfig::load(&path).is_err());
        write(
            &path,
            "server = \"https://x\"\napi_key = \"k\"\ncache_dir = \"/tmp/c\"\n",
            0o640,
        );
        let c = SshConfig::load(&path).expect("ok");
        assert_eq!(c.cache_ttl_seconds, 3600);
        assert_eq!(c.timeout_seconds, 5);
        assert!(
            !format!("{c:?}").contains("api_key: Some"),
            "Debug hides the key"
        );
    }

    #[test]
    fn a_writable_config_and_a_readable_key_file_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ssh.toml");
        let key = dir.path().join("key");
        let text = format!(
            "server = \"https://x\"\napi_key_file = \"{}\"\n",
            key.display()
        );
        write(&path, &text, 0o620);
        let e = SshConfig::load(&path).expect_err("group-writable");
        assert!(e.to_string().contains("config file"), "{e}");
        write(&path, &text, 0o640);
        let c = SshConfig::load(&path).expect("ok");
        write(&key, "gwk_secret\n", 0o640);
        assert_eq!(c.api_key().expect("key").as_str(), "gwk_secret");
        write(&key, "gwk_secret\n", 0o644);
        let e = c.api_key().expect_err("world-readable");
        assert!(e.to_string().contains("others may read it"), "{e}");
        assert!(!e.to_string().contains("gwk_secret"));
    }
}
