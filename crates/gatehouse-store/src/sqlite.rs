//! The SQLite backend: one file in WAL mode, the embedded default.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::StoreError;
use crate::migrate::{Migration, run_migrations};

type DbOf = sqlx::Sqlite;

/// One node, one cache: nothing to wake.
const NOTIFY_SQL: Option<&str> = None;

/// Migrations, in order; file names match `migrations/postgres/` (a test checks).
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_accounts_sessions.sql",
        sql: include_str!("../migrations/sqlite/0001_accounts_sessions.sql"),
    },
    Migration {
        version: 2,
        name: "0002_api_keys.sql",
        sql: include_str!("../migrations/sqlite/0002_api_keys.sql"),
    },
    Migration {
        version: 3,
        name: "0003_tokens.sql",
        sql: include_str!("../migrations/sqlite/0003_tokens.sql"),
    },
    Migration {
        version: 4,
        name: "0004_ssh_keys.sql",
        sql: include_str!("../migrations/sqlite/0004_ssh_keys.sql"),
    },
    Migration {
        version: 5,
        name: "0005_invalidations.sql",
        sql: include_str!("../migrations/sqlite/0005_invalidations.sql"),
    },
    Migration {
        version: 6,
        name: "0006_credential_chain.sql",
        sql: include_str!("../migrations/sqlite/0006_credential_chain.sql"),
    },
    Migration {
        version: 7,
        name: "0007_mfa.sql",
        sql: include_str!("../migrations/sqlite/0007_mfa.sql"),
    },
    Migration {
        version: 8,
        name: "0008_webauthn.sql",
        sql: include_str!("../migrations/sqlite/0008_webauthn.sql"),
    },
    Migration {
        version: 9,
        name: "0009_ssh_private_keys.sql",
        sql: include_str!("../migrations/sqlite/0009_ssh_private_keys.sql"),
    },
    Migration {
        version: 10,
        name: "0010_ssh_known_hosts.sql",
        sql: include_str!("../migrations/sqlite/0010_ssh_known_hosts.sql"),
    },
    Migration {
        version: 11,
        name: "0011_organisations.sql",
        sql: include_str!("../migrations/sqlite/0011_organisations.sql"),
    },
    Migration {
        version: 12,
        name: "0012_admin_panel.sql",
        sql: include_str!("../migrations/sqlite/0012_admin_panel.sql"),
    },
    Migration {
        version: 13,
        name: "0013_scim.sql",
        sql: include_str!("../migrations/sqlite/0013_scim.sql"),
    },
];

/// A SQLite-backed store.
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and migrates it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // SECURITY/durability: FULL syncs the WAL at each commit, so an
            // acknowledged write survives a crash or power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        let mut conn = pool.acquire().await?;
        // BEGIN IMMEDIATE takes the write lock, so two processes never migrate at once.
        run_migrations(&mut *conn, MIGRATIONS, "BEGIN IMMEDIATE").await?;
        drop(conn);
        Ok(SqliteStore { pool })
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// SQLite serves one node, which applies its own changes at once: no feed.
    async fn open_change_feed(
        _pool: &SqlitePool,
    ) -> gatehouse_core::Result<Option<Box<dyn gatehouse_core::store::ChangeFeed>>> {
        Ok(None)
    }
}

crate::sql::impl_store!(SqliteStore);
crate::accounts::impl_account_store!(SqliteStore);
crate::orgs::impl_org_store!(SqliteStore);
crate::sessions::impl_session_store!(SqliteStore);
crate::throttle::impl_throttle_store!(SqliteStore);
crate::audit::impl_audit_store!(SqliteStore);
crate::invalidations::impl_invalidation_store!(SqliteStore);
crate::api_keys::impl_api_key_store!(SqliteStore);
crate::tokens::impl_token_store!(SqliteStore);
crate::ssh_keys::impl_ssh_key_store!(SqliteStore);
crate::ssh_private_keys::impl_ssh_private_key_store!(SqliteStore);
crate::sealed::impl_sealed_store!(SqliteStore);
crate::mfa::impl_mfa_store!(SqliteStore);
crate::scim::impl_scim_store!(SqliteStore);
