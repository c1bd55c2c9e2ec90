//! Departures (退職・出向): registering one, the handover plan the departing user reports
//! and an admin approves and executes, readiness, and cancellation.

use super::transfers::{self, Outcome, TransferRequest};
use super::{Actor, App, Who, audit, page_limit, snap};
use crate::domain::departure::{
    self as rules, DepartureKind, DepartureStatus, PlanStatus, Readiness, check_dates, parse_time_of_day,
    suspension_moment,
};
use crate::domain::model::{Organization, Page, User};
use crate::domain::transfer::{Selection, SelectionInput};
use crate::domain::{Error, Result, UserStatus, date};
use crate::store::departures::{self as st, Departure, DepartureFilter, PlanItem, When};
use crate::store::{self, users};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeparture {
    pub user_id: String,
    /// `retirement` (退職, default) or `secondment` (出向).
    #[serde(default)]
    pub kind: Option<DepartureKind>,
    /// YYYY-MM-DD
    pub retirement_date: String,
    /// YYYY-MM-DD; not after the retirement date, not in the past.
    pub last_working_day: String,
    /// Takes whatever the plan gives nobody else.
    pub successor_id: String,
    /// HH:MM; overrides the organisation's suspension time for this departure.
    pub suspend_at: Option<String>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeparturePatch {
    pub kind: Option<DepartureKind>,
    pub retirement_date: Option<String>,
    pub last_working_day: Option<String>,
    pub successor_id: Option<String>,
    /// HH:MM, or null to use the organisation's time again.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub suspend_at: Option<Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanItemInput {
    pub selection: SelectionInput,
    pub successor_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// In order; a card goes with the first item that selects it. Cards no item selects go
    /// to the departure's default successor.
    pub items: Vec<PlanItemInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    pub departure_id: String,
    pub status: PlanStatus,
    pub default_successor_id: String,
    pub items: Vec<PlanItem>,
}

/// What executing a plan did (or, as a dry run, would do): one transfer per line.
#[derive(Debug, Serialize, ToSchema)]
pub struct Execution {
    pub dry_run: bool,
    pub transfers: Vec<ExecutedItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutedItem {
    /// The plan line's position; none for the remainder going to the default successor.
    pub position: Option<i64>,
    pub successor_id: String,
    /// The batch (none in a dry run).
    pub transfer_id: Option<String>,
    pub cards: i64,
    pub contacts: i64,
    pub tags: i64,
}

async fn org(c: &impl store::Conn, org_id: &str) -> Result<Organization> {
    store::orgs::by_id(c, org_id)
        .await?
        .ok_or_else(|| Error::not_found("organization"))
}

async fn user(c: &impl store::Conn, org_id: &str, id: &str, field: &str) -> Result<User> {
    users::by_id(c, org_id, id)
        .await?
        .map(|r| r.user)
        .ok_or_else(|| Error::unprocessable(format!("no user {id} in this organisation")).with_field(field))
}

/// A successor must be active and someone other than the departing user.
async fn successor(c: &impl store::Conn, org_id: &str, id: &str, leaving: &str, field: &str) -> Result<User> {
    let s = user(c, org_id, id, field).await?;
    if s.id == leaving {
        return Err(Error::unprocessable("the successor cannot be the departing user").with_field(field));
    }
    if s.status != UserStatus::Active {
        return Err(Error::unprocessable(format!(
            "{} is not active and cannot take anything over",
            s.display_name
        ))
        .with_field(field));
    }
    Ok(s)
}

fn today(org: &Organization, now: DateTime<Utc>) -> Result<NaiveDate> {
    Ok(now
        .with_timezone(&crate::domain::time_zone("time_zone", &org.time_zone)?)
        .date_naive())
}

/// Validates dates and computes the suspension moment.
fn schedule(
    org: &Organization,
    retirement: NaiveDate,
    last: NaiveDate,
    suspend_at: Option<&str>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    check_dates(retirement, last, today(org, now)?)?;
    let at = parse_time_of_day("suspend_at", suspend_at.unwrap_or(&org.suspend_at))?;
    let moment = suspension_moment(last, at, crate::domain::time_zone("time_zone", &org.time_zone)?);
    if moment <= now {
        return Err(Error::bad_input(
            "suspend_at",
            format!("the suspension moment {moment} has already passed"),
        ));
    }
    Ok(moment)
}

async fn find(c: &impl store::Conn, actor: &Actor, id: &str) -> Result<Departure> {
    let d = st::get(c, &actor.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found("departure"))?;
    if !actor.is_admin() && d.user_id != actor.user_id {
        return Err(Error::not_found("departure"));
    }
    Ok(d)
}

fn scheduled(d: &Departure) -> Result<()> {
    if d.status != DepartureStatus::Scheduled {
        return Err(Error::conflict(format!(
            "this departure is {} and can no longer change",
            d.status.as_str()
        )));
    }
    Ok(())
}

pub async fn create(app: &App, actor: &Actor, n: NewDeparture) -> Result<Departure> {
    actor.require_admin()?;
    let retirement = date("retirement_date", &n.retirement_date)?;
    let last = date("last_working_day", &n.last_working_day)?;
    let now = app.now();
    let tx = app.store.write().await?;
    let org = org(&tx, &actor.org_id).await?;
    let leaving = user(&tx, &org.id, &n.user_id, "user_id").await?;
    if leaving.status != UserStatus::Active || leaving.is_archive {
        return Err(
            Error::unprocessable(format!("{} is not an active user", leaving.display_name)).with_field("user_id"),
        );
    }
    successor(&tx, &org.id, &n.successor_id, &leaving.id, "successor_id").await?;
    let moment = schedule(&org, retirement, last, n.suspend_at.as_deref(), now)?;
    if st::open_for_user(&tx, &org.id, &leaving.id).await?.is_some() {
        return Err(
            Error::conflict(format!("{} already has a scheduled departure", leaving.display_name))
                .with_field("user_id"),
        );
    }
    let d = Departure {
        id: store::new_id(),
        user_id: leaving.id,
        kind: n.kind.unwrap_or(DepartureKind::Retirement),
        retirement_date: retirement,
        last_working_day: last,
        successor_id: n.successor_id,
        suspend_at: n.suspend_at.map(|s| s.trim().to_string()),
        suspend_moment: moment,
        status: DepartureStatus::Scheduled,
        plan_status: PlanStatus::None,
        plan_reported_by: None,
        plan_reported_at: None,
        plan_approved_by: None,
        plan_approved_at: None,
        plan_executed_at: None,
        attention_days: None,
        suspended_at: None,
        created_by: actor.user_id().map(str::to_string),
        created_at: now,
        updated_at: now,
    };
    st::insert(&tx, &org.id, &d).await?;
    audit(
        &tx,
        actor.at(now),
        "departure.create",
        ("departure", &d.id),
        None,
        snap(&d),
    )
    .await?;
    store::commit(tx).await?;
    Ok(d)
}

pub async fn get(app: &App, actor: &Actor, id: &str) -> Result<Departure> {
    find(app.store.conn(), actor, id).await
}

pub struct DepartureQuery<'a> {
    /// upcoming, overdue, done, cancelled
    pub status: Option<&'a str>,
    pub attention: bool,
    pub cursor: Option<&'a str>,
    pub limit: Option<u64>,
}

/// Soonest suspension first. Members see only their own departure.
pub async fn list(app: &App, actor: &Actor, q: DepartureQuery<'_>) -> Result<Page<Departure>> {
    let limit = page_limit(q.limit)?;
    let when = match q.status {
        None | Some("") => None,
        Some("upcoming") => Some(When::Upcoming),
        Some("overdue") => Some(When::Overdue),
        Some("done") => Some(When::Done),
        Some("cancelled") => Some(When::Cancelled),
        Some(other) => {
            return Err(Error::bad_input(
                "status",
                format!("'{other}' is not one of: upcoming, overdue, done, cancelled"),
            ));
        }
    };
    let offset: u64 = match q.cursor {
        None | Some("") => 0,
        Some(c) => c
            .parse()
            .map_err(|_| Error::bad_input("cursor", "not a cursor returned by this listing"))?,
    };
    let filter = DepartureFilter {
        when,
        attention: q.attention,
        user_id: (!actor.is_admin()).then(|| actor.user_id.clone()),
    };
    let mut items = st::list(app.store.conn(), &actor.org_id, filter, app.now(), offset, limit + 1).await?;
    let next_cursor = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        Some((offset + limit).to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub async fn update(app: &App, actor: &Actor, id: &str, p: DeparturePatch) -> Result<Departure> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let before = find(&tx, actor, id).await?;
    scheduled(&before)?;
    let org = org(&tx, &actor.org_id).await?;
    let mut d = before.clone();
    if let Some(k) = p.kind {
        d.kind = k;
    }
    if let Some(r) = p.retirement_date {
        d.retirement_date = date("retirement_date", &r)?;
    }
    if let Some(l) = p.last_working_day {
        d.last_working_day = date("last_working_day", &l)?;
    }
    if let Some(s) = p.suspend_at {
        d.suspend_at = s.map(|s| s.trim().to_string());
    }
    if let Some(s) = p.successor_id {
        if matches!(d.plan_status, PlanStatus::Approved | PlanStatus::Executed) && s != d.successor_id {
            return Err(
                Error::conflict("the plan is approved: its default successor is frozen").with_field("successor_id")
            );
        }
        successor(&tx, &org.id, &s, &d.user_id, "successor_id").await?;
        d.successor_id = s;
    }
    d.suspend_moment = schedule(
        &org,
        d.retirement_date,
        d.last_working_day,
        d.suspend_at.as_deref(),
        now,
    )?;
    // A flag belongs to a last working day: a new day starts the countdown again.
    if d.last_working_day != before.last_working_day {
        d.attention_days = None;
    }
    d.updated_at = now;
    commit_change(tx, actor, now, "departure.update", &before, &d).await?;
    Ok(d)
}

pub async fn cancel(app: &App, actor: &Actor, id: &str) -> Result<Departure> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let before = find(&tx, actor, id).await?;
    scheduled(&before)?;
    let mut d = before.clone();
    d.status = DepartureStatus::Cancelled;
    d.updated_at = now;
    commit_change(tx, actor, now, "departure.cancel", &before, &d).await?;
    Ok(d)
}

/// Saves a changed departure with its before/after audit event and commits.
async fn commit_change(
    tx: store::Tx,
    actor: &Actor,
    now: DateTime<Utc>,
    action: &str,
    before: &Departure,
    d: &Departure,
) -> Result<()> {
    st::save(&tx, &actor.org_id, d).await?;
    audit(&tx, actor.at(now), action, ("departure", &d.id), snap(before), snap(d)).await?;
    store::commit(tx).await
}

fn plan_of(d: Departure, items: Vec<PlanItem>) -> Plan {
    Plan {
        departure_id: d.id,
        status: d.plan_status,
        default_successor_id: d.successor_id,
        items,
    }
}

pub async fn plan(app: &App, actor: &Actor, id: &str) -> Result<Plan> {
    let c = app.store.conn();
    let d = find(c, actor, id).await?;
    let items = st::plan_items(c, &d.id).await?;
    Ok(plan_of(d, items))
}

/// The departing user (or an admin for them) reports the plan; it can be reported again
/// until an admin approves it.
pub async fn report_plan(app: &App, actor: &Actor, id: &str, input: PlanInput) -> Result<Plan> {
    let now = app.now();
    let tx = app.store.write().await?;
    let before = find(&tx, actor, id).await?;
    scheduled(&before)?;
    if matches!(before.plan_status, PlanStatus::Approved | PlanStatus::Executed) {
        return Err(Error::conflict("the plan is approved and frozen"));
    }
    if input.items.len() > 100 {
        return Err(Error::bad_input("items", "a plan has at most 100 lines"));
    }
    let mut items = Vec::new();
    for (i, line) in input.items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        let selection = Selection::parse(&line.selection).map_err(|e| e.with_field(&field("selection")))?;
        successor(
            &tx,
            &actor.org_id,
            &line.successor_id,
            &before.user_id,
            &field("successor_id"),
        )
        .await?;
        items.push(PlanItem {
            position: i as i64,
            selection: selection.to_input(),
            successor_id: line.successor_id.clone(),
            transfer_id: None,
        });
    }
    st::replace_plan(&tx, &before.id, &items).await?;
    let mut d = before.clone();
    d.plan_status = PlanStatus::Reported;
    d.plan_reported_by = actor.user_id().map(str::to_string);
    d.plan_reported_at = Some(now);
    d.updated_at = now;
    st::save(&tx, &actor.org_id, &d).await?;
    let after = serde_json::json!({"items": items, "default_successor_id": d.successor_id});
    audit(
        &tx,
        actor.at(now),
        "departure.plan_report",
        ("departure", id),
        None,
        Some(after),
    )
    .await?;
    store::commit(tx).await?;
    Ok(plan_of(d, items))
}

