//! SQL for SCIM's users, groups and group-to-role mappings (`ScimStore`), stamped out
//! by `impl_scim_store!`. Filters arrive as a [`Query`] over a fixed vocabulary of
//! attributes; `push_query` writes each as a column expression of our own with the
//! value bound (never spliced), through sqlx's `QueryBuilder`, so a lookup by
//! `userName`, `externalId`, `emails.value` or `displayName` is one index range inside
//! the organisation. Every query names the organisation and the visibility rule
//! (`VISIBLE`): people, not operators, not deleted through SCIM.

use gatehouse_core::scim::filter::{Attr, Op, Resource};

/// The users SCIM sees in `$org` (alias `a`), written after `a.org_id = <bind> AND`.
pub(crate) const VISIBLE: &str =
    " AND a.kind = 'person' AND a.operator = FALSE AND a.scim_deleted_at IS NULL";

/// The column expression a filter attribute compares against.
pub(crate) fn column(attr: Attr, resource: Resource) -> &'static str {
    match (resource, attr) {
        (Resource::Users, Attr::Id) => "a.account_id",
        (Resource::Users, Attr::UserName) => "a.username",
        (Resource::Users, Attr::ExternalId) => "a.external_id",
        (Resource::Users, Attr::Email) => "LOWER(a.email)",
        (Resource::Users, Attr::DisplayName) => "LOWER(a.display_name)",
        (Resource::Users, Attr::GivenName) => "LOWER(a.given_name)",
        (Resource::Users, Attr::FamilyName) => "LOWER(a.family_name)",
        (Resource::Users, Attr::FormattedName) => "LOWER(a.formatted_name)",
        (Resource::Users, Attr::Created) => "a.created_at",
        (Resource::Users, Attr::LastModified) => "a.modified_at",
        (Resource::Users, _) => "a.disabled",
        (Resource::Groups, Attr::Id) => "g.group_id",
        (Resource::Groups, Attr::ExternalId) => "g.external_id",
        (Resource::Groups, Attr::Created) => "g.created_at",
        (Resource::Groups, Attr::LastModified) => "g.modified_at",
        (Resource::Groups, Attr::Member) => "m.account_id",
        (Resource::Groups, _) => "LOWER(g.display_name)",
    }
}

/// `%`, `_` and `\` escaped for `LIKE … ESCAPE '\'`.
pub(crate) fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => " = ",
        Op::Ne => " <> ",
        Op::Gt => " > ",
        Op::Ge => " >= ",
        Op::Lt => " < ",
        Op::Le => " <= ",
        Op::Co | Op::Sw | Op::Ew => " LIKE ",
    }
}

