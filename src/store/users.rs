use super::entities::user;
use super::{Conn, from_micros, to_micros};
use crate::domain::lifecycle::Holdings;
use crate::domain::{Result, Role, UserStatus, model::User};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};

/// A user row with what only the store and the auth service need to see.
pub struct UserRow {
    pub user: User,
    pub password_hash: Option<String>,
}

/// A stored row as the domain's user; a role or status text that does not parse is an error.
pub(super) fn view(m: user::Model) -> Result<UserRow> {
    let stored =
        |e: crate::domain::Error| crate::domain::Error::internal(format!("user {}: stored {}", m.id, e.message));
    Ok(UserRow {
        user: User {
            role: Role::parse("role", &m.role).map_err(stored)?,
            status: UserStatus::parse("status", &m.status).map_err(stored)?,
            id: m.id,
            email: m.email,
            display_name: m.display_name,
            is_archive: m.is_archive,
            deleted_at: m.deleted_at.map(from_micros),
            created_at: from_micros(m.created_at),
            updated_at: from_micros(m.updated_at),
        },
        password_hash: m.password_hash,
    })
}

fn users(rows: Vec<user::Model>) -> Result<Vec<User>> {
    rows.into_iter().map(|m| Ok(view(m)?.user)).collect()
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
        deleted_at: Set(u.deleted_at.map(to_micros)),
        created_at: Set(to_micros(u.created_at)),
        updated_at: Set(to_micros(u.updated_at)),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn by_id(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<UserRow>> {
    user::Entity::find_by_id(id)
        .filter(user::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(view)
        .transpose()
}

/// The users with these ids, their rows locked until the transaction ends (PostgreSQL
/// `FOR UPDATE`, in id order so that two transactions never wait on each other in a circle;
/// SQLite's write transaction holds the database's write lock already). A transfer locks its
/// two parties, a suspension or deletion its user: the check of a user's state and the write
/// it guards cannot interleave with another's.
pub async fn lock(c: &impl Conn, org_id: &str, ids: &[&str]) -> Result<Vec<User>> {
    let mut ids: Vec<&str> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    users(
        user::Entity::find()
            .filter(user::Column::OrgId.eq(org_id))
            .filter(user::Column::Id.is_in(ids))
            .order_by_asc(user::Column::Id)
            .lock_exclusive()
            .all(c)
            .await?,
    )
}

pub async fn by_email(c: &impl Conn, org_id: &str, email: &str) -> Result<Option<UserRow>> {
    user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Email.eq(email))
        .one(c)
        .await?
        .map(view)
        .transpose()
}

pub async fn list(c: &impl Conn, org_id: &str, after: Option<String>, limit: u64) -> Result<Vec<User>> {
    let mut q = user::Entity::find().filter(user::Column::OrgId.eq(org_id));
    if let Some(after) = after {
        q = q.filter(user::Column::Id.gt(after));
    }
    let rows = q.order_by_asc(user::Column::Id).limit(limit).all(c).await?;
    users(rows)
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

/// The organisation's active administrators (who get the desk's reminders).
pub async fn active_admins(c: &impl Conn, org_id: &str) -> Result<Vec<User>> {
    users(
        user::Entity::find()
            .filter(user::Column::OrgId.eq(org_id))
            .filter(user::Column::Role.eq(Role::Admin.as_str()))
            .filter(user::Column::Status.eq(UserStatus::Active.as_str()))
            .order_by_asc(user::Column::Id)
            .all(c)
            .await?,
    )
}

pub async fn count_active_admins(c: &impl Conn, org_id: &str) -> Result<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::Status.eq(UserStatus::Active.as_str()))
        .count(c)
        .await?)
}

/// Moves a user from one status to another, only if they are still in `from`: the
/// conditional update that makes a transition happen once however many servers try.
/// Returns whether this call made the change.
pub async fn transition(
    c: &impl Conn,
    org_id: &str,
    id: &str,
    from: UserStatus,
    to: UserStatus,
    display_name: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let deleted_at: Option<i64> = (to == UserStatus::Deleted).then(|| to_micros(now));
    let n = super::exec(
        c,
        "UPDATE users SET status = ?, display_name = ?, deleted_at = ?, updated_at = ? \
         WHERE org_id = ? AND id = ? AND status = ?",
        vec![
            to.as_str().into(),
            display_name.into(),
            deleted_at.into(),
            to_micros(now).into(),
            org_id.into(),
            id.into(),
            from.as_str().into(),
        ],
    )
    .await?;
    Ok(n == 1)
}

/// Closes every way in: all sessions end and all API tokens are revoked.
pub async fn revoke_access(c: &impl Conn, org_id: &str, id: &str, now: DateTime<Utc>) -> Result<()> {
    super::exec(
        c,
        "DELETE FROM sessions WHERE org_id = ? AND user_id = ?",
        vec![org_id.into(), id.into()],
    )
    .await?;
    super::exec(
        c,
        "UPDATE api_tokens SET revoked_at = ? WHERE org_id = ? AND user_id = ? AND revoked_at IS NULL",
        vec![to_micros(now).into(), org_id.into(), id.into()],
    )
    .await?;
    Ok(())
}

