//! The account lifecycle: suspend, reactivate, delete (guarded), restore from the trash,
//! purge after the retention period, export before deletion, and the archive account.

use super::transfers::{self, TransferRequest};
use super::{Actor, App, Who, audit, snap};
use crate::domain::model::{Card, Contact, Organization, Tag, User};
use crate::domain::transfer::SelectionInput;
use crate::domain::{Error, Result, Role, UserStatus, with_retired_suffix, without_retired_suffix};
use crate::store::{self, departures, users};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

pub const ARCHIVE_NAME: &str = "退職者の名刺管理用アカウント";

async fn org(c: &impl store::Conn, org_id: &str) -> Result<Organization> {
    store::orgs::by_id(c, org_id)
        .await?
        .ok_or_else(|| Error::not_found("organization"))
}

async fn target(c: &impl store::Conn, actor: &Actor, id: &str) -> Result<User> {
    users::by_id(c, &actor.org_id, id)
        .await?
        .map(|r| r.user)
        .ok_or_else(|| Error::not_found("user"))
}

/// An admin may not lock themself out, nor remove the last active administrator.
async fn guard_admins(c: &impl store::Conn, actor: &Actor, user: &User, verb: &str) -> Result<()> {
    if actor.user_id == user.id {
        return Err(Error::unprocessable(format!("you cannot {verb} yourself")));
    }
    if user.is_archive {
        return Err(Error::unprocessable(format!("the archive account cannot be {verb}ed")));
    }
    if user.role == Role::Admin
        && user.status == UserStatus::Active
        && users::count_active_admins(c, &actor.org_id).await? <= 1
    {
        return Err(Error::unprocessable(format!(
            "you cannot {verb} the last active administrator"
        )));
    }
    Ok(())
}

/// Suspends inside the caller's transaction: the suffix goes on, every session and token is
/// revoked. Conditional on the user being active; returns whether this call suspended them.
pub(crate) async fn suspend_in(tx: &store::Tx, who: Who<'_>, org: &Organization, user: &User) -> Result<bool> {
    let name = with_retired_suffix(&user.display_name, &org.retired_suffix);
    if !users::transition(
        tx,
        &org.id,
        &user.id,
        UserStatus::Active,
        UserStatus::Suspended,
        &name,
        who.at,
    )
    .await?
    {
        return Ok(false);
    }
    users::revoke_access(tx, &org.id, &user.id, who.at).await?;
    let after = target(tx, &Actor::system(&org.id), &user.id).await?;
    audit(tx, who, "user.suspend", ("user", &user.id), snap(user), snap(&after)).await?;
    Ok(true)
}

pub async fn suspend(app: &App, actor: &Actor, id: &str) -> Result<User> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let user = target(&tx, actor, id).await?;
    match user.status {
        UserStatus::Suspended => return Ok(user),
        UserStatus::Deleted => return Err(Error::unprocessable("the user is deleted; restore them first")),
        UserStatus::Active => {}
    }
    guard_admins(&tx, actor, &user, "suspend").await?;
    let org = org(&tx, &actor.org_id).await?;
    suspend_in(&tx, actor.at(now), &org, &user).await?;
    let after = target(&tx, actor, id).await?;
    store::commit(tx).await?;
    Ok(after)
}

pub async fn reactivate(app: &App, actor: &Actor, id: &str) -> Result<User> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let user = target(&tx, actor, id).await?;
    match user.status {
        UserStatus::Active => return Ok(user),
        UserStatus::Deleted => return Err(Error::unprocessable("the user is deleted; restore them first")),
        UserStatus::Suspended => {}
    }
    let org = org(&tx, &actor.org_id).await?;
    let name = without_retired_suffix(&user.display_name, &org.retired_suffix);
    commit_transition(tx, actor, now, &user, UserStatus::Active, &name, "user.reactivate").await
}