pub async fn approve_plan(app: &App, actor: &Actor, id: &str) -> Result<Plan> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let before = find(&tx, actor, id).await?;
    scheduled(&before)?;
    if before.plan_status != PlanStatus::Reported {
        return Err(Error::conflict(format!(
            "only a reported plan can be approved; this one is {}",
            before.plan_status.as_str()
        )));
    }
    let mut d = before.clone();
    d.plan_status = PlanStatus::Approved;
    d.plan_approved_by = actor.user_id().map(str::to_string);
    d.plan_approved_at = Some(now);
    // An approved plan makes the departure ready: it no longer needs attention.
    d.attention_days = None;
    d.updated_at = now;
    let items = st::plan_items(&tx, id).await?;
    commit_change(tx, actor, now, "departure.plan_approve", &before, &d).await?;
    Ok(plan_of(d, items))
}

/// Runs the approved plan's transfers in the caller's transaction: one batch per line that
/// selects something, then the rest (with the user's tags) to the default successor.
pub(crate) async fn execute_in(
    tx: &store::Tx,
    actor: &Actor,
    d: &Departure,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Execution> {
    let items = st::plan_items(tx, &d.id).await?;
    let owner = users::by_id(tx, &actor.org_id, &d.user_id).await?.map(|r| r.user);
    let mut done = Vec::new();
    let lines = items
        .iter()
        .map(|i| (Some(i.position), i.selection.clone(), i.successor_id.clone(), false))
        .chain(std::iter::once((
            None,
            SelectionInput {
                all: Some(true),
                ..Default::default()
            },
            d.successor_id.clone(),
            true,
        )));
    for (position, selection, to, include_tags) in lines {
        let remaining = users::owned(tx, &actor.org_id, &d.user_id).await?;
        if remaining.cards == 0 && !(include_tags && remaining.tags > 0) {
            continue;
        }
        let sel = Selection::parse(&selection)?;
        let (cards, _) = store::transfers::count_selection(tx, &actor.org_id, &d.user_id, &sel).await?;
        if cards == 0 && !include_tags {
            continue;
        }
        let req = TransferRequest {
            from_user_id: d.user_id.clone(),
            to_user_id: to.clone(),
            selection,
            include_tags,
            dry_run: false,
        };
        if let Outcome::Done(t) = transfers::run(tx, actor, &req, now, &|_| {}).await? {
            if let Some(p) = position {
                st::set_item_transfer(tx, &d.id, p, &t.id).await?;
            }
            done.push(ExecutedItem {
                position,
                successor_id: to,
                transfer_id: (!dry_run).then_some(t.id),
                cards: t.cards,
                contacts: t.contacts,
                tags: t.tags,
            });
        }
    }
    st::set_plan_executed(tx, &actor.org_id, &d.id, now).await?;
    let summary = serde_json::json!({"transfers": done, "user": owner.map(|u| u.display_name)});
    audit(
        tx,
        actor.at(now),
        "departure.plan_execute",
        ("departure", &d.id),
        None,
        Some(summary),
    )
    .await?;
    Ok(Execution {
        dry_run,
        transfers: done,
    })
}

/// Executes the approved plan now (admins), any time before the suspension. A dry run
/// performs it inside a transaction that is rolled back, so its counts are exact.
pub async fn execute_plan(app: &App, actor: &Actor, id: &str, dry_run: bool) -> Result<Execution> {
    actor.require_admin()?;
    let now = app.now();
    let tx = app.store.write().await?;
    let d = find(&tx, actor, id).await?;
    scheduled(&d)?;
    if d.plan_status != PlanStatus::Approved {
        return Err(Error::conflict(format!(
            "only an approved plan can be executed; this one is {}",
            d.plan_status.as_str()
        )));
    }
    let result = execute_in(&tx, actor, &d, now, dry_run).await?;
    if dry_run {
        tx.rollback().await?;
    } else {
        store::commit(tx).await?;
    }
    Ok(result)
}

pub async fn readiness(app: &App, actor: &Actor, id: &str) -> Result<Readiness> {
    let c = app.store.conn();
    let d = find(c, actor, id).await?;
    readiness_of(c, &actor.org_id, &d).await
}

pub(crate) async fn readiness_of(c: &impl store::Conn, org_id: &str, d: &Departure) -> Result<Readiness> {
    let owned = users::owned(c, org_id, &d.user_id).await?;
    Ok(rules::readiness(d.plan_status, &owned))
}

/// Suspends the departing user of a due departure, exactly once across servers: the
/// departure's own `scheduled → done` update is conditional, and a second server finds
/// nothing to do. Runs an approved plan first if the organisation asks for it.
pub(crate) async fn run_due(app: &App, org_id: &str, d: &Departure) -> Result<bool> {
    let run_plan = {
        let org = org(app.store.conn(), org_id).await?;
        org.execute_plan_before_suspension && d.plan_status == PlanStatus::Approved
    };
    match suspend_due(app, org_id, d, run_plan).await {
        Err(e) if run_plan => {
            // The plan could not run (a successor left since, say). The account still stops on
            // time; the plan stays approved for an admin to run, and the failure is recorded.
            tracing::warn!(departure = %d.id, error = %e, "handover plan failed before suspension");
            let done = suspend_due(app, org_id, d, false).await?;
            if done {
                let tx = app.store.write().await?;
                let who = Who {
                    org_id,
                    actor_id: None,
                    at: app.now(),
                };
                let after = serde_json::json!({"error": e.message});
                audit(
                    &tx,
                    who,
                    "departure.plan_execute_failed",
                    ("departure", &d.id),
                    None,
                    Some(after),
                )
                .await?;
                store::commit(tx).await?;
            }
            Ok(done)
        }
        other => other,
    }
}

async fn suspend_due(app: &App, org_id: &str, d: &Departure, run_plan: bool) -> Result<bool> {
    let now = app.now();
    let tx = app.store.write().await?;
    if !st::finish(&tx, org_id, &d.id, now).await? {
        return Ok(false);
    }
    let org = org(&tx, org_id).await?;
    if run_plan {
        execute_in(&tx, &Actor::system(org_id), d, now, false).await?;
    }
    let who = Who {
        org_id,
        actor_id: None,
        at: now,
    };
    if let Some(u) = users::by_id(&tx, org_id, &d.user_id).await? {
        super::lifecycle::suspend_in(&tx, who, &org, &u.user).await?;
    }
    let after = st::get(&tx, org_id, &d.id).await?;
    audit(
        &tx,
        who,
        "departure.suspend",
        ("departure", &d.id),
        snap(d),
        after.as_ref().and_then(snap),
    )
    .await?;
    store::commit(tx).await?;
    Ok(true)
}

/// Flags a scheduled departure that is not ready 7 days and 1 day before the last working day.
pub(crate) async fn flag_if_needed(app: &App, org_id: &str, d: &Departure) -> Result<bool> {
    let now = app.now();
    let org = org(app.store.conn(), org_id).await?;
    let Some(days) = rules::attention_threshold(d.last_working_day, today(&org, now)?) else {
        return Ok(false);
    };
    if d.attention_days.is_some_and(|a| a <= days) {
        return Ok(false);
    }
    let tx = app.store.write().await?;
    let readiness = readiness_of(&tx, org_id, d).await?;
    if readiness.ready || !st::flag(&tx, org_id, &d.id, days, now).await? {
        return Ok(false);
    }
    let who = Who {
        org_id,
        actor_id: None,
        at: now,
    };
    let after = serde_json::json!({"attention_days": days, "readiness": readiness});
    audit(&tx, who, "departure.attention", ("departure", &d.id), None, Some(after)).await?;
    store::commit(tx).await?;
    Ok(true)
}
