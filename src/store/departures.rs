//! Departures and their handover plans. Status changes are conditional updates, so that the
//! scheduler on several servers does each thing once.

use super::entities::{departure as dep, handover_item as item};
use super::{Conn, exec, from_micros, to_micros};
use crate::domain::Result;
use crate::domain::departure::{DepartureKind, DepartureStatus, PlanStatus};
use crate::domain::transfer::SelectionInput;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::Serialize;
use utoipa::ToSchema;

/// A departure (退職・出向) as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Departure {
    pub id: String,
    pub user_id: String,
    pub kind: DepartureKind,
    pub retirement_date: NaiveDate,
    pub last_working_day: NaiveDate,
    /// Takes whatever the plan does not give to someone else.
    pub successor_id: String,
    /// Per-departure suspension time (HH:MM local), overriding the organisation's.
    pub suspend_at: Option<String>,
    /// When the account will be (or was due to be) suspended.
    pub suspend_moment: DateTime<Utc>,
    pub status: DepartureStatus,
    pub plan_status: PlanStatus,
    pub plan_reported_by: Option<String>,
    pub plan_reported_at: Option<DateTime<Utc>>,
    pub plan_approved_by: Option<String>,
    pub plan_approved_at: Option<DateTime<Utc>>,
    pub plan_executed_at: Option<DateTime<Utc>>,
    /// Flagged to admins: not ready this many days (7 or 1) before the last working day.
    pub attention_days: Option<i64>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of a handover plan: these cards go to that successor.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanItem {
    pub position: i64,
    pub selection: SelectionInput,
    pub successor_id: String,
    /// The transfer that carried it out, once executed.
    pub transfer_id: Option<String>,
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap_or_default()
}

fn view(m: dep::Model) -> Departure {
    Departure {
        kind: DepartureKind::parse(&m.kind),
        retirement_date: date(&m.retirement_date),
        last_working_day: date(&m.last_working_day),
        status: DepartureStatus::parse(&m.status),
        plan_status: PlanStatus::parse(&m.plan_status),
        suspend_moment: from_micros(m.suspend_moment),
        plan_reported_at: m.plan_reported_at.map(from_micros),
        plan_approved_at: m.plan_approved_at.map(from_micros),
        plan_executed_at: m.plan_executed_at.map(from_micros),
        suspended_at: m.suspended_at.map(from_micros),
        created_at: from_micros(m.created_at),
        updated_at: from_micros(m.updated_at),
        id: m.id,
        user_id: m.user_id,
        successor_id: m.successor_id,
        suspend_at: m.suspend_at,
        plan_reported_by: m.plan_reported_by,
        plan_approved_by: m.plan_approved_by,
        attention_days: m.attention_days,
        created_by: m.created_by,
    }
}

fn row(org_id: &str, d: &Departure) -> dep::ActiveModel {
    dep::ActiveModel {
        id: Set(d.id.clone()),
        org_id: Set(org_id.into()),
        user_id: Set(d.user_id.clone()),
        kind: Set(d.kind.as_str().into()),
        retirement_date: Set(d.retirement_date.to_string()),
        last_working_day: Set(d.last_working_day.to_string()),
        successor_id: Set(d.successor_id.clone()),
        suspend_at: Set(d.suspend_at.clone()),
        suspend_moment: Set(to_micros(d.suspend_moment)),
        status: Set(d.status.as_str().into()),
        plan_status: Set(d.plan_status.as_str().into()),
        plan_reported_by: Set(d.plan_reported_by.clone()),
        plan_reported_at: Set(d.plan_reported_at.map(to_micros)),
        plan_approved_by: Set(d.plan_approved_by.clone()),
        plan_approved_at: Set(d.plan_approved_at.map(to_micros)),
        plan_executed_at: Set(d.plan_executed_at.map(to_micros)),
        attention_days: Set(d.attention_days),
        suspended_at: Set(d.suspended_at.map(to_micros)),
        created_by: Set(d.created_by.clone()),
        created_at: Set(to_micros(d.created_at)),
        updated_at: Set(to_micros(d.updated_at)),
    }
}

pub async fn insert(c: &impl Conn, org_id: &str, d: &Departure) -> Result<()> {
    row(org_id, d).insert(c).await?;
    Ok(())
}

