//! Gatehouse's storage: the only crate that knows sqlx. [`open`] picks SQLite or
//! PostgreSQL from the URL scheme and migrates the database.
//!
//! # Layout
//! - One file per aggregate (`accounts.rs`, `sessions.rs`, `throttle.rs`, `audit.rs`,
//!   `invalidations.rs`, `api_keys.rs`, `tokens.rs`, `ssh_keys.rs`, `ssh_private_keys.rs`, `mfa.rs`), each implementing its
//!   core sub-trait with queries written once and stamped out for both backends.
//! - `sql.rs`: what they share (conversions, `publish`, `Store` itself).
//! - `sealed.rs`: every aggregate's sealed column at once, for master key rotation.
//! - `sqlite.rs`, `postgres.rs`: connection setup and migration lists per backend.
//! - `migrate.rs`: the migration runner. `migrations/{sqlite,postgres}/`: the SQL files,
//!   with identical names.
//! - `error.rs`: [`StoreError`] and its mapping into the domain error.
//! - `backup.rs`: the online SQLite backup behind `gatehouse admin backup`.

mod accounts;
mod api_keys;
mod audit;
pub mod backup;
mod error;
mod invalidations;
mod mfa;
mod migrate;
mod orgs;
mod postgres;
mod scim;
mod sealed;
mod sessions;
mod sql;
mod sqlite;
mod ssh_keys;
mod ssh_private_keys;
mod throttle;
mod tokens;

use std::sync::Arc;

use gatehouse_core::store::Store;

