//! SCIM provisioning: the identity providers' tokens (hashed), what a provider wrote of each
//! user (`scim_users`), the recent requests' log, and the Users listing: a filter
//! (`domain::scim::Cond`) becomes one SQL condition over users joined with `scim_users`,
//! scoped to the organisation, counted and paged in SQL (the same text on both engines but
//! for the substring function's name).

use super::entities::user;
use super::users::view;
use super::{Conn, from_micros, sql, to_micros};
use crate::domain::model::User;
use crate::domain::scim::{Cond, Field, Op};
use crate::domain::{Result, UserStatus};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Value};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ScimToken {
    pub id: String,
    pub name: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ScimRequest {
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub operation: String,
    pub status: i64,
    pub detail: String,
}

/// What a provider wrote of one user.
#[derive(Debug, Clone)]
pub struct ScimRow {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: String,
    pub resource: String,
}

pub async fn insert_token(
    c: &impl Conn,
    org_id: &str,
    name: &str,
    hash: &str,
    created_by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String> {
    let id = super::new_id();
    super::exec(
        c,
        "INSERT INTO scim_tokens (id, org_id, name, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            id.clone().into(),
            org_id.into(),
            name.into(),
            hash.into(),
            created_by.map(str::to_string).into(),
            to_micros(now).into(),
        ],
    )
    .await?;
    Ok(id)
}

/// The (organisation, token id) of a token that is not revoked.
pub async fn token_by_hash(c: &impl Conn, hash: &str) -> Result<Option<(String, String)>> {
    let row = c
        .query_one_raw(sql(
            c,
            "SELECT org_id, id FROM scim_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            vec![hash.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get_by_index(0)?, r.try_get_by_index(1)?)),
        None => None,
    })
}

fn token(r: &sea_orm::QueryResult) -> Result<ScimToken> {
    Ok(ScimToken {
        id: r.try_get_by_index(0)?,
        name: r.try_get_by_index(1)?,
        created_by: r.try_get_by_index(2)?,
        created_at: from_micros(r.try_get_by_index(3)?),
        last_used_at: r.try_get_by_index::<Option<i64>>(4)?.map(from_micros),
        revoked_at: r.try_get_by_index::<Option<i64>>(5)?.map(from_micros),
    })
}

const TOKEN_COLUMNS: &str = "id, name, created_by, created_at, last_used_at, revoked_at";

/// The organisation's tokens, newest first.
pub async fn tokens(c: &impl Conn, org_id: &str) -> Result<Vec<ScimToken>> {
    let rows = c
        .query_all_raw(sql(
            c,
            &format!("SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE org_id = ? ORDER BY id DESC"),
            vec![org_id.into()],
        ))
        .await?;
    rows.iter().map(token).collect()
}

pub async fn token_by_id(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<ScimToken>> {
    let row = c
        .query_one_raw(sql(
            c,
            &format!("SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE org_id = ? AND id = ?"),
            vec![org_id.into(), id.into()],
        ))
        .await?;
    row.as_ref().map(token).transpose()
}

/// Revokes a token that is not revoked yet; returns whether this call did.
pub async fn revoke_token(c: &impl Conn, org_id: &str, id: &str, now: DateTime<Utc>) -> Result<bool> {
    let n = super::exec(
        c,
        "UPDATE scim_tokens SET revoked_at = ? WHERE org_id = ? AND id = ? AND revoked_at IS NULL",
        vec![to_micros(now).into(), org_id.into(), id.into()],
    )
    .await?;
    Ok(n == 1)
}

/// How many requests of each organisation the log keeps.
pub const LOG_KEPT: i64 = 100;

pub struct LoggedRequest<'a> {
    pub token_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub operation: &'a str,
    pub status: i64,
    pub detail: &'a str,
}

/// Records one request, drops what falls beyond the newest `LOG_KEPT`, and notes when the
/// token was last used.
pub async fn log_request(c: &impl Conn, org_id: &str, r: LoggedRequest<'_>, now: DateTime<Utc>) -> Result<()> {
    super::exec(
        c,
        "INSERT INTO scim_requests (id, org_id, token_id, at, method, path, operation, status, detail) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            super::new_id().into(),
            org_id.into(),
            r.token_id.into(),
            to_micros(now).into(),
            r.method.into(),
            r.path.into(),
            r.operation.into(),
            r.status.into(),
            r.detail.into(),
        ],
    )
    .await?;
    super::exec(
        c,
        "DELETE FROM scim_requests WHERE org_id = ? AND id NOT IN \
         (SELECT id FROM scim_requests WHERE org_id = ? ORDER BY id DESC LIMIT ?)",
        vec![org_id.into(), org_id.into(), LOG_KEPT.into()],
    )
    .await?;
    super::exec(
        c,
        "UPDATE scim_tokens SET last_used_at = ? WHERE org_id = ? AND id = ?",
        vec![to_micros(now).into(), org_id.into(), r.token_id.into()],
    )
    .await?;
    Ok(())
}