/// Writes every field of a departure (dates, successor, plan state…), scoped by organisation.
pub async fn save(c: &impl Conn, org_id: &str, d: &Departure) -> Result<()> {
    let mut m = row(org_id, d);
    m.id = sea_orm::Unchanged(d.id.clone());
    m.org_id = sea_orm::NotSet;
    dep::Entity::update_many()
        .set(m)
        .filter(dep::Column::OrgId.eq(org_id))
        .filter(dep::Column::Id.eq(&d.id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn get(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<Departure>> {
    Ok(dep::Entity::find_by_id(id)
        .filter(dep::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(view))
}

pub async fn open_for_user(c: &impl Conn, org_id: &str, user_id: &str) -> Result<Option<Departure>> {
    Ok(dep::Entity::find()
        .filter(dep::Column::OrgId.eq(org_id))
        .filter(dep::Column::UserId.eq(user_id))
        .filter(dep::Column::Status.eq(DepartureStatus::Scheduled.as_str()))
        .one(c)
        .await?
        .map(view))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Scheduled, suspension still ahead.
    Upcoming,
    /// Scheduled, suspension moment passed (the scheduler has not run it yet).
    Overdue,
    Done,
    Cancelled,
}

#[derive(Default)]
pub struct DepartureFilter {
    pub when: Option<When>,
    pub attention: bool,
    pub user_id: Option<String>,
}

/// Ordered by suspension moment, soonest first; paged by position in that order.
pub async fn list(
    c: &impl Conn,
    org_id: &str,
    f: DepartureFilter,
    now: DateTime<Utc>,
    offset: u64,
    limit: u64,
) -> Result<Vec<Departure>> {
    let mut q = dep::Entity::find().filter(dep::Column::OrgId.eq(org_id));
    let scheduled = DepartureStatus::Scheduled.as_str();
    q = match f.when {
        Some(When::Upcoming) => q
            .filter(dep::Column::Status.eq(scheduled))
            .filter(dep::Column::SuspendMoment.gt(to_micros(now))),
        Some(When::Overdue) => q
            .filter(dep::Column::Status.eq(scheduled))
            .filter(dep::Column::SuspendMoment.lte(to_micros(now))),
        Some(When::Done) => q.filter(dep::Column::Status.eq(DepartureStatus::Done.as_str())),
        Some(When::Cancelled) => q.filter(dep::Column::Status.eq(DepartureStatus::Cancelled.as_str())),
        None => q,
    };
    if f.attention {
        q = q
            .filter(dep::Column::Status.eq(scheduled))
            .filter(dep::Column::AttentionDays.is_not_null());
    }
    if let Some(u) = f.user_id {
        q = q.filter(dep::Column::UserId.eq(u));
    }
    let rows = q
        .order_by_asc(dep::Column::SuspendMoment)
        .order_by_asc(dep::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(c)
        .await?;
    Ok(rows.into_iter().map(view).collect())
}

/// Scheduled departures of every organisation whose suspension moment has come.
pub async fn due(c: &impl Conn, now: DateTime<Utc>) -> Result<Vec<(String, Departure)>> {
    let rows = dep::Entity::find()
        .filter(dep::Column::Status.eq(DepartureStatus::Scheduled.as_str()))
        .filter(dep::Column::SuspendMoment.lte(to_micros(now)))
        .order_by_asc(dep::Column::SuspendMoment)
        .all(c)
        .await?;
    Ok(rows.into_iter().map(|m| (m.org_id.clone(), view(m))).collect())
}

/// Scheduled departures of every organisation (for the attention check).
pub async fn scheduled(c: &impl Conn) -> Result<Vec<(String, Departure)>> {
    let rows = dep::Entity::find()
        .filter(dep::Column::Status.eq(DepartureStatus::Scheduled.as_str()))
        .all(c)
        .await?;
    Ok(rows.into_iter().map(|m| (m.org_id.clone(), view(m))).collect())
}

/// Marks the departure done, once: false when it was not scheduled any more.
pub async fn finish(c: &impl Conn, org_id: &str, id: &str, now: DateTime<Utc>) -> Result<bool> {
    let n = exec(
        c,
        "UPDATE departures SET status = 'done', suspended_at = ?, updated_at = ? \
         WHERE org_id = ? AND id = ? AND status = 'scheduled'",
        vec![to_micros(now).into(), to_micros(now).into(), org_id.into(), id.into()],
    )
    .await?;
    Ok(n == 1)
}

/// Raises the attention flag to `days`, once per threshold.
pub async fn flag(c: &impl Conn, org_id: &str, id: &str, days: i64, now: DateTime<Utc>) -> Result<bool> {
    let n = exec(
        c,
        "UPDATE departures SET attention_days = ?, updated_at = ? \
         WHERE org_id = ? AND id = ? AND status = 'scheduled' AND (attention_days IS NULL OR attention_days > ?)",
        vec![
            days.into(),
            to_micros(now).into(),
            org_id.into(),
            id.into(),
            days.into(),
        ],
    )
    .await?;
    Ok(n == 1)
}

pub async fn plan_items(c: &impl Conn, departure_id: &str) -> Result<Vec<PlanItem>> {
    let rows = item::Entity::find()
        .filter(item::Column::DepartureId.eq(departure_id))
        .order_by_asc(item::Column::Position)
        .all(c)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| PlanItem {
            position: m.position,
            selection: serde_json::from_str(&m.selection).unwrap_or_default(),
            successor_id: m.successor_id,
            transfer_id: m.transfer_id,
        })
        .collect())
}

/// Replaces the plan's items.
pub async fn replace_plan(c: &impl Conn, departure_id: &str, items: &[PlanItem]) -> Result<()> {
    item::Entity::delete_many()
        .filter(item::Column::DepartureId.eq(departure_id))
        .exec(c)
        .await?;
    if items.is_empty() {
        return Ok(());
    }
    let rows = items.iter().map(|i| item::ActiveModel {
        id: Set(super::new_id()),
        departure_id: Set(departure_id.into()),
        position: Set(i.position),
        selection: Set(serde_json::to_string(&i.selection).unwrap_or_default()),
        successor_id: Set(i.successor_id.clone()),
        transfer_id: Set(None),
    });
    item::Entity::insert_many(rows).exec(c).await?;
    Ok(())
}

pub async fn set_item_transfer(c: &impl Conn, departure_id: &str, position: i64, transfer_id: &str) -> Result<()> {
    exec(
        c,
        "UPDATE handover_items SET transfer_id = ? WHERE departure_id = ? AND position = ?",
        vec![transfer_id.into(), departure_id.into(), position.into()],
    )
    .await?;
    Ok(())
}

/// Records that the plan ran, touching only the plan's columns.
pub async fn set_plan_executed(c: &impl Conn, org_id: &str, id: &str, now: DateTime<Utc>) -> Result<()> {
    exec(
        c,
        "UPDATE departures SET plan_status = 'executed', plan_executed_at = ?, updated_at = ? WHERE org_id = ? AND id = ?",
        vec![to_micros(now).into(), to_micros(now).into(), org_id.into(), id.into()],
    )
    .await?;
    Ok(())
}