macro_rules! impl_scim_store {
    ($store:ident) => {
        mod scim_store {
            use async_trait::async_trait;
            use gatehouse_core::Result;
            use sqlx::{QueryBuilder, Row};
            use std::collections::HashMap;
            use time::OffsetDateTime;

            use crate::error::db;
            use crate::scim::{VISIBLE, column, like_escaped, sql_op};
            use gatehouse_core::Error;
            use gatehouse_core::account::Account;
            use gatehouse_core::ids::{AccountId, OrgId, ScimGroupId};
            use gatehouse_core::org::Role;
            use gatehouse_core::scim::filter::{Attr, Kind, Op, Query, Resource, Value};
            use gatehouse_core::scim::{GroupFields, GroupRef, ListWindow, MemberRef, ScimGroup, ScimUser, UserFields};
            use gatehouse_core::store::{Invalidation, MemberChange, RoleMapping, ScimStore};

            use super::account_store::account_row;
            use super::org_store::guard_member_change;
            use super::{DbOf, $store, publish};
            use crate::sql::ts;

            /// The most ids in one `IN (…)` list.
            const CHUNK: usize = 500;

            macro_rules! user_columns {
                () => {
                    "a.account_id, a.org_id, a.username, a.email, a.display_name, a.password_hash, a.role, \
                     a.operator, a.kind, a.disabled, a.created_at, a.tokens_not_before, a.external_id, \
                     a.given_name, a.family_name, a.formatted_name, a.email_type, a.email_primary, a.modified_at"
                };
            }
            macro_rules! group_columns {
                () => {
                    "g.group_id, g.org_id, g.display_name, g.external_id, g.created_at, g.modified_at"
                };
            }

            fn user_row(r: &<DbOf as sqlx::Database>::Row) -> Result<ScimUser> {
                Ok(ScimUser {
                    account: account_row(r)?.user,
                    external_id: r.try_get("external_id").map_err(db)?,
                    given_name: r.try_get("given_name").map_err(db)?,
                    family_name: r.try_get("family_name").map_err(db)?,
                    formatted_name: r.try_get("formatted_name").map_err(db)?,
                    email_type: r.try_get("email_type").map_err(db)?,
                    email_primary: r.try_get("email_primary").map_err(db)?,
                    modified_at: ts(r.try_get("modified_at").map_err(db)?)?,
                    groups: Vec::new(),
                })
            }

            fn group_row(r: &<DbOf as sqlx::Database>::Row) -> Result<ScimGroup> {
                Ok(ScimGroup {
                    id: ScimGroupId(r.try_get("group_id").map_err(db)?),
                    org_id: OrgId(r.try_get("org_id").map_err(db)?),
                    display_name: r.try_get("display_name").map_err(db)?,
                    external_id: r.try_get("external_id").map_err(db)?,
                    created_at: ts(r.try_get("created_at").map_err(db)?)?,
                    modified_at: ts(r.try_get("modified_at").map_err(db)?)?,
                    members: Vec::new(),
                })
            }

            /// Writes `q` as a SQL condition (see the module doc).
            fn push_query(qb: &mut QueryBuilder<DbOf>, q: &Query, resource: Resource) {
                match q {
                    Query::All => {
                        qb.push("1 = 1");
                    }
                    Query::And(parts) | Query::Or(parts) => {
                        let joiner = if matches!(q, Query::And(_)) { " AND " } else { " OR " };
                        qb.push("(");
                        for (i, p) in parts.iter().enumerate() {
                            if i > 0 {
                                qb.push(joiner);
                            }
                            push_query(qb, p, resource);
                        }
                        qb.push(")");
                    }
                    // A comparison with a missing (NULL) attribute is false, so `not` of it
                    // is true: the COALESCE keeps SQL's NULL out of the answer, and lets
                    // each comparison stay a plain, indexable `col = $n`.
                    Query::Not(inner) => {
                        qb.push("NOT COALESCE((");
                        push_query(qb, inner, resource);
                        qb.push("), FALSE)");
                    }
                    Query::Present(Attr::Member) => {
                        qb.push("EXISTS (SELECT 1 FROM scim_group_member m WHERE m.group_id = g.group_id)");
                    }
                    Query::Present(attr) => match attr.kind() {
                        Kind::Bool | Kind::Time => {
                            qb.push("1 = 1");
                        }
                        Kind::Text | Kind::ExactText => {
                            let col = column(*attr, resource);
                            qb.push(format!("({col} IS NOT NULL AND {col} <> '')"));
                        }
                    },
                    Query::Compare(Attr::Member, op, value) => {
                        qb.push("EXISTS (SELECT 1 FROM scim_group_member m WHERE m.group_id = g.group_id AND ");
                        push_compare(qb, Attr::Member, *op, value, resource);
                        qb.push(")");
                    }
                    Query::Compare(attr, op, value) => push_compare(qb, *attr, *op, value, resource),
                }
            }

            fn push_compare(qb: &mut QueryBuilder<DbOf>, attr: Attr, op: Op, value: &Value, resource: Resource) {
                let col = column(attr, resource);
                match value {
                    // `active eq true` is `disabled = false`.
                    Value::Bool(b) => {
                        qb.push(format!("{col} = "));
                        qb.push_bind(if op == Op::Ne { *b } else { !*b });
                    }
                    Value::Time(t) => {
                        qb.push(format!("{col}{}", sql_op(op)));
                        qb.push_bind(*t);
                    }
                    Value::Text(s) => {
                        // Case-insensitive attributes: the database's LOWER on both sides
                        // (the column side is in `column`, over an expression index).
                        let folded = attr.kind() == Kind::Text;
                        let bound = match op {
                            Op::Co => format!("%{}%", like_escaped(s)),
                            Op::Sw => format!("{}%", like_escaped(s)),
                            Op::Ew => format!("%{}", like_escaped(s)),
                            _ => s.clone(),
                        };
                        if op == Op::Ne {
                            qb.push(format!("({col} IS NULL OR {col} <> "));
                        } else {
                            qb.push(format!("({col}{}", sql_op(op)));
                        }
                        if folded {
                            qb.push("LOWER(");
                            qb.push_bind(bound);
                            qb.push(")");
                        } else {
                            qb.push_bind(bound);
                        }
                        if matches!(op, Op::Co | Op::Sw | Op::Ew) {
                            qb.push(" ESCAPE '\\'");
                        }
                        qb.push(")");
                    }
                }
            }

            /// ` IN (…)` over `ids`.
            fn push_in(qb: &mut QueryBuilder<DbOf>, ids: &[&str]) {
                qb.push(" IN (");
                let mut list = qb.separated(", ");
                for id in ids {
                    list.push_bind(id.to_string());
                }
                qb.push(")");
            }

            /// Fills each user's groups (one query per chunk of users).
            async fn attach_groups<'e, E>(ex: E, org: &OrgId, users: &mut [ScimUser]) -> Result<()>
            where
                E: sqlx::Executor<'e, Database = DbOf> + Copy,
            {
                for chunk in users.chunks_mut(CHUNK) {
                    let ids: Vec<&str> = chunk.iter().map(|u| u.account.id.as_str()).collect();
                    let mut qb = QueryBuilder::<DbOf>::new(
                        "SELECT m.account_id, g.group_id, g.display_name FROM scim_group_member m \
                         JOIN scim_group g ON g.group_id = m.group_id WHERE g.org_id = ",
                    );
                    qb.push_bind(org.0.clone());
                    qb.push(" AND m.account_id");
                    push_in(&mut qb, &ids);
                    qb.push(" ORDER BY g.display_key");
                    let rows = qb.build().fetch_all(ex).await.map_err(db)?;
                    let mut by: HashMap<String, Vec<GroupRef>> = HashMap::new();
                    for r in &rows {
                        by.entry(r.try_get("account_id").map_err(db)?).or_default().push(GroupRef {
                            id: ScimGroupId(r.try_get("group_id").map_err(db)?),
                            display: r.try_get("display_name").map_err(db)?,
                        });
                    }
                    for u in chunk.iter_mut() {
                        u.groups = by.remove(u.account.id.as_str()).unwrap_or_default();
                    }
                }
                Ok(())
            }

            /// Fills each group's members.
            async fn attach_members<'e, E>(ex: E, groups: &mut [ScimGroup]) -> Result<()>
            where
                E: sqlx::Executor<'e, Database = DbOf> + Copy,
            {
                for chunk in groups.chunks_mut(CHUNK) {
                    let ids: Vec<&str> = chunk.iter().map(|g| g.id.as_str()).collect();
                    let mut qb = QueryBuilder::<DbOf>::new(
                        "SELECT m.group_id, a.account_id, a.username FROM scim_group_member m \
                         JOIN account a ON a.account_id = m.account_id WHERE a.scim_deleted_at IS NULL AND m.group_id",
                    );
                    push_in(&mut qb, &ids);
                    qb.push(" ORDER BY a.username");
                    let rows = qb.build().fetch_all(ex).await.map_err(db)?;
                    let mut by: HashMap<String, Vec<MemberRef>> = HashMap::new();
                    for r in &rows {
                        by.entry(r.try_get("group_id").map_err(db)?).or_default().push(MemberRef {
                            id: AccountId(r.try_get("account_id").map_err(db)?),
                            display: r.try_get("username").map_err(db)?,
                        });
                    }
                    for g in chunk.iter_mut() {
                        g.members = by.remove(g.id.as_str()).unwrap_or_default();
                    }
                }
                Ok(())
            }

            /// Refuses members SCIM cannot see in `org` (another organisation's user is
            /// refused exactly like an id nobody has).
            async fn check_members(
                tx: &mut sqlx::Transaction<'_, DbOf>,
                org: &OrgId,
                ids: &[AccountId],
            ) -> Result<()> {
                for chunk in ids.chunks(CHUNK) {
                    let list: Vec<&str> = chunk.iter().map(AccountId::as_str).collect();
                    let mut qb = QueryBuilder::<DbOf>::new("SELECT a.account_id FROM account a WHERE a.org_id = ");
                    qb.push_bind(org.0.clone());
                    qb.push(VISIBLE);
                    qb.push(" AND a.account_id");
                    push_in(&mut qb, &list);
                    let rows = qb.build().fetch_all(&mut **tx).await.map_err(db)?;
                    let found: Vec<String> =
                        rows.iter().map(|r| r.try_get("account_id")).collect::<std::result::Result<_, _>>().map_err(db)?;
                    if let Some(missing) = chunk.iter().find(|id| !found.iter().any(|f| f == id.as_str())) {
                        return Err(Error::invalid(
                            "value",
                            format!("there is no user with id {:?}", missing.as_str().chars().take(64).collect::<String>()),
                        ));
                    }
                }
                Ok(())
            }

            async fn add_members(tx: &mut sqlx::Transaction<'_, DbOf>, group: &ScimGroupId, ids: &[AccountId]) -> Result<()> {
                for chunk in ids.chunks(CHUNK) {
                    let mut qb = QueryBuilder::<DbOf>::new("INSERT INTO scim_group_member (group_id, account_id) ");
                    qb.push_values(chunk, |mut row, id| {
                        row.push_bind(group.0.clone()).push_bind(id.0.clone());
                    });
                    qb.push(" ON CONFLICT DO NOTHING");
                    qb.build().execute(&mut **tx).await.map_err(db)?;
                }
                Ok(())
            }

            async fn visible_user(
                tx: &mut sqlx::Transaction<'_, DbOf>,
                org: &OrgId,
                id: &AccountId,
            ) -> Result<Account> {
                let sql = concat!("SELECT ", user_columns!(), " FROM account a WHERE a.org_id = $1 AND a.account_id = $2 \
                    AND a.kind = 'person' AND a.operator = FALSE AND a.scim_deleted_at IS NULL");
                let r = sqlx::query(sql).bind(&org.0).bind(&id.0).fetch_optional(&mut **tx).await.map_err(db)?;
                Ok(r.as_ref().map(user_row).transpose()?.ok_or(Error::NotFound)?.account)
            }

            fn rank(role: Role) -> i64 {
                match role {
                    Role::Owner => 3,
                    Role::Admin => 2,
                    Role::Member => 1,
                }
            }

            #[async_trait]
            impl ScimStore for $store {
                async fn scim_users(&self, org: &OrgId, query: &Query, window: ListWindow) -> Result<(u64, Vec<ScimUser>)> {
                    let mut count = QueryBuilder::<DbOf>::new("SELECT COUNT(*) AS n FROM account a WHERE a.org_id = ");
                    count.push_bind(org.0.clone());
                    count.push(VISIBLE);
                    count.push(" AND ");
                    push_query(&mut count, query, Resource::Users);
                    let total: i64 = count.build().fetch_one(&self.pool).await.map_err(db)?.try_get("n").map_err(db)?;
                    if window.count == 0 {
                        return Ok((total.max(0) as u64, Vec::new()));
                    }
                    let mut qb = QueryBuilder::<DbOf>::new(concat!("SELECT ", user_columns!(), " FROM account a WHERE a.org_id = "));
                    qb.push_bind(org.0.clone());
                    qb.push(VISIBLE);
                    qb.push(" AND ");
                    push_query(&mut qb, query, Resource::Users);
                    qb.push(" ORDER BY a.created_at, a.account_id LIMIT ");
                    qb.push_bind(i64::from(window.count));
                    qb.push(" OFFSET ");
                    qb.push_bind(i64::try_from(window.offset()).unwrap_or(i64::MAX));
                    let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
                    let mut users = rows.iter().map(user_row).collect::<Result<Vec<_>>>()?;
                    attach_groups(&self.pool, org, &mut users).await?;
                    Ok((total.max(0) as u64, users))
                }

                async fn scim_user(&self, org: &OrgId, id: &AccountId) -> Result<Option<ScimUser>> {
                    let sql = concat!("SELECT ", user_columns!(), " FROM account a WHERE a.org_id = $1 AND a.account_id = $2 \
                        AND a.kind = 'person' AND a.operator = FALSE AND a.scim_deleted_at IS NULL");
                    let row = sqlx::query(sql).bind(&org.0).bind(&id.0).fetch_optional(&self.pool).await.map_err(db)?;
                    let Some(mut user) = row.as_ref().map(user_row).transpose()? else {
                        return Ok(None);
                    };
                    attach_groups(&self.pool, org, std::slice::from_mut(&mut user)).await?;
                    Ok(Some(user))
                }

                async fn scim_insert_user(&self, org: &OrgId, id: &AccountId, f: &UserFields, at: OffsetDateTime) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO account (account_id, org_id, username, email, display_name, password_hash, role, \
                         operator, kind, disabled, created_at, external_id, given_name, family_name, formatted_name, \
                         modified_at, scim_managed, email_type, email_primary) \
                         VALUES ($1, $2, $3, $4, $5, NULL, 'member', FALSE, 'person', $6, $7, $8, $9, $10, $11, $7, TRUE, $12, $13)",
                    )
                    .bind(&id.0)
                    .bind(&org.0)
                    .bind(f.username.as_str())
                    .bind(&f.email)
                    .bind(f.display_name.as_str())
                    .bind(!f.active)
                    .bind(at.unix_timestamp())
                    .bind(&f.external_id)
                    .bind(&f.given_name)
                    .bind(&f.family_name)
                    .bind(&f.formatted_name)
                    .bind(&f.email_type)
                    .bind(f.email_primary)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn scim_update_user(&self, org: &OrgId, id: &AccountId, f: &UserFields, at: OffsetDateTime) -> Result<Account> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let before = visible_user(&mut tx, org, id).await?;
                    let disabling = before.disabled != !f.active;
                    if disabling {
                        guard_member_change(&mut tx, Some(org), id, &MemberChange::Disabled(!f.active), at).await?;
                    }
                    sqlx::query(
                        "UPDATE account SET username = $1, email = $2, display_name = $3, external_id = $4, \
                         given_name = $5, family_name = $6, formatted_name = $7, disabled = $8, modified_at = $9, \
                         scim_managed = TRUE, email_type = $12, email_primary = $13 WHERE account_id = $10 AND org_id = $11",
                    )
                    .bind(f.username.as_str())
                    .bind(&f.email)
                    .bind(f.display_name.as_str())
                    .bind(&f.external_id)
                    .bind(&f.given_name)
                    .bind(&f.family_name)
                    .bind(&f.formatted_name)
                    .bind(!f.active)
                    .bind(at.unix_timestamp())
                    .bind(&id.0)
                    .bind(&org.0)
                    .bind(&f.email_type)
                    .bind(f.email_primary)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    if disabling {
                        if !f.active {
                            // As change_member: a pending set-password link must not open a
                            // deprovisioned account.
                            sqlx::query("DELETE FROM password_link WHERE account_id = $1")
                                .bind(&id.0)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                        }
                        publish(&mut tx, at, Invalidation::Account(id.clone())).await?;
                    }
                    let after = visible_user(&mut tx, org, id).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(after)
                }

                async fn scim_delete_user(&self, org: &OrgId, id: &AccountId, at: OffsetDateTime) -> Result<Account> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let before = visible_user(&mut tx, org, id).await?;
                    if !before.disabled {
                        guard_member_change(&mut tx, Some(org), id, &MemberChange::Disabled(true), at).await?;
                    }
                    sqlx::query(
                        "UPDATE account SET disabled = TRUE, scim_deleted_at = $1, modified_at = $1 \
                         WHERE account_id = $2 AND org_id = $3",
                    )
                    .bind(at.unix_timestamp())
                    .bind(&id.0)
                    .bind(&org.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    for sql in [
                        "DELETE FROM scim_group_member WHERE account_id = $1",
                        "DELETE FROM password_link WHERE account_id = $1",
                    ] {
                        sqlx::query(sql).bind(&id.0).execute(&mut *tx).await.map_err(db)?;
                    }
                    publish(&mut tx, at, Invalidation::Account(id.clone())).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(before)
                }

                async fn scim_groups(
                    &self,
                    org: &OrgId,
                    query: &Query,
                    window: ListWindow,
                    with_members: bool,
                ) -> Result<(u64, Vec<ScimGroup>)> {
                    let mut count = QueryBuilder::<DbOf>::new("SELECT COUNT(*) AS n FROM scim_group g WHERE g.org_id = ");
                    count.push_bind(org.0.clone());
                    count.push(" AND ");
                    push_query(&mut count, query, Resource::Groups);
                    let total: i64 = count.build().fetch_one(&self.pool).await.map_err(db)?.try_get("n").map_err(db)?;
                    if window.count == 0 {
                        return Ok((total.max(0) as u64, Vec::new()));
                    }
                    let mut qb = QueryBuilder::<DbOf>::new(concat!("SELECT ", group_columns!(), " FROM scim_group g WHERE g.org_id = "));
                    qb.push_bind(org.0.clone());
                    qb.push(" AND ");
                    push_query(&mut qb, query, Resource::Groups);
                    qb.push(" ORDER BY g.created_at, g.group_id LIMIT ");
                    qb.push_bind(i64::from(window.count));
                    qb.push(" OFFSET ");
                    qb.push_bind(i64::try_from(window.offset()).unwrap_or(i64::MAX));
                    let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
                    let mut groups = rows.iter().map(group_row).collect::<Result<Vec<_>>>()?;
                    if with_members {
                        attach_members(&self.pool, &mut groups).await?;
                    }
                    Ok((total.max(0) as u64, groups))
                }

                async fn scim_group(&self, org: &OrgId, id: &ScimGroupId, with_members: bool) -> Result<Option<ScimGroup>> {
                    let sql = concat!("SELECT ", group_columns!(), " FROM scim_group g WHERE g.org_id = $1 AND g.group_id = $2");
                    let row = sqlx::query(sql).bind(&org.0).bind(&id.0).fetch_optional(&self.pool).await.map_err(db)?;
                    let Some(mut group) = row.as_ref().map(group_row).transpose()? else {
                        return Ok(None);
                    };
                    if with_members {
                        attach_members(&self.pool, std::slice::from_mut(&mut group)).await?;
                    }
                    Ok(Some(group))
                }

                async fn scim_insert_group(&self, org: &OrgId, id: &ScimGroupId, f: &GroupFields, at: OffsetDateTime) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    sqlx::query(
                        "INSERT INTO scim_group (group_id, org_id, display_name, display_key, external_id, created_at, modified_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    )
                    .bind(&id.0)
                    .bind(&org.0)
                    .bind(&f.display_name)
                    .bind(f.display_key())
                    .bind(&f.external_id)
                    .bind(at.unix_timestamp())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    check_members(&mut tx, org, &f.members).await?;
                    add_members(&mut tx, id, &f.members).await?;
                    tx.commit().await.map_err(db)?;
                    Ok(())
                }

                async fn scim_update_group(
                    &self,
                    org: &OrgId,
                    id: &ScimGroupId,
                    f: &GroupFields,
                    added: &[AccountId],
                    removed: &[AccountId],
                    at: OffsetDateTime,
                ) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let done = sqlx::query(
                        "UPDATE scim_group SET display_name = $1, display_key = $2, external_id = $3, modified_at = $4 \
                         WHERE group_id = $5 AND org_id = $6",
                    )
                    .bind(&f.display_name)
                    .bind(f.display_key())
                    .bind(&f.external_id)
                    .bind(at.unix_timestamp())
                    .bind(&id.0)
                    .bind(&org.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    if done.rows_affected() == 0 {
                        return Err(Error::NotFound);
                    }
                    check_members(&mut tx, org, added).await?;
                    add_members(&mut tx, id, added).await?;
                    for chunk in removed.chunks(CHUNK) {
                        let list: Vec<&str> = chunk.iter().map(AccountId::as_str).collect();
                        let mut qb = QueryBuilder::<DbOf>::new("DELETE FROM scim_group_member WHERE group_id = ");
                        qb.push_bind(id.0.clone());
                        qb.push(" AND account_id");
                        push_in(&mut qb, &list);
                        qb.build().execute(&mut *tx).await.map_err(db)?;
                    }
                    tx.commit().await.map_err(db)?;
                    Ok(())
                }

                async fn scim_delete_group(&self, org: &OrgId, id: &ScimGroupId) -> Result<Option<Vec<AccountId>>> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    let rows = sqlx::query(
                        "SELECT m.account_id FROM scim_group_member m JOIN scim_group g ON g.group_id = m.group_id \
                         WHERE g.group_id = $1 AND g.org_id = $2",
                    )
                    .bind(&id.0)
                    .bind(&org.0)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
                    let members = rows
                        .iter()
                        .map(|r| r.try_get("account_id").map(AccountId))
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(db)?;
                    let done = sqlx::query("DELETE FROM scim_group WHERE group_id = $1 AND org_id = $2")
                        .bind(&id.0)
                        .bind(&org.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    tx.commit().await.map_err(db)?;
                    Ok((done.rows_affected() > 0).then_some(members))
                }

                async fn scim_role_mappings(&self, org: &OrgId) -> Result<Vec<RoleMapping>> {
                    sqlx::query("SELECT group_name, role FROM scim_role_mapping WHERE org_id = $1 ORDER BY group_key")
                        .bind(&org.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| {
                            Ok(RoleMapping {
                                group: r.try_get("group_name").map_err(db)?,
                                role: Role::parse(&r.try_get::<String, _>("role").map_err(db)?)?,
                            })
                        })
                        .collect()
                }

                async fn set_scim_role_mappings(&self, org: &OrgId, mappings: &[RoleMapping]) -> Result<()> {
                    let mut tx = self.pool.begin().await.map_err(db)?;
                    sqlx::query("DELETE FROM scim_role_mapping WHERE org_id = $1")
                        .bind(&org.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    for m in mappings {
                        sqlx::query(
                            "INSERT INTO scim_role_mapping (org_id, group_key, group_name, role) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&org.0)
                        .bind(m.group.to_lowercase())
                        .bind(&m.group)
                        .bind(m.role.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    tx.commit().await.map_err(db)?;
                    Ok(())
                }

                async fn scim_mapped_roles(
                    &self,
                    org: &OrgId,
                    accounts: &[AccountId],
                ) -> Result<Vec<(AccountId, Role, Option<Role>)>> {
                    let mut out = Vec::new();
                    for chunk in accounts.chunks(CHUNK) {
                        let list: Vec<&str> = chunk.iter().map(AccountId::as_str).collect();
                        let mut qb = QueryBuilder::<DbOf>::new(
                            "SELECT a.account_id, a.role, (SELECT CAST(MAX(CASE r.role WHEN 'owner' THEN 3 \
                             WHEN 'admin' THEN 2 ELSE 1 END) AS BIGINT) FROM scim_group_member m \
                             JOIN scim_group g ON g.group_id = m.group_id \
                             JOIN scim_role_mapping r ON r.org_id = g.org_id AND r.group_key = g.display_key \
                             WHERE m.account_id = a.account_id) AS mapped \
                             FROM account a WHERE a.scim_managed = TRUE AND a.org_id = ",
                        );
                        qb.push_bind(org.0.clone());
                        qb.push(VISIBLE);
                        qb.push(" AND a.account_id");
                        push_in(&mut qb, &list);
                        for r in qb.build().fetch_all(&self.pool).await.map_err(db)? {
                            let mapped: Option<i64> = r.try_get("mapped").map_err(db)?;
                            out.push((
                                AccountId(r.try_get("account_id").map_err(db)?),
                                Role::parse(&r.try_get::<String, _>("role").map_err(db)?)?,
                                mapped.map(|n| {
                                    [Role::Owner, Role::Admin, Role::Member]
                                        .into_iter()
                                        .find(|role| rank(*role) == n)
                                        .unwrap_or(Role::Member)
                                }),
                            ));
                        }
                    }
                    Ok(out)
                }

                async fn scim_managed_accounts(&self, org: &OrgId) -> Result<Vec<AccountId>> {
                    let mut qb = QueryBuilder::<DbOf>::new(
                        "SELECT a.account_id FROM account a WHERE a.scim_managed = TRUE AND a.org_id = ",
                    );
                    qb.push_bind(org.0.clone());
                    qb.push(VISIBLE);
                    qb.build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| r.try_get("account_id").map(AccountId).map_err(db))
                        .collect()
                }
            }
        }
    };
}

pub(crate) use impl_scim_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_their_wildcards() {
        assert_eq!(like_escaped(r"50%_off\"), r"50\%\_off\\");
    }

    #[test]
    fn every_filter_attribute_has_a_column() {
        let of =
            |c: &str, alias: &str| c.starts_with(alias) || c.starts_with(&format!("LOWER({alias}"));
        for a in [
            Attr::Id,
            Attr::ExternalId,
            Attr::DisplayName,
            Attr::Created,
            Attr::LastModified,
        ] {
            assert!(of(column(a, Resource::Users), "a."), "{a:?}");
            assert!(of(column(a, Resource::Groups), "g."), "{a:?}");
        }
        assert_eq!(column(Attr::Member, Resource::Groups), "m.account_id");
    }
}
