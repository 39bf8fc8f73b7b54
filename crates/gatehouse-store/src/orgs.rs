//! SQL for organisations, their members and their policy (`OrgStore`), one text for
//! both backends, stamped out by `impl_org_store!`.
//!
//! The last-owner guard: every change that could take away an organisation's last
//! active owner runs in one transaction whose first statement writes the organisation's
//! row (`members_changed_at`). On PostgreSQL that takes the row lock; on SQLite the write
//! lock. Concurrent changes in one organisation therefore run one after the other, and
//! each counts the owners the previous ones left (PostgreSQL's READ COMMITTED gives each
//! statement a fresh snapshot), so two owners demoting each other at once leave one.

macro_rules! impl_org_store {
    ($store:ident) => {
        mod org_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::Row;
            use time::OffsetDateTime;

            use crate::error::db;
            use gatehouse_core::account::{Account, AccountRecord, Username};
            use gatehouse_core::ids::{AccountId, OrgId};
            use gatehouse_core::org::{AccountCaps, Edition, KeyExpiration, Org, OrgPolicy};
            use gatehouse_core::page::PageRequest;
            use gatehouse_core::store::{Invalidation, MemberChange, MemberFilter, MemberRecord, OrgStore};
            use gatehouse_core::Error;

            use super::account_store::account_row;
            use super::{DbOf, $store, publish};
            use crate::sql::{opt_ts, ts};

            /// The account columns `account_row` reads (alias `a`).
            macro_rules! account_columns {
                () => {
                    "a.account_id, a.org_id, a.username, a.email, a.display_name, a.password_hash, a.role, \
                     a.operator, a.kind, a.disabled, a.created_at, a.tokens_not_before"
                };
            }

            /// What `member_row` reads: the account and what the admin panel shows beside it.
            macro_rules! member_columns {
                () => {
                    concat!(
                        account_columns!(),
                        ", a.last_sign_in_at, EXISTS (SELECT 1 FROM mfa_factor f \
                         WHERE f.account_id = a.account_id AND f.confirmed_at IS NOT NULL) AS mfa_enabled"
                    )
                };
            }

            fn org_row(r: &<DbOf as sqlx::Database>::Row) -> Result<Org> {
                Ok(Org {
                    id: OrgId(r.try_get("org_id").map_err(db)?),
                    name: r.try_get("name").map_err(db)?,
                    edition: Edition::parse(&r.try_get::<String, _>("edition").map_err(db)?)?,
                    created_at: ts(r.try_get("created_at").map_err(db)?)?,
                })
            }

            fn member_row(r: &<DbOf as sqlx::Database>::Row) -> Result<MemberRecord> {
                let record = account_row(r)?;
                Ok(MemberRecord {
                    password_set: record.password_hash.is_some(),
                    account: record.user,
                    last_sign_in_at: opt_ts(r.try_get("last_sign_in_at").map_err(db)?)?,
                    mfa_enabled: r.try_get("mfa_enabled").map_err(db)?,
                })
            }

            fn hours(h: i64) -> u32 {
                h.clamp(1, 24) as u32
            }

            /// A stored per-account cap (`NULL`: the server's).
            fn cap(v: Option<i64>) -> Option<u32> {
                v.map(|n| u32::try_from(n.max(1)).unwrap_or(u32::MAX))
            }

            /// Whether an account in this state counts as an active owner.
            fn active_owner(role: &str, disabled: bool) -> bool {
                role == "owner" && !disabled
            }

            /// The last-owner guard (see the module doc), run first in `tx`: locks the
            /// member's organisation, re-reads the member and refuses a change that would
            /// leave it without an active owner. Returns the organisation's id.
            pub(super) async fn guard_member_change(
                tx: &mut sqlx::Transaction<'_, DbOf>,
                org: Option<&OrgId>,
                id: &AccountId,
                change: &MemberChange,
                at: OffsetDateTime,
            ) -> Result<String> {
                // First statement, and a write: the organisation's lock (see the module doc).
                let locked = sqlx::query(
                    "UPDATE org SET members_changed_at = $1 WHERE org_id = (SELECT a.org_id FROM account a \
                     WHERE a.account_id = $2 AND a.kind = 'person' AND (CAST($3 AS TEXT) IS NULL OR a.org_id = $3)) \
                     RETURNING org_id",
                )
                .bind(at.unix_timestamp())
                .bind(&id.0)
                .bind(org.map(|o| o.0.clone()))
                .fetch_optional(&mut **tx)
                .await
                .map_err(db)?;
                let Some(locked) = locked else {
                    return Err(Error::NotFound);
                };
                let locked_org: String = locked.try_get("org_id").map_err(db)?;
                let row = sqlx::query("SELECT org_id, role, disabled FROM account WHERE account_id = $1")
                    .bind(&id.0)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db)?;
                let now_org: String = row.try_get("org_id").map_err(db)?;
                if now_org != locked_org {
                    return Err(Error::Conflict(
                        "this account moved to another organisation at the same moment; try again".into(),
                    ));
                }
                let role: String = row.try_get("role").map_err(db)?;
                let disabled: bool = row.try_get("disabled").map_err(db)?;
                let stays_active_owner = match change {
                    MemberChange::Role(r) => active_owner(r.as_str(), disabled),
                    MemberChange::Disabled(d) => active_owner(&role, *d),
                    MemberChange::MoveTo(to) => to.0 == locked_org && active_owner(&role, disabled),
                };
                if active_owner(&role, disabled) && !stays_active_owner {
                    let others: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM account WHERE org_id = $1 AND kind = 'person' \
                         AND role = 'owner' AND disabled = FALSE AND account_id <> $2",
                    )
                    .bind(&locked_org)
                    .bind(&id.0)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db)?
                    .try_get("n")
                    .map_err(db)?;
                    if others == 0 {
                        return Err(Error::Conflict(
                            "this is the organisation's last active owner: make another member an owner first"
                                .into(),
                        ));
                    }
                }
                Ok(locked_org)
            }

            #[async_trait]
            impl OrgStore for $store {
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
                    self.org_by_name(name).await?.ok_or_else(|| Error::internal("organisation vanished"))
                }

                async fn insert_org(&self, org: &Org) -> Result<()> {
                    sqlx::query("INSERT INTO org (org_id, name, edition, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(&org.id.0)
                        .bind(&org.name)
                        .bind(org.edition.as_str())
                        .bind(org.created_at.unix_timestamp())
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(())
                }

                async fn org_by_id(&self, id: &OrgId) -> Result<Option<Org>> {
                    sqlx::query("SELECT org_id, name, edition, created_at FROM org WHERE org_id = $1")
                        .bind(&id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(org_row)
                        .transpose()
                }

                async fn org_by_name(&self, name: &str) -> Result<Option<Org>> {
                    sqlx::query("SELECT org_id, name, edition, created_at FROM org WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(org_row)
                        .transpose()
                }

                async fn list_orgs(&self, page: &PageRequest) -> Result<Vec<Org>> {
                    sqlx::query(
                        "SELECT org_id, name, edition, created_at FROM org \
                         WHERE (CAST($1 AS BIGINT) IS NULL OR created_at > $1 OR (created_at = $1 AND org_id > $2)) \
                         ORDER BY created_at, org_id LIMIT $3",
                    )
                    .bind(page.after_created_at())
                    .bind(page.after_id())
                    .bind(page.fetch_limit())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(org_row)
                    .collect()
                }

                async fn set_org_edition(&self, id: &OrgId, edition: Edition) -> Result<bool> {
                    let done = sqlx::query("UPDATE org SET edition = $1 WHERE org_id = $2")
                        .bind(edition.as_str())
                        .bind(&id.0)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn org_principal(&self, org: &OrgId, now: OffsetDateTime) -> Result<Account> {
                    let find = concat!("SELECT ", account_columns!(), " FROM account a WHERE a.org_id = $1 AND a.kind = 'org'");
                    if let Some(r) = sqlx::query(find).bind(&org.0).fetch_optional(&self.pool).await.map_err(db)? {
                        return Ok(account_row(&r)?.user);
                    }
                    let Some(o) = self.org_by_id(org).await? else {
                        return Err(Error::NotFound);
                    };
                    // The username has an '@', which no person's username can have, so
                    // nobody can sign in as (or collide with) the principal.
                    sqlx::query(
                        "INSERT INTO account (account_id, org_id, username, email, display_name, password_hash, \
                         role, operator, kind, disabled, created_at, modified_at) \
                         VALUES ($1, $2, $3, '', $4, NULL, 'member', FALSE, 'org', FALSE, $5, $5) \
                         ON CONFLICT (org_id) WHERE kind = 'org' DO NOTHING",
                    )
                    .bind(AccountId::generate().0)
                    .bind(&org.0)
                    .bind(format!("@{}", o.id.0))
                    .bind(&o.name)
                    .bind(now.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    let r = sqlx::query(find).bind(&org.0).fetch_one(&self.pool).await.map_err(db)?;
                    Ok(account_row(&r)?.user)
                }

                async fn list_members(
                    &self,
                    org: &OrgId,
                    filter: &MemberFilter,
                    page: &PageRequest,
                ) -> Result<Vec<MemberRecord>> {
                    let sql = concat!(
                        "SELECT ", member_columns!(), " FROM account a WHERE a.org_id = $1 AND a.kind = 'person' \
                         AND (CAST($2 AS TEXT) IS NULL OR a.role = $2) \
                         AND (CAST($3 AS BOOLEAN) IS NULL OR a.disabled = $3) \
                         AND (CAST($4 AS BIGINT) IS NULL OR a.created_at > $4 OR (a.created_at = $4 AND a.account_id > $5)) \
                         ORDER BY a.created_at, a.account_id LIMIT $6"
                    );
                    sqlx::query(sql)
                        .bind(&org.0)
                        .bind(filter.role.map(|r| r.as_str()))
                        .bind(filter.disabled)
                        .bind(page.after_created_at())
                        .bind(page.after_id())
                        .bind(page.fetch_limit())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(member_row)
                        .collect()
                }

                async fn member(&self, org: &OrgId, id: &AccountId) -> Result<Option<MemberRecord>> {
                    let sql = concat!(
                        "SELECT ", member_columns!(), " FROM account a \
                         WHERE a.org_id = $1 AND a.account_id = $2 AND a.kind = 'person'"
                    );
                    sqlx::query(sql)
                        .bind(&org.0)
                        .bind(&id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(member_row)
                        .transpose()
                }

                async fn member_by_username(&self, org: &OrgId, username: &Username) -> Result<Option<AccountRecord>> {
                    let sql = concat!(
                        "SELECT ", account_columns!(), " FROM account a WHERE a.org_id = $1 AND a.username = $2 AND a.kind = 'person'"
                    );
                    sqlx::query(sql)
                        .bind(&org.0)
                        .bind(username.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(account_row)
                        .transpose()
                }

                async fn change_member(
                    &self,
                    org: Option<&OrgId>,
                    id: &AccountId,
                    change: &MemberChange,
                    at: OffsetDateTime,
                ) -> Result<Account> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let locked_org = guard_member_change(&mut tx, org, id, change, at).await?;
                    let update = match change {
                        MemberChange::Role(r) => sqlx::query("UPDATE account SET role = $1 WHERE account_id = $2")
                            .bind(r.as_str())
                            .bind(&id.0),
                        MemberChange::Disabled(d) => sqlx::query("UPDATE account SET disabled = $1 WHERE account_id = $2")
                            .bind(*d)
                            .bind(&id.0),
                        MemberChange::MoveTo(to) => {
                            if to.0 != locked_org {
                                // The receiving organisation's row too, so its own changes wait.
                                let there = sqlx::query("UPDATE org SET members_changed_at = $1 WHERE org_id = $2")
                                    .bind(at.unix_timestamp())
                                    .bind(&to.0)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(db)?;
                                if there.rows_affected() == 0 {
                                    return Err(Error::invalid("org", "no such organisation"));
                                }
                            }
                            sqlx::query(
                                "UPDATE account SET role = CASE WHEN org_id = $1 THEN role ELSE 'member' END, \
                                 org_id = $1 WHERE account_id = $2",
                            )
                                .bind(&to.0)
                                .bind(&id.0)
                        }
                    };
                    update.execute(&mut *tx).await.map_err(db)?;
                    // SCIM's meta.lastModified.
                    sqlx::query("UPDATE account SET modified_at = $1 WHERE account_id = $2")
                        .bind(at.unix_timestamp())
                        .bind(&id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    // SECURITY: a pending set-password link was handed out for the member as
                    // they were; after a promotion, a move or disabling it must not open the
                    // account as it is now (an owner reissues one).
                    sqlx::query("DELETE FROM password_link WHERE account_id = $1")
                        .bind(&id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    publish(&mut tx, at, Invalidation::Account(id.clone())).await?;
                    let sql = concat!("SELECT ", account_columns!(), " FROM account a WHERE a.account_id = $1");
                    let r = sqlx::query(sql).bind(&id.0).fetch_one(&mut *tx).await.map_err(db)?;
                    let account = account_row(&r)?.user;
                    tx.commit().await.map_err(db)?;
                    Ok(account)
                }

                async fn count_active_owners(&self, org: &OrgId) -> Result<u64> {
                    let n: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM account WHERE org_id = $1 AND kind = 'person' \
                         AND role = 'owner' AND disabled = FALSE",
                    )
                    .bind(&org.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?
                    .try_get("n")
                    .map_err(db)?;
                    Ok(n.max(0) as u64)
                }

                async fn record_sign_in(&self, id: &AccountId, at: OffsetDateTime) -> Result<()> {
                    sqlx::query("UPDATE account SET last_sign_in_at = $1 WHERE account_id = $2")
                        .bind(at.unix_timestamp())
                        .bind(&id.0)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(())
                }

                async fn org_member_count(&self, org: &OrgId) -> Result<u64> {
                    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM account WHERE org_id = $1 AND kind = 'person'")
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
                         security_key_models, max_api_keys_per_account, max_tokens_per_account, \
                         max_ssh_keys_per_account, max_ssh_private_keys_per_account \
                         FROM org_policy WHERE org_id = $1",
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
                        caps: AccountCaps {
                            api_keys: cap(r.try_get("max_api_keys_per_account").map_err(db)?),
                            tokens: cap(r.try_get("max_tokens_per_account").map_err(db)?),
                            ssh_keys: cap(r.try_get("max_ssh_keys_per_account").map_err(db)?),
                            ssh_private_keys: cap(r.try_get("max_ssh_private_keys_per_account").map_err(db)?),
                        },
                    })
                }

                async fn set_org_policy(&self, org: &OrgId, p: &OrgPolicy) -> Result<()> {
                    let list: Vec<String> = p.api_key_expirations.iter().map(KeyExpiration::as_code).collect();
                    sqlx::query(
                        "INSERT INTO org_policy (org_id, api_key_expirations, api_key_user_choice, \
                         api_key_default_expiration, require_disable_before_delete, created_at, \
                         token_max_hours, token_user_choice, token_default_hours, require_mfa, \
                         enforce_security_key, passkey_sign_in, security_key_models, \
                         max_api_keys_per_account, max_tokens_per_account, max_ssh_keys_per_account, \
                         max_ssh_private_keys_per_account) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
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
                         security_key_models = excluded.security_key_models, \
                         max_api_keys_per_account = excluded.max_api_keys_per_account, \
                         max_tokens_per_account = excluded.max_tokens_per_account, \
                         max_ssh_keys_per_account = excluded.max_ssh_keys_per_account, \
                         max_ssh_private_keys_per_account = excluded.max_ssh_private_keys_per_account",
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
                    .bind(p.caps.api_keys.map(i64::from))
                    .bind(p.caps.tokens.map(i64::from))
                    .bind(p.caps.ssh_keys.map(i64::from))
                    .bind(p.caps.ssh_private_keys.map(i64::from))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }
            }
        }
    };
}

pub(crate) use impl_org_store;