/// What a user holds: cards, the contacts on those cards, and the tags they created.
pub async fn holdings(c: &impl Conn, org_id: &str, id: &str) -> Result<Holdings> {
    let v = || vec![sea_orm::Value::from(org_id), sea_orm::Value::from(id)];
    Ok(Holdings {
        cards: super::count(c, "SELECT COUNT(*) FROM cards WHERE org_id = ? AND owner_id = ?", v()).await?,
        contacts: super::count(
            c,
            "SELECT COUNT(*) FROM contacts WHERE card_id IN (SELECT id FROM cards WHERE org_id = ? AND owner_id = ?)",
            v(),
        )
        .await?,
        tags: super::count(c, "SELECT COUNT(*) FROM tags WHERE org_id = ? AND creator_id = ?", v()).await?,
        templates: super::count(
            c,
            "SELECT COUNT(*) FROM mail_templates WHERE org_id = ? AND creator_id = ?",
            v(),
        )
        .await?,
    })
}

pub async fn archive_account(c: &impl Conn, org_id: &str) -> Result<Option<User>> {
    user::Entity::find()
        .filter(user::Column::OrgId.eq(org_id))
        .filter(user::Column::IsArchive.eq(true))
        .one(c)
        .await?
        .map(|m| Ok(view(m)?.user))
        .transpose()
}

/// Deleted users whose time in the trash is over, across organisations.
pub async fn purgeable(c: &impl Conn, org_id: &str, deleted_before: DateTime<Utc>) -> Result<Vec<User>> {
    users(
        user::Entity::find()
            .filter(user::Column::OrgId.eq(org_id))
            .filter(user::Column::Status.eq(UserStatus::Deleted.as_str()))
            .filter(user::Column::DeletedAt.lte(to_micros(deleted_before)))
            .all(c)
            .await?,
    )
}

/// Marks a trashed user who cannot be purged (they hold something); true the first time.
pub async fn mark_purge_blocked(c: &impl Conn, org_id: &str, id: &str, now: DateTime<Utc>) -> Result<bool> {
    let n = super::exec(
        c,
        "UPDATE users SET purge_blocked_at = ? WHERE org_id = ? AND id = ? AND purge_blocked_at IS NULL",
        vec![to_micros(now).into(), org_id.into(), id.into()],
    )
    .await?;
    Ok(n == 1)
}

/// Trashed users of the organisation that the purge found holding something, with when.
pub async fn purge_blocked(c: &impl Conn, org_id: &str) -> Result<Vec<(User, DateTime<Utc>)>> {
    let rows = c
        .query_all_raw(super::sql(
            c,
            "SELECT id, purge_blocked_at FROM users WHERE org_id = ? AND status = ? AND purge_blocked_at IS NOT NULL \
             ORDER BY purge_blocked_at",
            vec![org_id.into(), UserStatus::Deleted.as_str().into()],
        ))
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let (id, at): (String, i64) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
        if let Some(u) = by_id(c, org_id, &id).await? {
            out.push((u.user, from_micros(at)));
        }
    }
    Ok(out)
}

/// Removes a deleted user for good. They own nothing (deletion requires it); their tokens
/// and sessions go with them, and what an identity provider wrote of them; history keeps their id.
pub async fn purge(c: &impl Conn, org_id: &str, id: &str) -> Result<bool> {
    let v = || vec![sea_orm::Value::from(org_id), sea_orm::Value::from(id)];
    super::exec(c, "DELETE FROM sessions WHERE org_id = ? AND user_id = ?", v()).await?;
    super::exec(c, "DELETE FROM api_tokens WHERE org_id = ? AND user_id = ?", v()).await?;
    super::exec(c, "DELETE FROM scim_users WHERE org_id = ? AND user_id = ?", v()).await?;
    let n = super::exec(
        c,
        "DELETE FROM users WHERE org_id = ? AND id = ? AND status = 'deleted'",
        v(),
    )
    .await?;
    Ok(n == 1)
}

/// What each user of the organisation holds, in three grouped queries.
pub async fn holdings_of_all(c: &impl Conn, org_id: &str) -> Result<std::collections::HashMap<String, Holdings>> {
    let mut out: std::collections::HashMap<String, Holdings> = std::collections::HashMap::new();
    let queries = [
        "SELECT owner_id, COUNT(*) FROM cards WHERE org_id = ? GROUP BY owner_id",
        "SELECT c.owner_id, COUNT(*) FROM contacts k JOIN cards c ON c.id = k.card_id WHERE c.org_id = ? GROUP BY c.owner_id",
        "SELECT creator_id, COUNT(*) FROM tags WHERE org_id = ? AND creator_id IS NOT NULL GROUP BY creator_id",
        "SELECT creator_id, COUNT(*) FROM mail_templates WHERE org_id = ? GROUP BY creator_id",
    ];
    for (i, q) in queries.iter().enumerate() {
        for row in c.query_all_raw(super::sql(c, q, vec![org_id.into()])).await? {
            let (id, n): (String, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            let e = out.entry(id).or_default();
            match i {
                0 => e.cards = n,
                1 => e.contacts = n,
                2 => e.tags = n,
                _ => e.templates = n,
            }
        }
    }
    Ok(out)
}
