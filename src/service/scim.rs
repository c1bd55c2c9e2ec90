//! SCIM 2.0 provisioning use cases: an organisation's identity-provider tokens (admins create
//! and revoke them; stored hashed; audited), and the Users resource mapped onto meishi's
//! offboarding. The provider acts as `domain::scim::idp_actor` with an administrator's
//! rights, through the same service functions as everyone else:
//! - `active=false` suspends now (`lifecycle::suspend_in`: sessions and tokens revoked, the
//!   retired suffix) and opens a departure needing action (`domain::scim::idp_departure`);
//! - `active=true` reactivates (`lifecycle::reactivate_in`) and cancels that departure while
//!   it is pending;
//! - DELETE is `lifecycle::delete` with the archive: what the user holds goes to the archive
//!   account in one transfer batch (previous-owner tag), then the user goes to the trash.
//!   Nothing is purged by SCIM.

use super::{Actor, App, Who, audit, lifecycle, org, snap};
use crate::domain::model::{Organization, User};
use crate::domain::scim::{self as rules, Cond, Field, Resource};
use crate::domain::{DepartureId, Email, Error, ErrorKind, Result, Role, UserId, UserStatus, required_text};
use crate::store::scim::{self as st, ScimRequest, ScimRow, ScimToken};
use crate::store::{self, departures, users};
use scim_v2::models::others::PatchOperation;
use serde_json::{Value, json};

/// An identity provider, as one of its organisation's SCIM tokens identifies it.
#[derive(Debug, Clone)]
pub struct Idp {
    pub actor: Actor,
    pub token_id: String,
}

pub async fn idp_from_token(app: &App, token: &str) -> Result<Idp> {
    match st::token_by_hash(app.read(), &super::auth::hash_secret(token)).await? {
        Some((org_id, token_id)) => Ok(Idp {
            actor: Actor {
                org_id,
                user_id: rules::idp_actor(&token_id),
                role: Role::Admin,
                session: None,
            },
            token_id,
        }),
        None => Err(Error::unauthenticated()),
    }
}

async fn insert_token(tx: &store::Tx, who: Who<'_>, name: &str) -> Result<(ScimToken, String)> {
    let name = required_text("name", name, 100)?;
    let secret = super::auth::new_secret("mscim_");
    let id = st::insert_token(
        tx,
        who.org_id,
        &name,
        &super::auth::hash_secret(&secret),
        who.actor_id,
        who.at,
    )
    .await?;
    let token = st::token_by_id(tx, who.org_id, &id)
        .await?
        .ok_or_else(|| Error::internal("the new SCIM token is not there"))?;
    audit(tx, who, "scim_token.create", ("scim_token", &id), None, snap(&token)).await?;
    Ok((token, secret))
}

/// A new SCIM token (admins); the secret is returned once and only its hash is kept.
pub async fn create_token(app: &App, actor: &Actor, name: &str) -> Result<(ScimToken, String)> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| insert_token(tx, who, name).await)
        .await
}

/// A new SCIM token from the command line (audited as the system).
pub async fn create_token_for_org(app: &App, org_slug: Option<&str>, name: &str) -> Result<(ScimToken, String)> {
    let org = super::auth::resolve_org(app, org_slug).await?;
    create_token(app, &Actor::system(&org.id), name).await
}