pub use error::StoreError;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Which backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` and `postgresql:` URLs.
    Postgres,
}

impl Backend {
    /// The backend named by a URL's scheme.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

/// Opens and migrates the store at `url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match Backend::of_url(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::open(url).await?),
        Backend::Postgres => Arc::new(PostgresStore::open(url).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &str) -> Vec<String> {
        let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut v: Vec<String> = std::fs::read_dir(path)
            .expect("migrations folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn both_backends_have_migrations_with_identical_file_names() {
        let sqlite = names("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names("postgres"));
    }

    #[test]
    fn every_migration_file_is_embedded_in_order_for_both_backends() {
        for (dir, list) in [
            ("sqlite", sqlite::MIGRATIONS),
            ("postgres", postgres::MIGRATIONS),
        ] {
            let embedded: Vec<String> = list.iter().map(|m| m.name.to_owned()).collect();
            assert_eq!(embedded, names(dir), "{dir}");
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1);
                assert!(m.name.starts_with(&format!("{:04}_", m.version)));
            }
        }
    }

    /// An install from before organisations: an admin, a member and an audit record,
    /// written at migration 10.
    const BEFORE_ORGS: &str = "\
        INSERT INTO org (org_id, name, created_at) VALUES ('org_d', 'default', 1); \
        INSERT INTO account (account_id, org_id, username, email, display_name, password_hash, \
            disabled, created_at, is_admin) VALUES \
            ('usr_admin', 'org_d', 'admin', 'a@x', 'Admin', 'h', FALSE, 1, TRUE), \
            ('usr_second', 'org_d', 'second', 's@x', 'Second', 'h', FALSE, 3, TRUE), \
            ('usr_bob', 'org_d', 'bob', 'b@x', 'Bob', 'h', FALSE, 2, FALSE); \
        INSERT INTO audit_event (audit_event_id, created_at, account_id, action) \
            VALUES ('aud_1', 5, 'usr_bob', 'login.succeeded');";

    /// What the upgrade must have made of [`BEFORE_ORGS`].
    const AFTER_ORGS: &str = "SELECT \
        (SELECT role FROM account WHERE account_id = 'usr_admin') || ',' || \
        (SELECT role FROM account WHERE account_id = 'usr_second') || ',' || \
        (SELECT role FROM account WHERE account_id = 'usr_bob') || ',' || \
        (SELECT COUNT(*) FROM account WHERE operator) || ',' || \
        (SELECT account_id FROM account WHERE operator) || ',' || \
        (SELECT org_id FROM audit_event WHERE audit_event_id = 'aud_1') || ',' || \
        (SELECT edition FROM org WHERE org_id = 'org_d') AS summary";

    const UPGRADED: &str = "owner,owner,member,1,usr_admin,org_d,team";

    #[tokio::test]
    async fn an_install_from_before_organisations_keeps_its_accounts_with_the_admins_as_owners() {
        use sqlx::{Connection, Row};
        let dir = tempfile::tempdir().expect("tempdir");
        let url = testing::fresh_sqlite_url(dir.path());
        let opts: sqlx::sqlite::SqliteConnectOptions = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("url")
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts)
            .await
            .expect("connect");
        migrate::run_migrations(&mut conn, &sqlite::MIGRATIONS[..10], "BEGIN IMMEDIATE")
            .await
            .expect("old migrations");
        sqlx::raw_sql(BEFORE_ORGS)
            .execute(&mut conn)
            .await
            .expect("old data");
        migrate::run_migrations(&mut conn, sqlite::MIGRATIONS, "BEGIN IMMEDIATE")
            .await
            .expect("upgrade");
        let row = sqlx::query(AFTER_ORGS)
            .fetch_one(&mut conn)
            .await
            .expect("q");
        assert_eq!(row.try_get::<String, _>("summary").expect("col"), UPGRADED);
    }

    #[tokio::test]
    async fn a_postgres_install_from_before_organisations_is_upgraded_alike() {
        use sqlx::{Connection, Row};
        let url = testing::fresh_postgres_url().await;
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
        migrate::run_migrations(&mut conn, &postgres::MIGRATIONS[..10], "BEGIN")
            .await
            .expect("old migrations");
        sqlx::raw_sql(BEFORE_ORGS)
            .execute(&mut conn)
            .await
            .expect("old data");
        migrate::run_migrations(&mut conn, postgres::MIGRATIONS, "BEGIN")
            .await
            .expect("upgrade");
        let row = sqlx::query(AFTER_ORGS)
            .fetch_one(&mut conn)
            .await
            .expect("q");
        assert_eq!(row.try_get::<String, _>("summary").expect("col"), UPGRADED);
    }

    #[test]
    fn urls_select_their_backend() {
        assert_eq!(Backend::of_url("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres:///db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(Backend::of_url("mysql://h/db").is_err());
    }
}

pub mod testing {
    //! Helpers for test suites that need a fresh database of either kind.

    use sqlx::Connection;

    /// The variable naming the PostgreSQL server tests use; `scripts/test` starts one.
    pub const POSTGRES_ENV: &str = "GATEHOUSE_TEST_POSTGRES_URL";

    /// The admin URL of the test PostgreSQL. Panics with instructions when unset:
    /// a missing service fails the suite, it never skips it.
    pub fn postgres_admin_url() -> String {
        std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_ENV} is not set. The PostgreSQL half of the suite needs a server: \
                 run ./scripts/test, which starts a throwaway one"
            )
        })
    }

    /// Creates an empty database on the test server and returns its URL.
    pub async fn fresh_postgres_url() -> String {
        let admin = postgres_admin_url();
        let name = format!(
            "gh_test_{}",
            gatehouse_core::ids::AccountId::generate()
                .0
                .trim_start_matches("usr_")
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
        with_database(&admin, &name)
    }

    /// A fresh SQLite database file URL inside `dir`.
    pub fn fresh_sqlite_url(dir: &std::path::Path) -> String {
        format!("sqlite://{}/gatehouse.db", dir.display())
    }

    /// Replaces the database name in a PostgreSQL URL.
    pub fn with_database(url: &str, name: &str) -> String {
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(b, q)| (b, Some(q)));
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let authority_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        let mut out = format!("{}/{}", &base[..authority_end], name);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn database_names_are_replaced_in_socket_and_host_urls() {
            assert_eq!(
                super::with_database("postgres:///postgres?host=/tmp/s&user=postgres", "x"),
                "postgres:///x?host=/tmp/s&user=postgres"
            );
            assert_eq!(
                super::with_database("postgres://u:p@h:5432/db", "y"),
                "postgres://u:p@h:5432/y"
            );
            assert_eq!(super::with_database("postgres://h", "z"), "postgres://h/z");
        }
    }
}
