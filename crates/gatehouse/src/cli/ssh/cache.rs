//! The on-disk last good answer per user, served while Gatehouse is unreachable.
//!
//! One file per user, `<cache_dir>/<username>.keys`: a header line, the Unix time it was
//! written, and one authorized_keys line per key as re-serialised by the public-key
//! parser. Every line is parsed again when read, so an edited file cannot add options.
//!
//! The cache stands in for Gatehouse, so it gets Gatehouse's trust only if no one else
//! could have written it: the folder and the file must be owned by root or by the
//! command's user, not be writable by group or others, and not be symbolic links. The
//! folder is created 0700; a new answer is written to a fresh temporary file
//! (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600) and renamed over the old one.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use gatehouse_core::ssh::SshPublicKey;

use super::files::{check_owner_and_mode, nofollow, open_nofollow, read_bounded};

const HEADER: &str = "# gatehouse authorized-keys cache v2";

fn cache_file(dir: &Path, username: &str) -> PathBuf {
    dir.join(format!("{username}.keys"))
}

fn now() -> u64 {
    let now = gatehouse_core::clock::Clock::now(&gatehouse_core::clock::SystemClock);
    u64::try_from(now.unix_timestamp()).unwrap_or(0)
}

/// Checks the folder; creates it (0700) first when `create` is set. `Ok(false)`: absent.
fn check_dir(dir: &Path, create: bool) -> anyhow::Result<bool> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            std::fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    if meta.file_type().is_symlink() {
        bail!(
            "refusing the cache folder {}: it is a symbolic link",
            dir.display()
        );
    }
    if !meta.is_dir() {
        bail!(
            "refusing the cache folder {}: not a directory",
            dir.display()
        );
    }
    check_owner_and_mode("the cache folder", dir, &meta)?;
    Ok(true)
}

/// Writes the answer atomically (temporary file, then rename), readable only by us.
pub fn write(dir: &Path, username: &str, keys: &[SshPublicKey]) -> anyhow::Result<()> {
    check_dir(dir, true)?;
    let mut text = format!("{HEADER}\n{}\n", now());
    for key in keys {
        text.push_str(&key.authorized_keys_line());
        text.push('\n');
    }
    let target = cache_file(dir, username);
    let tmp = dir.join(format!(
        ".{username}.{}.{}.tmp",
        std::process::id(),
        gatehouse_core::secret::random_token::<6>()
    ));
    // SECURITY: a fresh name, O_EXCL and O_NOFOLLOW: a file or link planted at this name
    // makes the open fail instead of redirecting the write.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let written = f
        .write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &target));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("replacing {}", target.display()));
    }
    Ok(())
}

/// The kept answer, if there is one younger than `ttl`. An error means a cache that is
/// there but must not be trusted.
pub fn read(
    dir: &Path,
    username: &str,
    ttl: Duration,
) -> anyhow::Result<Option<Vec<SshPublicKey>>> {
    if !check_dir(dir, false)? {
        return Ok(None);
    }
    let path = cache_file(dir, username);
    let file = match open_nofollow("the cache file", &path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "refusing the cache file {}: not a regular file",
            path.display()
        );
    }
    check_owner_and_mode("the cache file", &path, &meta)?;
    let text = read_bounded(file, &path)?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Ok(None);
    }
    let Some(written) = lines.next().and_then(|l| l.parse::<u64>().ok()) else {
        return Ok(None);
    };
    let now = now();
    if now.saturating_sub(written) > ttl.as_secs() || written > now + 60 {
        return Ok(None);
    }
    lines
        .map(|l| {
            SshPublicKey::parse(l).map_err(|e| {
                anyhow::anyhow!(
                    "refusing the cache file {}: a line is not a plain public key ({e})",
                    path.display()
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5k693GmFVm5+JuEouDSdrqMWHN58JxKPVKUSkWfM9K a@b";

    fn keys() -> Vec<SshPublicKey> {
        vec![SshPublicKey::parse(ED25519).expect("key")]
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn the_cache_round_trips_and_expires() {
        let dir = tempfile::tempdir().expect("dir");
        write(dir.path(), "alice", &keys()).expect("write");
        let ttl = Duration::from_secs(60);
        let back = read(dir.path(), "alice", ttl).expect("ok").expect("some");
        assert_eq!(back[0].authorized_keys_line(), ED25519);
        assert!(read(dir.path(), "bob", ttl).expect("ok").is_none());
        // Age the file: an answer older than the TTL is not served.
        let path = cache_file(dir.path(), "alice");
        let text = std::fs::read_to_string(&path).expect("read");
        let aged = text.replacen(text.lines().nth(1).expect("ts"), "1000", 1);
        std::fs::write(&path, aged).expect("write");
        assert!(read(dir.path(), "alice", ttl).expect("ok").is_none());
        std::fs::write(&path, "garbage").expect("write");
        assert!(read(dir.path(), "alice", ttl).expect("ok").is_none());
    }

    #[test]
    fn the_folder_is_created_private_and_files_are_0600() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("a/cache");
        write(&dir, "alice", &keys()).expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&cache_file(&dir, "alice")), 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(&dir).expect("ls").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_writable_folder_a_symlinked_folder_or_file_and_edited_lines_are_refused() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("cache");
        write(&dir, "alice", &keys()).expect("write");
        let ttl = Duration::from_secs(60);

        set_mode(&dir, 0o770);
        let e = read(&dir, "alice", ttl).expect_err("group-writable folder");
        assert!(e.to_string().contains("cache folder"), "{e}");
        assert!(write(&dir, "alice", &keys()).is_err());
        set_mode(&dir, 0o700);

        let link = root.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        let e = read(&link, "alice", ttl).expect_err("symlinked folder");
        assert!(e.to_string().contains("symbolic link"), "{e}");

        let file = cache_file(&dir, "alice");
        std::fs::rename(&file, root.path().join("real")).expect("mv");
        std::os::unix::fs::symlink(root.path().join("real"), &file).expect("symlink");
        let e = read(&dir, "alice", ttl).expect_err("symlinked file");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A new answer replaces the link itself, never what it points to.
        write(&dir, "alice", &[]).expect("write");
        assert!(
            !std::fs::symlink_metadata(&file)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::read_to_string(root.path().join("real"))
                .expect("r")
                .contains(ED25519)
        );

        let text = format!("{HEADER}\n{}\ncommand=\"/bin/sh\" {ED25519}\n", now());
        std::fs::write(&file, text).expect("write");
        let e = read(&dir, "alice", ttl).expect_err("an option");
        assert!(e.to_string().contains("not a plain public key"), "{e}");

        write(&dir, "alice", &keys()).expect("write");
        set_mode(&file, 0o620);
        let e = read(&dir, "alice", ttl).expect_err("group-writable file");
        assert!(e.to_string().contains("may write it"), "{e}");
    }
}
