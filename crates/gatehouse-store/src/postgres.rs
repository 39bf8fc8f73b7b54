//! The PostgreSQL backend, for several nodes sharing one database.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::StoreError;
use crate::migrate::{Migration, run_migrations};

type DbOf = sqlx::Postgres;

/// Migrations, in order; file names match `migrations/sqlite/` (a test checks).
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_accounts_sessions.sql",
        sql: include_str!("../migrations/postgres/0001_accounts_sessions.sql"),
    },
    Migration {
        version: 2,
        name: "0002_api_keys.sql",
        sql: include_str!("../migrations/postgres/0002_api_keys.sql"),
    },
    Migration {
        version: 3,
        name: "0003_tokens.sql",
        sql: include_str!("../migrations/postgres/0003_tokens.sql"),
    },
    Migration {
        version: 4,
        name: "0004_ssh_keys.sql",
        sql: include_str!("../migrations/postgres/0004_ssh_keys.sql"),
    },
    Migration {
        version: 5,
        name: "0005_invalidations.sql",
        sql: include_str!("../migrations/postgres/0005_invalidations.sql"),
    },
    Migration {
        version: 6,
        name: "0006_credential_chain.sql",
        sql: include_str!("../migrations/postgres/0006_credential_chain.sql"),
    },
    Migration {
        version: 7,
        name: "0007_mfa.sql",
        sql: include_str!("../migrations/postgres/0007_mfa.sql"),
    },
    Migration {
        version: 8,
        name: "0008_webauthn.sql",
        sql: include_str!("../migrations/postgres/0008_webauthn.sql"),
    },
    Migration {
        version: 9,
        name: "0009_ssh_private_keys.sql",
        sql: include_str!("../migrations/postgres/0009_ssh_private_keys.sql"),
    },
    Migration {
        version: 10,
        name: "0010_ssh_known_hosts.sql",
        sql: include_str!("../migrations/postgres/0010_ssh_known_hosts.sql"),
    },
    Migration {
        version: 11,
        name: "0011_organisations.sql",
        sql: include_str!("../migrations/postgres/0011_organisations.sql"),
    },
    Migration {
        version: 12,
        name: "0012_admin_panel.sql",
        sql: include_str!("../migrations/postgres/0012_admin_panel.sql"),
    },
    Migration {
        version: 13,
        name: "0013_scim.sql",
        sql: include_str!("../migrations/postgres/0013_scim.sql"),
    },
];

/// An arbitrary constant naming the advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573;

/// A PostgreSQL-backed store.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        let mut conn = pool.acquire().await?;
        // Nodes starting together take turns: the first migrates, the rest see it done.
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
        let result = run_migrations(&mut *conn, MIGRATIONS, "BEGIN").await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
        result?;
        drop(conn);
        Ok(PostgresStore { pool })
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

crate::sql::impl_store!(PostgresStore);
crate::accounts::impl_account_store!(PostgresStore);
crate::orgs::impl_org_store!(PostgresStore);
crate::sessions::impl_session_store!(PostgresStore);
crate::throttle::impl_throttle_store!(PostgresStore);
crate::audit::impl_audit_store!(PostgresStore);
crate::invalidations::impl_invalidation_store!(PostgresStore);
crate::api_keys::impl_api_key_store!(PostgresStore);
crate::tokens::impl_token_store!(PostgresStore);
crate::ssh_keys::impl_ssh_key_store!(PostgresStore);
crate::ssh_private_keys::impl_ssh_private_key_store!(PostgresStore);
crate::sealed::impl_sealed_store!(PostgresStore);
crate::mfa::impl_mfa_store!(PostgresStore);
crate::scim::impl_scim_store!(PostgresStore);
