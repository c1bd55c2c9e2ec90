//! Creating an organisation with its first administrator.

use super::{Actor, App, audit, auth::hash_new_password, snap};
use crate::domain::lifecycle::renamed_for_new_suffix;
use crate::domain::model::{Organization, User};
use crate::domain::policy::{self, settings};
use crate::domain::{Email, Error, OrgSlug, Result, Role, UserStatus, required_text};
use crate::store::{self, orgs, users};

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
    let hash = hash_new_password(n.admin_password, Some(n.admin_email))?;
    let org_id = store::new_id();
    app.write(&Actor::system(&org_id), async |tx, who| {
        if orgs::by_slug(tx, slug.as_str()).await?.is_some() || orgs::by_name(tx, &name).await?.is_some() {
            return Err(
                Error::conflict(format!("organisation '{name}' ({}) already exists", slug.as_str())).with_field("org"),
            );
        }
        let org = Organization {
            id: org_id.clone(),
            slug: slug.as_str().to_string(),
            name: name.clone(),
            time_zone: policy::DEFAULT_TIME_ZONE.into(),
            retired_suffix: policy::DEFAULT_RETIRED_SUFFIX.into(),
            previous_owner_tag_format: policy::DEFAULT_TAG_FORMAT.into(),
            suspend_at: policy::DEFAULT_SUSPEND_AT.into(),
            trash_days: policy::DEFAULT_TRASH_DAYS,
            execute_plan_before_suspension: policy::DEFAULT_EXECUTE_PLAN_BEFORE_SUSPENSION,
            created_at: who.at,
        };
        orgs::insert(tx, &org).await?;
        let admin = User::new(store::new_id(), email.as_str(), &admin_name, Role::Admin, who.at);
        users::insert(tx, &org.id, &admin, Some(hash)).await?;
        audit(
            tx,
            who,
            "organization.create",
            ("organization", &org.id),
            None,
            snap(&org),
        )
        .await?;
        audit(tx, who, "user.create", ("user", &admin.id), None, snap(&admin)).await?;
        Ok((org, admin))
    })
    .await
}

/// How many organisations the database holds (the command line says when there is none).
pub async fn count(app: &App) -> Result<u64> {
    store::orgs::count(app.read()).await
}

pub async fn get(app: &App, actor: &super::Actor) -> Result<Organization> {
    super::org(app.read(), &actor.org_id).await
}

/// Settings an administrator may change; absent fields stay.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = OrganizationPatch)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[schema(min_length = 1, max_length = 200)]
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
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let before = super::org(tx, &actor.org_id).await?;
        let mut org = before.clone();
        if let Some(n) = p.name {
            org.name = required_text("name", &n, 200)?;
        }
        if let Some(tz) = p.time_zone {
            org.time_zone = settings::time_zone_name(&tz)?;
        }
        if let Some(s) = p.retired_suffix {
            org.retired_suffix = settings::retired_suffix(&s)?;
        }
        if let Some(s) = p.suspend_at {
            org.suspend_at = settings::suspend_at(&s)?;
        }
        if let Some(d) = p.trash_days {
            org.trash_days = settings::trash_days(d)?;
        }
        if let Some(f) = p.previous_owner_tag_format {
            org.previous_owner_tag_format = settings::tag_format(&f)?;
        }
        if let Some(b) = p.execute_plan_before_suspension {
            org.execute_plan_before_suspension = b;
        }
        let (old, new) = (before.policy()?, org.policy()?);
        orgs::update(tx, &org).await?;
        for (org_id, d) in store::departures::scheduled(tx).await? {
            if org_id != org.id || d.suspend_at.is_some() && org.time_zone == before.time_zone {
                continue;
            }
            let mut after = d.clone();
            after.follow_policy(&new)?;
            store::departures::save(tx, &org.id, &d, &after).await?;
        }
        if org.retired_suffix != before.retired_suffix {
            let mut last = None;
            loop {
                let page = users::list(tx, &org.id, last.clone(), 500).await?;
                last = page.last().map(|u| u.id.clone());
                for u in page.iter().filter(|u| u.status == UserStatus::Suspended) {
                    // A rename, not a status change: conditional on the user still being suspended.
                    let name = renamed_for_new_suffix(&u.display_name, &old, &new);
                    users::transition(
                        tx,
                        &org.id,
                        &u.id,
                        UserStatus::Suspended,
                        UserStatus::Suspended,
                        &name,
                        who.at,
                    )
                    .await?;
                }
                if page.len() < 500 {
                    break;
                }
            }
        }
        audit(
            tx,
            who,
            "organization.update",
            ("organization", &org.id),
            snap(&before),
            snap(&org),
        )
        .await?;
        Ok(org)
    })
    .await
}
