//! The SQL of every storage operation, written once in the dialect both backends
//! accept (`$n` placeholders, `ON CONFLICT`, `RETURNING`) and stamped out for each
//! backend's pool type by `impl_store!`. Backend differences live in the backend
//! modules, never as a branch inside a query.

/// Seconds since the epoch to a UTC time.
pub(crate) fn ts(secs: i64) -> gatehouse_core::Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(gatehouse_core::Error::internal)
}

/// A nullable seconds-since-the-epoch column to a UTC time.
pub(crate) fn opt_ts(secs: Option<i64>) -> gatehouse_core::Result<Option<time::OffsetDateTime>> {
    secs.map(ts).transpose()
}

/// A stored hex SHA-256 (of a session cookie, key or token secret) back to its hash;
/// `what` names the secret in the internal error.
pub(crate) fn stored_hash(
    hex: &str,
    what: &str,
) -> gatehouse_core::Result<gatehouse_core::secret::TokenHash> {
    gatehouse_core::secret::TokenHash::from_hex(hex)
        .ok_or_else(|| gatehouse_core::Error::internal(format!("malformed {what} hash in store")))
}

/// Publishes a cache invalidation; run inside the transaction of the change it reports.
pub(crate) const INSERT_INVALIDATION: &str =
    "INSERT INTO invalidation (invalidation_id, at, kind, subject) VALUES ($1, $2, $3, $4)";

