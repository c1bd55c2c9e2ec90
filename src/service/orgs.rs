//! Creating an organisation with its first administrator.

use super::{App, Who, audit, auth::hash_password, snap};
use crate::domain::model::{Organization, User};
use crate::domain::{Email, Error, OrgSlug, Result, Role, UserStatus, required_text};
use crate::store::{self, orgs, users};

pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";
pub const DEFAULT_RETIRED_SUFFIX: &str = "(退職済み)";

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
        created_at: now,
    };
    orgs::insert(&tx, &org).await?;
    let admin = User {
        id: store::new_id(),
        email: email.as_str().to_string(),
        display_name: admin_name,
        role: Role::Admin,
        status: UserStatus::Active,
        is_archive: false,
        created_at: now,
        updated_at: now,
    };
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