/// The newest requests first.
pub async fn recent_requests(c: &impl Conn, org_id: &str, limit: i64) -> Result<Vec<ScimRequest>> {
    let rows = c
        .query_all_raw(sql(
            c,
            "SELECT at, method, path, operation, status, detail FROM scim_requests WHERE org_id = ? \
             ORDER BY id DESC LIMIT ?",
            vec![org_id.into(), limit.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ScimRequest {
                at: from_micros(r.try_get_by_index(0)?),
                method: r.try_get_by_index(1)?,
                path: r.try_get_by_index(2)?,
                operation: r.try_get_by_index(3)?,
                status: r.try_get_by_index(4)?,
                detail: r.try_get_by_index(5)?,
            })
        })
        .collect()
}

fn scim_row(r: &sea_orm::QueryResult) -> Result<(String, ScimRow)> {
    Ok((
        r.try_get_by_index(0)?,
        ScimRow {
            user_name: r.try_get_by_index(1)?,
            external_id: r.try_get_by_index(2)?,
            display_name: r.try_get_by_index(3)?,
            resource: r.try_get_by_index(4)?,
        },
    ))
}

const ROW_COLUMNS: &str = "user_id, user_name, external_id, display_name, resource";

pub async fn row(c: &impl Conn, org_id: &str, user_id: &str) -> Result<Option<ScimRow>> {
    let row = c
        .query_one_raw(sql(
            c,
            &format!("SELECT {ROW_COLUMNS} FROM scim_users WHERE org_id = ? AND user_id = ?"),
            vec![org_id.into(), user_id.into()],
        ))
        .await?;
    Ok(row.as_ref().map(scim_row).transpose()?.map(|(_, r)| r))
}

/// Writes what a provider sent of a user (insert or replace).
pub async fn save_row(c: &impl Conn, org_id: &str, user_id: &str, r: &ScimRow) -> Result<()> {
    super::exec(
        c,
        "DELETE FROM scim_users WHERE org_id = ? AND user_id = ?",
        vec![org_id.into(), user_id.into()],
    )
    .await?;
    super::exec(
        c,
        "INSERT INTO scim_users (user_id, org_id, user_name, user_name_key, external_id, display_name, resource) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![
            user_id.into(),
            org_id.into(),
            r.user_name.clone().into(),
            r.user_name.to_lowercase().into(),
            r.external_id.clone().into(),
            r.display_name.clone().into(),
            r.resource.clone().into(),
        ],
    )
    .await?;
    Ok(())
}

/// The user (not deleted) whose userName is `user_name` without regard to case — a
/// provider's, or else the e-mail of a user no provider wrote — other than `except`.
pub async fn user_name_holder(c: &impl Conn, org_id: &str, user_name: &str, except: &str) -> Result<Option<String>> {
    let row = c
        .query_one_raw(sql(
            c,
            &format!("SELECT u.id FROM {FROM} AND {USER_NAME} = ? AND u.id <> ? LIMIT 1"),
            vec![org_id.into(), user_name.to_lowercase().into(), except.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index(0)).transpose()?)
}

const FROM: &str = "users u LEFT JOIN scim_users s ON s.user_id = u.id \
                    WHERE u.org_id = ? AND u.status <> 'deleted' AND u.is_archive = FALSE";
const USER_NAME: &str = "LOWER(COALESCE(s.user_name, u.email))";

fn column(f: Field) -> &'static str {
    match f {
        Field::Id => "u.id",
        Field::UserName => USER_NAME,
        Field::ExternalId => "s.external_id",
        Field::Email => "LOWER(u.email)",
        Field::DisplayName => "LOWER(COALESCE(s.display_name, u.display_name))",
        Field::Active => "u.status",
    }
}

