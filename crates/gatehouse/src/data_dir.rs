//! The data folder and what rests in it (the SQLite database and its `-wal`/`-shm`
//! files, the master key, the TLS key) belong to the service's user alone. Every command
//! that opens the folder goes through [`open_store`], which checks and tightens it first.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use gatehouse_core::store::Store;

use crate::config::Config;

/// Makes files this process creates private to its user, whatever umask it was started
/// with (the process entry points call this before touching the data folder).
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Secures the data folder, opens the store, and makes the database files private.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    secure_folder(&config.server.data_dir)?;
    let url = config.database_url();
    let store = gatehouse_store::open(&url)
        .await
        .context("opening the store")?;
    if let Some(db) = sqlite_file(&url) {
        // SQLite creates the database (and later its -wal and -shm, with the database's
        // mode) as the umask allows; an older install may have left them readable.
        for path in [db.clone(), suffixed(&db, "-wal"), suffixed(&db, "-shm")] {
            make_private(&path, 0o600)?;
        }
    }
    Ok(store)
}

/// Creates the folder (mode 0700) or checks an existing one: it must be ours and not
/// writable by anyone else; wider read access is taken away. Its `tls` folder too.
pub fn secure_folder(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data folder {}", dir.display()))?;
    let meta =
        std::fs::metadata(dir).with_context(|| format!("reading data folder {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("data folder {} is not a folder", dir.display());
    }
    let me = rustix::process::geteuid().as_raw();
    // SECURITY: a folder someone else owns or can write to could be swapped for one of
    // their choosing (a planted master key or database); refuse rather than trust it.
    if meta.uid() != me {
        bail!(
            "data folder {} is owned by {} (uid {}), not by the user running Gatehouse ({}, uid {me}); \
             run Gatehouse as the folder's owner, or \"chown\" the folder to this user",
            dir.display(),
            user_name(meta.uid()),
            meta.uid(),
            user_name(me),
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        bail!(
            "data folder {} is writable by other users (mode {mode:04o}); run \"chmod 700 {}\"",
            dir.display(),
            dir.display()
        );
    }
    make_private(dir, 0o700)?;
    make_private(&dir.join("tls"), 0o700)
}

/// Sets `mode` on `path` if it exists and allows more than that (logged once per fix).
fn make_private(path: &Path, mode: u32) -> anyhow::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let current = meta.permissions().mode() & 0o777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("making {} private", path.display()))?;
        tracing::info!(
            path = %path.display(),
            from = format!("{current:04o}"),
            to = format!("{mode:04o}"),
            "made private"
        );
    }
    Ok(())
}

/// The database file of a `sqlite:` URL (`None` for other backends and in-memory ones).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The login name of `uid` from `/etc/passwd`, or `?`.
fn user_name(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse::<u32>().ok()?;
            (id == uid).then(|| name.to_owned())
        })
        .next()
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/g/gatehouse.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/g/gatehouse.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://./data/gatehouse.db"),
            Some(PathBuf::from("./data/gatehouse.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres:///g?host=/run"), None);
    }

    #[test]
    fn a_new_folder_is_0700_and_an_open_one_is_tightened() {
        let root = tempfile::tempdir().expect("dir");
        let dir = root.path().join("a/data");
        secure_folder(&dir).expect("create");
        assert_eq!(mode(&dir), 0o700);

        std::fs::create_dir(dir.join("tls")).expect("tls");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(dir.join("tls"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        secure_folder(&dir).expect("tighten");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("tls")), 0o700);
    }

    #[test]
    fn a_folder_others_can_write_to_is_refused_with_the_fix() {
        let root = tempfile::tempdir().expect("dir");
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o770))
            .expect("chmod");
        let err = secure_folder(root.path()).expect_err("group-writable");
        assert!(err.to_string().contains("chmod 700"), "{err}");
        assert_eq!(mode(root.path()), 0o770, "left as it was");
    }
}
