//! The master key file: created with mode 0600 on first start, refused when other
//! users could read it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, bail};
use gatehouse_core::seal::{Keyring, MasterKey};

/// Loads the master keys, creating the file with one new key if it does not exist.
pub fn load_or_generate(path: &Path) -> anyhow::Result<Keyring> {
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let key = MasterKey::generate();
        crate::tls::write_private(path, Keyring::file_text(&key).as_bytes())?;
        tracing::info!(path = %path.display(), id = key.id(), "master key created");
    }
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} is readable by other users; run \"chmod 600 {}\"",
            path.display(),
            path.display()
        );
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    Keyring::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_made_private_once_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sub/master.key");
        let first = load_or_generate(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = first.seal(b"x", "c").expect("seal");
        let again = load_or_generate(&path).expect("reuse");
        assert_eq!(again.active_id(), first.active_id());
        assert_eq!(again.open(&sealed, "c").expect("open").as_slice(), b"x");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = load_or_generate(&path).expect_err("too open");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
