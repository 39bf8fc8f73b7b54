//! SQL for SSH private keys (`SshPrivateKeyStore`), one text for both backends, stamped
//! out by `impl_ssh_private_key_store!` like the other aggregates. The sealed column is
//! named only in the insert and in `sealed_ssh_private_key`: no listing reads it.

macro_rules! impl_ssh_private_key_store {
    ($store:ident) => {
        mod ssh_private_key_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use gatehouse_core::ids::{AccountId, SshPrivateKeyId};
            use gatehouse_core::ssh::{PinnedHostKey, SshPrivateKeyRecord};
            use time::OffsetDateTime;
            use gatehouse_core::store::SshPrivateKeyStore;
            use sqlx::Row;

            use super::{DbOf, $store};
            use crate::error::db;
            use crate::sql::{opt_ts, ts};

            macro_rules! columns {
                () => {
                    "ssh_private_key_id, account_id, name, description, key_type, fingerprint, \
                     public_key, created_at, last_used_at"
                };
            }

            fn row(r: &<DbOf as sqlx::Database>::Row) -> Result<SshPrivateKeyRecord> {
                Ok(SshPrivateKeyRecord {
                    id: SshPrivateKeyId(r.try_get("ssh_private_key_id").map_err(db)?),
                    user_id: AccountId(r.try_get("account_id").map_err(db)?),
                    name: r.try_get("name").map_err(db)?,
                    description: r.try_get("description").map_err(db)?,
                    key_type: r.try_get("key_type").map_err(db)?,
                    fingerprint: r.try_get("fingerprint").map_err(db)?,
                    public_key: r.try_get("public_key").map_err(db)?,
                    created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    last_used_at: opt_ts(r.try_get("last_used_at").map_err(db)?)?,
                })
            }

            #[async_trait]
            impl SshPrivateKeyStore for $store {
                async fn insert_ssh_private_key(
                    &self,
                    k: &SshPrivateKeyRecord,
                    sealed: &str,
                ) -> Result<()> {
                    sqlx::query(concat!(
                        "INSERT INTO ssh_private_key (",
                        columns!(),
                        ", sealed_private_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ))
                    .bind(&k.id.0)
                    .bind(&k.user_id.0)
                    .bind(&k.name)
                    .bind(&k.description)
                    .bind(&k.key_type)
                    .bind(&k.fingerprint)
                    .bind(&k.public_key)
                    .bind(k.created_at.unix_timestamp())
                    .bind(k.last_used_at.map(|t| t.unix_timestamp()))
                    .bind(sealed)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn list_ssh_private_keys(
                    &self,
                    owner: &AccountId,
                    page: &gatehouse_core::page::PageRequest,
                ) -> Result<Vec<SshPrivateKeyRecord>> {
                    sqlx::query(concat!(
                        "SELECT ",
                        columns!(),
                        " FROM ssh_private_key WHERE account_id = $1 AND (CAST($2 AS BIGINT) \
                         IS NULL OR created_at > $2 OR (created_at = $2 AND ssh_private_key_id \
                         > $3)) ORDER BY created_at, ssh_private_key_id LIMIT $4"
                    ))
                    .bind(&owner.0)
                    .bind(page.after_created_at())
                    .bind(page.after_id())
                    .bind(page.fetch_limit())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(row)
                    .collect()
                }

                async fn count_ssh_private_keys(&self, owner: &AccountId) -> Result<u64> {
                    let n: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM ssh_private_key WHERE account_id = $1",
                    )
                    .bind(&owner.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?
                    .try_get("n")
                    .map_err(db)?;
                    Ok(n.max(0) as u64)
                }

                async fn ssh_private_key_by_id(
                    &self,
                    owner: &AccountId,
                    id: &SshPrivateKeyId,
                ) -> Result<Option<SshPrivateKeyRecord>> {
                    sqlx::query(concat!(
                        "SELECT ",
                        columns!(),
                        " FROM ssh_private_key WHERE ssh_private_key_id = $1 AND account_id = $2"
                    ))
                    .bind(&id.0)
                    .bind(&owner.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(row)
                    .transpose()
                }

                async fn sealed_ssh_private_key(
                    &self,
                    owner: &AccountId,
                    id: &SshPrivateKeyId,
                ) -> Result<Option<String>> {
                    sqlx::query(
                        "SELECT sealed_private_key FROM ssh_private_key \
                         WHERE ssh_private_key_id = $1 AND account_id = $2",
                    )
                    .bind(&id.0)
                    .bind(&owner.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .map(|r| r.try_get("sealed_private_key").map_err(db))
                    .transpose()
                }

                async fn touch_ssh_private_key(
                    &self,
                    owner: &AccountId,
                    id: &SshPrivateKeyId,
                    at: OffsetDateTime,
                ) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE ssh_private_key SET last_used_at = $1 \
                         WHERE ssh_private_key_id = $2 AND account_id = $3",
                    )
                    .bind(at.unix_timestamp())
                    .bind(&id.0)
                    .bind(&owner.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn pinned_host_key(
                    &self,
                    owner: &AccountId,
                    host: &str,
                    port: u16,
                ) -> Result<Option<PinnedHostKey>> {
                    let Some(r) = sqlx::query(
                        "SELECT host, port, key_type, fingerprint, public_key, pinned_at \
                         FROM ssh_known_host WHERE account_id = $1 AND host = $2 AND port = $3",
                    )
                    .bind(&owner.0)
                    .bind(host)
                    .bind(i32::from(port))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    else {
                        return Ok(None);
                    };
                    let port: i32 = r.try_get("port").map_err(db)?;
                    Ok(Some(PinnedHostKey {
                        host: r.try_get("host").map_err(db)?,
                        port: u16::try_from(port)
                            .map_err(|_| gatehouse_core::Error::internal("stored port out of range"))?,
                        key_type: r.try_get("key_type").map_err(db)?,
                        fingerprint: r.try_get("fingerprint").map_err(db)?,
                        public_key: r.try_get("public_key").map_err(db)?,
                        pinned_at: ts(r.try_get("pinned_at").map_err(db)?)?,
                    }))
                }

                async fn pin_host_key(&self, owner: &AccountId, pin: &PinnedHostKey) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO ssh_known_host (account_id, host, port, key_type, \
                         fingerprint, public_key, pinned_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&owner.0)
                    .bind(&pin.host)
                    .bind(i32::from(pin.port))
                    .bind(&pin.key_type)
                    .bind(&pin.fingerprint)
                    .bind(&pin.public_key)
                    .bind(pin.pinned_at.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn forget_host_key(
                    &self,
                    owner: &AccountId,
                    host: &str,
                    port: u16,
                ) -> Result<bool> {
                    let done = sqlx::query(
                        "DELETE FROM ssh_known_host WHERE account_id = $1 AND host = $2 \
                         AND port = $3",
                    )
                    .bind(&owner.0)
                    .bind(host)
                    .bind(i32::from(port))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_account_ssh_private_keys(&self, owner: &AccountId) -> Result<u64> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let done = sqlx::query("DELETE FROM ssh_private_key WHERE account_id = $1")
                        .bind(&owner.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    sqlx::query("DELETE FROM ssh_known_host WHERE account_id = $1")
                        .bind(&owner.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    tx.commit().await.map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn delete_ssh_private_key(
                    &self,
                    owner: &AccountId,
                    id: &SshPrivateKeyId,
                ) -> Result<Option<SshPrivateKeyRecord>> {
                    sqlx::query(concat!(
                        "DELETE FROM ssh_private_key WHERE ssh_private_key_id = $1 \
                         AND account_id = $2 RETURNING ",
                        columns!()
                    ))
                    .bind(&id.0)
                    .bind(&owner.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(row)
                    .transpose()
                }
            }
        }
    };
}

pub(crate) use impl_ssh_private_key_store;