pub async fn revoke_token(app: &App, actor: &Actor, id: &str) -> Result<ScimToken> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let before = st::token_by_id(tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| Error::not_found("SCIM token"))?;
        if !st::revoke_token(tx, &actor.org_id, id, who.at).await? {
            return Err(Error::conflict(format!("the token {} is revoked already", before.name)));
        }
        let after = st::token_by_id(tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| Error::not_found("SCIM token"))?;
        audit(
            tx,
            who,
            "scim_token.revoke",
            ("scim_token", id),
            snap(&before),
            snap(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

pub async fn revoke_token_for_org(app: &App, org_slug: Option<&str>, id: &str) -> Result<ScimToken> {
    let org = super::auth::resolve_org(app, org_slug).await?;
    revoke_token(app, &Actor::system(&org.id), id).await
}

/// The organisation's SCIM tokens, newest first (admins).
pub async fn tokens(app: &App, actor: &Actor) -> Result<Vec<ScimToken>> {
    actor.require_admin()?;
    st::tokens(app.read(), &actor.org_id).await
}

pub async fn tokens_for_org(app: &App, org_slug: Option<&str>) -> Result<Vec<ScimToken>> {
    let org = super::auth::resolve_org(app, org_slug).await?;
    tokens(app, &Actor::system(&org.id)).await
}

/// The latest requests the organisation's providers made (admins), newest first.
pub async fn recent_requests(app: &App, actor: &Actor, limit: i64) -> Result<Vec<ScimRequest>> {
    actor.require_admin()?;
    st::recent_requests(app.read(), &actor.org_id, limit).await
}

/// Notes one request in the organisation's log (its own small unit of work, after the request).
pub async fn log_request(app: &App, idp: &Idp, r: st::LoggedRequest<'_>) -> Result<()> {
    app.write(&idp.actor, async |tx, who| {
        st::log_request(tx, who.org_id, r, who.at).await
    })
    .await
}

/// A user as SCIM shows them.
#[derive(Debug, Clone)]
pub struct ScimUser {
    pub user: User,
    pub resource: Resource,
}

impl ScimUser {
    /// The resource as JSON; `base` is the `/scim/v2` URL (for `meta.location`).
    pub fn to_json(&self, base: &str) -> Value {
        let location = format!("{base}/Users/{}", self.user.id);
        let meta = rules::Meta {
            created: self.user.created_at,
            modified: self.user.updated_at,
            location: &location,
        };
        self.resource
            .representation(&self.user.id, self.user.status == UserStatus::Active, meta)
    }
}

fn shown(policy: &crate::domain::Policy, user: User, row: Option<ScimRow>) -> Result<ScimUser> {
    let resource = match row {
        Some(r) => Resource::from_stored(&r.resource)?,
        None => Resource::of_user(&user.email, &policy.active_name(&user.display_name)),
    };
    Ok(ScimUser { user, resource })
}

/// A user SCIM may see: of the organisation, not deleted, not the archive account.
fn visible(user: Option<User>) -> Result<User> {
    user.filter(|u| u.status != UserStatus::Deleted && !u.is_archive)
        .ok_or_else(|| rules::error(ErrorKind::NotFound, "noTarget", "no such user"))
}

/// The user, row-locked for the unit of work, if SCIM may see them.
async fn locked(tx: &store::Tx, org: &Organization, id: &str) -> Result<User> {
    match lifecycle::locked(tx, &org.id, id).await {
        Ok(u) => visible(Some(u)),
        Err(e) if e.kind == ErrorKind::NotFound => visible(None),
        Err(e) => Err(e),
    }
}

async fn load(c: &impl store::Conn, org: &Organization, id: &str) -> Result<ScimUser> {
    let user = visible(users::by_id(c, &org.id, id).await?.map(|r| r.user))?;
    let row = st::row(c, &org.id, id).await?;
    shown(&org.policy()?, user, row)
}

pub async fn get(app: &App, idp: &Idp, id: &str) -> Result<ScimUser> {
    let org = org(app.read(), &idp.actor.org_id).await?;
    load(app.read(), &org, id).await
}

pub struct ListQuery<'a> {
    pub filter: Option<&'a str>,
    /// 1-based (RFC 7644 §3.4.2.4); below 1 counts as 1.
    pub start_index: Option<i64>,
    /// Below 0 counts as 0; at most `MAX_RESULTS`.
    pub count: Option<i64>,
    pub sort_by: Option<&'a str>,
    pub descending: bool,
}

pub struct Listed {
    pub total: i64,
    pub start_index: i64,
    pub users: Vec<ScimUser>,
}

/// The users a filter finds, a page of them (the filter runs in SQL, scoped to the organisation).
pub async fn list(app: &App, idp: &Idp, q: ListQuery<'_>) -> Result<Listed> {
    let cond: Option<Cond> = match q.filter.map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => Some(rules::condition(f)?),
        None => None,
    };
    let start_index = q.start_index.unwrap_or(1).max(1);
    let count = q.count.unwrap_or(100).clamp(0, rules::MAX_RESULTS as i64) as u64;
    let sort: Option<(Field, bool)> = q.sort_by.and_then(rules::sort_field).map(|f| (f, q.descending));
    let c = app.read();
    let org = org(c, &idp.actor.org_id).await?;
    let policy = org.policy()?;
    let (total, page) = st::list_users(c, &org.id, cond.as_ref(), sort, (start_index - 1) as u64, count).await?;
    let users = page
        .into_iter()
        .map(|(u, r)| shown(&policy, u, r))
        .collect::<Result<_>>()?;
    Ok(Listed {
        total,
        start_index,
        users,
    })
}

fn uniqueness(message: String) -> Error {
    rules::error(ErrorKind::Conflict, "uniqueness", message)
}

