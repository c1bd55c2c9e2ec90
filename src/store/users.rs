use super::entities::user;
use super::{Conn, from_micros, to_micros};
use crate::domain::{Result, Role, UserStatus, model::User};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};

/// A user row with what only the store and the auth service need to see.
pub struct UserRow {
    pub user: User,
    pub password_hash: Option<String>,
}

pub(super) fn view(m: user::Model) -> UserRow {
    UserRow {
        user: User {
            id: m.id,
            email: m.email,
            display_name: m.display_name,
            role: Role::parse("role", &m.role).unwrap_or(Role::Member),
            status: UserStatus::parse("status", &m.status).unwrap_or(UserStatus::Suspended),
            is_archive: m.is_archive,
            created_at: from_micros(m.created_at),
            updated_at: from_micros(m.updated_at),
        },
        password_hash: m.password_hash,
    }
}

pub async fn insert(c: &impl Conn, org_id: &str, u: &User, password_hash: Option<String>) -> Result<()> {
    user::ActiveModel {
        id: Set(u.id.clone()),
        org_id: Set(org_id.to_string()),
        email: Set(u.email.clone()),
        display_name: Set(u.display_name.clone()),
        role: Set(u.role.as_str().to_string()),
        status: Set(u.status.as_str().to_string()),
        is_archive: Set(u.is_archive),
        password_hash: Set(password_hash),
        created_at: Set(to_micros(u.created_at)),
        updated_at: Set(to_micros(u.updated_at)),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn by_id(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<UserRow>> {
    Ok(user::Entity::find_by_id(id)
        .filter(user::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(view))
}

pub async fn by_email(c: &impl Conn, org_id: &str, email: &str) -> Result<Option<UserRow>> {
    Ok(user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Email.eq(email))
        .one(c)
        .await?
        .map(view))
}

pub async fn list(c: &impl Conn, org_id: &str, after: Option<String>, limit: u64) -> Result<Vec<User>> {
    let mut q = user::Entity::find().filter(user::Column::OrgId.eq(org_id));
    if let Some(after) = after {
        q = q.filter(user::Column::Id.gt(after));
    }
    let rows = q.order_by_asc(user::Column::Id).limit(limit).all(c).await?;
    Ok(rows.into_iter().map(|m| view(m).user).collect())
}

pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub password_hash: Option<String>,
}

pub async fn update(c: &impl Conn, org_id: &str, id: &str, ch: UserChange, now: DateTime<Utc>) -> Result<()> {
    let mut m = user::ActiveModel {
        id: sea_orm::Unchanged(id.to_string()),
        ..Default::default()
    };
    if let Some(v) = ch.display_name {
        m.display_name = Set(v);
    }
    if let Some(v) = ch.role {
        m.role = Set(v.as_str().to_string());
    }
    if let Some(v) = ch.password_hash {
        m.password_hash = Set(Some(v));
    }
    m.updated_at = Set(to_micros(now));
    user::Entity::update_many()
        .set(m)
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn count_active_admins(c: &impl Conn, org_id: &str) -> Result<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::Status.eq(UserStatus::Active.as_str()))
        .count(c)
        .await?)
}
