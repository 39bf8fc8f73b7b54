//! SQL for the cross-node cache invalidations (`InvalidationStore`), one text for both
//! backends, stamped out by `impl_invalidation_store!`.

macro_rules! impl_invalidation_store {
    ($store:ident) => {
        mod invalidation_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::Row;
            use time::OffsetDateTime;

            use crate::error::db;
            use gatehouse_core::store::{Invalidation, InvalidationStore, Published};

            use super::$store;
            use crate::sql::ts;

            #[async_trait]
            impl InvalidationStore for $store {
                async fn invalidations_since(
                    &self,
                    since: OffsetDateTime,
                ) -> Result<Vec<Published>> {
                    let rows = sqlx::query(
                        "SELECT invalidation_id, at, kind, subject FROM invalidation \
                         WHERE at >= $1 ORDER BY at, invalidation_id",
                    )
                    .bind(since.unix_timestamp())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let kind: String = r.try_get("kind").map_err(db)?;
                        // A kind from a newer version is skipped, not fatal: its cache entries
                        // still age out.
                        if let Some(change) =
                            Invalidation::from_parts(&kind, r.try_get("subject").map_err(db)?)
                        {
                            out.push(Published {
                                id: r.try_get("invalidation_id").map_err(db)?,
                                at: ts(r.try_get("at").map_err(db)?)?,
                                change,
                            });
                        }
                    }
                    Ok(out)
                }

                async fn delete_invalidations_before(&self, cutoff: OffsetDateTime) -> Result<u64> {
                    let done = sqlx::query("DELETE FROM invalidation WHERE at < $1")
                        .bind(cutoff.unix_timestamp())
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn change_feed(
                    &self,
                ) -> Result<Option<Box<dyn gatehouse_core::store::ChangeFeed>>> {
                    $store::open_change_feed(&self.pool).await
                }
            }
        }
    };
}

pub(crate) use impl_invalidation_store;
