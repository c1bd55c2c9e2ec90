//! Departures (退職・出向): registering one, the handover plan the departing user reports
//! and an admin approves and executes, readiness, and cancellation. The rules are the
//! domain's (`domain::departure`); the scheduler's jobs are in `scheduler.rs`.

use super::transfers::{self, Outcome, TransferRequest};
use super::{Actor, App, Who, audit, org, page_limit, snap};
use crate::domain::departure::{
    self as rules, Departure, DepartureDraft, DepartureKind, DepartureStatus, MAX_PLAN_ITEMS, Plan, PlanItem, Readiness,
};
use crate::domain::lifecycle::Move;
use crate::domain::model::{Page, User};
use crate::domain::transfer::{Selection, SelectionInput};
use crate::domain::{DepartureId, Error, Result, UserId, UserStatus, date};
use crate::store::departures::{self as st, DepartureFilter, When};
use crate::store::{self, users};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeparture {
    pub user_id: String,
    /// `retirement` (退職, default) or `secondment` (出向).
    #[serde(default)]
    pub kind: Option<DepartureKind>,
    #[schema(format = Date)]
    pub retirement_date: String,
    /// Not after the retirement date, not in the past.
    #[schema(format = Date)]
    pub last_working_day: String,
    /// Takes whatever the plan gives nobody else.
    pub successor_id: String,
    /// HH:MM; overrides the organisation's suspension time for this departure.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub suspend_at: Option<String>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeparturePatch {
    pub kind: Option<DepartureKind>,
    #[schema(format = Date)]
    pub retirement_date: Option<String>,
    #[schema(format = Date)]
    pub last_working_day: Option<String>,
    pub successor_id: Option<String>,
    /// HH:MM, or null to use the organisation's time again.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
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

/// What executing a plan did (or, as a dry run, would do): one transfer per line.
#[derive(Debug, Serialize, ToSchema)]
pub struct Execution {
    pub dry_run: bool,
    pub transfers: Vec<ExecutedItem>,
    /// Mail templates handed to the departure's successor.
    pub templates: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutedItem {
    /// The plan line's position; none for the remainder going to the default successor.
    pub position: Option<i64>,
    #[schema(value_type = String)]
    pub successor_id: UserId,
    /// The batch (none in a dry run).
    #[schema(value_type = Option<String>)]
    pub transfer_id: Option<crate::domain::TransferId>,
    pub cards: i64,
    pub contacts: i64,
    pub tags: i64,
}

async fn user(c: &impl store::Conn, org_id: &str, id: &str, field: &str) -> Result<User> {
    users::by_id(c, org_id, id)
        .await?
        .map(|r| r.user)
        .ok_or_else(|| Error::unprocessable(format!("no user {id} in this organisation")).with_field(field))
}

/// Loads a would-be successor and applies the one recipient rule to them.
pub(crate) async fn successor(
    c: &impl store::Conn,
    org_id: &str,
    id: &str,
    leaving: &UserId,
    field: &str,
) -> Result<UserId> {
    let s = user(c, org_id, id, field).await?;
    transfers::check_recipient_in(c, org_id, &s, leaving, field, Move::ToSuccessor).await?;
    Ok(UserId::from(s.id))
}

/// The departure, if the actor may see it: admins every one, members their own.
pub(crate) async fn find(c: &impl store::Conn, actor: &Actor, id: &str) -> Result<Departure> {
    let d = st::get(c, &actor.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found("departure"))?;
    if !actor.is_admin() && d.user_id != actor.user_id {
        return Err(Error::not_found("departure"));
    }
    Ok(d)
}

fn actor_id(who: Who<'_>) -> Option<UserId> {
    who.actor_id.map(UserId::from)
}

pub async fn create(app: &App, actor: &Actor, n: NewDeparture) -> Result<Departure> {
    actor.require_admin()?;
    let retirement = date("retirement_date", &n.retirement_date)?;
    let last = date("last_working_day", &n.last_working_day)?;
    app.write(actor, async |tx, who| {
        let org = org(tx, &actor.org_id).await?;
        let leaving = user(tx, &org.id, &n.user_id, "user_id").await?;
        if leaving.status != UserStatus::Active || leaving.is_archive {
            return Err(
                Error::unprocessable(format!("{} is not an active user", leaving.display_name)).with_field("user_id"),
            );
        }
        let leaving_id = UserId::from(leaving.id.as_str());
        let successor_id = successor(tx, &org.id, &n.successor_id, &leaving_id, "successor_id").await?;
        let draft = DepartureDraft {
            id: DepartureId::from(store::new_id()),
            user_id: leaving_id,
            kind: n.kind.unwrap_or(DepartureKind::Retirement),
            retirement_date: retirement,
            last_working_day: last,
            successor_id,
            suspend_at: n.suspend_at,
            created_by: actor_id(who),
        };
        let d = Departure::new(draft, &org.policy()?, who.at)?;
        if st::open_for_user(tx, &org.id, &leaving.id).await?.is_some() {
            return Err(
                Error::conflict(format!("{} already has a scheduled departure", leaving.display_name))
                    .with_field("user_id"),
            );
        }
        st::insert(tx, &org.id, &d).await?;
        audit(
            tx,
            who,
            "departure.create",
            ("departure", d.id.as_str()),
            None,
            snap(&d),
        )
        .await?;
        Ok(d)
    })
    .await
}

pub async fn get(app: &App, actor: &Actor, id: &str) -> Result<Departure> {
    find(app.read(), actor, id).await
}

/// The user's scheduled departure, if any (the user themself, or an admin).
pub async fn open_for_user(app: &App, actor: &Actor, user_id: &str) -> Result<Option<Departure>> {
    if !actor.is_admin() && actor.user_id != user_id {
        return Err(Error::forbidden("only administrators may see another user's departure"));
    }
    st::open_for_user(app.read(), &actor.org_id, user_id).await
}

pub struct DepartureQuery<'a> {
    /// upcoming (scheduled, ahead), planned (upcoming and not flagged), overdue, needs_action
    /// (suspended but still holding, flagged, or overdue), done, cancelled
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
        Some("planned") => Some(When::Planned),
        Some("needs_action") => Some(When::NeedsAction),
        Some("done") => Some(When::Done),
        Some("cancelled") => Some(When::Cancelled),
        Some(other) => {
            return Err(Error::bad_input(
                "status",
                format!("'{other}' is not one of: upcoming, planned, overdue, needs_action, done, cancelled"),
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
    let mut items = st::list(app.read(), &actor.org_id, filter, app.now(), offset, limit + 1).await?;
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
    app.write(actor, async |tx, who| {
        let before = find(tx, actor, id).await?;
        before.ensure_open()?;
        let org = org(tx, &actor.org_id).await?;
        let mut d = before.clone();
        if let Some(k) = p.kind {
            d.kind = k;
        }
        if let Some(r) = p.retirement_date {
            d.retirement_date = date("retirement_date", &r)?;
        }
        if let Some(l) = p.last_working_day {
            d.set_last_working_day(date("last_working_day", &l)?);
        }
        if let Some(s) = p.suspend_at {
            d.suspend_at = s.map(|s| s.trim().to_string());
        }
        if let Some(s) = p.successor_id {
            d.set_successor(UserId::from(s.as_str()))?;
            successor(tx, &org.id, &s, &d.user_id, "successor_id").await?;
        }
        d.reschedule(&org.policy()?, who.at)?;
        d.updated_at = who.at;
        save_change(tx, who, "departure.update", &before, &d).await?;
        Ok(d)
    })
    .await
}

pub async fn cancel(app: &App, actor: &Actor, id: &str) -> Result<Departure> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let before = find(tx, actor, id).await?;
        let d = before.cancelled(who.at)?;
        save_change(tx, who, "departure.cancel", &before, &d).await?;
        Ok(d)
    })
    .await
}

/// Saves a changed departure (conditionally on the state it was loaded in) with its
/// before/after audit event. A departure changed meanwhile by someone else is a conflict.
pub(crate) async fn save_change(
    tx: &store::Tx,
    who: Who<'_>,
    action: &str,
    before: &Departure,
    d: &Departure,
) -> Result<()> {
    save(tx, who, before, d).await?;
    audit(tx, who, action, ("departure", d.id.as_str()), snap(before), snap(d)).await
}

/// Writes `d` over `before` (conditionally on the state `before` was loaded in); a departure
/// changed meanwhile by someone else is a conflict.
async fn save(tx: &store::Tx, who: Who<'_>, before: &Departure, d: &Departure) -> Result<()> {
    if !st::save(tx, who.org_id, before, d).await? {
        return Err(Error::conflict("the departure changed meanwhile; load it again"));
    }
    Ok(())
}

pub async fn plan(app: &App, actor: &Actor, id: &str) -> Result<Plan> {
    let c = app.read();
    let d = find(c, actor, id).await?;
    let items = st::plan_items(c, d.id.as_str()).await?;
    Ok(Plan::of(&d, items))
}

/// The departing user (or an admin for them) reports the plan; it can be reported again
/// until an admin approves it.
pub async fn report_plan(app: &App, actor: &Actor, id: &str, input: PlanInput) -> Result<Plan> {
    app.write(actor, async |tx, who| {
        let before = find(tx, actor, id).await?;
        let d = before.plan_reported(actor_id(who), who.at)?;
        if input.items.len() > MAX_PLAN_ITEMS {
            return Err(Error::bad_input(
                "items",
                format!("a plan has at most {MAX_PLAN_ITEMS} lines"),
            ));
        }
        let mut items = Vec::new();
        for (i, line) in input.items.iter().enumerate() {
            let field = |f: &str| format!("items[{i}].{f}");
            let selection = Selection::parse(&line.selection).map_err(|e| e.with_field(&field("selection")))?;
            let (cards, _) =
                store::transfers::count_selection(tx, &actor.org_id, before.user_id.as_str(), &selection).await?;
            if cards == 0 {
                return Err(
                    Error::unprocessable(format!("line {} selects none of the cards the user holds", i + 1))
                        .with_field(&field("selection")),
                );
            }
            let successor_id = successor(
                tx,
                &actor.org_id,
                &line.successor_id,
                &before.user_id,
                &field("successor_id"),
            )
            .await?;
            items.push(PlanItem {
                position: i as i64,
                selection: selection.to_input(),
                successor_id,
                transfer_id: None,
            });
        }
        st::replace_plan(tx, d.id.as_str(), &items).await?;
        save(tx, who, &before, &d).await?;
        let after = serde_json::json!({"items": items, "default_successor_id": d.successor_id});
        audit(tx, who, "departure.plan_report", ("departure", id), None, Some(after)).await?;
        Ok(Plan::of(&d, items))
    })
    .await
}

pub async fn approve_plan(app: &App, actor: &Actor, id: &str) -> Result<Plan> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let before = find(tx, actor, id).await?;
        let d = before.plan_approved(actor_id(who), who.at)?;
        let items = st::plan_items(tx, id).await?;
        save_change(tx, who, "departure.plan_approve", &before, &d).await?;
        Ok(Plan::of(&d, items))
    })
    .await
}

