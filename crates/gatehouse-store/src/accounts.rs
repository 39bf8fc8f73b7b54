//! SQL for accounts (`AccountStore`), one text for both backends, stamped out by
//! `impl_account_store!`. `account_row` is shared with the organisation queries.

macro_rules! impl_account_store {
    ($store:ident) => {
        mod account_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::Row;

            use crate::error::db;
            use gatehouse_core::account::{Account, AccountKind, AccountRecord, NewAccountRecord, Username};
            use gatehouse_core::ids::{OrgId, AccountId};
            use gatehouse_core::org::Role;
            use gatehouse_core::secret::TokenHash;
            use gatehouse_core::store::AccountStore;
            use time::OffsetDateTime;
            use gatehouse_core::Error;

            use super::{DbOf, $store};
            use crate::sql::{opt_ts, ts};

            macro_rules! account_columns {
                () => {
                    "account_id, org_id, username, email, display_name, password_hash, role, operator, kind, disabled, created_at, tokens_not_before"
                };
            }

            pub(super) fn account_row(r: &<DbOf as sqlx::Database>::Row) -> Result<AccountRecord> {
                let kind: String = r.try_get("kind").map_err(db)?;
                Ok(AccountRecord {
                    user: Account {
                        id: AccountId(r.try_get("account_id").map_err(db)?),
                        org_id: OrgId(r.try_get("org_id").map_err(db)?),
                        username: r.try_get("username").map_err(db)?,
                        email: r.try_get("email").map_err(db)?,
                        display_name: r.try_get("display_name").map_err(db)?,
                        role: Role::parse(&r.try_get::<String, _>("role").map_err(db)?)?,
                        operator: r.try_get("operator").map_err(db)?,
                        kind: if kind == "org" { AccountKind::Org } else { AccountKind::Person },
                        disabled: r.try_get("disabled").map_err(db)?,
                        created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    },
                    password_hash: r.try_get("password_hash").map_err(db)?,
                    tokens_not_before: opt_ts(r.try_get("tokens_not_before").map_err(db)?)?,
                })
            }

        /// Inserts a person's account on `ex` (the pool, or a transaction).
        async fn insert_row<'e, E: sqlx::Executor<'e, Database = DbOf>>(
            ex: E,
            u: &NewAccountRecord,
        ) -> Result<Account> {
                sqlx::query(
                    "INSERT INTO account (account_id, org_id, username, email, display_name, \
                     password_hash, role, operator, kind, disabled, created_at, modified_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'person', FALSE, $9, $9)",
                )
                .bind(&u.id.0)
                .bind(&u.org_id.0)
                .bind(u.username.as_str())
                .bind(u.email.as_str())
                .bind(u.display_name.as_str())
                .bind(&u.password_hash)
                .bind(u.role.as_str())
                .bind(u.operator)
                .bind(u.created_at.unix_timestamp())
                .execute(ex)
                .await
                .map_err(db)?;
                Ok(Account {
                    id: u.id.clone(),
                    org_id: u.org_id.clone(),
                    username: u.username.as_str().to_owned(),
                    email: u.email.as_str().to_owned(),
                    display_name: u.display_name.as_str().to_owned(),
                    role: u.role,
                    operator: u.operator,
                    kind: AccountKind::Person,
                    disabled: false,
                    created_at: u.created_at,
                })
            }

            /// Writes an account's set-password link on `ex`, replacing an earlier one.
            async fn put_link<'e, E: sqlx::Executor<'e, Database = DbOf>>(
                ex: E,
                account: &AccountId,
                secret: &TokenHash,
                created_by: &AccountId,
                now: OffsetDateTime,
                expires_at: OffsetDateTime,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO password_link (account_id, secret_hash, created_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET \
                     secret_hash = excluded.secret_hash, created_by = excluded.created_by, \
                     created_at = excluded.created_at, expires_at = excluded.expires_at",
                )
                .bind(&account.0)
                .bind(secret.to_hex())
                .bind(&created_by.0)
                .bind(now.unix_timestamp())
                .bind(expires_at.unix_timestamp())
                .execute(ex)
                .await
                .map_err(db)?;
                Ok(())
            }

            #[async_trait]
            impl AccountStore for $store {
                async fn insert_account(&self, u: &NewAccountRecord) -> Result<Account> {
                    insert_row(&self.pool, u).await
                }

                async fn insert_member_with_link(
                    &self,
                    u: &NewAccountRecord,
                    secret: &TokenHash,
                    created_by: &AccountId,
                    expires_at: OffsetDateTime,
                ) -> Result<Account> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let account = insert_row(&mut *tx, u).await?;
                    put_link(&mut *tx, &u.id, secret, created_by, u.created_at, expires_at).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(account)
                }

                async fn account_by_username(&self, username: &Username) -> Result<Option<AccountRecord>> {
                    let sql = concat!("SELECT ", account_columns!(), " FROM account WHERE username = $1");
                    sqlx::query(sql)
                        .bind(username.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(account_row)
                        .transpose()
                }

                async fn account_by_id(&self, id: &AccountId) -> Result<Option<AccountRecord>> {
                    let sql = concat!("SELECT ", account_columns!(), " FROM account WHERE account_id = $1");
                    sqlx::query(sql)
                        .bind(&id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(account_row)
                        .transpose()
                }

                async fn list_accounts(&self) -> Result<Vec<Account>> {
                    let sql = concat!("SELECT ", account_columns!(), " FROM account WHERE kind = 'person' ORDER BY created_at, username");
                    sqlx::query(sql)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| account_row(r).map(|u| u.user))
                        .collect()
                }

                async fn count_accounts(&self) -> Result<u64> {
                    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM account WHERE kind = 'person'")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?
                        .try_get("n")
                        .map_err(db)?;
                    Ok(n.max(0) as u64)
                }

                async fn set_password_hash(&self, id: &AccountId, hash: &str) -> Result<()> {
                    let done = sqlx::query("UPDATE account SET password_hash = $1 WHERE account_id = $2")
                        .bind(hash)
                        .bind(&id.0)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::NotFound);
                    }
                    Ok(())
                }

                async fn put_password_link(
                    &self,
                    account: &AccountId,
                    secret: &TokenHash,
                    created_by: &AccountId,
                    now: OffsetDateTime,
                    expires_at: OffsetDateTime,
                ) -> Result<()> {
                    put_link(&self.pool, account, secret, created_by, now, expires_at).await
                }

                async fn delete_expired_password_links(&self, now: OffsetDateTime) -> Result<u64> {
                    let done = sqlx::query("DELETE FROM password_link WHERE expires_at <= $1")
                        .bind(now.unix_timestamp())
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn password_link_account(
                    &self,
                    secret: &TokenHash,
                    now: OffsetDateTime,
                ) -> Result<Option<AccountId>> {
                    sqlx::query(
                        "SELECT l.account_id FROM password_link l JOIN account a ON a.account_id = l.account_id \
                         WHERE l.secret_hash = $1 AND l.expires_at > $2 AND a.password_hash IS NULL \
                         AND NOT a.disabled",
                    )
                    .bind(secret.to_hex())
                    .bind(now.unix_timestamp())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .map(|r| r.try_get::<String, _>("account_id").map(AccountId).map_err(db))
                    .transpose()
                }

                async fn redeem_password_link(
                    &self,
                    secret: &TokenHash,
                    password_hash: &str,
                    now: OffsetDateTime,
                ) -> Result<Option<AccountId>> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let Some(row) = sqlx::query(
                        "DELETE FROM password_link WHERE secret_hash = $1 AND expires_at > $2 RETURNING account_id",
                    )
                    .bind(secret.to_hex())
                    .bind(now.unix_timestamp())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?
                    else {
                        return Ok(None);
                    };
                    let account: String = row.try_get("account_id").map_err(db)?;
                    let set = sqlx::query(
                        "UPDATE account SET password_hash = $1 WHERE account_id = $2 \
                         AND password_hash IS NULL AND NOT disabled",
                    )
                    .bind(password_hash)
                    .bind(&account)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    if set.rows_affected() == 0 {
                        // Dropping the transaction rolls the delete back as well.
                        return Ok(None);
                    }
                    tx.commit().await.map_err(db)?;
                    Ok(Some(AccountId(account)))
                }
            }
        }
    };
}

pub(crate) use impl_account_store;
