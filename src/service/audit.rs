//! Reading the audit log (admins only). Writing happens inside every other use case.

use super::{Actor, App, page_limit, paginate};
use crate::domain::Result;
use crate::domain::model::{AuditEvent, Page};
use crate::store::{self, audit};

pub struct AuditQuery<'a> {
    pub action: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: Option<u64>,
}

/// Newest first.
pub async fn list(app: &App, actor: &Actor, q: AuditQuery<'_>) -> Result<Page<AuditEvent>> {
    actor.require_admin()?;
    let limit = page_limit(q.limit)?;
    let before = store::parse_cursor(q.cursor)?;
    let f = audit::AuditFilter {
        action: q.action.map(str::to_string),
        target_id: q.target_id.map(str::to_string),
        actor_id: q.actor_id.map(str::to_string),
    };
    let items = audit::list(app.store.conn(), &actor.org_id, f, before, limit + 1).await?;
    Ok(paginate(items, limit, |e| e.id.clone()))
}