/// An admin sends a reported plan back (差し戻し) with a comment the user sees.
pub async fn return_plan(app: &App, actor: &Actor, id: &str, comment: &str) -> Result<Departure> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let before = find(tx, actor, id).await?;
        let d = before.plan_returned(comment, who.at)?;
        save_change(tx, who, "departure.plan_return", &before, &d).await?;
        Ok(d)
    })
    .await
}

/// An admin asks the user to report their plan; the user sees it on every page.
pub async fn request_plan(app: &App, actor: &Actor, id: &str) -> Result<Departure> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let before = find(tx, actor, id).await?;
        let d = before.plan_requested(who.at)?;
        save_change(tx, who, "departure.plan_request", &before, &d).await?;
        Ok(d)
    })
    .await
}

/// How many of the leaving user's cards a plan line's selection takes now (a live count while
/// the plan is written). The user themself or an admin.
pub async fn count_line(app: &App, actor: &Actor, id: &str, selection: &SelectionInput) -> Result<i64> {
    let c = app.read();
    let d = find(c, actor, id).await?;
    let selection = Selection::parse(selection)?;
    Ok(
        store::transfers::count_selection(c, &actor.org_id, d.user_id.as_str(), &selection)
            .await?
            .0,
    )
}

/// After a change of what `user` holds: their suspended departure becomes done when they hold
/// nothing (or are active again), and needs action again when they hold something.
pub(crate) async fn settle_in(tx: &store::Tx, who: Who<'_>, user: &User) -> Result<()> {
    let Some(d) = st::suspended_for_user(tx, who.org_id, &user.id).await? else {
        return Ok(());
    };
    let holdings = users::holdings(tx, who.org_id, &user.id).await?;
    if let Some(after) = d.settled(&holdings, user.status == UserStatus::Active, who.at) {
        let action = if after.status == DepartureStatus::Done {
            "departure.done"
        } else {
            "departure.reopen"
        };
        save_change(tx, who, action, &d, &after).await?;
    }
    Ok(())
}

