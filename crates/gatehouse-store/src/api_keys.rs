//! SQL for API keys (`ApiKeyStore`), one text for both backends, stamped out by
//! `impl_api_key_store!`.

macro_rules! impl_api_key_store {
    ($store:ident) => {
        mod api_key_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::Row;
            use time::OffsetDateTime;

            use crate::error::db;
            use gatehouse_core::api_key::{ApiKeyKind, ApiKeyRecord, KeyUsage};
            use gatehouse_core::ids::{ApiKeyId, AccountId, OrgId};
            use gatehouse_core::page::PageRequest;
            use gatehouse_core::scope::Scopes;
            use gatehouse_core::secret::TokenHash;
            use gatehouse_core::store::{ApiKeyStore, Invalidation, OrgKeyDeleted, OrgKeyFilter, OrgKeyRecord};

            use super::{DbOf, $store, publish};
            use crate::sql::{opt_ts, stored_hash, ts};

            macro_rules! key_columns {
                () => {
                    "api_key_id, account_id, name, display_prefix, key_hash, permissions, created_at, \
                     created_by, expires_at, last_used_at, last_used_ip, last_used_user_agent, enabled, \
                     parent_id, revoked_at, kind"
                };
            }

            /// The key columns with the `k` alias, for queries that join the holder.
            macro_rules! key_joined {
                () => {
                    "k.api_key_id, k.account_id, k.name, k.display_prefix, k.key_hash, \
                 k.permissions, k.created_at, k.created_by, k.expires_at, k.last_used_at, k.last_used_ip, \
                 k.last_used_user_agent, k.enabled, k.parent_id, k.revoked_at, k.kind, \
                 a.username AS owner_username, a.display_name AS owner_display_name"
                };
            }

            fn org_key_row(r: &<DbOf as sqlx::Database>::Row) -> Result<OrgKeyRecord> {
                Ok(OrgKeyRecord {
                    key: key_row(r)?,
                    owner_username: r.try_get("owner_username").map_err(db)?,
                    owner_display_name: r.try_get("owner_display_name").map_err(db)?,
                })
            }

            fn key_row(r: &<DbOf as sqlx::Database>::Row) -> Result<ApiKeyRecord> {
                let hash: String = r.try_get("key_hash").map_err(db)?;
                Ok(ApiKeyRecord {
                    id: ApiKeyId(r.try_get("api_key_id").map_err(db)?),
                    user_id: AccountId(r.try_get("account_id").map_err(db)?),
                    kind: ApiKeyKind::parse(&r.try_get::<String, _>("kind").map_err(db)?)?,
                    name: r.try_get("name").map_err(db)?,
                    display_prefix: r.try_get("display_prefix").map_err(db)?,
                    key_hash: stored_hash(&hash, "key")?,
                    permissions: Scopes::from_space_separated(&r.try_get::<String, _>("permissions").map_err(db)?),
                    created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    created_by: r.try_get("created_by").map_err(db)?,
                    expires_at: opt_ts(r.try_get("expires_at").map_err(db)?)?,
                    last_used_at: opt_ts(r.try_get("last_used_at").map_err(db)?)?,
                    last_used_ip: r.try_get("last_used_ip").map_err(db)?,
                    last_used_user_agent: r.try_get("last_used_user_agent").map_err(db)?,
                    enabled: r.try_get("enabled").map_err(db)?,
                    parent_id: r.try_get("parent_id").map_err(db)?,
                    revoked_at: opt_ts(r.try_get("revoked_at").map_err(db)?)?,
                })
            }

            async fn insert_key(tx: &mut sqlx::Transaction<'_, DbOf>, k: &ApiKeyRecord) -> Result<()> {
                sqlx::query(concat!("INSERT INTO api_key (", key_columns!(), ") VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"))
                    .bind(&k.id.0)
                    .bind(&k.user_id.0)
                    .bind(&k.name)
                    .bind(&k.display_prefix)
                    .bind(k.key_hash.to_hex())
                    .bind(k.permissions.to_space_separated())
                    .bind(k.created_at.unix_timestamp())
                    .bind(&k.created_by)
                    .bind(k.expires_at.map(|t| t.unix_timestamp()))
                    .bind(k.last_used_at.map(|t| t.unix_timestamp()))
                    .bind(&k.last_used_ip)
                    .bind(&k.last_used_user_agent)
                    .bind(k.enabled)
                    .bind(&k.parent_id)
                    .bind(k.revoked_at.map(|t| t.unix_timestamp()))
                    .bind(k.kind.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            /// Runs one statement that changes the key `id` (and names its owner or
            /// organisation), publishing [`Invalidation::ApiKey`] in the same transaction;
            /// whether it changed a row.
            async fn change_key(
                pool: &sqlx::Pool<DbOf>,
                query: sqlx::query::Query<'_, DbOf, <DbOf as sqlx::Database>::Arguments>,
                id: &ApiKeyId,
                at: OffsetDateTime,
            ) -> Result<bool> {
                let mut tx = pool.begin().await.map_err(db)?;
                if query.execute(&mut *tx).await.map_err(db)?.rows_affected() == 0 {
                    return Ok(false);
                }
                publish(&mut tx, at, Invalidation::ApiKey(id.clone())).await?;
                tx.commit().await.map_err(db)?;
                Ok(true)
            }

            /// Revokes the keys an `UPDATE … RETURNING api_key_id, key_hash` statement
            /// selects, publishing one invalidation per key in the same transaction.
            async fn revoke_keys_where(
                pool: &sqlx::Pool<DbOf>,
                query: sqlx::query::Query<'_, DbOf, <DbOf as sqlx::Database>::Arguments>,
                at: OffsetDateTime,
            ) -> Result<Vec<(ApiKeyId, TokenHash)>> {
                let mut tx = pool.begin().await.map_err(db)?;
                let rows = query.fetch_all(&mut *tx).await.map_err(db)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let id = ApiKeyId(r.try_get("api_key_id").map_err(db)?);
                    let hash: String = r.try_get("key_hash").map_err(db)?;
                    publish(&mut tx, at, Invalidation::ApiKey(id.clone())).await?;
                    out.push((id, stored_hash(&hash, "key")?));
                }
                tx.commit().await.map_err(db)?;
                Ok(out)
            }

            #[async_trait]
            impl ApiKeyStore for $store {
                async fn insert_api_key(&self, k: &ApiKeyRecord) -> Result<()> {
                    self.insert_api_keys(std::slice::from_ref(k)).await
                }

                async fn insert_api_keys(&self, keys: &[ApiKeyRecord]) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    for k in keys {
                        insert_key(&mut tx, k).await?;
                    }
                    tx.commit().await.map_err(db)
                }

                async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKeyRecord>> {
                    sqlx::query(concat!("SELECT ", key_columns!(), " FROM api_key WHERE key_hash = $1"))
                        .bind(hash.to_hex())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(key_row)
                        .transpose()
                }

                async fn api_key_by_id(&self, owner: &AccountId, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>> {
                    sqlx::query(concat!("SELECT ", key_columns!(), " FROM api_key WHERE api_key_id = $1 AND account_id = $2"))
                        .bind(&id.0)
                        .bind(&owner.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(key_row)
                        .transpose()
                }

                async fn list_api_keys(&self, owner: &AccountId, page: &PageRequest) -> Result<Vec<ApiKeyRecord>> {
                    sqlx::query(concat!("SELECT ", key_columns!(), " FROM api_key WHERE account_id = $1 \
                         AND (CAST($2 AS BIGINT) IS NULL OR created_at > $2 OR (created_at = $2 AND api_key_id > $3)) \
                         ORDER BY created_at, api_key_id LIMIT $4"))
                        .bind(&owner.0)
                        .bind(page.after_created_at())
                        .bind(page.after_id())
                        .bind(page.fetch_limit())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(key_row)
                        .collect()
                }

                async fn count_live_api_keys(&self, owner: &AccountId, now: OffsetDateTime) -> Result<u64> {
                    let n: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM api_key WHERE account_id = $1 AND revoked_at IS NULL \
                         AND (expires_at IS NULL OR expires_at > $2)",
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

                async fn revoke_api_keys_by_parent(
                    &self,
                    parent: &str,
                    at: OffsetDateTime,
                ) -> Result<Vec<(ApiKeyId, TokenHash)>> {
                    let q = sqlx::query(
                        "UPDATE api_key SET enabled = FALSE, revoked_at = $1 \
                         WHERE parent_id = $2 AND revoked_at IS NULL RETURNING api_key_id, key_hash",
                    )
                    .bind(at.unix_timestamp())
                    .bind(parent.to_owned());
                    revoke_keys_where(&self.pool, q, at).await
                }

                async fn revoke_account_api_keys(
                    &self,
                    owner: &AccountId,
                    at: OffsetDateTime,
                ) -> Result<Vec<(ApiKeyId, TokenHash)>> {
                    let q = sqlx::query(
                        "UPDATE api_key SET enabled = FALSE, revoked_at = $1 \
                         WHERE account_id = $2 AND revoked_at IS NULL RETURNING api_key_id, key_hash",
                    )
                    .bind(at.unix_timestamp())
                    .bind(owner.0.clone());
                    revoke_keys_where(&self.pool, q, at).await
                }

                async fn revoke_token_minted_api_keys(
                    &self,
                    owner: &AccountId,
                    at: OffsetDateTime,
                ) -> Result<Vec<(ApiKeyId, TokenHash)>> {
                    let q = sqlx::query(
                        "UPDATE api_key SET enabled = FALSE, revoked_at = $1 \
                         WHERE account_id = $2 AND parent_id LIKE 'tok\\_%' ESCAPE '\\' \
                         AND revoked_at IS NULL RETURNING api_key_id, key_hash",
                    )
                    .bind(at.unix_timestamp())
                    .bind(owner.0.clone());
                    revoke_keys_where(&self.pool, q, at).await
                }

                async fn set_api_key_enabled(
                    &self,
                    owner: &AccountId,
                    id: &ApiKeyId,
                    enabled: bool,
                    at: OffsetDateTime,
                ) -> Result<bool> {
                    let q = sqlx::query("UPDATE api_key SET enabled = $1 WHERE api_key_id = $2 AND account_id = $3")
                        .bind(enabled)
                        .bind(&id.0)
                        .bind(&owner.0);
                    change_key(&self.pool, q, id, at).await
                }

                async fn delete_api_key(&self, owner: &AccountId, id: &ApiKeyId, at: OffsetDateTime) -> Result<bool> {
                    let q = sqlx::query("DELETE FROM api_key WHERE api_key_id = $1 AND account_id = $2")
                        .bind(&id.0)
                        .bind(&owner.0);
                    change_key(&self.pool, q, id, at).await
                }

                async fn delete_api_key_by_hash(
                    &self,
                    hash: &TokenHash,
                    at: OffsetDateTime,
                ) -> Result<Option<(ApiKeyId, AccountId)>> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let Some(r) = sqlx::query("DELETE FROM api_key WHERE key_hash = $1 RETURNING api_key_id, account_id")
                        .bind(hash.to_hex())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?
                    else {
                        return Ok(None);
                    };
                    let id = ApiKeyId(r.try_get("api_key_id").map_err(db)?);
                    let owner = AccountId(r.try_get("account_id").map_err(db)?);
                    publish(&mut tx, at, Invalidation::ApiKey(id.clone())).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(Some((id, owner)))
                }

                async fn record_api_key_usage(&self, usage: &[KeyUsage]) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    for u in usage {
                        sqlx::query(
                            "UPDATE api_key SET last_used_at = $1, last_used_ip = $2, last_used_user_agent = $3 \
                             WHERE api_key_id = $4 AND (last_used_at IS NULL OR last_used_at <= $1)",
                        )
                        .bind(u.at.unix_timestamp())
                        .bind(u.ip.map(|i| i.to_string()))
                        .bind(&u.user_agent)
                        .bind(&u.id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    tx.commit().await.map_err(db)
                }

                async fn list_org_keys(
                    &self,
                    org: &OrgId,
                    filter: &OrgKeyFilter,
                    page: &PageRequest,
                ) -> Result<Vec<OrgKeyRecord>> {
                    let sql = concat!(
                        "SELECT ", key_joined!(), " FROM api_key k JOIN account a ON a.account_id = k.account_id \
                         WHERE a.org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR k.kind = $2) \
                         AND (CAST($3 AS TEXT) IS NULL OR k.account_id = $3) \
                         AND (CAST($4 AS BOOLEAN) IS NULL OR k.enabled = $4) \
                         AND (CAST($5 AS BIGINT) IS NULL OR k.created_at > $5 OR (k.created_at = $5 AND k.api_key_id > $6)) \
                         ORDER BY k.created_at, k.api_key_id LIMIT $7"
                    );
                    sqlx::query(sql)
                        .bind(&org.0)
                        .bind(filter.kind.map(|k| k.as_str()))
                        .bind(filter.owner.as_ref().map(|o| o.0.clone()))
                        .bind(filter.enabled)
                        .bind(page.after_created_at())
                        .bind(page.after_id())
                        .bind(page.fetch_limit())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(org_key_row)
                        .collect()
                }

                async fn org_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<OrgKeyRecord>> {
                    let sql = concat!(
                        "SELECT ", key_joined!(), " FROM api_key k JOIN account a ON a.account_id = k.account_id \
                         WHERE a.org_id = $1 AND k.api_key_id = $2"
                    );
                    sqlx::query(sql)
                        .bind(&org.0)
                        .bind(&id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(org_key_row)
                        .transpose()
                }

                async fn set_org_key_enabled(
                    &self,
                    org: &OrgId,
                    id: &ApiKeyId,
                    enabled: bool,
                    at: OffsetDateTime,
                ) -> Result<bool> {
                    let q = sqlx::query(
                        "UPDATE api_key SET enabled = $1 WHERE api_key_id = $2 \
                         AND account_id IN (SELECT account_id FROM account WHERE org_id = $3)",
                    )
                    .bind(enabled)
                    .bind(&id.0)
                    .bind(&org.0);
                    change_key(&self.pool, q, id, at).await
                }

                async fn delete_org_key(
                    &self,
                    org: &OrgId,
                    id: &ApiKeyId,
                    only_if_disabled: bool,
                    at: OffsetDateTime,
                ) -> Result<OrgKeyDeleted> {
                    let q = sqlx::query(
                        "DELETE FROM api_key WHERE api_key_id = $1 \
                         AND account_id IN (SELECT account_id FROM account WHERE org_id = $2) \
                         AND (NOT $3 OR enabled = FALSE)",
                    )
                    .bind(&id.0)
                    .bind(&org.0)
                    .bind(only_if_disabled);
                    if change_key(&self.pool, q, id, at).await? {
                        return Ok(OrgKeyDeleted::Deleted);
                    }
                    Ok(if self.org_key(org, id).await?.is_some() {
                        OrgKeyDeleted::StillEnabled
                    } else {
                        OrgKeyDeleted::NotFound
                    })
                }

                async fn insert_sole_key(
                    &self,
                    k: &ApiKeyRecord,
                    replace: bool,
                    at: OffsetDateTime,
                ) -> Result<Option<ApiKeyRecord>> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let mut replaced = None;
                    if replace {
                        let old = sqlx::query(concat!(
                            "DELETE FROM api_key WHERE account_id = $1 AND kind = $2 RETURNING ",
                            key_columns!()
                        ))
                        .bind(&k.user_id.0)
                        .bind(k.kind.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                        if let Some(old) = old {
                            let old = key_row(&old)?;
                            publish(&mut tx, at, Invalidation::ApiKey(old.id.clone())).await?;
                            replaced = Some(old);
                        }
                    }
                    insert_key(&mut tx, k).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(replaced)
                }

                async fn count_api_keys(&self) -> Result<u64> {
                    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM api_key")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?
                        .try_get("n")
                        .map_err(db)?;
                    Ok(n.max(0) as u64)
                }
            }
        }
    };
}

pub(crate) use impl_api_key_store;
