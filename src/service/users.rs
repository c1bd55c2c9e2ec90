//! Managing users: admins create and change them; everyone in the organisation may read them
//! (to pick a successor, to see who owns a card).

use super::{Actor, App, audit, auth::hash_new_password, page_limit, paginate, snap};
use crate::domain::departure::Departure;
use crate::domain::directory::{self, Standing, StatusFilter};
use crate::domain::lifecycle::Holdings;
use crate::domain::model::{Page, User};
use crate::domain::{Email, Error, Result, Role, UserStatus, required_text};
use crate::store::{self, users};
use serde::Deserialize;
use std::collections::HashMap;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(format = Email)]
    pub email: String,
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: String,
    /// `member` unless given.
    #[serde(default)]
    pub role: Option<Role>,
    /// Optional: without one the user signs in only once a password is set.
    #[serde(default)]
    #[schema(min_length = 8)]
    pub password: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// A new password (at least 8 characters, not a common one). Changing it ends every
    /// other session and revokes every API token of the user.
    #[schema(min_length = 8)]
    pub password: Option<String>,
    /// Required to change one's own password: the password now.
    pub current_password: Option<String>,
}

pub async fn create(app: &App, actor: &Actor, n: NewUser) -> Result<User> {
    actor.require_admin()?;
    let email = Email::parse("email", &n.email)?;
    let display_name = required_text("display_name", &n.display_name, 200)?;
    let hash = n
        .password
        .as_deref()
        .map(|pw| hash_new_password(pw, Some(&n.email)))
        .transpose()?;
    let role = n.role.unwrap_or(Role::Member);
    app.write(actor, async |tx, who| {
        let user = User::new(store::new_id(), email.as_str(), &display_name, role, who.at);
        if users::by_email(tx, &actor.org_id, &user.email).await?.is_some() {
            return Err(
                Error::conflict(format!("a user with email {} already exists", user.email)).with_field("email"),
            );
        }
        users::insert(tx, &actor.org_id, &user, hash).await?;
        audit(tx, who, "user.create", ("user", &user.id), None, snap(&user)).await?;
        Ok(user)
    })
    .await
}

pub async fn get(app: &App, actor: &Actor, id: &str) -> Result<User> {
    users::by_id(app.read(), &actor.org_id, id)
        .await?
        .map(|r| r.user)
        .ok_or_else(|| Error::not_found("user"))
}

pub async fn list(app: &App, actor: &Actor, cursor: Option<&str>, limit: Option<u64>) -> Result<Page<User>> {
    let limit = page_limit(limit)?;
    let after = store::parse_cursor(cursor)?;
    let items = users::list(app.read(), &actor.org_id, after, limit + 1).await?;
    Ok(paginate(items, limit, |u| u.id.clone()))
}

/// One line of the users list (admins): the user, what they are shown as, what they hold,
/// and their scheduled departure if any.
pub struct DirectoryEntry {
    pub user: User,
    pub standing: Standing,
    pub holdings: Holdings,
    pub departure: Option<Departure>,
}

/// The users list: every user of the organisation that the search text finds (name or email)
/// and the status filter admits, in id order (admins).
pub async fn directory(
    app: &App,
    actor: &Actor,
    text: &str,
    status: Option<StatusFilter>,
) -> Result<Vec<DirectoryEntry>> {
    actor.require_admin()?;
    let c = app.read();
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = users::list(c, &actor.org_id, after, 1000).await?;
        after = page.last().map(|u| u.id.clone());
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            break;
        }
    }
    let mut held = users::holdings_of_all(c, &actor.org_id).await?;
    let mut leaving: HashMap<String, Departure> = store::departures::scheduled_in_org(c, &actor.org_id)
        .await?
        .into_iter()
        .map(|d| (d.user_id.to_string(), d))
        .collect();
    Ok(all
        .into_iter()
        .filter(|u| directory::matches(u, text))
        .filter_map(|user| {
            let departure = leaving.remove(&user.id);
            let standing = Standing::of(&user, departure.is_some());
            if status.is_some_and(|s| !s.admits(standing)) {
                return None;
            }
            Some(DirectoryEntry {
                holdings: held.remove(&user.id).unwrap_or_default(),
                standing,
                departure,
                user,
            })
        })
        .collect())
}

/// Admins change anyone; a member may change only their own display name and password.
pub async fn update(app: &App, actor: &Actor, id: &str, p: UserPatch) -> Result<User> {
    let own = actor.user_id == id;
    if !(actor.is_admin() || (own && p.role.is_none())) {
        return Err(Error::forbidden("only administrators may change other users or roles"));
    }
    let display_name = p
        .display_name
        .as_deref()
        .map(|n| required_text("display_name", n, 200))
        .transpose()?;
    if p.current_password.is_some() && p.password.is_none() {
        return Err(Error::bad_input(
            "current_password",
            "current_password goes with a new password",
        ));
    }
    let target = users::by_id(app.read(), &actor.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    if own && p.password.is_some() {
        let current = p.current_password.as_deref().ok_or_else(|| {
            Error::unprocessable("to change your own password, give the current one").with_field("current_password")
        })?;
        let hash = target.password_hash.as_deref();
        super::auth::check_current_password(app, actor, &target.user.email, hash, current).await?;
    }
    let password_hash = p
        .password
        .as_deref()
        .map(|pw| hash_new_password(pw, Some(&target.user.email)))
        .transpose()?;
    app.write(actor, async |tx, who| {
        let before = users::by_id(tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| Error::not_found("user"))?
            .user;
        if before.is_archive {
            return Err(Error::unprocessable("the archive account cannot be changed"));
        }
        if p.role == Some(Role::Member)
            && before.role == Role::Admin
            && before.status == UserStatus::Active
            && users::count_active_admins(tx, &actor.org_id).await? <= 1
        {
            return Err(
                Error::unprocessable("the last active administrator cannot lose the admin role").with_field("role"),
            );
        }
        let change = users::UserChange {
            display_name,
            role: p.role,
            password_hash,
        };
        let password_changed = change.password_hash.is_some();
        users::update(tx, &actor.org_id, id, change, who.at).await?;
        // A new password ends every other way in: the caller's own session stays.
        let keep = if own { actor.session.as_deref() } else { None };
        let revoked = if password_changed {
            Some(store::auth::revoke_other_access(tx, &actor.org_id, id, keep, who.at).await?)
        } else {
            None
        };
        let after = users::by_id(tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| Error::not_found("user"))?
            .user;
        let mut after_json = snap(&after);
        if let (Some(serde_json::Value::Object(m)), Some((sessions, tokens))) = (&mut after_json, revoked) {
            m.insert("password_changed".into(), true.into());
            m.insert("sessions_ended".into(), sessions.into());
            m.insert("tokens_revoked".into(), tokens.into());
        }
        audit(tx, who, "user.update", ("user", id), snap(&before), after_json).await?;
        Ok(after)
    })
    .await
}

/// A user of the organisation by email (the command line names users by email).
pub async fn by_email(app: &App, actor: &Actor, email: &str) -> Result<User> {
    let email = Email::parse("email", email)?;
    users::by_email(app.read(), &actor.org_id, email.as_str())
        .await?
        .map(|r| r.user)
        .ok_or_else(|| Error::not_found("user").with_field("email"))
}