/// Runs the approved plan's transfers in the caller's transaction: one batch per line that
/// selects something, then the rest (with the user's tags) to the default successor; records
/// the plan as executed. Returns the departure as it is after and what ran.
pub(crate) async fn execute_in(
    tx: &store::Tx,
    who: Who<'_>,
    d: &Departure,
    dry_run: bool,
) -> Result<(Departure, Execution)> {
    // Recorded first: the transfers below may settle the departure (done once the user holds
    // nothing), which reads it again.
    let after = d.plan_executed(who.at)?;
    save(tx, who, d, &after).await?;
    let items = st::plan_items(tx, d.id.as_str()).await?;
    let owner = users::by_id(tx, who.org_id, d.user_id.as_str()).await?.map(|r| r.user);
    let mut done = Vec::new();
    for line in d.execution_lines(&items) {
        // A line runs when it selects a card the user still holds; the remainder also when
        // only tags are left.
        let sel = Selection::parse(&line.selection)?;
        let (cards, _) = store::transfers::count_selection(tx, who.org_id, d.user_id.as_str(), &sel).await?;
        let tags = if line.include_tags && cards == 0 {
            users::holdings(tx, who.org_id, d.user_id.as_str()).await?.tags
        } else {
            0
        };
        if cards == 0 && tags == 0 {
            continue;
        }
        let req = TransferRequest {
            from_user_id: d.user_id.to_string(),
            to_user_id: line.successor_id.to_string(),
            selection: line.selection,
            include_tags: line.include_tags,
            dry_run: false,
        };
        if let Outcome::Done(t) = transfers::run(tx, who, &req, Move::ToSuccessor, &|_| {}).await? {
            if let Some(p) = line.position {
                st::set_item_transfer(tx, d.id.as_str(), p, t.id.as_str()).await?;
            }
            done.push(ExecutedItem {
                position: line.position,
                successor_id: line.successor_id,
                transfer_id: (!dry_run).then_some(t.id),
                cards: t.cards,
                contacts: t.contacts,
                tags: t.tags,
            });
        }
    }
    // The leaver's mail templates go to the departure's successor with the plan (re-created
    // under them, linked to the originals): the leaver holds nothing once it has run.
    let templates = if users::holdings(tx, who.org_id, d.user_id.as_str()).await?.templates > 0 {
        super::mail::hand_over_in(tx, who, d.user_id.as_str(), d.successor_id.as_str(), Move::ToSuccessor)
            .await?
            .templates
            .len() as i64
    } else {
        0
    };
    let summary = serde_json::json!({"transfers": done, "templates": templates, "user": owner.map(|u| u.display_name)});
    audit(
        tx,
        who,
        "departure.plan_execute",
        ("departure", d.id.as_str()),
        None,
        Some(summary),
    )
    .await?;
    Ok((
        after,
        Execution {
            dry_run,
            transfers: done,
            templates,
        },
    ))
}

