//! What every aggregate's SQL shares: time and hash conversions, the invalidation
//! insert, and `impl_store!`, which stamps out `Store` itself (`ping`) and the
//! `publish` and `notify` helpers the aggregate modules write invalidations and
//! wake-ups with (each backend module names its `NOTIFY_SQL`, or `None`). Each aggregate's
//! queries live in their own file (`accounts.rs`, `sessions.rs`, …), written once in
//! the dialect both backends accept (`$n` placeholders, `ON CONFLICT`, `RETURNING`);
//! backend differences live in the backend modules, never as a branch inside a query.

/// Seconds since the epoch to a UTC time.
pub(crate) fn ts(secs: i64) -> gatehouse_core::Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(gatehouse_core::Error::internal)
}

/// A nullable seconds-since-the-epoch column to a UTC time.
pub(crate) fn opt_ts(secs: Option<i64>) -> gatehouse_core::Result<Option<time::OffsetDateTime>> {
    secs.map(ts).transpose()
}

/// A stored hex SHA-256 (of a session cookie, key or token secret) back to its hash;
/// `what` names the secret in the internal error.
pub(crate) fn stored_hash(
    hex: &str,
    what: &str,
) -> gatehouse_core::Result<gatehouse_core::secret::TokenHash> {
    gatehouse_core::secret::TokenHash::from_hex(hex)
        .ok_or_else(|| gatehouse_core::Error::internal(format!("malformed {what} hash in store")))
}

/// Publishes a cache invalidation; run inside the transaction of the change it reports.
pub(crate) const INSERT_INVALIDATION: &str =
    "INSERT INTO invalidation (invalidation_id, at, kind, subject) VALUES ($1, $2, $3, $4)";

macro_rules! impl_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl gatehouse_core::store::Store for $store {
            async fn ping(&self) -> gatehouse_core::Result<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(crate::error::db)?;
                Ok(())
            }

            fn pool_stats(&self) -> gatehouse_core::store::PoolStats {
                crate::error::with_counts(gatehouse_core::store::PoolStats {
                    connections: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max_connections: self.pool.options().get_max_connections(),
                    ..Default::default()
                })
            }
        }

        /// Writes an invalidation inside the transaction of the change it reports.
        async fn publish(
            tx: &mut sqlx::Transaction<'_, DbOf>,
            at: time::OffsetDateTime,
            what: gatehouse_core::store::Invalidation,
        ) -> gatehouse_core::Result<()> {
            let (kind, subject) = what.parts();
            sqlx::query(crate::sql::INSERT_INVALIDATION)
                .bind(gatehouse_core::secret::random_token::<16>())
                .bind(at.unix_timestamp())
                .bind(kind)
                .bind(subject)
                .execute(&mut **tx)
                .await
                .map_err(crate::error::db)?;
            notify(tx, gatehouse_core::store::Notice::Invalidated(what)).await
        }

        /// Wakes the other nodes when the transaction commits (PostgreSQL delivers a
        /// `NOTIFY` at commit, and never for a rolled-back one); nothing on a backend
        /// without a [`NOTIFY_SQL`].
        async fn notify(
            tx: &mut sqlx::Transaction<'_, DbOf>,
            notice: gatehouse_core::store::Notice,
        ) -> gatehouse_core::Result<()> {
            if let Some(sql) = NOTIFY_SQL {
                sqlx::query(sql)
                    .bind(notice.to_payload())
                    .execute(&mut **tx)
                    .await
                    .map_err(crate::error::db)?;
            }
            Ok(())
        }
    };
}

pub(crate) use impl_store;
