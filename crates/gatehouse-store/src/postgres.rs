//! The PostgreSQL backend, for several nodes sharing one database.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use crate::error::StoreError;
use crate::migrate::{Migration, run_migrations};

type DbOf = sqlx::Postgres;

/// The channel every node listens on for committed changes.
const CHANNEL: &str = "gatehouse_changes";
/// Sent inside the change's own transaction, so it is delivered at commit, or never.
const NOTIFY_SQL: Option<&str> = Some("SELECT pg_notify('gatehouse_changes', $1)");

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

    /// A `LISTEN` on a connection of its own (taken from the pool and kept), opened at
    /// the feed's first wait. It needs a direct or session-pooled connection: behind
    /// pgbouncer in transaction mode a `LISTEN` is lost, and the nodes fall back to
    /// their slower poll.
    async fn open_change_feed(
        pool: &PgPool,
    ) -> gatehouse_core::Result<Option<Box<dyn gatehouse_core::store::ChangeFeed>>> {
        Ok(Some(Box::new(PgChangeFeed {
            pool: pool.clone(),
            listener: None,
        })))
    }
}

/// [`ChangeFeed`](gatehouse_core::store::ChangeFeed) over `PgListener`. It reconnects by
/// itself but loses what was sent meanwhile; `try_recv` says when that happened
/// (`None`), which becomes a resync. After an error the listener is dropped, and the
/// next wait opens a new one and starts with a resync too.
struct PgChangeFeed {
    pool: PgPool,
    listener: Option<PgListener>,
}

impl PgChangeFeed {
    async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }
}

#[async_trait::async_trait]
impl gatehouse_core::store::ChangeFeed for PgChangeFeed {
    async fn next(&mut self) -> gatehouse_core::Result<gatehouse_core::store::FeedEvent> {
        use gatehouse_core::store::FeedEvent;
        let Some(listener) = self.listener.as_mut() else {
            let listener = Self::listen(&self.pool).await.map_err(crate::error::db)?;
            self.listener = Some(listener);
            return Ok(FeedEvent::Resync);
        };
        match listener.try_recv().await {
            Ok(Some(n)) => Ok(FeedEvent::Changed(n.payload().to_owned())),
            Ok(None) => Ok(FeedEvent::Resync),
            Err(e) => {
                self.listener = None;
                Err(crate::error::db(e))
            }
        }
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