/// A unique index that refused a write (two providers' requests racing on PostgreSQL, past
/// the checks above) is a `uniqueness` conflict too.
fn unique(e: Error) -> Error {
    if e.kind == ErrorKind::Conflict && e.details.is_none() {
        uniqueness("the userName or the e-mail address is taken in this organisation".into())
    } else {
        e
    }
}

/// The address a provider's user gets: the primary e-mail, else the userName if it is one,
/// else one that cannot receive mail (`scim-<id>@<org>.meishi.invalid`, like the archive
/// account's).
fn address(org: &Organization, id: &str, f: &rules::UserFields) -> String {
    f.email
        .as_deref()
        .and_then(|e| Email::parse("emails", e).ok())
        .or_else(|| Email::parse("userName", &f.user_name).ok())
        .map(|e| e.as_str().to_string())
        .unwrap_or_else(|| format!("scim-{id}@{}.meishi.invalid", org.slug))
}

async fn check_user_name(tx: &store::Tx, org: &Organization, f: &rules::UserFields, except: &str) -> Result<()> {
    if st::user_name_holder(tx, &org.id, &f.user_name, except).await?.is_some() {
        return Err(uniqueness(format!(
            "userName {} is taken in this organisation",
            f.user_name
        )));
    }
    Ok(())
}

async fn check_address(tx: &store::Tx, org: &Organization, email: &str, except: &str) -> Result<()> {
    if users::by_email(tx, &org.id, email)
        .await?
        .is_some_and(|r| r.user.id != except)
    {
        return Err(uniqueness(format!(
            "another user of this organisation has the address {email}"
        )));
    }
    Ok(())
}

fn row_of(resource: &Resource, f: &rules::UserFields) -> ScimRow {
    ScimRow {
        user_name: f.user_name.clone(),
        external_id: f.external_id.clone(),
        display_name: f.display_name.clone(),
        resource: resource.stored(),
    }
}

pub async fn create(app: &App, idp: &Idp, body: &Value) -> Result<ScimUser> {
    let resource = Resource::from_body(body)?;
    let f = resource.fields()?;
    app.write(&idp.actor, async |tx, who| {
        let org = org(tx, who.org_id).await?;
        check_user_name(tx, &org, &f, "").await?;
        let id = store::new_id();
        let email = address(&org, &id, &f);
        check_address(tx, &org, &email, "").await?;
        let user = User::new(id.clone(), &email, &f.display_name, Role::Member, who.at);
        users::insert(tx, &org.id, &user, None).await.map_err(unique)?;
        st::save_row(tx, &org.id, &id, &row_of(&resource, &f))
            .await
            .map_err(unique)?;
        let after = json!({"user": user, "scim": resource.0});
        audit(tx, who, "user.create", ("user", &id), None, Some(after)).await?;
        if f.active == Some(false) {
            deactivate_in(tx, who, &org, &user, f.manager.as_deref()).await?;
        }
        load(tx, &org, &id).await
    })
    .await
}

/// PUT: the resource replaces what the provider wrote; an `active` left out changes nothing
/// (Okta's custom integrations PUT the whole user without it).
pub async fn replace(app: &App, idp: &Idp, id: &str, body: &Value) -> Result<ScimUser> {
    let resource = Resource::from_body(body)?;
    app.write(&idp.actor, async |tx, who| {
        let org = org(tx, who.org_id).await?;
        let user = locked(tx, &org, id).await?;
        let before = load(tx, &org, id).await?;
        write_changes(tx, who, &org, &user, &before.resource, resource.clone()).await?;
        load(tx, &org, id).await
    })
    .await
}

/// PATCH (RFC 7644 §3.5.2) on the resource as it is, then written like a PUT.
pub async fn patch(app: &App, idp: &Idp, id: &str, ops: &[PatchOperation]) -> Result<ScimUser> {
    app.write(&idp.actor, async |tx, who| {
        let org = org(tx, who.org_id).await?;
        let user = locked(tx, &org, id).await?;
        let before = load(tx, &org, id).await?;
        let was_active = user.status == UserStatus::Active;
        let mut resource = before.resource.clone();
        resource.set_active(was_active);
        resource.patch(ops)?;
        // `active` as it was is no change of state (an attribute update never cancels a
        // departure an admin kept after reactivating the user by hand).
        if resource.0.get("active") == Some(&Value::Bool(was_active)) {
            resource.0.remove("active");
        }
        write_changes(tx, who, &org, &user, &before.resource, resource).await?;
        load(tx, &org, id).await
    })
    .await
}

