//! Creating an organisation with its first administrator.

use super::{App, Who, audit, auth::hash_password, snap};
use crate::domain::model::{Organization, User};
use crate::domain::{Email, Error, OrgSlug, Result, Role, UserStatus, required_text};
use crate::store::{self, orgs, users};

pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";
pub const DEFAULT_RETIRED_SUFFIX: &str = "(退職済み)";
pub const DEFAULT_TRASH_DAYS: i64 = 30;

pub struct NewOrganization<'a> {
    pub name: &'a str,
    pub slug: Option<&'a str>,
    pub admin_email: &'a str,
    pub admin_name: &'a str,
    pub admin_password: &'a str,
}

/// Creates the organisation and its first admin in one transaction. A second run for the
/// same organisation (same name or slug) is a conflict, never a duplicate.
pub async fn init(app: &App, n: NewOrganization<'_>) -> Result<(Organization, User)> {
    let name = required_text("org", n.name, 200).map_err(|e| e.with_field("org"))?;
    let slug = match n.slug {
        Some(s) => OrgSlug::parse(s)?,
        None => OrgSlug::derive(&name).ok_or_else(|| {
            Error::bad_input(
                "slug",
                "the organisation name has no ASCII letters: give a slug (for example --slug sample)",
            )
        })?,
    };
    let email = Email::parse("admin_email", n.admin_email)?;
    let admin_name = required_text("admin_name", n.admin_name, 200)?;
    let hash = hash_password(n.admin_password)?;
    let now = app.now();
    let tx = app.store.write().await?;
    if orgs::by_slug(&tx, slug.as_str()).await?.is_some() || orgs::by_name(&tx, &name).await?.is_some() {
        return Err(
            Error::conflict(format!("organisation '{name}' ({}) already exists", slug.as_str())).with_field("org"),
        );
    }
    let org = Organization {
        id: store::new_id(),
        slug: slug.as_str().to_string(),
        name,
        time_zone: DEFAULT_TIME_ZONE.into(),
        retired_suffix: DEFAULT_RETIRED_SUFFIX.into(),
        previous_owner_tag_format: crate::domain::transfer::DEFAULT_TAG_FORMAT.into(),
        suspend_at: crate::domain::departure::DEFAULT_SUSPEND_AT.into(),
        trash_days: DEFAULT_TRASH_DAYS,
        execute_plan_before_suspension: false,
        created_at: now,
    };
    orgs::insert(&tx, &org).await?;
    let admin = User::new(store::new_id(), email.as_str(), &admin_name, Role::Admin, now);
    users::insert(&tx, &org.id, &admin, Some(hash)).await?;
    audit(
        &tx,
        Who {
            org_id: &org.id,
            actor_id: None,
            at: now,
        },
        "organization.create",
        ("organization", &org.id),
        None,
        snap(&org),
    )
    .await?;
    audit(
        &tx,
        Who {
            org_id: &org.id,
            actor_id: None,
            at: now,
        },
        "user.create",
        ("user", &admin.id),
        None,
        snap(&admin),
    )
    .await?;
    store::commit(tx).await?;
    Ok((org, admin))
}

pub async fn get(app: &App, actor: &super::Actor) -> Result<Organization> {
    orgs::by_id(app.store.conn(), &actor.org_id)
        .await?
        .ok_or_else(|| Error::not_found("organization"))
}

/// Settings an administrator may change; absent fields stay.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub name: Option<String>,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: Option<String>,
    /// Appended to suspended users' names, e.g. `(退職済み)`.
    pub retired_suffix: Option<String>,
    /// Time of day (HH:MM, local) at which departures suspend on the last working day.
    pub suspend_at: Option<String>,
    /// Days deleted users stay in the trash (1–3650).
    pub trash_days: Option<i64>,
    /// Name of the previous-owner tag; must contain `{name}`, may contain `{date}`.
    pub previous_owner_tag_format: Option<String>,
    pub execute_plan_before_suspension: Option<bool>,
}

/// Changes the settings. Scheduled departures get their suspension moment recomputed, and
/// suspended users carry the new retired suffix instead of the old one.
pub async fn update(app: &App, actor: &super::Actor, p: SettingsPatch) -> Result<Organization> {
    use crate::domain::departure::{parse_time_of_day, suspension_moment};
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let before = orgs::by_id(&tx, &actor.org_id)
        .await?
        .ok_or_else(|| Error::not_found("organization"))?;
    let mut org = before.clone();
    if let Some(n) = p.name {
        org.name = required_text("name", &n, 200)?;
    }
    if let Some(tz) = p.time_zone {
        org.time_zone = crate::domain::time_zone("time_zone", &tz)?.name().to_string();
    }
    if let Some(s) = p.retired_suffix {
        org.retired_suffix = crate::domain::optional_text("retired_suffix", &s, 40)?;
        if org.retired_suffix.is_empty() {
            return Err(Error::bad_input(
                "retired_suffix",
                "the retired suffix must not be empty",
            ));
        }
    }
    if let Some(s) = p.suspend_at {
        org.suspend_at = parse_time_of_day("suspend_at", &s)?.format("%H:%M").to_string();
    }
    if let Some(d) = p.trash_days {
        if !(1..=3650).contains(&d) {
            return Err(Error::bad_input(
                "trash_days",
                "the trash keeps users between 1 and 3650 days",
            ));
        }
        org.trash_days = d;
    }
    if let Some(f) = p.previous_owner_tag_format {
        org.previous_owner_tag_format = crate::domain::transfer::check_tag_format(&f)?;
    }
    if let Some(b) = p.execute_plan_before_suspension {
        org.execute_plan_before_suspension = b;
    }
    orgs::update(&tx, &org).await?;
    let tz = crate::domain::time_zone("time_zone", &org.time_zone)?;
    for (org_id, mut d) in store::departures::scheduled(&tx).await? {
        if org_id != org.id || d.suspend_at.is_some() && org.time_zone == before.time_zone {
            continue;
        }
        let at = parse_time_of_day("suspend_at", d.suspend_at.as_deref().unwrap_or(&org.suspend_at))?;
        d.suspend_moment = suspension_moment(d.last_working_day, at, tz);
        store::departures::save(&tx, &org.id, &d).await?;
    }
    if org.retired_suffix != before.retired_suffix {
        let actor_all = super::Actor::system(&org.id);
        let mut after = None;
        loop {
            let page = users::list(&tx, &actor_all.org_id, after.clone(), 500).await?;
            after = page.last().map(|u| u.id.clone());
            for u in page.iter().filter(|u| u.status == UserStatus::Suspended) {
                let name = crate::domain::without_retired_suffix(&u.display_name, &before.retired_suffix);
                let name = crate::domain::with_retired_suffix(&name, &org.retired_suffix);
                users::transition(
                    &tx,
                    &org.id,
                    &u.id,
                    UserStatus::Suspended,
                    UserStatus::Suspended,
                    &name,
                    now,
                )
                .await?;
            }
            if page.len() < 500 {
                break;
            }
        }
    }
    audit(
        &tx,
        actor.at(now),
        "organization.update",
        ("organization", &org.id),
        snap(&before),
        snap(&org),
    )
    .await?;
    store::commit(tx).await?;
    Ok(org)
}
