//! The append-only audit log. Nothing here updates or deletes.

use super::entities::audit_event as ev;
use super::{Conn, from_micros, to_micros};
use crate::domain::{Result, model::AuditEvent};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

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

pub struct AuditFilter {
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub actor_id: Option<String>,
}

/// Newest first; `before` is the last id of the previous page.
pub async fn list(
    c: &impl Conn,
    org_id: &str,
    f: AuditFilter,
    before: Option<String>,
    limit: u64,
) -> Result<Vec<AuditEvent>> {
    let mut q = ev::Entity::find().filter(ev::Column::OrgId.eq(org_id));
    if let Some(a) = f.action {
        q = q.filter(ev::Column::Action.eq(a));
    }
    if let Some(t) = f.target_id {
        q = q.filter(ev::Column::TargetId.eq(t));
    }
    if let Some(a) = f.actor_id {
        q = q.filter(ev::Column::ActorId.eq(a));
    }
    if let Some(b) = before {
        q = q.filter(ev::Column::Id.lt(b));
    }
    let rows = q.order_by_desc(ev::Column::Id).limit(limit).all(c).await?;
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    Ok(rows
        .into_iter()
        .map(|m| AuditEvent {
            id: m.id,
            actor_id: m.actor_id,
            action: m.action,
            target_type: m.target_type,
            target_id: m.target_id,
            before: parse(m.before_json),
            after: parse(m.after_json),
            at: from_micros(m.at),
        })
        .collect())
}
