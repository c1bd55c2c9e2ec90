use super::entities::organization as org;
use super::{Conn, from_micros};
use crate::domain::{Result, model::Organization};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

fn view(m: org::Model) -> Organization {
    Organization {
        id: m.id,
        slug: m.slug,
        name: m.name,
        time_zone: m.time_zone,
        retired_suffix: m.retired_suffix,
        previous_owner_tag_format: m.previous_owner_tag_format,
        suspend_at: m.suspend_at,
        trash_days: m.trash_days,
        execute_plan_before_suspension: m.execute_plan_before_suspension,
        created_at: from_micros(m.created_at),
    }
}

pub async fn insert(c: &impl Conn, o: &Organization) -> Result<()> {
    org::ActiveModel {
        id: Set(o.id.clone()),
        slug: Set(o.slug.clone()),
        name: Set(o.name.clone()),
        time_zone: Set(o.time_zone.clone()),
        retired_suffix: Set(o.retired_suffix.clone()),
        previous_owner_tag_format: Set(o.previous_owner_tag_format.clone()),
        suspend_at: Set(o.suspend_at.clone()),
        trash_days: Set(o.trash_days),
        execute_plan_before_suspension: Set(o.execute_plan_before_suspension),
        created_at: Set(super::to_micros(o.created_at)),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn by_id(c: &impl Conn, id: &str) -> Result<Option<Organization>> {
    Ok(org::Entity::find_by_id(id).one(c).await?.map(view))
}

pub async fn by_slug(c: &impl Conn, slug: &str) -> Result<Option<Organization>> {
    Ok(org::Entity::find()
        .filter(org::Column::Slug.eq(slug))
        .one(c)
        .await?
        .map(view))
}

pub async fn by_name(c: &impl Conn, name: &str) -> Result<Option<Organization>> {
    Ok(org::Entity::find()
        .filter(org::Column::Name.eq(name))
        .one(c)
        .await?
        .map(view))
}

/// The organisation of a single-tenant server, so that sign-in can omit it.
/// How many organisations the database holds.
pub async fn count(c: &impl Conn) -> Result<u64> {
    Ok(org::Entity::find().count(c).await?)
}

pub async fn the_only_one(c: &impl Conn) -> Result<Option<Organization>> {
    if org::Entity::find().count(c).await? != 1 {
        return Ok(None);
    }
    Ok(org::Entity::find().one(c).await?.map(view))
}

/// Writes the organisation's settings (everything but id, slug and creation time).
pub async fn update(c: &impl Conn, o: &Organization) -> Result<()> {
    let m = org::ActiveModel {
        id: sea_orm::Unchanged(o.id.clone()),
        name: Set(o.name.clone()),
        time_zone: Set(o.time_zone.clone()),
        retired_suffix: Set(o.retired_suffix.clone()),
        previous_owner_tag_format: Set(o.previous_owner_tag_format.clone()),
        suspend_at: Set(o.suspend_at.clone()),
        trash_days: Set(o.trash_days),
        execute_plan_before_suspension: Set(o.execute_plan_before_suspension),
        ..Default::default()
    };
    org::Entity::update(m).exec(c).await?;
    Ok(())
}

pub async fn all(c: &impl Conn) -> Result<Vec<Organization>> {
    Ok(org::Entity::find().all(c).await?.into_iter().map(view).collect())
}
