//! API tokens and console sessions. Both are stored hashed, and every lookup re-reads the
//! user, so suspending a user closes every way in on the very next request.

use super::entities::{api_token, session, user};
use super::users::{UserRow, view};
use super::{Conn, to_micros};
use crate::domain::{Result, UserStatus};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

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
async fn active_user(c: &impl Conn, org_id: &str, user_id: &str) -> Result<Option<(String, UserRow)>> {
    let found = user::Entity::find_by_id(user_id)
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Status.eq(UserStatus::Active.as_str()))
        .filter(user::Column::IsArchive.eq(false))
        .one(c)
        .await?;
    found.map(|m| Ok((org_id.to_string(), view(m)?))).transpose()
}

pub async fn user_by_token(c: &impl Conn, hash: &str) -> Result<Option<(String, UserRow)>> {
    let Some(t) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    active_user(c, &t.org_id, &t.user_id).await
}

pub async fn user_by_session(c: &impl Conn, hash: &str, now: DateTime<Utc>) -> Result<Option<(String, UserRow)>> {
    let Some(s) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(hash))
        .filter(session::Column::ExpiresAt.gt(to_micros(now)))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    active_user(c, &s.org_id, &s.user_id).await
}
