//! The store's error, and its one mapping into the domain error.

use std::sync::atomic::{AtomicU64, Ordering};

use gatehouse_core::Error as CoreError;

/// What can go wrong below the storage trait.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend we know.
    #[error("unsupported database URL scheme (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// A database error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A migration could not be applied.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// Which migration.
        version: i64,
        /// Why.
        source: sqlx::Error,
    },
    /// A backup could not be made or failed its check.
    #[error("backup failed: {0}")]
    Backup(String),
}

/// Known unique constraints and the message each conflict gets. SQLite reports
/// `table.column` instead of the constraint name, so both forms are listed.
const CONFLICTS: &[(&str, &str, &str)] = &[
    (
        "account_username_key",
        "account.username",
        "that username is already taken",
    ),
    (
        "org_name_key",
        "org.name",
        "an organisation with that name already exists",
    ),
    (
        "api_key_account_name_key",
        "api_key.name",
        "you already have an API key with that name",
    ),
    (
        "ssh_key_account_name_key",
        "ssh_key.name",
        "you already have an SSH key with that name",
    ),
    (
        "ssh_key_account_fingerprint_key",
        "ssh_key.fingerprint",
        "this SSH key is already on your account",
    ),
    (
        "ssh_private_key_account_name_key",
        "ssh_private_key.name",
        "you already have a stored SSH private key with that name",
    ),
    (
        "ssh_private_key_account_fingerprint_key",
        "ssh_private_key.fingerprint",
        "this SSH private key is already stored on your account",
    ),
];

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Sqlx(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                let constraint = db.constraint().unwrap_or_default();
                let message = db.message();
                let text = CONFLICTS
                    .iter()
                    .find(|(name, col, _)| constraint == *name || message.contains(col))
                    .map_or("that already exists", |(_, _, text)| text);
                CoreError::Conflict(text.to_owned())
            }
            StoreError::Sqlx(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed,
            ) => {
                tracing::error!(error = %e, "store unavailable");
                CoreError::Unavailable { retry_after: 5 }
            }
            other => CoreError::internal(other),
        }
    }
}

/// Converts any sqlx error straight into the domain error.
pub(crate) fn db(e: sqlx::Error) -> CoreError {
    let err: CoreError = StoreError::Sqlx(e).into();
    let counter = match err {
        CoreError::Conflict(_) => &FAILURES[0],
        CoreError::Unavailable { .. } => &FAILURES[1],
        _ => &FAILURES[2],
    };
    counter.fetch_add(1, Ordering::Relaxed);
    err
}

/// Failed operations since the start: conflicts, store unavailable, other.
static FAILURES: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// `stats` with the failure counts filled in.
pub(crate) fn with_counts(
    stats: gatehouse_core::store::PoolStats,
) -> gatehouse_core::store::PoolStats {
    gatehouse_core::store::PoolStats {
        conflicts: FAILURES[0].load(Ordering::Relaxed),
        unavailable: FAILURES[1].load(Ordering::Relaxed),
        failed: FAILURES[2].load(Ordering::Relaxed),
        ..stats
    }
}
