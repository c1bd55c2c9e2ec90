//! The append-only audit log, a hash chain per organisation (`domain::audit_chain`). Nothing
//! here updates or deletes an event; `append` is the only way one is written.

use super::entities::audit_event as ev;
use super::{Conn, from_micros, sql, to_micros};
use crate::domain::audit_chain::{ChainedEvent, GENESIS, link_hash};
use crate::domain::{Result, model::AuditEvent};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

pub struct NewEvent<'a> {
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Appends an event to the organisation's chain, in the caller's transaction: reads the
/// chain's head under a lock (PostgreSQL `FOR UPDATE` on the organisation's `audit_heads`
/// row, held to the end of the transaction; SQLite's write transaction holds the database's
/// write lock already), writes the event as the head's successor and moves the head. Two
/// writers in one organisation therefore take turns from here to their commits, and the
/// chain never forks; the unique `(org_id, seq)` index would refuse a fork anyway.
///
/// The cost against a bare INSERT: one indexed read and one single-row UPDATE per event
/// (BENCHMARKS.md, "The audit chain").
pub async fn append(c: &impl Conn, org_id: &str, e: NewEvent<'_>, at: DateTime<Utc>) -> Result<()> {
    let (seq, prev_hash) = lock_head(c, org_id).await?;
    let mut event = ChainedEvent {
        seq: seq + 1,
        id: super::new_id(),
        org_id: org_id.into(),
        actor_id: e.actor_id.map(str::to_string),
        action: e.action.into(),
        target_type: e.target_type.into(),
        target_id: e.target_id.into(),
        before_json: e.before.map(|v| v.to_string()),
        after_json: e.after.map(|v| v.to_string()),
        at: to_micros(at),
        prev_hash,
        hash: String::new(),
    };
    event.hash = link_hash(&event.prev_hash, &event);
    super::exec(
        c,
        "INSERT INTO audit_events (id, org_id, actor_id, action, target_type, target_id, before_json, \
         after_json, at, seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            event.id.clone().into(),
            event.org_id.clone().into(),
            event.actor_id.clone().into(),
            event.action.clone().into(),
            event.target_type.clone().into(),
            event.target_id.clone().into(),
            event.before_json.clone().into(),
            event.after_json.clone().into(),
            event.at.into(),
            event.seq.into(),
            event.prev_hash.clone().into(),
            event.hash.clone().into(),
        ],
    )
    .await?;
    super::exec(
        c,
        "UPDATE audit_heads SET seq = ?, hash = ? WHERE org_id = ?",
        vec![event.seq.into(), event.hash.into(), org_id.into()],
    )
    .await?;
    Ok(())
}

/// The organisation's head (last seq and hash), its row locked to the end of the
/// transaction; made (seq 0, `GENESIS`) if the organisation has none yet. `ON CONFLICT DO
/// NOTHING` lets two first writers both go on: the second waits for the first's row and
/// then locks it.
async fn lock_head(c: &impl Conn, org_id: &str) -> Result<(i64, String)> {
    let lock = if super::is_sqlite(c) { "" } else { " FOR UPDATE" };
    let select = format!("SELECT seq, hash FROM audit_heads WHERE org_id = ?{lock}");
    for _ in 0..2 {
        if let Some(row) = c.query_one_raw(sql(c, &select, vec![org_id.into()])).await? {
            return Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?));
        }
        super::exec(
            c,
            "INSERT INTO audit_heads (org_id, seq, hash) VALUES (?, 0, ?) ON CONFLICT (org_id) DO NOTHING",
            vec![org_id.into(), GENESIS.into()],
        )
        .await?;
    }
    Err(crate::domain::Error::internal("the audit chain's head cannot be made"))
}

/// The organisation's head as last written: (seq, hash); `(0, GENESIS)` before any event.
pub async fn head(c: &impl Conn, org_id: &str) -> Result<(i64, String)> {
    let row = c
        .query_one_raw(sql(
            c,
            "SELECT seq, hash FROM audit_heads WHERE org_id = ?",
            vec![org_id.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => (r.try_get_by_index(0)?, r.try_get_by_index(1)?),
        None => (0, GENESIS.to_string()),
    })
}

/// The organisation's events after `after_seq`, in chain order, at most `limit` (keyset
/// paging on the unique `(org_id, seq)` index: a walk or an export holds one page at a time).
pub async fn chain_page(c: &impl Conn, org_id: &str, after_seq: i64, limit: u64) -> Result<Vec<ChainedEvent>> {
    let rows = ev::Entity::find()
        .filter(ev::Column::OrgId.eq(org_id))
        .filter(ev::Column::Seq.gt(after_seq))
        .order_by_asc(ev::Column::Seq)
        .limit(limit)
        .all(c)
        .await?;
    Ok(rows.into_iter().map(chained).collect())
}

fn chained(m: ev::Model) -> ChainedEvent {
    ChainedEvent {
        seq: m.seq,
        id: m.id,
        org_id: m.org_id,
        actor_id: m.actor_id,
        action: m.action,
        target_type: m.target_type,
        target_id: m.target_id,
        before_json: m.before_json,
        after_json: m.after_json,
        at: m.at,
        prev_hash: m.prev_hash,
        hash: m.hash,
    }
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
