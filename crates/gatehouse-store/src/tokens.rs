//! SQL for bearer tokens and their signing keys (`TokenStore`), one text for both
//! backends, stamped out by `impl_token_store!` like `sql::impl_store!`.

macro_rules! impl_token_store {
    ($store:ident) => {
        mod token_store {
            use async_trait::async_trait;
            use base64::Engine;
            use base64::engine::general_purpose::STANDARD as B64;
            use gatehouse_core::scope::Scopes;
            use gatehouse_core::ids::{TokenId, AccountId};
            use gatehouse_core::secret::TokenHash;
            use gatehouse_core::store::TokenStore;
            use gatehouse_core::token::{SigningKeyRecord, TokenRecord};
            use gatehouse_core::{Error, Result};
            use sqlx::Row;
            use time::OffsetDateTime;

            use super::{DbOf, $store, notify, publish};
            use gatehouse_core::store::{Invalidation, Notice};
            use crate::error::db;
            use crate::sql::{opt_ts, stored_hash, ts};

            macro_rules! token_columns {
                () => {
                    "token_id, account_id, name, token_hash, scopes, created_at, expires_at, \
                     created_via, parent_id, revoked_at"
                };
            }

            fn token_row(r: &<DbOf as sqlx::Database>::Row) -> Result<TokenRecord> {
                let hash: String = r.try_get("token_hash").map_err(db)?;
                Ok(TokenRecord {
                    id: TokenId(r.try_get("token_id").map_err(db)?),
                    user_id: AccountId(r.try_get("account_id").map_err(db)?),
                    name: r.try_get("name").map_err(db)?,
                    token_hash: stored_hash(&hash, "token")?,
                    scopes: Scopes::from_space_separated(
                        &r.try_get::<String, _>("scopes").map_err(db)?,
                    ),
                    created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    expires_at: ts(r.try_get("expires_at").map_err(db)?)?,
                    created_via: r.try_get("created_via").map_err(db)?,
                    parent_id: r.try_get("parent_id").map_err(db)?,
                    revoked_at: opt_ts(r.try_get("revoked_at").map_err(db)?)?,
                })
            }

            fn key_row(r: &<DbOf as sqlx::Database>::Row) -> Result<SigningKeyRecord> {
                let public: String = r.try_get("public_key").map_err(db)?;
                Ok(SigningKeyRecord {
                    kid: r.try_get("kid").map_err(db)?,
                    algorithm: r.try_get("algorithm").map_err(db)?,
                    public_key: B64
                        .decode(public)
                        .map_err(|_| Error::internal("malformed public key in store"))?,
                    sealed_private_key: r.try_get("sealed_private_key").map_err(db)?,
                    created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    retired_at: opt_ts(r.try_get("retired_at").map_err(db)?)?,
                })
            }

            #[async_trait]
            impl TokenStore for $store {
                async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
                    sqlx::query(
                        "SELECT kid, algorithm, public_key, sealed_private_key, created_at, \
                         retired_at FROM signing_key ORDER BY created_at, kid",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(key_row)
                    .collect()
                }

                async fn add_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    sqlx::query("UPDATE signing_key SET retired_at = $1 WHERE retired_at IS NULL")
                        .bind(k.created_at.unix_timestamp())
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    sqlx::query(
                        "INSERT INTO signing_key (kid, algorithm, public_key, \
                         sealed_private_key, created_at, retired_at) \
                         VALUES ($1, $2, $3, $4, $5, NULL)",
                    )
                    .bind(&k.kid)
                    .bind(&k.algorithm)
                    .bind(B64.encode(&k.public_key))
                    .bind(&k.sealed_private_key)
                    .bind(k.created_at.unix_timestamp())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    tx.commit().await.map_err(db)
                }

                async fn delete_retired_signing_keys(&self, cutoff: OffsetDateTime) -> Result<u64> {
                    let done = sqlx::query(
                        "DELETE FROM signing_key WHERE retired_at IS NOT NULL AND retired_at < $1",
                    )
                    .bind(cutoff.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn insert_token(&self, t: &TokenRecord) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO token (token_id, account_id, name, token_hash, scopes, \
                         created_at, expires_at, created_via, parent_id, revoked_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&t.id.0)
                    .bind(&t.user_id.0)
                    .bind(&t.name)
                    .bind(t.token_hash.to_hex())
                    .bind(t.scopes.to_space_separated())
                    .bind(t.created_at.unix_timestamp())
                    .bind(t.expires_at.unix_timestamp())
                    .bind(&t.created_via)
                    .bind(&t.parent_id)
                    .bind(t.revoked_at.map(|r| r.unix_timestamp()))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn token_by_id(&self, id: &TokenId) -> Result<Option<TokenRecord>> {
                    let sql = concat!(
                        "SELECT ",
                        token_columns!(),
                        " FROM token WHERE token_id = $1"
                    );
                    sqlx::query(sql)
                        .bind(&id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(token_row)
                        .transpose()
                }

                async fn list_live_tokens(
                    &self,
                    owner: &AccountId,
                    now: OffsetDateTime,
                    page: &gatehouse_core::page::PageRequest,
                ) -> Result<Vec<TokenRecord>> {
                    let sql = concat!(
                        "SELECT ",
                        token_columns!(),
                        " FROM token WHERE account_id = $1 \
                         AND revoked_at IS NULL AND expires_at > $2 \
                         AND (CAST($3 AS BIGINT) IS NULL OR created_at < $3 \
                              OR (created_at = $3 AND token_id < $4)) \
                         ORDER BY created_at DESC, token_id DESC LIMIT $5"
                    );
                    sqlx::query(sql)
                        .bind(&owner.0)
                        .bind(now.unix_timestamp())
                        .bind(page.after_created_at())
                        .bind(page.after_id())
                        .bind(page.fetch_limit())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(token_row)
                        .collect()
                }

                async fn count_live_tokens(&self, owner: &AccountId, now: OffsetDateTime) -> Result<u64> {
                    let n: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM token WHERE account_id = $1 \
                         AND revoked_at IS NULL AND expires_at > $2",
                    )
                    .bind(&owner.0)
                    .bind(now.unix_timestamp())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?
                    .try_get("n")
                    .map_err(db)?;
                    Ok(n.max(0) as u64)
                }

                async fn revoke_token(
                    &self,
                    owner: &AccountId,
                    id: &TokenId,
                    at: OffsetDateTime,
                ) -> Result<Option<TokenRecord>> {
                    let sql = concat!(
                        "UPDATE token SET revoked_at = $1 WHERE token_id = $2 \
                         AND account_id = $3 AND revoked_at IS NULL AND expires_at > $1 \
                         RETURNING ",
                        token_columns!()
                    );
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let revoked = sqlx::query(sql)
                        .bind(at.unix_timestamp())
                        .bind(&id.0)
                        .bind(&owner.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(token_row)
                        .transpose()?;
                    if revoked.is_some() {
                        notify(&mut tx, Notice::TokensRevoked).await?;
                    }
                    tx.commit().await.map_err(db)?;
                    Ok(revoked)
                }

                async fn revoke_user_tokens(
                    &self,
                    user: &AccountId,
                    at: OffsetDateTime,
                ) -> Result<u64> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    sqlx::query("UPDATE account SET tokens_not_before = $1 WHERE account_id = $2")
                        .bind(at.unix_timestamp())
                        .bind(&user.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    let done = sqlx::query(
                        "UPDATE token SET revoked_at = $1 \
                         WHERE account_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(at.unix_timestamp())
                    .bind(&user.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    publish(&mut tx, at, Invalidation::Account(user.clone())).await?;
                    // Other nodes re-read the revoked tokens at once, not at their poll: a
                    // token issued in the same second as `tokens_not_before` is only
                    // refused through the revoked set.
                    if done.rows_affected() > 0 {
                        notify(&mut tx, Notice::TokensRevoked).await?;
                    }
                    tx.commit().await.map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn revoke_tokens_by_parent(
                    &self,
                    parent: &str,
                    at: OffsetDateTime,
                ) -> Result<Vec<(TokenId, TokenHash)>> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let rows = sqlx::query(
                        "UPDATE token SET revoked_at = $1 WHERE parent_id = $2 \
                         AND revoked_at IS NULL RETURNING token_id, token_hash",
                    )
                    .bind(at.unix_timestamp())
                    .bind(parent)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
                    if !rows.is_empty() {
                        notify(&mut tx, Notice::TokensRevoked).await?;
                    }
                    tx.commit().await.map_err(db)?;
                    rows.iter()
                    .map(|r| -> Result<(TokenId, TokenHash)> {
                        let hash: String = r.try_get("token_hash").map_err(db)?;
                        Ok((
                            TokenId(r.try_get("token_id").map_err(db)?),
                            stored_hash(&hash, "token")?,
                        ))
                    })
                    .collect()
                }

                async fn revoked_tokens_since(
                    &self,
                    since: OffsetDateTime,
                    now: OffsetDateTime,
                ) -> Result<Vec<(TokenId, TokenHash, OffsetDateTime)>> {
                    sqlx::query(
                        "SELECT token_id, token_hash, expires_at FROM token \
                         WHERE revoked_at IS NOT NULL AND revoked_at >= $1 AND expires_at > $2",
                    )
                    .bind(since.unix_timestamp())
                    .bind(now.unix_timestamp())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| -> Result<(TokenId, TokenHash, OffsetDateTime)> {
                        let hash: String = r.try_get("token_hash").map_err(db)?;
                        Ok((
                            TokenId(r.try_get("token_id").map_err(db)?),
                            stored_hash(&hash, "token")?,
                            ts(r.try_get("expires_at").map_err(db)?)?,
                        ))
                    })
                    .collect()
                }

                async fn delete_expired_tokens(&self, cutoff: OffsetDateTime) -> Result<u64> {
                    let done = sqlx::query("DELETE FROM token WHERE expires_at < $1")
                        .bind(cutoff.unix_timestamp())
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

pub(crate) use impl_token_store;
