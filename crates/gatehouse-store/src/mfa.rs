//! SQL for second factors, recovery codes and half-finished sign-ins (`MfaStore`), one
//! text for both backends, stamped out by `impl_mfa_store!` like `sql::impl_store!`.
//! The single-use rules are single statements: a TOTP step advances only past the last
//! one (`last_step < $n`), a recovery code is consumed only while unused
//! (`used_at IS NULL`), and a pending sign-in is taken by one `DELETE`, so concurrent
//! requests on any number of nodes get exactly one success.

macro_rules! impl_mfa_store {
    ($store:ident) => {
        mod mfa_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use gatehouse_core::ids::{AccountId, MfaFactorId};
            use gatehouse_core::mfa::webauthn::{CeremonyKind, CeremonyRecord};
            use gatehouse_core::mfa::{ChallengeRecord, FactorKind, FactorRecord, KeyData};
            use gatehouse_core::secret::TokenHash;
            use gatehouse_core::store::{Invalidation, MfaStore};
            use sqlx::Row;
            use time::OffsetDateTime;

            use super::{DbOf, $store, publish};
            use crate::error::db;
            use crate::sql::{opt_ts, stored_hash, ts};

            macro_rules! factor_columns {
                () => {
                    "mfa_factor_id, account_id, kind, name, sealed_secret, created_at, \
                     confirmed_at, last_used_at, last_step, credential_id, credential, \
                     discoverable, sign_count"
                };
            }

            fn factor_row(r: &<DbOf as sqlx::Database>::Row) -> Result<FactorRecord> {
                let kind: String = r.try_get("kind").map_err(db)?;
                let credential_id: Option<String> = r.try_get("credential_id").map_err(db)?;
                let credential: Option<String> = r.try_get("credential").map_err(db)?;
                let key = match (credential_id, credential) {
                    (Some(credential_id), Some(credential)) => Some(KeyData {
                        credential_id,
                        credential,
                        discoverable: r.try_get("discoverable").map_err(db)?,
                        sign_count: r.try_get("sign_count").map_err(db)?,
                    }),
                    _ => None,
                };
                Ok(FactorRecord {
                    id: MfaFactorId(r.try_get("mfa_factor_id").map_err(db)?),
                    user_id: AccountId(r.try_get("account_id").map_err(db)?),
                    kind: FactorKind::parse(&kind).ok_or_else(|| {
                        gatehouse_core::Error::internal(format!("unknown factor kind {kind:?} in store"))
                    })?,
                    name: r.try_get("name").map_err(db)?,
                    sealed_secret: r.try_get("sealed_secret").map_err(db)?,
                    created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    confirmed_at: opt_ts(r.try_get("confirmed_at").map_err(db)?)?,
                    last_used_at: opt_ts(r.try_get("last_used_at").map_err(db)?)?,
                    last_step: r.try_get("last_step").map_err(db)?,
                    key,
                })
            }

            async fn insert_factor_in(
                tx: &mut sqlx::Transaction<'_, DbOf>,
                f: &FactorRecord,
            ) -> Result<()> {
                sqlx::query(concat!(
                    "INSERT INTO mfa_factor (",
                    factor_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(&f.id.0)
                .bind(&f.user_id.0)
                .bind(f.kind.as_str())
                .bind(&f.name)
                .bind(&f.sealed_secret)
                .bind(f.created_at.unix_timestamp())
                .bind(f.confirmed_at.map(|t| t.unix_timestamp()))
                .bind(f.last_used_at.map(|t| t.unix_timestamp()))
                .bind(f.last_step)
                .bind(f.key.as_ref().map(|k| k.credential_id.as_str()))
                .bind(f.key.as_ref().map(|k| k.credential.as_str()))
                .bind(f.key.as_ref().is_some_and(|k| k.discoverable))
                .bind(f.key.as_ref().map_or(0, |k| k.sign_count))
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                Ok(())
            }

            #[async_trait]
            impl MfaStore for $store {
                async fn insert_pending_factor(&self, f: &FactorRecord) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    sqlx::query(
                        "DELETE FROM mfa_factor WHERE account_id = $1 AND kind = $2 \
                         AND confirmed_at IS NULL",
                    )
                    .bind(&f.user_id.0)
                    .bind(f.kind.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    insert_factor_in(&mut tx, f).await?;
                    tx.commit().await.map_err(db)
                }

                async fn mfa_factors(&self, owner: &AccountId) -> Result<Vec<FactorRecord>> {
                    sqlx::query(concat!(
                        "SELECT ",
                        factor_columns!(),
                        " FROM mfa_factor WHERE account_id = $1 ORDER BY created_at, mfa_factor_id"
                    ))
                    .bind(&owner.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(factor_row)
                    .collect()
                }

                async fn confirm_factor(
                    &self,
                    owner: &AccountId,
                    id: &MfaFactorId,
                    step: i64,
                    started_after: OffsetDateTime,
                    at: OffsetDateTime,
                    recovery_codes: Option<&[TokenHash]>,
                ) -> Result<bool> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let done = sqlx::query(
                        "UPDATE mfa_factor SET confirmed_at = $1, last_used_at = $1, last_step = $2 \
                         WHERE mfa_factor_id = $3 AND account_id = $4 AND confirmed_at IS NULL \
                         AND created_at > $5 AND last_step < $2",
                    )
                    .bind(at.unix_timestamp())
                    .bind(step)
                    .bind(&id.0)
                    .bind(&owner.0)
                    .bind(started_after.unix_timestamp())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    if let Some(codes) = recovery_codes {
                        write_codes(&mut tx, owner, codes, at).await?;
                    }
                    tx.commit().await.map_err(db)?;
                    Ok(true)
                }

                async fn advance_totp_step(
                    &self,
                    owner: &AccountId,
                    id: &MfaFactorId,
                    step: i64,
                    at: OffsetDateTime,
                ) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE mfa_factor SET last_step = $1, last_used_at = $2 \
                         WHERE mfa_factor_id = $3 AND account_id = $4 \
                         AND confirmed_at IS NOT NULL AND last_step < $1",
                    )
                    .bind(step)
                    .bind(at.unix_timestamp())
                    .bind(&id.0)
                    .bind(&owner.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_factor(
                    &self,
                    owner: &AccountId,
                    id: &MfaFactorId,
                    at: OffsetDateTime,
                ) -> Result<bool> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let done = sqlx::query(
                        "DELETE FROM mfa_factor WHERE mfa_factor_id = $1 AND account_id = $2",
                    )
                    .bind(&id.0)
                    .bind(&owner.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    let left: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM mfa_factor WHERE account_id = $1 \
                         AND confirmed_at IS NOT NULL",
                    )
                    .bind(&owner.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                    if left == 0 {
                        sqlx::query("DELETE FROM recovery_code WHERE account_id = $1")
                            .bind(&owner.0)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                    }
                    publish(&mut tx, at, Invalidation::Account(owner.clone())).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(true)
                }

                async fn delete_all_factors(&self, owner: &AccountId, at: OffsetDateTime) -> Result<u64> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let done = sqlx::query("DELETE FROM mfa_factor WHERE account_id = $1")
                        .bind(&owner.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    sqlx::query("DELETE FROM recovery_code WHERE account_id = $1")
                        .bind(&owner.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    sqlx::query("DELETE FROM mfa_challenge WHERE account_id = $1")
                        .bind(&owner.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    publish(&mut tx, at, Invalidation::Account(owner.clone())).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn replace_recovery_codes(
                    &self,
                    owner: &AccountId,
                    codes: &[TokenHash],
                    at: OffsetDateTime,
                ) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    write_codes(&mut tx, owner, codes, at).await?;
                    tx.commit().await.map_err(db)
                }

                async fn use_recovery_code(
                    &self,
                    owner: &AccountId,
                    code: &TokenHash,
                    at: OffsetDateTime,
                ) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE recovery_code SET used_at = $1 \
                         WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
                    )
                    .bind(at.unix_timestamp())
                    .bind(&owner.0)
                    .bind(code.to_hex())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn recovery_codes_left(&self, owner: &AccountId) -> Result<u64> {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM recovery_code WHERE account_id = $1 AND used_at IS NULL",
                    )
                    .bind(&owner.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn insert_challenge(&self, c: &ChallengeRecord) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO mfa_challenge (token_hash, account_id, created_at, expires_at, failures) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(c.token_hash.to_hex())
                    .bind(&c.user_id.0)
                    .bind(c.created_at.unix_timestamp())
                    .bind(c.expires_at.unix_timestamp())
                    .bind(i64::from(c.failures))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn challenge_by_hash(
                    &self,
                    hash: &TokenHash,
                    now: OffsetDateTime,
                ) -> Result<Option<ChallengeRecord>> {
                    let row = sqlx::query(
                        "SELECT token_hash, account_id, created_at, expires_at, failures \
                         FROM mfa_challenge WHERE token_hash = $1 AND expires_at > $2",
                    )
                    .bind(hash.to_hex())
                    .bind(now.unix_timestamp())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    let Some(r) = row else { return Ok(None) };
                    let token: String = r.try_get("token_hash").map_err(db)?;
                    let failures: i64 = r.try_get("failures").map_err(db)?;
                    Ok(Some(ChallengeRecord {
                        token_hash: stored_hash(&token, "challenge")?,
                        user_id: AccountId(r.try_get("account_id").map_err(db)?),
                        created_at: ts(r.try_get("created_at").map_err(db)?)?,
                        expires_at: ts(r.try_get("expires_at").map_err(db)?)?,
                        failures: u32::try_from(failures).unwrap_or(u32::MAX),
                    }))
                }

                async fn fail_challenge(&self, hash: &TokenHash, max_failures: u32) -> Result<u32> {
                    let n: Option<i64> = sqlx::query_scalar(
                        "UPDATE mfa_challenge SET failures = failures + 1 WHERE token_hash = $1 \
                         RETURNING failures",
                    )
                    .bind(hash.to_hex())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    let n = u32::try_from(n.unwrap_or(i64::from(max_failures))).unwrap_or(u32::MAX);
                    if n >= max_failures {
                        sqlx::query("DELETE FROM mfa_challenge WHERE token_hash = $1")
                            .bind(hash.to_hex())
                            .execute(&self.pool)
                            .await
                            .map_err(db)?;
                    }
                    Ok(n)
                }

                async fn take_challenge(&self, hash: &TokenHash, now: OffsetDateTime) -> Result<bool> {
                    let done = sqlx::query(
                        "DELETE FROM mfa_challenge WHERE token_hash = $1 AND expires_at > $2",
                    )
                    .bind(hash.to_hex())
                    .bind(now.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn insert_confirmed_factor(
                    &self,
                    f: &FactorRecord,
                    recovery_codes: Option<&[TokenHash]>,
                ) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    insert_factor_in(&mut tx, f).await?;
                    if let Some(codes) = recovery_codes {
                        write_codes(&mut tx, &f.user_id, codes, f.created_at).await?;
                    }
                    tx.commit().await.map_err(db)
                }

                async fn factor_by_credential_id(&self, credential_id: &str) -> Result<Option<FactorRecord>> {
                    sqlx::query(concat!(
                        "SELECT ",
                        factor_columns!(),
                        " FROM mfa_factor WHERE credential_id = $1 AND confirmed_at IS NOT NULL"
                    ))
                    .bind(credential_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(factor_row)
                    .transpose()
                }

                async fn record_key_use(
                    &self,
                    owner: &AccountId,
                    id: &MfaFactorId,
                    credential: &str,
                    sign_count: i64,
                    at: OffsetDateTime,
                ) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE mfa_factor SET credential = $1, sign_count = $2, last_used_at = $3 \
                         WHERE mfa_factor_id = $4 AND account_id = $5 AND credential IS NOT NULL \
                         AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
                    )
                    .bind(credential)
                    .bind(sign_count)
                    .bind(at.unix_timestamp())
                    .bind(&id.0)
                    .bind(&owner.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn rename_factor(&self, owner: &AccountId, id: &MfaFactorId, name: &str) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE mfa_factor SET name = $1 WHERE mfa_factor_id = $2 AND account_id = $3",
                    )
                    .bind(name)
                    .bind(&id.0)
                    .bind(&owner.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn insert_ceremony(&self, c: &CeremonyRecord) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO webauthn_ceremony (token_hash, kind, account_id, state, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(c.token_hash.to_hex())
                    .bind(c.kind.as_str())
                    .bind(c.user_id.as_ref().map(|u| u.0.as_str()))
                    .bind(&c.state)
                    .bind(c.created_at.unix_timestamp())
                    .bind(c.expires_at.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn take_ceremony(
                    &self,
                    hash: &TokenHash,
                    kind: CeremonyKind,
                    now: OffsetDateTime,
                ) -> Result<Option<CeremonyRecord>> {
                    let row = sqlx::query(
                        "DELETE FROM webauthn_ceremony WHERE token_hash = $1 \
                         RETURNING kind, account_id, state, created_at, expires_at",
                    )
                    .bind(hash.to_hex())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    let Some(r) = row else { return Ok(None) };
                    let stored_kind: String = r.try_get("kind").map_err(db)?;
                    let expires_at = ts(r.try_get("expires_at").map_err(db)?)?;
                    // SECURITY: taken either way (single use); returned only if it is of
                    // the kind asked for and still fresh.
                    if stored_kind != kind.as_str() || expires_at <= now {
                        return Ok(None);
                    }
                    Ok(Some(CeremonyRecord {
                        token_hash: *hash,
                        kind,
                        user_id: r
                            .try_get::<Option<String>, _>("account_id")
                            .map_err(db)?
                            .map(AccountId),
                        state: r.try_get("state").map_err(db)?,
                        created_at: ts(r.try_get("created_at").map_err(db)?)?,
                        expires_at,
                    }))
                }

                async fn delete_expired_challenges(
                    &self,
                    now: OffsetDateTime,
                    enrolment_cutoff: OffsetDateTime,
                ) -> Result<u64> {
                    let a = sqlx::query("DELETE FROM mfa_challenge WHERE expires_at <= $1")
                        .bind(now.unix_timestamp())
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    let c = sqlx::query("DELETE FROM webauthn_ceremony WHERE expires_at <= $1")
                        .bind(now.unix_timestamp())
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    let b = sqlx::query(
                        "DELETE FROM mfa_factor WHERE confirmed_at IS NULL AND created_at < $1",
                    )
                    .bind(enrolment_cutoff.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(a.rows_affected() + b.rows_affected() + c.rows_affected())
                }
            }

            async fn write_codes(
                tx: &mut sqlx::Transaction<'_, DbOf>,
                owner: &AccountId,
                codes: &[TokenHash],
                at: OffsetDateTime,
            ) -> Result<()> {
                sqlx::query("DELETE FROM recovery_code WHERE account_id = $1")
                    .bind(&owner.0)
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
                for code in codes {
                    sqlx::query(
                        "INSERT INTO recovery_code (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(&owner.0)
                    .bind(code.to_hex())
                    .bind(at.unix_timestamp())
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
                }
                Ok(())
            }
        }
    };
}

pub(crate) use impl_mfa_store;
