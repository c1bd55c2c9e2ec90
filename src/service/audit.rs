//! Reading the audit log (admins only). Writing happens inside every other use case.

use super::{Actor, App, page_limit, paginate};
use crate::domain::model::{AuditEvent, Page};
use crate::domain::{Error, Result};
use crate::store::{self, audit};
use chrono::NaiveDate;

/// What `actor_id` says for the events the system wrote (scheduler, command line).
pub const SYSTEM_ACTOR: &str = "system";

/// Which events; an empty text filters nothing, like a missing one.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    pub action: Option<&'a str>,
    /// A user's id, or `system`.
    pub actor_id: Option<&'a str>,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    /// From this day on, in the organisation's time zone.
    pub from: Option<NaiveDate>,
    /// Up to and including this day, in the organisation's time zone.
    pub to: Option<NaiveDate>,
    pub cursor: Option<&'a str>,
    pub limit: Option<u64>,
}

/// Newest first.
pub async fn list(app: &App, actor: &Actor, q: AuditQuery<'_>) -> Result<Page<AuditEvent>> {
    actor.require_admin()?;
    let limit = page_limit(q.limit)?;
    let before = store::parse_cursor(q.cursor)?;
    let f = filter(app, actor, &q).await?;
    let items = audit::list(app.read(), &actor.org_id, &f, before.as_deref(), limit + 1).await?;
    Ok(paginate(items, limit, |e| e.id.clone()))
}

/// The actions and the target types that occur in the organisation's log (a filter's choices).
pub async fn vocabulary(app: &App, actor: &Actor) -> Result<(Vec<String>, Vec<String>)> {
    actor.require_admin()?;
    let actions = audit::actions(app.read(), &actor.org_id).await?;
    let types = audit::target_types(app.read(), &actor.org_id).await?;
    Ok((actions, types))
}

/// The store's filter: the days become moments in the organisation's zone (`from`'s start to
/// the start of the day after `to`).
async fn filter(app: &App, actor: &Actor, q: &AuditQuery<'_>) -> Result<audit::AuditFilter> {
    let text = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if let (Some(from), Some(to)) = (q.from, q.to)
        && to < from
    {
        return Err(Error::unprocessable("the last day is before the first day").with_field("to"));
    }
    let (from, until) = if q.from.is_some() || q.to.is_some() {
        let policy = super::org(app.read(), &actor.org_id).await?.policy()?;
        (
            q.from.map(|d| policy.day_start(d)),
            q.to.and_then(|d| d.succ_opt()).map(|d| policy.day_start(d)),
        )
    } else {
        (None, None)
    };
    Ok(audit::AuditFilter {
        action: text(q.action),
        actor: text(q.actor_id).map(|a| {
            if a == SYSTEM_ACTOR {
                audit::ActorFilter::System
            } else {
                audit::ActorFilter::User(a)
            }
        }),
        target_type: text(q.target_type),
        target_id: text(q.target_id),
        from,
        until,
    })
}
