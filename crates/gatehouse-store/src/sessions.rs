//! SQL for browser sessions (`SessionStore`), one text for both backends, stamped out
//! by `impl_session_store!`.

macro_rules! impl_session_store {
    ($store:ident) => {
        mod session_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::Row;
            use time::OffsetDateTime;

            use crate::error::db;
            use gatehouse_core::ids::{SessionId, AccountId};
            use gatehouse_core::secret::TokenHash;
            use gatehouse_core::mfa::Amr;
            use gatehouse_core::session::SessionRecord;
            use gatehouse_core::store::{Invalidation, SessionStore};

            use super::{DbOf, $store, publish};
            use crate::sql::{stored_hash, ts};

            fn session_row(r: &<DbOf as sqlx::Database>::Row) -> Result<SessionRecord> {
                let hash: String = r.try_get("token_hash").map_err(db)?;
                let created: i64 = r.try_get("created_at").map_err(db)?;
                Ok(SessionRecord {
                    id: SessionId(r.try_get("session_id").map_err(db)?),
                    token_hash: stored_hash(&hash, "token")?,
                    user_id: AccountId(r.try_get("account_id").map_err(db)?),
                    created_at: ts(created)?,
                    last_seen_at: ts(r.try_get("last_seen_at").map_err(db)?)?,
                    expires_at: ts(r.try_get("expires_at").map_err(db)?)?,
                    ip: r.try_get("ip").map_err(db)?,
                    user_agent: r.try_get("user_agent").map_err(db)?,
                    amr: Amr::from_stored(&r.try_get::<String, _>("amr").map_err(db)?),
                    reauthenticated_at: ts(r
                        .try_get::<Option<i64>, _>("reauthenticated_at")
                        .map_err(db)?
                        .unwrap_or(created))?,
                })
            }

            #[async_trait]
            impl SessionStore for $store {
                async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO session (session_id, token_hash, account_id, created_at, \
                         last_seen_at, expires_at, ip, user_agent, amr, reauthenticated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&s.id.0)
                    .bind(s.token_hash.to_hex())
                    .bind(&s.user_id.0)
                    .bind(s.created_at.unix_timestamp())
                    .bind(s.last_seen_at.unix_timestamp())
                    .bind(s.expires_at.unix_timestamp())
                    .bind(&s.ip)
                    .bind(&s.user_agent)
                    .bind(s.amr.to_stored())
                    .bind(s.reauthenticated_at.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn session_by_hash(&self, hash: &TokenHash) -> Result<Option<SessionRecord>> {
                    sqlx::query(
                        "SELECT session_id, token_hash, account_id, created_at, last_seen_at, \
                         expires_at, ip, user_agent, amr, reauthenticated_at FROM session WHERE token_hash = $1",
                    )
                    .bind(hash.to_hex())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(session_row)
                    .transpose()
                }

                async fn delete_session(&self, hash: &TokenHash, at: OffsetDateTime) -> Result<bool> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let done = sqlx::query("DELETE FROM session WHERE token_hash = $1")
                        .bind(hash.to_hex())
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    publish(&mut tx, at, Invalidation::Session(*hash)).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(true)
                }

                async fn delete_user_sessions(&self, user: &AccountId, at: OffsetDateTime) -> Result<u64> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let done = sqlx::query("DELETE FROM session WHERE account_id = $1")
                        .bind(&user.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    publish(&mut tx, at, Invalidation::Account(user.clone())).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn touch_sessions(&self, seen: &[(TokenHash, OffsetDateTime)]) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    for (hash, at) in seen {
                        sqlx::query(
                            "UPDATE session SET last_seen_at = $1 \
                             WHERE token_hash = $2 AND last_seen_at < $1",
                        )
                        .bind(at.unix_timestamp())
                        .bind(hash.to_hex())
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    tx.commit().await.map_err(db)
                }

                async fn delete_expired_sessions(
                    &self,
                    now: OffsetDateTime,
                    idle_cutoff: OffsetDateTime,
                ) -> Result<u64> {
                    let done = sqlx::query("DELETE FROM session WHERE expires_at <= $1 OR last_seen_at <= $2")
                        .bind(now.unix_timestamp())
                        .bind(idle_cutoff.unix_timestamp())
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

pub(crate) use impl_session_store;
