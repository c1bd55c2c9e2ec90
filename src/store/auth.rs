//! API tokens and console sessions. Both are stored hashed, and every lookup re-reads the
//! user, so suspending a user closes every way in on the very next request.

use super::entities::{api_token, session, user};
use super::users::{UserRow, view};
use super::{Conn, to_micros};
use crate::domain::{Result, UserStatus};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QuerySelect, Set};

pub async fn insert_token(
    c: &impl Conn,
    org_id: &str,
    user_id: &str,
    name: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let id = super::new_id();
    api_token::ActiveModel {
        id: Set(id.clone()),
        org_id: Set(org_id.into()),
        user_id: Set(user_id.into()),
        name: Set(name.into()),
        token_hash: Set(hash.into()),
        created_at: Set(to_micros(now)),
        revoked_at: Set(None),
    }
    .insert(c)
    .await?;
    Ok(id)
}

pub async fn insert_session(
    c: &impl Conn,
    org_id: &str,
    user_id: &str,
    hash: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<()> {
    session::ActiveModel {
        id: Set(super::new_id()),
        org_id: Set(org_id.into()),
        user_id: Set(user_id.into()),
        token_hash: Set(hash.into()),
        created_at: Set(to_micros(now)),
        expires_at: Set(to_micros(expires)),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Ends a session; returns its (organisation, user) when there was one.
pub async fn delete_session(c: &impl Conn, hash: &str) -> Result<Option<(String, String)>> {
    let Some(s) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    session::Entity::delete_by_id(s.id).exec(c).await?;
    Ok(Some((s.org_id, s.user_id)))
}

/// The active, non-archive user behind a token or session hash, with their organisation id.
async fn active_user(
    c: &impl Conn,
    way_in: sea_orm::RelationDef,
    by: impl sea_orm::sea_query::IntoCondition,
) -> Result<Option<(String, UserRow)>> {
    let found = user::Entity::find()
        .join_rev(JoinType::InnerJoin, way_in)
        .filter(by)
        .filter(user::Column::Status.eq(UserStatus::Active.as_str()))
        .filter(user::Column::IsArchive.eq(false))
        .one(c)
        .await?;
    found.map(|m| Ok((m.org_id.clone(), view(m)?))).transpose()
}

/// One query (a request's way in is read on every request): the token and its user joined.
pub async fn user_by_token(c: &impl Conn, hash: &str) -> Result<Option<(String, UserRow)>> {
    let way_in = api_token::Entity::belongs_to(user::Entity)
        .from(api_token::Column::UserId)
        .to(user::Column::Id)
        .into();
    let by = Condition::all()
        .add(api_token::Column::TokenHash.eq(hash))
        .add(api_token::Column::RevokedAt.is_null())
        .add(Expr::col((api_token::Entity, api_token::Column::OrgId)).equals((user::Entity, user::Column::OrgId)));
    active_user(c, way_in, by).await
}

pub async fn user_by_session(c: &impl Conn, hash: &str, now: DateTime<Utc>) -> Result<Option<(String, UserRow)>> {
    let way_in = session::Entity::belongs_to(user::Entity)
        .from(session::Column::UserId)
        .to(user::Column::Id)
        .into();
    let by = Condition::all()
        .add(session::Column::TokenHash.eq(hash))
        .add(session::Column::ExpiresAt.gt(to_micros(now)))
        .add(Expr::col((session::Entity, session::Column::OrgId)).equals((user::Entity, user::Column::OrgId)));
    active_user(c, way_in, by).await
}

/// Ends every session of a user but `keep` (the caller's own, by hash) and revokes every API
/// token of theirs (a password change); returns (sessions ended, tokens revoked).
pub async fn revoke_other_access(
    c: &impl Conn,
    org_id: &str,
    user_id: &str,
    keep: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(u64, u64)> {
    let sessions = super::exec(
        c,
        "DELETE FROM sessions WHERE org_id = ? AND user_id = ? AND token_hash <> ?",
        vec![org_id.into(), user_id.into(), keep.unwrap_or("").into()],
    )
    .await?;
    let tokens = super::exec(
        c,
        "UPDATE api_tokens SET revoked_at = ? WHERE org_id = ? AND user_id = ? AND revoked_at IS NULL",
        vec![to_micros(now).into(), org_id.into(), user_id.into()],
    )
    .await?;
    Ok((sessions, tokens))
}

/// A sign-in throttle key's state (`domain::throttle`).
#[derive(Debug, Clone)]
pub struct Throttle {
    pub id: String,
    pub key: String,
    pub kind: String,
    pub org_id: Option<String>,
    /// The email typed (an account key) or the address.
    pub subject: String,
    pub failures: i64,
    pub last_at: i64,
    pub locked_until: i64,
}

fn throttle_row(r: &sea_orm::QueryResult) -> Result<Throttle> {
    Ok(Throttle {
        id: r.try_get_by_index(0)?,
        key: r.try_get_by_index(1)?,
        kind: r.try_get_by_index(2)?,
        org_id: r.try_get_by_index(3)?,
        subject: r.try_get_by_index(4)?,
        failures: r.try_get_by_index(5)?,
        last_at: r.try_get_by_index(6)?,
        locked_until: r.try_get_by_index(7)?,
    })
}

const THROTTLE_COLUMNS: &str = "id, key, kind, org_id, subject, failures, last_at, locked_until";

/// A key's row, made if missing and locked to the end of the transaction (PostgreSQL `FOR
/// UPDATE`; SQLite's write transaction holds the database), so that the check and the count
/// it guards are one step for every server.
pub async fn throttle_locked(
    c: &impl Conn,
    key: &str,
    kind: &str,
    org_id: Option<&str>,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<Throttle> {
    super::exec(
        c,
        "INSERT INTO sign_in_throttle (id, key, kind, org_id, subject, failures, last_at, locked_until) \
         VALUES (?, ?, ?, ?, ?, 0, ?, 0) ON CONFLICT (key) DO NOTHING",
        vec![
            super::new_id().into(),
            key.into(),
            kind.into(),
            org_id.map(str::to_string).into(),
            subject.into(),
            to_micros(now).into(),
        ],
    )
    .await?;
    let lock = if super::is_sqlite(c) { "" } else { " FOR UPDATE" };
    let row = c
        .query_one_raw(super::sql(
            c,
            &format!("SELECT {THROTTLE_COLUMNS} FROM sign_in_throttle WHERE key = ?{lock}"),
            vec![key.into()],
        ))
        .await?
        .ok_or_else(|| crate::domain::Error::internal("the throttle row just made is missing"))?;
    throttle_row(&row)
}

/// Writes a key's count and lock (and, for an address, the organisation last tried).
pub async fn throttle_set(
    c: &impl Conn,
    key: &str,
    org_id: Option<&str>,
    failures: i64,
    last_at: i64,
    locked_until: i64,
) -> Result<()> {
    super::exec(
        c,
        "UPDATE sign_in_throttle SET failures = ?, last_at = ?, locked_until = ?, org_id = COALESCE(?, org_id) \
         WHERE key = ?",
        vec![
            failures.into(),
            last_at.into(),
            locked_until.into(),
            org_id.map(str::to_string).into(),
            key.into(),
        ],
    )
    .await?;
    Ok(())
}

/// The organisation's keys that are locked or waiting at `now`, the longest wait first.
pub async fn throttles_of_org(c: &impl Conn, org_id: &str, now: DateTime<Utc>) -> Result<Vec<Throttle>> {
    let rows = c
        .query_all_raw(super::sql(
            c,
            &format!(
                "SELECT {THROTTLE_COLUMNS} FROM sign_in_throttle WHERE org_id = ? AND locked_until > ? \
                 ORDER BY locked_until DESC, id LIMIT 500"
            ),
            vec![org_id.into(), to_micros(now).into()],
        ))
        .await?;
    rows.iter().map(throttle_row).collect()
}

/// Lifts a lock of the organisation: forgets the key's failures. Returns it as it was.
pub async fn throttle_lift(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<Throttle>> {
    let lock = if super::is_sqlite(c) { "" } else { " FOR UPDATE" };
    let Some(row) = c
        .query_one_raw(super::sql(
            c,
            &format!("SELECT {THROTTLE_COLUMNS} FROM sign_in_throttle WHERE id = ? AND org_id = ?{lock}"),
            vec![id.into(), org_id.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    let before = throttle_row(&row)?;
    super::exec(
        c,
        "UPDATE sign_in_throttle SET failures = 0, locked_until = 0 WHERE id = ? AND org_id = ?",
        vec![id.into(), org_id.into()],
    )
    .await?;
    Ok(Some(before))
}

/// Deletes the keys whose last failure is before `before` and that wait for nothing (their
/// failures are forgotten anyway: `domain::throttle::WINDOW_SECS`); returns how many.
pub async fn throttle_forget(c: &impl Conn, before: DateTime<Utc>) -> Result<u64> {
    let at = to_micros(before);
    super::exec(
        c,
        "DELETE FROM sign_in_throttle WHERE last_at < ? AND locked_until < ?",
        vec![at.into(), at.into()],
    )
    .await
}
