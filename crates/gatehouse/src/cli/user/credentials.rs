//! The stored credential: `~/.config/gatehouse/credentials.toml` (or under
//! `$XDG_CONFIG_HOME`), mode 0600 in a 0700 folder. Its secrets are `SecretString`s,
//! written out only into that file.

use std::path::PathBuf;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// What is stored after `gatehouse login`. `Debug` shows no secret (`SecretString`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Server URL.
    pub server: String,
    /// Pinned fingerprint, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// CA file, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// `session`, `token` or `api_key`.
    pub kind: String,
    /// The credential itself.
    #[serde(serialize_with = "expose")]
    pub secret: SecretString,
    /// The CSRF token of a session.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_option"
    )]
    pub csrf_token: Option<SecretString>,
    /// When the credential expires (RFC 3339), for clear messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

// The credentials file is the one place the secret is written out (mode 0600).
fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

fn expose_option<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(v) => s.serialize_str(v.expose_secret()),
        None => s.serialize_none(),
    }
}

/// The credentials file.
pub fn credentials_path() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("gatehouse/credentials.toml"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    Ok(PathBuf::from(home).join(".config/gatehouse/credentials.toml"))
}

/// Loads stored credentials, if any.
pub fn load_credentials() -> anyhow::Result<Option<Credentials>> {
    let path = credentials_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Stores credentials with mode 0600 in a 0700 folder.
pub fn save_credentials(c: &Credentials) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = credentials_path()?;
    let dir = path.parent().context("credentials path has no folder")?;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let text = zeroize::Zeroizing::new(toml::to_string(c)?);
    crate::tls::write_private(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_credentials_do_not_show_their_secret_in_debug() {
        let c = Credentials {
            server: "https://x".into(),
            fingerprint: None,
            ca_file: None,
            kind: "token".into(),
            secret: SecretString::from("very-secret-value"),
            csrf_token: Some(SecretString::from("csrf-secret-value")),
            expires_at: None,
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("csrf-secret"),
            "{shown}"
        );
        let text = toml::to_string(&c).expect("toml");
        let back: Credentials = toml::from_str(&text).expect("parse");
        assert_eq!(back.secret.expose_secret(), "very-secret-value");
        assert_eq!(
            back.csrf_token
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            Some("csrf-secret-value".to_owned())
        );
    }
}