/// Executes the approved plan now (admins): before the suspension, or after it while the
/// departure needs action. A dry run performs it inside a transaction that is rolled back,
/// so its counts are exact.
pub async fn execute_plan(app: &App, actor: &Actor, id: &str, dry_run: bool) -> Result<Execution> {
    actor.require_admin()?;
    app.write_or_rehearse(actor, dry_run, async |tx, who| {
        let d = find(tx, actor, id).await?;
        d.ensure_executable(&users::holdings(tx, &actor.org_id, d.user_id.as_str()).await?)?;
        Ok(execute_in(tx, who, &d, dry_run).await?.1)
    })
    .await
}

pub async fn readiness(app: &App, actor: &Actor, id: &str) -> Result<Readiness> {
    let c = app.read();
    let d = find(c, actor, id).await?;
    readiness_of(c, &actor.org_id, &d, app.now()).await
}

pub(crate) async fn readiness_of(
    c: &impl store::Conn,
    org_id: &str,
    d: &Departure,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Readiness> {
    let holdings = users::holdings(c, org_id, d.user_id.as_str()).await?;
    let runs = org(c, org_id).await?.execute_plan_before_suspension;
    let news = store::people::count_open_news_of_owner(c, org_id, d.user_id.as_str()).await?;
    let (notice_left, _) = super::mail::notice_counts(c, org_id, d).await?;
    Ok(rules::readiness(d, &holdings, news, runs, now).with_notice(notice_left))
}