/// Writes what changed: userName, externalId, the name meishi shows, the address, the
/// provider's attributes (audited as `user.update`), then `active`.
async fn write_changes(
    tx: &store::Tx,
    who: Who<'_>,
    org: &Organization,
    user: &User,
    before: &Resource,
    resource: Resource,
) -> Result<()> {
    let f = resource.fields()?;
    check_user_name(tx, org, &f, &user.id).await?;
    let policy = org.policy()?;
    let email = address(org, &user.id, &f);
    if email != user.email {
        check_address(tx, org, &email, &user.id).await?;
        st::set_email(tx, &org.id, &user.id, &email, who.at)
            .await
            .map_err(unique)?;
    }
    if policy.active_name(&user.display_name) != f.display_name {
        let shown = if user.status == UserStatus::Active {
            f.display_name.clone()
        } else {
            policy.retired_name(&f.display_name)
        };
        let change = users::UserChange {
            display_name: Some(shown),
            role: None,
            password_hash: None,
        };
        users::update(tx, &org.id, &user.id, change, who.at).await?;
    }
    let mut kept = resource.clone();
    kept.0.remove("active");
    let mut was = before.clone();
    was.0.remove("active");
    if kept != was || email != user.email {
        st::save_row(tx, &org.id, &user.id, &row_of(&resource, &f))
            .await
            .map_err(unique)?;
        store::exec(
            tx,
            "UPDATE users SET updated_at = ? WHERE org_id = ? AND id = ?",
            vec![
                store::to_micros(who.at).into(),
                org.id.clone().into(),
                user.id.clone().into(),
            ],
        )
        .await?;
        let b = json!({"email": user.email, "display_name": user.display_name, "scim": was.0});
        let a = json!({"email": email, "display_name": f.display_name, "scim": kept.0});
        audit(tx, who, "user.update", ("user", &user.id), Some(b), Some(a)).await?;
    }
    match (f.active, user.status) {
        (Some(false), UserStatus::Active) => deactivate_in(tx, who, org, user, f.manager.as_deref()).await,
        (Some(true), _) => activate_in(tx, who, org, &user.id).await,
        _ => Ok(()),
    }
}

/// The provider deprovisions: suspended now, and a departure needing action opened unless
/// one is open (its successor the SCIM manager when they may receive cards).
async fn deactivate_in(
    tx: &store::Tx,
    who: Who<'_>,
    org: &Organization,
    user: &User,
    manager: Option<&str>,
) -> Result<()> {
    let user = lifecycle::locked(tx, &org.id, &user.id).await?;
    lifecycle::guard_admins(tx, who, &user, "suspend").await?;
    lifecycle::suspend_in(tx, who, org, &user).await?;
    if departures::open_for_user(tx, &org.id, &user.id).await?.is_some() {
        return Ok(());
    }
    let leaving = UserId::from(user.id.as_str());
    let successor = match manager {
        Some(m) => super::departures::successor(tx, &org.id, m, &leaving, "manager")
            .await
            .ok(),
        None => None,
    };
    let actor = who.actor_id.unwrap_or_default();
    let d = rules::idp_departure(
        DepartureId::from(store::new_id()),
        leaving,
        successor,
        actor,
        &org.policy()?,
        who.at,
    );
    departures::insert(tx, &org.id, &d).await?;
    audit(
        tx,
        who,
        "departure.create",
        ("departure", d.id.as_str()),
        None,
        snap(&d),
    )
    .await
}

/// The provider provisions the user again: reactivated if suspended, and the departure it
/// opened cancelled while still pending.
async fn activate_in(tx: &store::Tx, who: Who<'_>, org: &Organization, id: &str) -> Result<()> {
    if let Some(d) = departures::open_for_user(tx, &org.id, id).await?
        && rules::cancelled_by_reactivation(&d)
    {
        let after = d.cancelled(who.at)?;
        super::departures::save_change(tx, who, "departure.cancel", &d, &after).await?;
    }
    let user = lifecycle::locked(tx, &org.id, id).await?;
    if user.status == UserStatus::Suspended {
        lifecycle::reactivate_in(tx, who, org, &user).await?;
    }
    Ok(())
}

/// DELETE: what the user holds goes to the archive account (one batch, previous-owner tag),
/// then the user goes to the trash (restorable); `lifecycle::delete` does both in one unit.
pub async fn delete(app: &App, idp: &Idp, id: &str) -> Result<()> {
    get(app, idp, id).await?;
    match lifecycle::delete(app, &idp.actor, id, true).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::NotFound => Err(rules::error(ErrorKind::NotFound, "noTarget", e.message)),
        Err(e) => Err(e),
    }
}
