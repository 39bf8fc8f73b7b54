//! SQL for SSH public keys (`SshKeyStore`), one text for both backends, stamped out by
//! `impl_ssh_key_store!` like `sql::impl_store!`.

macro_rules! impl_ssh_key_store {
    ($store:ident) => {
        mod ssh_key_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use gatehouse_core::ids::{AccountId, SshKeyId};
            use gatehouse_core::ssh::SshKeyRecord;
            use gatehouse_core::store::SshKeyStore;
            use sqlx::Row;

            use super::{DbOf, $store};
            use crate::error::db;
            use crate::sql::ts;

            macro_rules! ssh_key_columns {
                () => {
                    "ssh_key_id, account_id, name, key_type, bits, fingerprint, public_key, \
                     comment, created_at"
                };
            }

            fn ssh_key_row(r: &<DbOf as sqlx::Database>::Row) -> Result<SshKeyRecord> {
                let bits: i64 = r.try_get("bits").map_err(db)?;
                Ok(SshKeyRecord {
                    id: SshKeyId(r.try_get("ssh_key_id").map_err(db)?),
                    user_id: AccountId(r.try_get("account_id").map_err(db)?),
                    name: r.try_get("name").map_err(db)?,
                    key_type: r.try_get("key_type").map_err(db)?,
                    bits: bits.clamp(0, i64::from(u32::MAX)) as u32,
                    fingerprint: r.try_get("fingerprint").map_err(db)?,
                    public_key: r.try_get("public_key").map_err(db)?,
                    comment: r.try_get("comment").map_err(db)?,
                    created_at: ts(r.try_get("created_at").map_err(db)?)?,
                })
            }

            #[async_trait]
            impl SshKeyStore for $store {
                async fn insert_ssh_key(&self, k: &SshKeyRecord) -> Result<()> {
                    sqlx::query(concat!(
                        "INSERT INTO ssh_key (",
                        ssh_key_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ))
                    .bind(&k.id.0)
                    .bind(&k.user_id.0)
                    .bind(&k.name)
                    .bind(&k.key_type)
                    .bind(i64::from(k.bits))
                    .bind(&k.fingerprint)
                    .bind(&k.public_key)
                    .bind(&k.comment)
                    .bind(k.created_at.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn list_ssh_keys(
                    &self,
                    owner: &AccountId,
                    page: &gatehouse_core::page::PageRequest,
                ) -> Result<Vec<SshKeyRecord>> {
                    sqlx::query(concat!(
                        "SELECT ",
                        ssh_key_columns!(),
                        " FROM ssh_key WHERE account_id = $1 AND (CAST($2 AS BIGINT) IS NULL \
                         OR created_at > $2 OR (created_at = $2 AND ssh_key_id > $3)) \
                         ORDER BY created_at, ssh_key_id LIMIT $4"
                    ))
                    .bind(&owner.0)
                    .bind(page.after_created_at())
                    .bind(page.after_id())
                    .bind(page.fetch_limit())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(ssh_key_row)
                    .collect()
                }

                async fn count_ssh_keys(&self, owner: &AccountId) -> Result<u64> {
                    let n: i64 =
                        sqlx::query("SELECT COUNT(*) AS n FROM ssh_key WHERE account_id = $1")
                            .bind(&owner.0)
                            .fetch_one(&self.pool)
                            .await
                            .map_err(db)?
                            .try_get("n")
                            .map_err(db)?;
                    Ok(n.max(0) as u64)
                }

                async fn ssh_key_by_id(
                    &self,
                    owner: &AccountId,
                    id: &SshKeyId,
                ) -> Result<Option<SshKeyRecord>> {
                    sqlx::query(concat!(
                        "SELECT ",
                        ssh_key_columns!(),
                        " FROM ssh_key WHERE ssh_key_id = $1 AND account_id = $2"
                    ))
                    .bind(&id.0)
                    .bind(&owner.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(ssh_key_row)
                    .transpose()
                }

                async fn delete_account_ssh_keys(&self, owner: &AccountId) -> Result<u64> {
                    let done = sqlx::query("DELETE FROM ssh_key WHERE account_id = $1")
                        .bind(&owner.0)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn delete_ssh_key(
                    &self,
                    owner: &AccountId,
                    id: &SshKeyId,
                ) -> Result<Option<SshKeyRecord>> {
                    sqlx::query(concat!(
                        "DELETE FROM ssh_key WHERE ssh_key_id = $1 AND account_id = $2 RETURNING ",
                        ssh_key_columns!()
                    ))
                    .bind(&id.0)
                    .bind(&owner.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(ssh_key_row)
                    .transpose()
                }
            }
        }
    };
}

pub(crate) use impl_ssh_key_store;
