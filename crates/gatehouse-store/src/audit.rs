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
            use gatehouse_core::store::AuditStore;

            use super::{DbOf, $store};
            use crate::sql::ts;

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
                })
            }

            #[async_trait]
            impl AuditStore for $store {
                async fn insert_audit(&self, e: &AuditEvent) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO audit_event (audit_event_id, created_at, account_id, username, \
                         action, factor, ip, detail, user_agent, org_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                         COALESCE(CAST($10 AS TEXT), (SELECT org_id FROM account WHERE account_id = $3)))",
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
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn list_audit(&self, user: Option<&AccountId>, limit: u32) -> Result<Vec<AuditEvent>> {
                    sqlx::query(
                        "SELECT audit_event_id, created_at, account_id, username, action, factor, ip, detail, \
                         user_agent, org_id FROM audit_event WHERE (CAST($1 AS TEXT) IS NULL OR account_id = $1) \
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
            }
        }
    };
}

pub(crate) use impl_audit_store;