/// Moves `user` to status `to` under `name`, audits it before/after as `action`, commits, and
/// returns the user as they are now.
async fn commit_transition(
    tx: store::Tx,
    actor: &Actor,
    now: DateTime<Utc>,
    user: &User,
    to: UserStatus,
    name: &str,
    action: &str,
) -> Result<User> {
    users::transition(&tx, &actor.org_id, &user.id, user.status, to, name, now).await?;
    let after = target(&tx, actor, &user.id).await?;
    audit(&tx, actor.at(now), action, ("user", &user.id), snap(user), snap(&after)).await?;
    store::commit(tx).await?;
    Ok(after)
}

/// What blocks a deletion, counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Blockers {
    pub cards: i64,
    pub contacts: i64,
    pub tags: i64,
    pub templates: i64,
}

/// The archive account of the organisation, created on demand. Returns (account, created).
pub(crate) async fn archive_in(tx: &store::Tx, who: Who<'_>, org: &Organization) -> Result<(User, bool)> {
    if let Some(a) = users::archive_account(tx, &org.id).await? {
        return Ok((a, false));
    }
    let account = User {
        is_archive: true,
        ..User::new(
            store::new_id(),
            &format!("archive@{}.meishi.invalid", org.slug),
            ARCHIVE_NAME,
            Role::Member,
            who.at,
        )
    };
    users::insert(tx, &org.id, &account, None).await?;
    audit(
        tx,
        who,
        "user.create_archive",
        ("user", &account.id),
        None,
        snap(&account),
    )
    .await?;
    Ok((account, true))
}

pub async fn archive_account(app: &App, actor: &Actor) -> Result<(User, bool)> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let org = org(&tx, &actor.org_id).await?;
    let result = archive_in(&tx, actor.at(now), &org).await?;
    store::commit(tx).await?;
    Ok(result)
}

pub async fn get_archive_account(app: &App, actor: &Actor) -> Result<User> {
    users::archive_account(app.store.conn(), &actor.org_id)
        .await?
        .ok_or_else(|| Error::not_found("archive account"))
}

/// Deletes a user who owns nothing. With `archive`, first transfers everything they own to
/// the archive account (one batch, previous-owner tag, their tags included), all in one
/// transaction. Refused with the counts otherwise.
pub async fn delete(app: &App, actor: &Actor, id: &str, archive: bool) -> Result<User> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let user = target(&tx, actor, id).await?;
    if user.status == UserStatus::Deleted {
        return Err(Error::conflict(format!("{} is already deleted", user.display_name)));
    }
    guard_admins(&tx, actor, &user, "delete").await?;
    let org = org(&tx, &actor.org_id).await?;
    let owned = users::owned(&tx, &org.id, id).await?;
    if archive && (owned.cards > 0 || owned.tags > 0) {
        let (account, _) = archive_in(&tx, actor.at(now), &org).await?;
        let req = TransferRequest {
            from_user_id: user.id.clone(),
            to_user_id: account.id,
            selection: SelectionInput {
                all: Some(true),
                ..Default::default()
            },
            include_tags: true,
            dry_run: false,
        };
        transfers::run(&tx, actor, &req, now, &|_| {}).await?;
    } else if owned.cards > 0 || owned.contacts > 0 || owned.tags > 0 {
        let blockers = Blockers {
            cards: owned.cards,
            contacts: owned.contacts,
            tags: owned.tags,
            templates: 0,
        };
        return Err(Error::conflict(format!(
            "{} still owns {} cards, {} contacts and {} tags. Nothing is deleted silently: transfer them to a \
             successor (POST /api/v1/transfers) or to the archive account (DELETE /api/v1/users/{id}?archive=true) first",
            user.display_name, owned.cards, owned.contacts, owned.tags
        ))
        .with_details(serde_json::to_value(&blockers).unwrap_or_default()));
    }
    users::transition(
        &tx,
        &org.id,
        id,
        user.status,
        UserStatus::Deleted,
        &user.display_name,
        now,
    )
    .await?;
    users::revoke_access(&tx, &org.id, id, now).await?;
    if let Some(open) = departures::open_for_user(&tx, &org.id, id).await? {
        let mut d = open.clone();
        d.status = crate::domain::departure::DepartureStatus::Cancelled;
        d.updated_at = now;
        departures::save(&tx, &org.id, &d).await?;
        audit(
            &tx,
            actor.at(now),
            "departure.cancel",
            ("departure", &d.id),
            snap(&open),
            snap(&d),
        )
        .await?;
    }
    let after = target(&tx, actor, id).await?;
    audit(
        &tx,
        actor.at(now),
        "user.delete",
        ("user", id),
        snap(&user),
        snap(&after),
    )
    .await?;
    store::commit(tx).await?;
    Ok(after)
}

