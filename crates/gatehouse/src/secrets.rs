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
    load(path)
}

/// Loads the master keys from an existing file (refused when other users could read it).
pub fn load(path: &Path) -> anyhow::Result<Keyring> {
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

/// Replaces the key file with `ring` at once (written beside it, mode 0600, then
/// renamed over it), so a node re-reading it never sees half a file.
pub fn save(path: &Path, ring: &Keyring) -> anyhow::Result<()> {
    let tmp = path.with_extension("key.new");
    crate::tls::write_private(&tmp, ring.to_file_text().as_bytes())?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// The master keys for a running core: re-read from `path` when a sealed value names a
/// key not held yet (after `gatehouse admin rotate-master-key`, here or on another node).
pub fn reloading(path: &Path, ring: Keyring) -> gatehouse_core::seal::MasterKeys {
    let path = path.to_path_buf();
    gatehouse_core::seal::MasterKeys::reloading(ring, move || {
        load(&path).map_err(|e| gatehouse_core::Error::internal(format!("{e:#}")))
    })
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

        let rotated = again.with_active(MasterKey::generate());
        save(&path, &rotated).expect("save");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "still private after a rotation");
        let reread = load(&path).expect("reread");
        assert_eq!(reread.active_id(), rotated.active_id());
        assert_eq!(
            reread
                .open(&sealed, "c")
                .expect("old key still opens")
                .as_slice(),
            b"x"
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = load_or_generate(&path).expect_err("too open");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
