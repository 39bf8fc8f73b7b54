//! Online backup of the SQLite store: `VACUUM INTO` writes a consistent, compacted copy
//! of the database while the server keeps serving (readers and the writer go on; the
//! copy is one read transaction), and the copy is checked before it is reported done.
//! PostgreSQL is backed up with its own tools (`pg_dump`), not here.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, Row};

use crate::StoreError;

/// What a finished backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The newest schema migration in the copy (a restore needs a binary that knows it).
    pub schema_version: i64,
    /// Accounts in the copy.
    pub accounts: i64,
    /// The copy's size in bytes.
    pub bytes: u64,
}

/// Copies the SQLite database at `url` into a new file at `dest` (which must not exist)
/// and verifies the copy: `PRAGMA integrity_check` and its schema version.
pub async fn backup_sqlite(url: &str, dest: &Path) -> Result<BackupSummary, StoreError> {
    if dest.exists() {
        return Err(StoreError::Backup(format!(
            "{} already exists; choose a new file name",
            dest.display()
        )));
    }
    let dest_str = dest
        .to_str()
        .ok_or_else(|| StoreError::Backup("the backup path is not valid UTF-8".into()))?;
    // Read-only: a backup never creates or migrates the database it copies.
    let source = SqliteConnectOptions::from_str(url)?
        .read_only(true)
        .create_if_missing(false);
    let mut conn = source.connect().await?;
    sqlx::query("VACUUM INTO $1")
        .bind(dest_str)
        .execute(&mut conn)
        .await?;
    conn.close().await?;

    let copy = SqliteConnectOptions::new()
        .filename(dest)
        .read_only(true)
        .journal_mode(SqliteJournalMode::Delete);
    let mut check = copy.connect().await?;
    let integrity: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut check)
        .await?
        .try_get(0)?;
    if integrity != "ok" {
        return Err(StoreError::Backup(format!(
            "the copy failed its integrity check: {integrity}"
        )));
    }
    let schema_version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migration")
        .fetch_one(&mut check)
        .await?
        .try_get(0)?;
    let accounts: i64 = sqlx::query("SELECT COUNT(*) FROM account")
        .fetch_one(&mut check)
        .await?
        .try_get(0)?;
    check.close().await?;
    let bytes = std::fs::metadata(dest)
        .map_err(|e| StoreError::Backup(format!("reading the copy: {e}")))?
        .len();
    Ok(BackupSummary {
        schema_version,
        accounts,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_copy_of_a_live_store_is_complete_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = crate::testing::fresh_sqlite_url(dir.path());
        let store = crate::SqliteStore::open(&url).await.expect("open");
        let dest = dir.path().join("copy.db");
        let summary = backup_sqlite(&url, &dest).await.expect("backup");
        assert_eq!(
            summary.schema_version,
            crate::sqlite::MIGRATIONS.len() as i64
        );
        assert!(summary.bytes > 0);
        // The copy opens as a store of its own, already migrated.
        let copy_url = format!("sqlite://{}", dest.display());
        crate::SqliteStore::open(&copy_url)
            .await
            .expect("copy opens");
        // An existing file is never overwritten.
        let again = backup_sqlite(&url, &dest).await;
        assert!(matches!(again, Err(StoreError::Backup(m)) if m.contains("already exists")));
        store.close().await;
    }

    #[tokio::test]
    async fn a_missing_database_is_not_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("absent.db").display());
        assert!(
            backup_sqlite(&url, &dir.path().join("copy.db"))
                .await
                .is_err()
        );
        assert!(!dir.path().join("absent.db").exists());
    }
}