fn retention_end(org: &Organization, deleted_at: DateTime<Utc>) -> DateTime<Utc> {
    deleted_at + Duration::days(org.trash_days)
}

/// Brings a deleted user back from the trash, suspended, within the retention period.
pub async fn restore(app: &App, actor: &Actor, id: &str) -> Result<User> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let user = target(&tx, actor, id).await?;
    if user.status != UserStatus::Deleted {
        return Err(Error::conflict(format!("{} is not deleted", user.display_name)));
    }
    let org = org(&tx, &actor.org_id).await?;
    let end = retention_end(&org, user.deleted_at.unwrap_or(now));
    if end <= now {
        return Err(Error::unprocessable(format!(
            "the trash keeps users for {} days; this one is due for purge",
            org.trash_days
        )));
    }
    let name = with_retired_suffix(&user.display_name, &org.retired_suffix);
    commit_transition(tx, actor, now, &user, UserStatus::Suspended, &name, "user.restore").await
}

/// Removes, for good, deleted users whose retention period is over (scheduler).
pub async fn purge_due(app: &App) -> Result<usize> {
    let now = app.now();
    let mut purged = 0;
    for org in store::orgs::all(app.store.conn()).await? {
        let cutoff = now - Duration::days(org.trash_days);
        for user in users::purgeable(app.store.conn(), &org.id, cutoff).await? {
            let tx = app.store.write().await?;
            if users::purge(&tx, &org.id, &user.id).await? {
                let who = Who {
                    org_id: &org.id,
                    actor_id: None,
                    at: now,
                };
                audit(&tx, who, "user.purge", ("user", &user.id), snap(&user), None).await?;
                purged += 1;
            }
            store::commit(tx).await?;
        }
    }
    Ok(purged)
}

/// Everything a user owns, for keeping before a deletion.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserExport {
    pub exported_at: DateTime<Utc>,
    pub user: User,
    pub cards: Vec<Card>,
    pub contacts: Vec<Contact>,
    pub tags: Vec<Tag>,
    /// Mail templates the user created (none until mail templates exist in meishi).
    pub templates: Vec<serde_json::Value>,
}

/// The user themself or an admin may export.
pub async fn export(app: &App, actor: &Actor, id: &str) -> Result<UserExport> {
    if !actor.is_admin() && actor.user_id != id {
        return Err(Error::forbidden("only administrators may export another user's data"));
    }
    let c = app.store.conn();
    let user = target(c, actor, id).await?;
    let filter = || store::cards::CardFilter {
        owner_id: Some(id.to_string()),
        ..Default::default()
    };
    let mut cards = Vec::new();
    let mut after = None;
    loop {
        let page = store::cards::list_cards(c, &actor.org_id, filter(), after.clone(), 1000).await?;
        after = page.last().map(|c| c.id.clone());
        let done = page.len() < 1000;
        cards.extend(page);
        if done {
            break;
        }
    }
    let contacts = store::cards::contacts_of_owner(c, &actor.org_id, id).await?;
    let tags = store::cards::tags_created_by(c, &actor.org_id, id).await?;
    Ok(UserExport {
        exported_at: app.now(),
        user,
        cards,
        contacts,
        tags,
        templates: vec![],
    })
}

/// What each user owns (admins), for the users page.
pub async fn owned_counts(
    app: &App,
    actor: &Actor,
) -> Result<std::collections::HashMap<String, crate::domain::departure::Owned>> {
    actor.require_admin()?;
    users::owned_by_all(app.store.conn(), &actor.org_id).await
}

/// What one user owns (admins).
pub async fn owned(app: &App, actor: &Actor, id: &str) -> Result<crate::domain::departure::Owned> {
    actor.require_admin()?;
    target(app.store.conn(), actor, id).await?;
    users::owned(app.store.conn(), &actor.org_id, id).await
}
