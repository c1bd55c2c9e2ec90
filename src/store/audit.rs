//! The append-only audit log. Nothing here updates or deletes.

use super::entities::audit_event as ev;
use super::{Conn, from_micros, to_micros};
use crate::domain::{Result, model::AuditEvent};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set};

pub struct NewEvent<'a> {
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub async fn insert(c: &impl Conn, org_id: &str, e: NewEvent<'_>, at: DateTime<Utc>) -> Result<()> {
    ev::ActiveModel {
        id: Set(super::new_id()),
        org_id: Set(org_id.into()),
        actor_id: Set(e.actor_id.map(str::to_string)),
        action: Set(e.action.into()),
        target_type: Set(e.target_type.into()),
        target_id: Set(e.target_id.into()),
        before_json: Set(e.before.map(|v| v.to_string())),
        after_json: Set(e.after.map(|v| v.to_string())),
        at: Set(to_micros(at)),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Whose events: one user's, or the system's (scheduler, command line: no actor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    User(String),
    System,
}

/// Which events, all conditions together; `None` does not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<ActorFilter>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// At or after this moment.
    pub from: Option<DateTime<Utc>>,
    /// Before this moment.
    pub until: Option<DateTime<Utc>>,
}

/// The organisation's events that pass the filter, as one query (no order, no limit yet).
fn filtered(org_id: &str, f: &AuditFilter) -> Select<ev::Entity> {
    let mut q = ev::Entity::find().filter(ev::Column::OrgId.eq(org_id));
    if let Some(a) = &f.action {
        q = q.filter(ev::Column::Action.eq(a.as_str()));
    }
    match &f.actor {
        Some(ActorFilter::User(id)) => q = q.filter(ev::Column::ActorId.eq(id.as_str())),
        Some(ActorFilter::System) => q = q.filter(ev::Column::ActorId.is_null()),
        None => {}
    }
    if let Some(t) = &f.target_type {
        q = q.filter(ev::Column::TargetType.eq(t.as_str()));
    }
    if let Some(t) = &f.target_id {
        q = q.filter(ev::Column::TargetId.eq(t.as_str()));
    }
    if let Some(t) = f.from {
        q = q.filter(ev::Column::At.gte(to_micros(t)));
    }
    if let Some(t) = f.until {
        q = q.filter(ev::Column::At.lt(to_micros(t)));
    }
    q
}

/// Newest first (ids are UUIDv7: the order they were written in); `before` is the last id
/// of the previous page (keyset paging on the `(org_id, id)` index, the same on both engines).
pub async fn list(
    c: &impl Conn,
    org_id: &str,
    f: &AuditFilter,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<AuditEvent>> {
    let mut q = filtered(org_id, f);
    if let Some(b) = before {
        q = q.filter(ev::Column::Id.lt(b));
    }
    let rows = q.order_by_desc(ev::Column::Id).limit(limit).all(c).await?;
    Ok(rows.into_iter().map(view).collect())
}

/// The one event of `action` on a target (an import's `cards.import`), if the organisation has it.
pub async fn by_target(
    c: &impl Conn,
    org_id: &str,
    action: &str,
    target_type: &str,
    target_id: &str,
) -> Result<Option<AuditEvent>> {
    let f = AuditFilter {
        action: Some(action.into()),
        target_type: Some(target_type.into()),
        target_id: Some(target_id.into()),
        ..Default::default()
    };
    let row = filtered(org_id, &f).order_by_desc(ev::Column::Id).one(c).await?;
    Ok(row.map(view))
}

/// The actions that occur in the organisation's log, in alphabetical order.
pub async fn actions(c: &impl Conn, org_id: &str) -> Result<Vec<String>> {
    distinct(c, org_id, ev::Column::Action).await
}

/// The target types that occur in the organisation's log, in alphabetical order.
pub async fn target_types(c: &impl Conn, org_id: &str) -> Result<Vec<String>> {
    distinct(c, org_id, ev::Column::TargetType).await
}

async fn distinct(c: &impl Conn, org_id: &str, col: ev::Column) -> Result<Vec<String>> {
    Ok(ev::Entity::find()
        .select_only()
        .column(col)
        .distinct()
        .filter(ev::Column::OrgId.eq(org_id))
        .order_by_asc(col)
        .into_tuple::<String>()
        .all(c)
        .await?)
}

fn view(m: ev::Model) -> AuditEvent {
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    AuditEvent {
        id: m.id,
        actor_id: m.actor_id,
        action: m.action,
        target_type: m.target_type,
        target_id: m.target_id,
        before: parse(m.before_json),
        after: parse(m.after_json),
        at: from_micros(m.at),
    }
}
