//! Who may have written the files `gatehouse ssh authorized-keys` trusts.
//!
//! The command decides who may log in to a cluster, so everything it reads must be out of
//! reach of other local users: a file they can write (the config, the CA file, a cached
//! answer) could name their own key, and a machine credential they can read lets them ask
//! Gatehouse for anyone's keys. sshd applies the same rule to the command itself.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};

/// Largest file the command reads (config, key, CA, cache).
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// The user the command runs as (`AuthorizedKeysCommandUser`).
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Refuses `meta` unless it is owned by root or by the command's user, and neither its
/// group nor others may write it.
pub fn check_owner_and_mode(what: &str, path: &Path, meta: &Metadata) -> anyhow::Result<()> {
    let uid = meta.uid();
    if uid != 0 && uid != euid() {
        bail!(
            "refusing {what} {}: it is owned by uid {uid}, not by root or the user this command runs as (uid {}); chown it",
            path.display(),
            euid()
        );
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        bail!(
            "refusing {what} {}: group or others may write it (mode {mode:04o}); chmod go-w it",
            path.display()
        );
    }
    Ok(())
}

/// Opens `path` without following a final symlink (`O_NOFOLLOW`).
pub fn open_nofollow(what: &str, path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                std::io::Error::other(format!(
                    "refusing {what} {}: it is a symbolic link",
                    path.display()
                ))
            } else {
                e
            }
        })
}

/// The `O_NOFOLLOW` flag for [`OpenOptionsExt::custom_flags`].
pub fn nofollow() -> i32 {
    // The flag is a small positive constant; the conversion cannot fail on Linux.
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

/// Reads a regular file that passes [`check_owner_and_mode`], checking the open handle
/// (so the file checked is the file read), at most [`MAX_FILE_BYTES`].
pub fn read_trusted(what: &str, path: &Path, private: bool) -> anyhow::Result<String> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        bail!("refusing {what} {}: not a regular file", path.display());
    }
    check_owner_and_mode(what, path, &meta)?;
    if private && meta.permissions().mode() & 0o004 != 0 {
        bail!(
            "refusing {what} {}: others may read it (mode {:04o}); chmod o-r it",
            path.display(),
            meta.permissions().mode() & 0o7777
        );
    }
    read_bounded(file, path)
}

/// Reads at most [`MAX_FILE_BYTES`] of `file`, as UTF-8.
pub fn read_bounded(file: File, path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        bail!(
            "refusing {}: larger than {MAX_FILE_BYTES} bytes",
            path.display()
        );
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn group_or_world_writable_files_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        std::fs::write(&path, "x").expect("write");
        set_mode(&path, 0o644);
        assert_eq!(
            read_trusted("the file", &path, false).ok().as_deref(),
            Some("x")
        );
        for mode in [0o664, 0o646, 0o666] {
            set_mode(&path, mode);
            let e = read_trusted("the file", &path, false).expect_err("refused");
            assert!(e.to_string().contains("may write it"), "{mode:o}: {e}");
        }
    }

    #[test]
    fn private_files_readable_by_others_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key");
        std::fs::write(&path, "k").expect("write");
        set_mode(&path, 0o640);
        assert!(read_trusted("the key", &path, true).is_ok());
        set_mode(&path, 0o604);
        let e = read_trusted("the key", &path, true).expect_err("refused");
        assert!(e.to_string().contains("others may read it"), "{e}");
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("target");
        std::fs::write(&target, "x").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let e = open_nofollow("the cache file", &link).expect_err("refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(open_nofollow("the cache file", &target).is_ok());
    }
}
