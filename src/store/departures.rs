//! Departures and their handover plans. Status changes are conditional updates, so that the
//! scheduler on several servers does each thing once.

use super::entities::{departure as dep, handover_item as item};
use super::{Conn, exec, from_micros, stored_date, to_micros};
use crate::domain::departure::{Departure, DepartureKind, DepartureStatus, PlanItem, PlanStatus};
use crate::domain::transfer::SelectionInput;
use crate::domain::{Result, UserStatus};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

/// A stored row as the domain's record; text that does not parse is an error.
fn view(m: dep::Model) -> Result<Departure> {
    Ok(Departure {
        kind: DepartureKind::from_stored(&m.kind)?,
        retirement_date: stored_date("retirement date", &m.retirement_date)?,
        last_working_day: stored_date("last working day", &m.last_working_day)?,
        status: DepartureStatus::from_stored(&m.status)?,
        plan_status: PlanStatus::from_stored(&m.plan_status)?,
        suspend_moment: from_micros(m.suspend_moment),
        plan_reported_at: m.plan_reported_at.map(from_micros),
        plan_approved_at: m.plan_approved_at.map(from_micros),
        plan_executed_at: m.plan_executed_at.map(from_micros),
        plan_requested_at: m.plan_requested_at.map(from_micros),
        plan_comment: m.plan_comment,
        suspended_at: m.suspended_at.map(from_micros),
        created_at: from_micros(m.created_at),
        updated_at: from_micros(m.updated_at),
        id: m.id.into(),
        user_id: m.user_id.into(),
        successor_id: m.successor_id.into(),
        suspend_at: m.suspend_at,
        plan_reported_by: m.plan_reported_by.map(Into::into),
        plan_approved_by: m.plan_approved_by.map(Into::into),
        attention_days: m.attention_days,
        created_by: m.created_by.map(Into::into),
    })
}

fn views(rows: Vec<dep::Model>) -> Result<Vec<Departure>> {
    rows.into_iter().map(view).collect()
}

fn views_by_org(rows: Vec<dep::Model>) -> Result<Vec<(String, Departure)>> {
    rows.into_iter().map(|m| Ok((m.org_id.clone(), view(m)?))).collect()
}

fn row(org_id: &str, d: &Departure) -> dep::ActiveModel {
    dep::ActiveModel {
        id: Set(d.id.to_string()),
        org_id: Set(org_id.into()),
        user_id: Set(d.user_id.to_string()),
        kind: Set(d.kind.as_str().into()),
        retirement_date: Set(d.retirement_date.to_string()),
        last_working_day: Set(d.last_working_day.to_string()),
        successor_id: Set(d.successor_id.to_string()),
        suspend_at: Set(d.suspend_at.clone()),
        suspend_moment: Set(to_micros(d.suspend_moment)),
        status: Set(d.status.as_str().into()),
        plan_status: Set(d.plan_status.as_str().into()),
        plan_reported_by: Set(d.plan_reported_by.as_ref().map(ToString::to_string)),
        plan_reported_at: Set(d.plan_reported_at.map(to_micros)),
        plan_approved_by: Set(d.plan_approved_by.as_ref().map(ToString::to_string)),
        plan_approved_at: Set(d.plan_approved_at.map(to_micros)),
        plan_executed_at: Set(d.plan_executed_at.map(to_micros)),
        plan_comment: Set(d.plan_comment.clone()),
        plan_requested_at: Set(d.plan_requested_at.map(to_micros)),
        attention_days: Set(d.attention_days),
        suspended_at: Set(d.suspended_at.map(to_micros)),
        created_by: Set(d.created_by.as_ref().map(ToString::to_string)),
        created_at: Set(to_micros(d.created_at)),
        updated_at: Set(to_micros(d.updated_at)),
    }
}

pub async fn insert(c: &impl Conn, org_id: &str, d: &Departure) -> Result<()> {
    row(org_id, d).insert(c).await?;
    Ok(())
}

/// Writes every field of a departure (dates, successor, plan state…), scoped by organisation,
/// only if its stored status and plan status are still those of `loaded`, the record the
/// decision was made on: a conditional write, so that two writers (two servers' schedulers,
/// an admin and the scheduler) never both apply a change. Returns whether it was written.
pub async fn save(c: &impl Conn, org_id: &str, loaded: &Departure, d: &Departure) -> Result<bool> {
    let mut m = row(org_id, d);
    m.id = sea_orm::Unchanged(d.id.to_string());
    m.org_id = sea_orm::NotSet;
    let n = dep::Entity::update_many()
        .set(m)
        .filter(dep::Column::OrgId.eq(org_id))
        .filter(dep::Column::Id.eq(d.id.as_str()))
        .filter(dep::Column::Status.eq(loaded.status.as_str()))
        .filter(dep::Column::PlanStatus.eq(loaded.plan_status.as_str()))
        .exec(c)
        .await?
        .rows_affected;
    Ok(n == 1)
}

