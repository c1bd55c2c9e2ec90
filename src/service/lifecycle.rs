//! The account lifecycle: suspend, reactivate, delete (guarded), restore from the trash,
//! purge after the retention period, export before deletion, and the archive account.

use super::transfers::{self, TransferRequest};
use super::{Actor, App, Who, audit, org, snap};
use crate::domain::departure::DepartureStatus;
use crate::domain::lifecycle::{ARCHIVE_NAME, Holdings, Move, guard_removal, transition};
use crate::domain::model::{Card, Contact, Organization, Tag, User};
use crate::domain::transfer::SelectionInput;
use crate::domain::{Error, Result, Role, UserId, UserStatus};
use crate::store::{self, departures, users};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// The user, their row locked until the unit of work ends (a transfer to or from them waits).
pub(crate) async fn locked(tx: &store::Tx, org_id: &str, id: &str) -> Result<User> {
    users::lock(tx, org_id, &[id])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("user"))
}

async fn target(c: &impl store::Conn, org_id: &str, id: &str) -> Result<User> {
    users::by_id(c, org_id, id)
        .await?
        .map(|r| r.user)
        .ok_or_else(|| Error::not_found("user"))
}

/// Loads what `domain::lifecycle::guard_removal` decides on, and asks it.
pub(crate) async fn guard_admins(c: &impl store::Conn, who: Who<'_>, user: &User, verb: &str) -> Result<()> {
    let admins = users::count_active_admins(c, who.org_id).await?;
    guard_removal(who.actor_id.map(UserId::from).as_ref(), user, admins, verb)
}

/// Moves `user` to status `to` through the status machine (the retired suffix follows) with
/// a conditional write, and audits it before/after as `action`. Returns the user as they are
/// now, or None when someone else changed the status first.
async fn apply_transition(
    tx: &store::Tx,
    who: Who<'_>,
    org: &Organization,
    user: &User,
    to: UserStatus,
    action: &str,
) -> Result<Option<User>> {
    let t = transition(user, to, &org.policy()?)?;
    if !users::transition(tx, &org.id, &user.id, t.from, t.to, &t.display_name, who.at).await? {
        return Ok(None);
    }
    if to != UserStatus::Active {
        users::revoke_access(tx, &org.id, &user.id, who.at).await?;
    }
    let after = target(tx, &org.id, &user.id).await?;
    audit(tx, who, action, ("user", &user.id), snap(user), snap(&after)).await?;
    Ok(Some(after))
}

/// Suspends inside the caller's unit of work: the suffix goes on, every session and token is
/// revoked. Conditional on the user being active; returns whether this call suspended them.
pub(crate) async fn suspend_in(tx: &store::Tx, who: Who<'_>, org: &Organization, user: &User) -> Result<bool> {
    if user.status != UserStatus::Active {
        return Ok(false);
    }
    Ok(
        apply_transition(tx, who, org, user, UserStatus::Suspended, "user.suspend")
            .await?
            .is_some(),
    )
}

pub async fn suspend(app: &App, actor: &Actor, id: &str) -> Result<User> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let user = locked(tx, &actor.org_id, id).await?;
        match user.status {
            UserStatus::Suspended => return Ok(user),
            UserStatus::Deleted => return Err(Error::unprocessable("the user is deleted; restore them first")),
            UserStatus::Active => {}
        }
        guard_admins(tx, who, &user, "suspend").await?;
        let org = org(tx, &actor.org_id).await?;
        suspend_in(tx, who, &org, &user).await?;
        target(tx, &actor.org_id, id).await
    })
    .await
}

pub async fn reactivate(app: &App, actor: &Actor, id: &str) -> Result<User> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let user = locked(tx, &actor.org_id, id).await?;
        match user.status {
            UserStatus::Active => return Ok(user),
            UserStatus::Deleted => return Err(Error::unprocessable("the user is deleted; restore them first")),
            UserStatus::Suspended => {}
        }
        let org = org(tx, &actor.org_id).await?;
        reactivate_in(tx, who, &org, &user).await
    })
    .await
}

/// Reactivates a suspended user inside the caller's unit of work (the suffix comes off) and
/// settles their suspended departure (done: they are active again).
pub(crate) async fn reactivate_in(tx: &store::Tx, who: Who<'_>, org: &Organization, user: &User) -> Result<User> {
    let after = changed(apply_transition(tx, who, org, user, UserStatus::Active, "user.reactivate").await?)?;
    super::departures::settle_in(tx, who, &after).await?;
    Ok(after)
}

/// A transition another writer overtook is a conflict.
fn changed(after: Option<User>) -> Result<User> {
    after.ok_or_else(|| Error::conflict("the user's status changed meanwhile; load it again"))
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
    app.write(actor, async |tx, who| {
        let org = org(tx, &actor.org_id).await?;
        archive_in(tx, who, &org).await
    })
    .await
}

