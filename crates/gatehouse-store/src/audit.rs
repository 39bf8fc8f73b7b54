//! SQL for the audit trail (`AuditStore`), one text for both backends, stamped out by
//! `impl_audit_store!`.

macro_rules! impl_audit_store {
    ($store:ident) => {
        mod audit_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::Row;

            use crate::error::db;
            use gatehouse_core::audit::AuditEvent;
            use gatehouse_core::ids::{AuditId, AccountId, OrgId};
            use gatehouse_core::page::PageRequest;
            use gatehouse_core::store::{AuditFilter, AuditStore};

            use super::{DbOf, $store};
            use crate::sql::ts;

            /// The columns `audit_row` reads (of `audit_event e`), but `username`, which the
            /// organisation's list fills from the account concerned.
            macro_rules! audit_columns {
                () => {
                    "e.audit_event_id, e.created_at, e.account_id, e.action, e.factor, e.ip, \
                     e.detail, e.user_agent, e.org_id, e.actor_id, e.actor_username, \
                     e.credential_kind, e.credential_id"
                };
            }

            fn audit_row(r: &<DbOf as sqlx::Database>::Row) -> Result<AuditEvent> {
                Ok(AuditEvent {
                    id: AuditId(r.try_get("audit_event_id").map_err(db)?),
                    at: ts(r.try_get("created_at").map_err(db)?)?,
                    user_id: r
                        .try_get::<Option<String>, _>("account_id")
                        .map_err(db)?
                        .map(AccountId),
                    org_id: r.try_get::<Option<String>, _>("org_id").map_err(db)?.map(OrgId),
                    username: r.try_get("username").map_err(db)?,
                    action: r.try_get("action").map_err(db)?,
                    factor: r.try_get("factor").map_err(db)?,
                    ip: r.try_get("ip").map_err(db)?,
                    user_agent: r.try_get("user_agent").map_err(db)?,
                    detail: r.try_get("detail").map_err(db)?,
                    actor_id: r
                        .try_get::<Option<String>, _>("actor_id")
                        .map_err(db)?
                        .map(AccountId),
                    actor_username: r.try_get("actor_username").map_err(db)?,
                    credential_kind: r.try_get("credential_kind").map_err(db)?,
                    credential_id: r.try_get("credential_id").map_err(db)?,
                })
            }

            #[async_trait]
            impl AuditStore for $store {
                async fn insert_audit(&self, e: &AuditEvent) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO audit_event (audit_event_id, created_at, account_id, username, \
                         action, factor, ip, detail, user_agent, org_id, actor_id, actor_username, \
                         credential_kind, credential_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                         COALESCE(CAST($10 AS TEXT), (SELECT org_id FROM account WHERE account_id = $3)), \
                         $11, $12, $13, $14)",
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
                    .bind(e.org_id.as_ref().map(|o| o.0.clone()))
                    .bind(e.actor_id.as_ref().map(|a| a.0.clone()))
                    .bind(&e.actor_username)
                    .bind(&e.credential_kind)
                    .bind(&e.credential_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn list_audit(&self, user: Option<&AccountId>, limit: u32) -> Result<Vec<AuditEvent>> {
                    sqlx::query(
                        concat!(
                            "SELECT ", audit_columns!(), ", e.username FROM audit_event e \
                             WHERE (CAST($1 AS TEXT) IS NULL OR e.account_id = $1) \
                             ORDER BY e.created_at DESC, e.audit_event_id DESC LIMIT $2"
                        ),
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

                async fn list_org_audit(
                    &self,
                    org: &OrgId,
                    filter: &AuditFilter,
                    page: &PageRequest,
                ) -> Result<Vec<AuditEvent>> {
                    // `api_key.` selects every action it starts. Compared with substr, not
                    // LIKE (`_` is a LIKE wildcard) and not a range (collations other than C
                    // order punctuation unlike bytes).
                    let (exact, prefix) = match filter.action.as_deref() {
                        Some(a) if a.ends_with('.') => (None, Some(a)),
                        other => (other, None),
                    };
                    // Two texts, so that a later page's cursor bounds the index range
                    // (`created_at <= $8`) rather than filtering a scan from the newest
                    // record: an export walks every page.
                    macro_rules! org_audit_sql {
                        ($after:literal) => {
                            concat!(
                                "SELECT ", audit_columns!(), ", COALESCE(e.username, s.username) AS username \
                                 FROM audit_event e LEFT JOIN account s ON s.account_id = e.account_id \
                                 WHERE e.org_id = $1 \
                                 AND (CAST($2 AS TEXT) IS NULL OR COALESCE(e.actor_username, s.username, e.username) = $2) \
                                 AND (CAST($3 AS TEXT) IS NULL OR e.action = $3) \
                                 AND (CAST($4 AS TEXT) IS NULL OR substr(e.action, 1, length($4)) = $4) \
                                 AND (CAST($5 AS TEXT) IS NULL OR e.credential_id = $5) \
                                 AND (CAST($6 AS BIGINT) IS NULL OR e.created_at >= $6) \
                                 AND (CAST($7 AS BIGINT) IS NULL OR e.created_at < $7) ",
                                $after,
                                " ORDER BY e.created_at DESC, e.audit_event_id DESC LIMIT $10"
                            )
                        };
                    }
                    let sql = if page.after.is_some() {
                        org_audit_sql!("AND e.created_at <= $8 AND (e.created_at < $8 OR e.audit_event_id < $9)")
                    } else {
                        org_audit_sql!("AND CAST($8 AS BIGINT) IS NULL AND CAST($9 AS TEXT) IS NULL")
                    };
                    sqlx::query(sql)
                        .bind(&org.0)
                        .bind(filter.actor.as_deref())
                        .bind(exact)
                        .bind(prefix)
                        .bind(filter.credential.as_deref())
                        .bind(filter.since)
                        .bind(filter.until)
                        .bind(page.after_created_at())
                        .bind(page.after_id())
                        .bind(page.fetch_limit())
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(audit_row)
                        .collect()
                }
            }
        }
    };
}

pub(crate) use impl_audit_store;
