//! SQL for the sign-in failure counters (`ThrottleStore`), one text for both backends,
//! stamped out by `impl_throttle_store!`.

macro_rules! impl_throttle_store {
    ($store:ident) => {
        mod throttle_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::Row;
            use time::OffsetDateTime;

            use crate::error::db;
            use gatehouse_core::store::ThrottleStore;
            use gatehouse_core::throttle::FailureState;

            use super::$store;
            use crate::sql::ts;



            #[async_trait]
            impl ThrottleStore for $store {
                async fn failure_state(&self, subject: &str) -> Result<Option<FailureState>> {
                    let row = sqlx::query(
                        "SELECT failures, last_failure_at FROM login_failure WHERE subject = $1",
                    )
                    .bind(subject)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    row.map(|r| -> Result<FailureState> {
                        let failures: i64 = r.try_get("failures").map_err(db)?;
                        Ok(FailureState {
                            failures: failures.clamp(0, u32::MAX as i64) as u32,
                            last_failure_at: ts(r.try_get("last_failure_at").map_err(db)?)?,
                        })
                    })
                    .transpose()
                }

                async fn record_failure(&self, subject: &str, at: OffsetDateTime) -> Result<FailureState> {
                    // One statement, so concurrent failures on several nodes all count.
                    let r = sqlx::query(
                        "INSERT INTO login_failure (subject, failures, last_failure_at, created_at) \
                         VALUES ($1, 1, $2, $2) ON CONFLICT (subject) DO UPDATE SET \
                         failures = login_failure.failures + 1, last_failure_at = excluded.last_failure_at \
                         RETURNING failures, last_failure_at",
                    )
                    .bind(subject)
                    .bind(at.unix_timestamp())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                    let failures: i64 = r.try_get("failures").map_err(db)?;
                    Ok(FailureState {
                        failures: failures.clamp(0, u32::MAX as i64) as u32,
                        last_failure_at: ts(r.try_get("last_failure_at").map_err(db)?)?,
                    })
                }

                async fn clear_failures(&self, subject: &str) -> Result<()> {
                    sqlx::query("DELETE FROM login_failure WHERE subject = $1")
                        .bind(subject)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(())
                }

                async fn delete_stale_failures(
                    &self,
                    idle_cutoff: OffsetDateTime,
                    unknown_cutoff: OffsetDateTime,
                    hard_limit: u32,
                ) -> Result<u64> {
                    let done = sqlx::query(
                        "DELETE FROM login_failure WHERE (last_failure_at < $1 AND failures < $3) \
                         OR (last_failure_at < $2 AND NOT EXISTS \
                             (SELECT 1 FROM account WHERE 'login:' || account.username = login_failure.subject))",
                    )
                    .bind(idle_cutoff.unix_timestamp())
                    .bind(unknown_cutoff.unix_timestamp())
                    .bind(i64::from(hard_limit))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

pub(crate) use impl_throttle_store;