pub async fn get_archive_account(app: &App, actor: &Actor) -> Result<User> {
    users::archive_account(app.read(), &actor.org_id)
        .await?
        .ok_or_else(|| Error::not_found("archive account"))
}

/// Deletes a user who holds nothing. With `archive`, first transfers everything they hold to
/// the archive account (one batch, previous-owner tag, their tags included), all in one
/// unit of work. Refused with the counts otherwise (`Holdings::guard_deletion`).
pub async fn delete(app: &App, actor: &Actor, id: &str, archive: bool) -> Result<User> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let user = locked(tx, &actor.org_id, id).await?;
        if user.status == UserStatus::Deleted {
            return Err(Error::conflict(format!("{} is already deleted", user.display_name)));
        }
        guard_admins(tx, who, &user, "delete").await?;
        let org = org(tx, &actor.org_id).await?;
        let holdings = users::holdings(tx, &org.id, id).await?;
        if archive && holdings.movable() {
            let (account, _) = archive_in(tx, who, &org).await?;
            if holdings.cards > 0 || holdings.tags > 0 {
                let req = TransferRequest {
                    from_user_id: user.id.clone(),
                    to_user_id: account.id.clone(),
                    selection: SelectionInput {
                        all: Some(true),
                        ..Default::default()
                    },
                    include_tags: true,
                    dry_run: false,
                };
                transfers::run(tx, who, &req, Move::ToArchive, &|_| {}).await?;
            }
            if holdings.templates > 0 {
                super::mail::hand_over_in(tx, who, &user.id, &account.id, Move::ToArchive).await?;
            }
        } else {
            holdings.guard_deletion(&user)?;
        }
        // A departure still scheduled is cancelled; one that needs action is settled (the
        // user holds nothing now: the guard above or the move to the archive made sure).
        if let Some(open) = departures::open_for_user(tx, &org.id, id).await? {
            if open.status == DepartureStatus::Scheduled {
                let d = open.cancelled(who.at)?;
                super::departures::save_change(tx, who, "departure.cancel", &open, &d).await?;
            } else {
                super::departures::settle_in(tx, who, &user).await?;
            }
        }
        changed(apply_transition(tx, who, &org, &user, UserStatus::Deleted, "user.delete").await?)
    })
    .await
}

/// Brings a deleted user back from the trash, suspended, within the retention period.
pub async fn restore(app: &App, actor: &Actor, id: &str) -> Result<User> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let user = locked(tx, &actor.org_id, id).await?;
        if user.status != UserStatus::Deleted {
            return Err(Error::conflict(format!("{} is not deleted", user.display_name)));
        }
        let org = org(tx, &actor.org_id).await?;
        let policy = org.policy()?;
        if policy.trash_end(user.deleted_at.unwrap_or(who.at)) <= who.at {
            return Err(Error::unprocessable(format!(
                "the trash keeps users for {} days; this one is due for purge",
                org.trash_days
            )));
        }
        changed(apply_transition(tx, who, &org, &user, UserStatus::Suspended, "user.restore").await?)
    })
    .await
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
    let c = app.read();
    let user = target(c, &actor.org_id, id).await?;
    let filter = || store::cards::CardFilter {
        owner_id: Some(id.to_string()),
        ..Default::default()
    };
    let mut cards = Vec::new();
    let mut after = None;
    loop {
        let order = store::cards::CardOrder::Id;
        let page = store::cards::list_cards(c, &actor.org_id, filter(), order, after, 1000).await?;
        after = page.last().map(|l| store::cards::After {
            key: l.key.clone(),
            id: l.card.id.clone(),
        });
        let done = page.len() < 1000;
        // Each card with its tags as the caller may see them.
        cards.extend(page.into_iter().map(|l| super::cards::visible(actor, l.card, l.tags)));
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

/// What each user holds (admins), for the users page.
pub async fn holdings_of_all(app: &App, actor: &Actor) -> Result<std::collections::HashMap<String, Holdings>> {
    actor.require_admin()?;
    users::holdings_of_all(app.read(), &actor.org_id).await
}

/// What one user holds: an admin for anyone, a user for themself.
pub async fn holdings(app: &App, actor: &Actor, id: &str) -> Result<Holdings> {
    if !actor.is_admin() && actor.user_id != id {
        return Err(Error::forbidden("only administrators may see what another user holds"));
    }
    target(app.read(), &actor.org_id, id).await?;
    users::holdings(app.read(), &actor.org_id, id).await
}

/// Trashed users the purge found still holding something, with when (admins).
pub async fn purge_blocked(app: &App, actor: &Actor) -> Result<Vec<(User, DateTime<Utc>)>> {
    actor.require_admin()?;
    users::purge_blocked(app.read(), &actor.org_id).await
}