/// The condition as SQL with its values, in order.
fn condition(c: &impl Conn, cond: &Cond, values: &mut Vec<Value>) -> String {
    let find = if super::is_sqlite(c) { "instr" } else { "strpos" };
    match cond {
        Cond::Active(true) => format!("u.status = '{}'", UserStatus::Active.as_str()),
        Cond::Active(false) => format!("u.status <> '{}'", UserStatus::Active.as_str()),
        Cond::Present(f) => {
            let col = column(*f);
            format!("({col} IS NOT NULL AND {col} <> '')")
        }
        Cond::Text(f, op, v) => {
            let col = column(*f);
            let mut bind = |n: usize| {
                for _ in 0..n {
                    values.push(v.clone().into());
                }
            };
            match op {
                Op::Eq => {
                    bind(1);
                    format!("{col} = ?")
                }
                Op::Ne => {
                    bind(1);
                    format!("({col} IS NULL OR {col} <> ?)")
                }
                Op::Co => {
                    bind(1);
                    format!("{find}({col}, ?) > 0")
                }
                Op::Sw => {
                    bind(2);
                    format!("substr({col}, 1, length(?)) = ?")
                }
                Op::Ew => {
                    bind(3);
                    format!("(length({col}) >= length(?) AND substr({col}, length({col}) - length(?) + 1) = ?)")
                }
                Op::Gt => {
                    bind(1);
                    format!("{col} > ?")
                }
                Op::Ge => {
                    bind(1);
                    format!("{col} >= ?")
                }
                Op::Lt => {
                    bind(1);
                    format!("{col} < ?")
                }
                Op::Le => {
                    bind(1);
                    format!("{col} <= ?")
                }
            }
        }
        Cond::Not(inner) => format!("NOT ({})", condition(c, inner, values)),
        Cond::And(items) => join(c, items, " AND ", values),
        Cond::Or(items) => join(c, items, " OR ", values),
    }
}

fn join(c: &impl Conn, items: &[Cond], sep: &str, values: &mut Vec<Value>) -> String {
    let parts: Vec<String> = items.iter().map(|i| format!("({})", condition(c, i, values))).collect();
    parts.join(sep)
}

/// A page of the organisation's users (not deleted, not the archive account) that pass
/// `cond`, in `sort`'s order (then by id), with the total count; `offset` is zero-based.
pub async fn list_users(
    c: &impl Conn,
    org_id: &str,
    cond: Option<&Cond>,
    sort: Option<(Field, bool)>,
    offset: u64,
    limit: u64,
) -> Result<(i64, Vec<(User, Option<ScimRow>)>)> {
    let mut values: Vec<Value> = vec![org_id.into()];
    let filter = match cond {
        Some(cond) => format!(" AND ({})", condition(c, cond, &mut values)),
        None => String::new(),
    };
    let total = super::count(c, &format!("SELECT COUNT(*) FROM {FROM}{filter}"), values.clone()).await?;
    if limit == 0 || total == 0 {
        return Ok((total, vec![]));
    }
    let order = match sort {
        Some((f, descending)) => format!("{} {}, u.id", column(f), if descending { "DESC" } else { "ASC" }),
        None => "u.id".to_string(),
    };
    values.push((limit as i64).into());
    values.push((offset as i64).into());
    let ids: Vec<String> = c
        .query_all_raw(sql(
            c,
            &format!("SELECT u.id FROM {FROM}{filter} ORDER BY {order} LIMIT ? OFFSET ?"),
            values,
        ))
        .await?
        .iter()
        .map(|r| r.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    let users = users_with_rows(c, org_id, &ids).await?;
    Ok((total, users))
}

/// The users with these ids, in this order, each with what a provider wrote of them.
pub async fn users_with_rows(c: &impl Conn, org_id: &str, ids: &[String]) -> Result<Vec<(User, Option<ScimRow>)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut users: std::collections::HashMap<String, User> = user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Id.is_in(ids.iter().cloned()))
        .all(c)
        .await?
        .into_iter()
        .map(|m| view(m).map(|r| (r.user.id.clone(), r.user)))
        .collect::<Result<_>>()?;
    let marks = vec!["?"; ids.len()].join(", ");
    let mut values: Vec<Value> = vec![org_id.into()];
    values.extend(ids.iter().map(|i| Value::from(i.clone())));
    let mut rows: std::collections::HashMap<String, ScimRow> = c
        .query_all_raw(sql(
            c,
            &format!("SELECT {ROW_COLUMNS} FROM scim_users WHERE org_id = ? AND user_id IN ({marks})"),
            values,
        ))
        .await?
        .iter()
        .map(scim_row)
        .collect::<Result<_>>()?;
    Ok(ids
        .iter()
        .filter_map(|id| users.remove(id).map(|u| (u, rows.remove(id))))
        .collect())
}

/// Sets a user's e-mail address (a provider changed it).
pub async fn set_email(c: &impl Conn, org_id: &str, user_id: &str, email: &str, now: DateTime<Utc>) -> Result<()> {
    super::exec(
        c,
        "UPDATE users SET email = ?, updated_at = ? WHERE org_id = ? AND id = ?",
        vec![email.into(), to_micros(now).into(), org_id.into(), user_id.into()],
    )
    .await?;
    Ok(())
}