macro_rules! impl_store {
    ($store:ty) => {
        use async_trait::async_trait;
        use gatehouse_core::account::{NewUser, User, UserRecord, Username};
        use gatehouse_core::audit::AuditEvent;
        use gatehouse_core::ids::{AuditId, OrgId, SessionId, UserId};
        use gatehouse_core::org::Org;
        use gatehouse_core::secret::TokenHash;
        use gatehouse_core::session::SessionRecord;
        use gatehouse_core::store::{Invalidation, KeyStore, Published, Store};
        use gatehouse_core::api_key::{ApiKeyRecord, KeyUsage};
        use gatehouse_core::scope::Scopes;
        use gatehouse_core::ids::ApiKeyId;
        use gatehouse_core::org::{KeyExpiration, OrgPolicy};
        use gatehouse_core::page::PageRequest;
        use gatehouse_core::throttle::FailureState;
        use gatehouse_core::{Error, Result};
        use sqlx::Row;
        use time::OffsetDateTime;

        use crate::error::db;
        use crate::sql::{opt_ts, stored_hash, ts};

        macro_rules! user_columns {
            () => {
                "account_id, org_id, username, email, display_name, password_hash, is_admin, disabled, created_at, tokens_not_before"
            };
        }

        fn user_row(r: &<DbOf as sqlx::Database>::Row) -> Result<UserRecord> {
            Ok(UserRecord {
                user: User {
                    id: UserId(r.try_get("account_id").map_err(db)?),
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

        fn session_row(r: &<DbOf as sqlx::Database>::Row) -> Result<SessionRecord> {
            let hash: String = r.try_get("token_hash").map_err(db)?;
            Ok(SessionRecord {
                id: SessionId(r.try_get("session_id").map_err(db)?),
                token_hash: stored_hash(&hash, "token")?,
                user_id: UserId(r.try_get("account_id").map_err(db)?),
                created_at: ts(r.try_get("created_at").map_err(db)?)?,
                last_seen_at: ts(r.try_get("last_seen_at").map_err(db)?)?,
                expires_at: ts(r.try_get("expires_at").map_err(db)?)?,
                ip: r.try_get("ip").map_err(db)?,
                user_agent: r.try_get("user_agent").map_err(db)?,
            })
        }

        fn audit_row(r: &<DbOf as sqlx::Database>::Row) -> Result<AuditEvent> {
            Ok(AuditEvent {
                id: AuditId(r.try_get("audit_event_id").map_err(db)?),
                at: ts(r.try_get("created_at").map_err(db)?)?,
                user_id: r
                    .try_get::<Option<String>, _>("account_id")
                    .map_err(db)?
                    .map(UserId),
                username: r.try_get("username").map_err(db)?,
                action: r.try_get("action").map_err(db)?,
                factor: r.try_get("factor").map_err(db)?,
                ip: r.try_get("ip").map_err(db)?,
                user_agent: r.try_get("user_agent").map_err(db)?,
                detail: r.try_get("detail").map_err(db)?,
            })
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db)?;
                Ok(())
            }

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

            async fn insert_user(&self, u: &NewUser) -> Result<User> {
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
                Ok(User {
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

            async fn user_by_username(&self, username: &Username) -> Result<Option<UserRecord>> {
                let sql = concat!("SELECT ", user_columns!(), " FROM account WHERE username = $1");
                sqlx::query(sql)
                    .bind(username.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(user_row)
                    .transpose()
            }

            async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>> {
                let sql = concat!("SELECT ", user_columns!(), " FROM account WHERE account_id = $1");
                sqlx::query(sql)
                    .bind(&id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(user_row)
                    .transpose()
            }

            async fn list_users(&self) -> Result<Vec<User>> {
                let sql = concat!("SELECT ", user_columns!(), " FROM account ORDER BY created_at, username");
                sqlx::query(sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| user_row(r).map(|u| u.user))
                    .collect()
            }

            async fn count_users(&self) -> Result<u64> {
                let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM account")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?
                    .try_get("n")
                    .map_err(db)?;
                Ok(n.max(0) as u64)
            }

            async fn set_password_hash(&self, id: &UserId, hash: &str) -> Result<()> {
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

            async fn set_user_disabled(&self, id: &UserId, disabled: bool, at: OffsetDateTime) -> Result<()> {
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
                publish(&mut tx, at, Invalidation::User(id.clone())).await?;
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

            async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO session (session_id, token_hash, account_id, created_at, \
                     last_seen_at, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&s.id.0)
                .bind(s.token_hash.to_hex())
                .bind(&s.user_id.0)
                .bind(s.created_at.unix_timestamp())
                .bind(s.last_seen_at.unix_timestamp())
                .bind(s.expires_at.unix_timestamp())
                .bind(&s.ip)
                .bind(&s.user_agent)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn session_by_hash(&self, hash: &TokenHash) -> Result<Option<SessionRecord>> {
                sqlx::query(
                    "SELECT session_id, token_hash, account_id, created_at, last_seen_at, \
                     expires_at, ip, user_agent FROM session WHERE token_hash = $1",
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

            async fn delete_user_sessions(&self, user: &UserId, at: OffsetDateTime) -> Result<u64> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                let done = sqlx::query("DELETE FROM session WHERE account_id = $1")
                    .bind(&user.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                publish(&mut tx, at, Invalidation::User(user.clone())).await?;
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

            async fn insert_audit(&self, e: &AuditEvent) -> Result<()> {
                sqlx::query(
                    "INSERT INTO audit_event (audit_event_id, created_at, account_id, username, \
                     action, factor, ip, detail, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&e.id.0)
                .bind(e.at.unix_timestamp())
                .bind(e.user_id.as_ref().map(|u| u.0.clone()))
                .bind(&e.username)
                .bind(&e.action)
                .bind(&e.factor)
                .bind(&e.ip)
                .bind(&e.detail)
                .bind(&e.user_agent)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn list_audit(&self, user: Option<&UserId>, limit: u32) -> Result<Vec<AuditEvent>> {
                sqlx::query(
                    "SELECT audit_event_id, created_at, account_id, username, action, factor, ip, detail, \
                     user_agent FROM audit_event WHERE (CAST($1 AS TEXT) IS NULL OR account_id = $1) \
                     ORDER BY created_at DESC, audit_event_id DESC LIMIT $2",
                )
                .bind(user.map(|u| u.0.clone()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?
                .iter()
                .map(audit_row)
                .collect()
            }

            async fn invalidations_since(&self, since: OffsetDateTime) -> Result<Vec<Published>> {
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
                    if let Some(change) = Invalidation::from_parts(&kind, r.try_get("subject").map_err(db)?) {
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
        }

        /// Writes an invalidation inside the transaction of the change it reports.
        async fn publish(
            tx: &mut sqlx::Transaction<'_, DbOf>,
            at: OffsetDateTime,
            what: Invalidation,
        ) -> Result<()> {
            let (kind, subject) = what.parts();
            sqlx::query(crate::sql::INSERT_INVALIDATION)
                .bind(gatehouse_core::secret::random_token::<16>())
                .bind(at.unix_timestamp())
                .bind(kind)
                .bind(subject)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
            Ok(())
        }

        macro_rules! key_columns {
            () => {
                "api_key_id, account_id, name, display_prefix, key_hash, permissions, created_at, \
                 created_by, expires_at, last_used_at, last_used_ip, last_used_user_agent, enabled, \
                 parent_id, revoked_at"
            };
        }

        fn key_row(r: &<DbOf as sqlx::Database>::Row) -> Result<ApiKeyRecord> {
            let hash: String = r.try_get("key_hash").map_err(db)?;
            Ok(ApiKeyRecord {
                id: ApiKeyId(r.try_get("api_key_id").map_err(db)?),
                user_id: UserId(r.try_get("account_id").map_err(db)?),
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

        fn hours(h: i64) -> u32 {
            h.clamp(1, 24) as u32
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn insert_api_key(&self, k: &ApiKeyRecord) -> Result<()> {
                self.insert_api_keys(std::slice::from_ref(k)).await
            }

            async fn insert_api_keys(&self, keys: &[ApiKeyRecord]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                for k in keys {
                    sqlx::query(concat!("INSERT INTO api_key (", key_columns!(), ") VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"))
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
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
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

            async fn api_key_by_id(&self, owner: &UserId, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>> {
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

            async fn list_api_keys(&self, owner: &UserId, page: &PageRequest) -> Result<Vec<ApiKeyRecord>> {
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

            async fn count_live_api_keys(&self, owner: &UserId, now: OffsetDateTime) -> Result<u64> {
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

            async fn revoke_token_minted_api_keys(
                &self,
                owner: &UserId,
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
                owner: &UserId,
                id: &ApiKeyId,
                enabled: bool,
                at: OffsetDateTime,
            ) -> Result<bool> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                let done = sqlx::query("UPDATE api_key SET enabled = $1 WHERE api_key_id = $2 AND account_id = $3")
                    .bind(enabled)
                    .bind(&id.0)
                    .bind(&owner.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                publish(&mut tx, at, Invalidation::ApiKey(id.clone())).await?;
                tx.commit().await.map_err(db)?;
                Ok(true)
            }

            async fn delete_api_key(&self, owner: &UserId, id: &ApiKeyId, at: OffsetDateTime) -> Result<bool> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                let done = sqlx::query("DELETE FROM api_key WHERE api_key_id = $1 AND account_id = $2")
                    .bind(&id.0)
                    .bind(&owner.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                publish(&mut tx, at, Invalidation::ApiKey(id.clone())).await?;
                tx.commit().await.map_err(db)?;
                Ok(true)
            }

            async fn delete_api_key_by_hash(
                &self,
                hash: &TokenHash,
                at: OffsetDateTime,
            ) -> Result<Option<(ApiKeyId, UserId)>> {
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
                let owner = UserId(r.try_get("account_id").map_err(db)?);
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

            async fn count_api_keys(&self) -> Result<u64> {
                let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM api_key")
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
                     token_default_hours FROM org_policy WHERE org_id = $1",
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
                })
            }

            async fn set_org_policy(&self, org: &OrgId, p: &OrgPolicy) -> Result<()> {
                let list: Vec<String> = p.api_key_expirations.iter().map(KeyExpiration::as_code).collect();
                sqlx::query(
                    "INSERT INTO org_policy (org_id, api_key_expirations, api_key_user_choice, \
                     api_key_default_expiration, require_disable_before_delete, created_at, \
                     token_max_hours, token_user_choice, token_default_hours) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (org_id) DO UPDATE SET \
                     api_key_expirations = excluded.api_key_expirations, \
                     api_key_user_choice = excluded.api_key_user_choice, \
                     api_key_default_expiration = excluded.api_key_default_expiration, \
                     require_disable_before_delete = excluded.require_disable_before_delete, \
                     token_max_hours = excluded.token_max_hours, \
                     token_user_choice = excluded.token_user_choice, \
                     token_default_hours = excluded.token_default_hours",
                )
                .bind(&org.0)
                .bind(list.join(","))
                .bind(p.api_key_user_choice)
                .bind(p.api_key_default_expiration.as_code())
                .bind(p.require_disable_before_delete)
                .bind(OffsetDateTime::now_utc().unix_timestamp())
                .bind(i64::from(p.token_max_hours))
                .bind(p.token_user_choice)
                .bind(i64::from(p.token_default_hours))
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_store;
