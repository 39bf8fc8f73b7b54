//! SQL for organisations, accounts and organisation policy (`AccountStore`), one text
//! for both backends, stamped out by `impl_account_store!`.

macro_rules! impl_account_store {
    ($store:ident) => {
        mod account_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::Row;
            use time::OffsetDateTime;

            use crate::error::db;
            use gatehouse_core::account::{NewAccountRecord, Account, AccountRecord, Username};
            use gatehouse_core::ids::{OrgId, AccountId};
            use gatehouse_core::org::{KeyExpiration, Org, OrgPolicy};
            use gatehouse_core::store::{AccountStore, Invalidation};
            use gatehouse_core::Error;

            use super::{DbOf, $store, publish};
            use crate::sql::{opt_ts, ts};

            macro_rules! account_columns {
                () => {
                    "account_id, org_id, username, email, display_name, password_hash, is_admin, disabled, created_at, tokens_not_before"
                };
            }

            fn account_row(r: &<DbOf as sqlx::Database>::Row) -> Result<AccountRecord> {
                Ok(AccountRecord {
                    user: Account {
                        id: AccountId(r.try_get("account_id").map_err(db)?),
                        org_id: OrgId(r.try_get("org_id").map_err(db)?),
                        username: r.try_get("username").map_err(db)?,
                        email: r.try_get("email").map_err(db)?,
                        display_name: r.try_get("display_name").map_err(db)?,
                        is_admin: r.try_get("is_admin").map_err(db)?,
                        disabled: r.try_get("disabled").map_err(db)?,
                        created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    },
                    password_hash: r.try_get("password_hash").map_err(db)?,
                    tokens_not_before: opt_ts(r.try_get("tokens_not_before").map_err(db)?)?,
                })
            }

            fn hours(h: i64) -> u32 {
                h.clamp(1, 24) as u32
            }

            #[async_trait]
            impl AccountStore for $store {
                async fn ensure_org(&self, name: &str, now: OffsetDateTime) -> Result<Org> {
                    sqlx::query(
                        "INSERT INTO org (org_id, name, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(OrgId::generate().0)
                    .bind(name)
                    .bind(now.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    let r = sqlx::query("SELECT org_id, name, created_at FROM org WHERE name = $1")
                        .bind(name)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(Org {
                        id: OrgId(r.try_get("org_id").map_err(db)?),
                        name: r.try_get("name").map_err(db)?,
                        created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    })
                }

                async fn insert_account(&self, u: &NewAccountRecord) -> Result<Account> {
                    sqlx::query(
                        "INSERT INTO account (account_id, org_id, username, email, display_name, \
                         password_hash, is_admin, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8)",
                    )
                    .bind(&u.id.0)
                    .bind(&u.org_id.0)
                    .bind(u.username.as_str())
                    .bind(u.email.as_str())
                    .bind(u.display_name.as_str())
                    .bind(&u.password_hash)
                    .bind(u.is_admin)
                    .bind(u.created_at.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(Account {
                        id: u.id.clone(),
                        org_id: u.org_id.clone(),
                        username: u.username.as_str().to_owned(),
                        email: u.email.as_str().to_owned(),
                        display_name: u.display_name.as_str().to_owned(),
                        is_admin: u.is_admin,
                        disabled: false,
                        created_at: u.created_at,
                    })
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
                    let sql = concat!("SELECT ", account_columns!(), " FROM account ORDER BY created_at, username");
                    sqlx::query(sql)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| account_row(r).map(|u| u.user))
                        .collect()
                }

                async fn count_accounts(&self) -> Result<u64> {
                    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM account")
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

                async fn set_account_disabled(&self, id: &AccountId, disabled: bool, at: OffsetDateTime) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let done = sqlx::query("UPDATE account SET disabled = $1 WHERE account_id = $2")
                        .bind(disabled)
                        .bind(&id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::NotFound);
                    }
                    publish(&mut tx, at, Invalidation::Account(id.clone())).await?;
                    tx.commit().await.map_err(db)
                }

                async fn org_member_count(&self, org: &OrgId) -> Result<u64> {
                    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM account WHERE org_id = $1")
                        .bind(&org.0)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?
                        .try_get("n")
                        .map_err(db)?;
                    Ok(n.max(0) as u64)
                }

                async fn org_policy(&self, org: &OrgId) -> Result<OrgPolicy> {
                    let row = sqlx::query(
                        "SELECT api_key_expirations, api_key_user_choice, api_key_default_expiration, \
                         require_disable_before_delete, token_max_hours, token_user_choice, \
                         token_default_hours, require_mfa, enforce_security_key, passkey_sign_in, \
                         security_key_models FROM org_policy WHERE org_id = $1",
                    )
                    .bind(&org.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    let Some(r) = row else {
                        return Ok(OrgPolicy::default());
                    };
                    let list: String = r.try_get("api_key_expirations").map_err(db)?;
                    Ok(OrgPolicy {
                        api_key_expirations: list
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(KeyExpiration::parse_code)
                            .collect::<Result<_>>()?,
                        api_key_user_choice: r.try_get("api_key_user_choice").map_err(db)?,
                        api_key_default_expiration: KeyExpiration::parse_code(
                            &r.try_get::<String, _>("api_key_default_expiration").map_err(db)?,
                        )?,
                        require_disable_before_delete: r.try_get("require_disable_before_delete").map_err(db)?,
                        token_max_hours: hours(r.try_get("token_max_hours").map_err(db)?),
                        token_user_choice: r.try_get("token_user_choice").map_err(db)?,
                        token_default_hours: hours(r.try_get("token_default_hours").map_err(db)?),
                        require_mfa: r.try_get("require_mfa").map_err(db)?,
                        enforce_security_key: r.try_get("enforce_security_key").map_err(db)?,
                        passkey_sign_in: r.try_get("passkey_sign_in").map_err(db)?,
                        security_key_models: OrgPolicy::parse_models(
                            &r.try_get::<String, _>("security_key_models").map_err(db)?,
                        )?,
                    })
                }

                async fn set_org_policy(&self, org: &OrgId, p: &OrgPolicy) -> Result<()> {
                    let list: Vec<String> = p.api_key_expirations.iter().map(KeyExpiration::as_code).collect();
                    sqlx::query(
                        "INSERT INTO org_policy (org_id, api_key_expirations, api_key_user_choice, \
                         api_key_default_expiration, require_disable_before_delete, created_at, \
                         token_max_hours, token_user_choice, token_default_hours, require_mfa, \
                         enforce_security_key, passkey_sign_in, security_key_models) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                         ON CONFLICT (org_id) DO UPDATE SET \
                         api_key_expirations = excluded.api_key_expirations, \
                         api_key_user_choice = excluded.api_key_user_choice, \
                         api_key_default_expiration = excluded.api_key_default_expiration, \
                         require_disable_before_delete = excluded.require_disable_before_delete, \
                         token_max_hours = excluded.token_max_hours, \
                         token_user_choice = excluded.token_user_choice, \
                         token_default_hours = excluded.token_default_hours, \
                         require_mfa = excluded.require_mfa, \
                         enforce_security_key = excluded.enforce_security_key, \
                         passkey_sign_in = excluded.passkey_sign_in, \
                         security_key_models = excluded.security_key_models",
                    )
                    .bind(&org.0)
                    .bind(list.join(","))
                    .bind(p.api_key_user_choice)
                    .bind(p.api_key_default_expiration.as_code())
                    .bind(p.require_disable_before_delete)
                    .bind(gatehouse_core::clock::Clock::now(&gatehouse_core::clock::SystemClock).unix_timestamp())
                    .bind(i64::from(p.token_max_hours))
                    .bind(p.token_user_choice)
                    .bind(i64::from(p.token_default_hours))
                    .bind(p.require_mfa)
                    .bind(p.enforce_security_key)
                    .bind(p.passkey_sign_in)
                    .bind(p.models_text())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }
            }
        }
    };
}

pub(crate) use impl_account_store;
