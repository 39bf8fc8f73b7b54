//! SQL for the sealed values of every aggregate (`SealedStore`), for master key
//! rotation. Each kind is one table's id, owner and sealed column; the texts are
//! chosen by kind, never built from input.

use gatehouse_core::store::SealedKind;

/// The select and update texts of one kind.
pub(crate) fn queries(kind: SealedKind) -> (&'static str, &'static str) {
    match kind {
        SealedKind::SigningKey => (
            "SELECT kid AS id, CAST(NULL AS TEXT) AS owner, sealed_private_key AS sealed \
             FROM signing_key WHERE (CAST($1 AS TEXT) IS NULL OR kid > $1) ORDER BY kid LIMIT $2",
            "UPDATE signing_key SET sealed_private_key = $1 WHERE kid = $2 \
             AND sealed_private_key = $3",
        ),
        SealedKind::TotpSeed => (
            "SELECT mfa_factor_id AS id, account_id AS owner, sealed_secret AS sealed \
             FROM mfa_factor WHERE sealed_secret IS NOT NULL \
             AND (CAST($1 AS TEXT) IS NULL OR mfa_factor_id > $1) ORDER BY mfa_factor_id LIMIT $2",
            "UPDATE mfa_factor SET sealed_secret = $1 WHERE mfa_factor_id = $2 \
             AND sealed_secret = $3",
        ),
        SealedKind::SshPrivateKey => (
            "SELECT ssh_private_key_id AS id, account_id AS owner, sealed_private_key AS sealed \
             FROM ssh_private_key WHERE (CAST($1 AS TEXT) IS NULL OR ssh_private_key_id > $1) \
             ORDER BY ssh_private_key_id LIMIT $2",
            "UPDATE ssh_private_key SET sealed_private_key = $1 WHERE ssh_private_key_id = $2 \
             AND sealed_private_key = $3",
        ),
    }
}

macro_rules! impl_sealed_store {
    ($store:ident) => {
        mod sealed_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use gatehouse_core::store::{SealedKind, SealedStore, SealedValue};
            use sqlx::Row;

            use super::$store;
            use crate::error::db;
            use crate::sealed::queries;

            #[async_trait]
            impl SealedStore for $store {
                async fn sealed_values(
                    &self,
                    kind: SealedKind,
                    after: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<SealedValue>> {
                    sqlx::query(queries(kind).0)
                        .bind(after)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| {
                            Ok(SealedValue {
                                id: r.try_get("id").map_err(db)?,
                                owner: r.try_get("owner").map_err(db)?,
                                sealed: r.try_get("sealed").map_err(db)?,
                            })
                        })
                        .collect()
                }

                async fn replace_sealed(
                    &self,
                    kind: SealedKind,
                    id: &str,
                    old: &str,
                    new: &str,
                ) -> Result<bool> {
                    let done = sqlx::query(queries(kind).1)
                        .bind(new)
                        .bind(id)
                        .bind(old)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }
            }
        }
    };
}

pub(crate) use impl_sealed_store;
