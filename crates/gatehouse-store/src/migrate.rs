//! A small migration runner: each backend lists its embedded SQL files; each is applied
//! once, inside a transaction together with its row in `schema_migration`.

use sqlx::{Connection, Executor, Row};

use crate::error::StoreError;

/// One embedded migration.
pub(crate) struct Migration {
    /// Monotonic version, the file's numeric prefix.
    pub version: i64,
    /// The file name (identical across backends).
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Applies the migrations not yet recorded. `begin` is the backend's statement for a
/// write transaction.
pub(crate) async fn run_migrations<C>(
    conn: &mut C,
    migrations: &[Migration],
    begin: &'static str,
) -> Result<(), StoreError>
where
    C: Connection,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
    for<'r> i64: sqlx::Decode<'r, C::Database> + sqlx::Type<C::Database>,
    for<'q> i64: sqlx::Encode<'q, C::Database>,
    for<'q> &'q str: sqlx::Encode<'q, C::Database> + sqlx::Type<C::Database>,
    for<'q> <C::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<C::Database>,
    usize: sqlx::ColumnIndex<<C::Database as sqlx::Database>::Row>,
{
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migration (\
         version BIGINT NOT NULL CONSTRAINT schema_migration_pkey PRIMARY KEY, \
         name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    for m in migrations {
        sqlx::raw_sql(begin).execute(&mut *conn).await?;
        let applied = async {
            let done = sqlx::query("SELECT version FROM schema_migration WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *conn)
                .await?;
            if done.map(|r| r.try_get::<i64, _>(0)).transpose()?.is_some() {
                return Ok::<bool, sqlx::Error>(false);
            }
            sqlx::raw_sql(m.sql).execute(&mut *conn).await?;
            sqlx::query(
                "INSERT INTO schema_migration (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(
                gatehouse_core::clock::Clock::now(&gatehouse_core::clock::SystemClock)
                    .unix_timestamp(),
            )
            .execute(&mut *conn)
            .await?;
            Ok(true)
        }
        .await;
        match applied {
            Ok(ran) => {
                sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                if ran {
                    tracing::info!(migration = m.name, "applied migration");
                }
            }
            Err(source) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                return Err(StoreError::Migration {
                    version: m.version,
                    source,
                });
            }
        }
    }
    Ok(())
}