pub async fn get(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<Departure>> {
    dep::Entity::find_by_id(id)
        .filter(dep::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(view)
        .transpose()
}

/// The departure, its row locked until the transaction ends (PostgreSQL `FOR UPDATE`; on
/// SQLite the write transaction already holds the database's write lock): a second writer
/// waits, then sees what the first one did.
pub async fn get_locked(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<Departure>> {
    dep::Entity::find_by_id(id)
        .filter(dep::Column::OrgId.eq(org_id))
        .lock_exclusive()
        .one(c)
        .await?
        .map(view)
        .transpose()
}

/// The user's departure that is still on the desk (scheduled or needing action), if any.
pub async fn open_for_user(c: &impl Conn, org_id: &str, user_id: &str) -> Result<Option<Departure>> {
    dep::Entity::find()
        .filter(dep::Column::OrgId.eq(org_id))
        .filter(dep::Column::UserId.eq(user_id))
        .filter(dep::Column::Status.is_in([
            DepartureStatus::Scheduled.as_str(),
            DepartureStatus::NeedsAction.as_str(),
        ]))
        .one(c)
        .await?
        .map(view)
        .transpose()
}

/// The organisation's scheduled departures (at most one per user), for the users list.
pub async fn scheduled_in_org(c: &impl Conn, org_id: &str) -> Result<Vec<Departure>> {
    let rows = dep::Entity::find()
        .filter(dep::Column::OrgId.eq(org_id))
        .filter(dep::Column::Status.eq(DepartureStatus::Scheduled.as_str()))
        .all(c)
        .await?;
    views(rows)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Scheduled, suspension still ahead.
    Upcoming,
    /// Scheduled, suspension still ahead, and not flagged: nothing to do yet (the desk's 予定).
    Planned,
    /// Scheduled, suspension moment passed (the scheduler has not run it yet).
    Overdue,
    /// What an admin must look at (the desk's 要対応): suspended with something still held,
    /// flagged (not ready 7 or 1 days before), or overdue.
    NeedsAction,
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
        Some(When::Planned) => q
            .filter(dep::Column::Status.eq(scheduled))
            .filter(dep::Column::SuspendMoment.gt(to_micros(now)))
            .filter(dep::Column::AttentionDays.is_null()),
        Some(When::Overdue) => q
            .filter(dep::Column::Status.eq(scheduled))
            .filter(dep::Column::SuspendMoment.lte(to_micros(now))),
        Some(When::NeedsAction) => q.filter(
            sea_orm::Condition::any()
                .add(dep::Column::Status.eq(DepartureStatus::NeedsAction.as_str()))
                .add(
                    sea_orm::Condition::all().add(dep::Column::Status.eq(scheduled)).add(
                        sea_orm::Condition::any()
                            .add(dep::Column::AttentionDays.is_not_null())
                            .add(dep::Column::SuspendMoment.lte(to_micros(now))),
                    ),
                ),
        ),
        Some(When::Done) => q.filter(dep::Column::Status.eq(DepartureStatus::Done.as_str())),
        Some(When::Cancelled) => q.filter(dep::Column::Status.eq(DepartureStatus::Cancelled.as_str())),
        None => q,
    };
    if f.attention {
        q = q
            .filter(dep::Column::Status.is_in([scheduled, DepartureStatus::NeedsAction.as_str()]))
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
    views(rows)
}

/// Scheduled departures of every organisation whose suspension moment has come.
pub async fn due(c: &impl Conn, now: DateTime<Utc>) -> Result<Vec<(String, Departure)>> {
    let rows = dep::Entity::find()
        .filter(dep::Column::Status.eq(DepartureStatus::Scheduled.as_str()))
        .filter(dep::Column::SuspendMoment.lte(to_micros(now)))
        .order_by_asc(dep::Column::SuspendMoment)
        .all(c)
        .await?;
    views_by_org(rows)
}

/// The user's latest suspended departure (needs action or done), if any: the one whose
/// status follows what the user holds after the suspension.
pub async fn suspended_for_user(c: &impl Conn, org_id: &str, user_id: &str) -> Result<Option<Departure>> {
    dep::Entity::find()
        .filter(dep::Column::OrgId.eq(org_id))
        .filter(dep::Column::UserId.eq(user_id))
        .filter(dep::Column::Status.is_in([DepartureStatus::NeedsAction.as_str(), DepartureStatus::Done.as_str()]))
        .order_by_desc(dep::Column::SuspendMoment)
        .one(c)
        .await?
        .map(view)
        .transpose()
}

/// Departures of every organisation whose status disagrees with what their user holds:
/// needing action while the user holds nothing, or done while they hold something again.
/// Each is the user's latest suspended departure.
pub async fn unsettled(c: &impl Conn) -> Result<Vec<(String, Departure)>> {
    let holds = "(EXISTS (SELECT 1 FROM cards k WHERE k.org_id = d.org_id AND k.owner_id = d.user_id) \
                  OR EXISTS (SELECT 1 FROM tags t WHERE t.org_id = d.org_id AND t.creator_id = d.user_id) \
                  OR EXISTS (SELECT 1 FROM mail_templates m WHERE m.org_id = d.org_id AND m.creator_id = d.user_id))";
    let rows = c
        .query_all_raw(super::sql(
            c,
            &format!(
                "SELECT d.id, d.org_id FROM departures d JOIN users u ON u.id = d.user_id \
                 WHERE (d.status = ? AND (u.status = ? OR NOT {holds})) \
                    OR (d.status = ? AND u.status <> ? AND {holds} \
                        AND NOT EXISTS (SELECT 1 FROM departures n WHERE n.user_id = d.user_id \
                                        AND n.suspend_moment > d.suspend_moment AND n.status <> ?))"
            ),
            vec![
                DepartureStatus::NeedsAction.as_str().into(),
                UserStatus::Active.as_str().into(),
                DepartureStatus::Done.as_str().into(),
                UserStatus::Active.as_str().into(),
                DepartureStatus::Cancelled.as_str().into(),
            ],
        ))
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let (id, org_id): (String, String) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
        if let Some(d) = get(c, &org_id, &id).await? {
            out.push((org_id, d));
        }
    }
    Ok(out)
}

/// Departures needing action (要対応) of every organisation (the admins' reminders).
pub async fn needing_action(c: &impl Conn) -> Result<Vec<(String, Departure)>> {
    let rows = dep::Entity::find()
        .filter(dep::Column::Status.eq(DepartureStatus::NeedsAction.as_str()))
        .all(c)
        .await?;
    views_by_org(rows)
}

/// Scheduled departures of every organisation (for the attention check).
pub async fn scheduled(c: &impl Conn) -> Result<Vec<(String, Departure)>> {
    let rows = dep::Entity::find()
        .filter(dep::Column::Status.eq(DepartureStatus::Scheduled.as_str()))
        .all(c)
        .await?;
    views_by_org(rows)
}

/// Raises the attention flag to `days`, once per threshold.
pub async fn flag(c: &impl Conn, org_id: &str, id: &str, days: i64, now: DateTime<Utc>) -> Result<bool> {
    let scheduled = DepartureStatus::Scheduled.as_str();
    let n = exec(
        c,
        "UPDATE departures SET attention_days = ?, updated_at = ? \
         WHERE org_id = ? AND id = ? AND status = ? AND (attention_days IS NULL OR attention_days > ?)",
        vec![
            days.into(),
            to_micros(now).into(),
            org_id.into(),
            id.into(),
            scheduled.into(),
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
    rows.into_iter()
        .map(|m| {
            Ok(PlanItem {
                position: m.position,
                selection: SelectionInput::from_stored(&m.selection)?,
                successor_id: m.successor_id.into(),
                transfer_id: m.transfer_id.map(Into::into),
            })
        })
        .collect()
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
        selection: Set(i.selection.to_stored()),
        successor_id: Set(i.successor_id.to_string()),
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

/// Across every organisation (the operator's metrics): scheduled departures due at `now`,
/// those due since before `overdue_before`, and those needing action. Counts on the
/// `(status, suspend_moment)` index.
pub async fn counts_for_metrics(
    c: &impl Conn,
    now: DateTime<Utc>,
    overdue_before: DateTime<Utc>,
) -> Result<(i64, i64, i64)> {
    let scheduled = DepartureStatus::Scheduled.as_str();
    let due = super::count(
        c,
        "SELECT COUNT(*) FROM departures WHERE status = ? AND suspend_moment <= ?",
        vec![scheduled.into(), to_micros(now).into()],
    )
    .await?;
    let overdue = super::count(
        c,
        "SELECT COUNT(*) FROM departures WHERE status = ? AND suspend_moment <= ?",
        vec![scheduled.into(), to_micros(overdue_before).into()],
    )
    .await?;
    let needs_action = super::count(
        c,
        "SELECT COUNT(*) FROM departures WHERE status = ?",
        vec![DepartureStatus::NeedsAction.as_str().into()],
    )
    .await?;
    Ok((due, overdue, needs_action))
}
