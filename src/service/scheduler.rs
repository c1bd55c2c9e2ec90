//! The scheduler: runs due suspensions, raises attention flags and purges the trash. It runs
//! once when the server starts (catching up on anything that fell due while it was down) and
//! then at an interval.
//!
//! Each departure and each purged user is its own unit of work, so one that fails is logged
//! and does not hold up the others (it is retried at the next tick). The organisations are
//! read once per tick. Several servers on one database do each thing once: a due departure is
//! loaded under a row lock (PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises writers) and
//! every status change is a conditional write.

use super::departures::{execute_in, readiness_of};
use super::{Actor, App, Who, audit, lifecycle, snap};
use crate::domain::departure::{Departure, DepartureStatus, PlanStatus};
use crate::domain::model::{Organization, User};
use crate::domain::{Error, Result};
use crate::store::{self, departures as st, users};
use sea_orm::TransactionTrait;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tick {
    pub suspended: usize,
    pub flagged: usize,
    pub purged: usize,
    /// Cards given their person (名寄せ) after the fact.
    pub placed: u64,
    /// Reminder mails queued (leavers without a plan, admins for departures needing action).
    pub reminded: usize,
    /// Units of work that failed (logged; retried at the next tick).
    pub failed: usize,
}

/// Pages of cards without a person placed per tick (`people::place_unplaced`): a database
/// from before same-person matching gets its people a hundred thousand cards a tick, without
/// holding the first tick (which runs before the server answers) for long.
const PLACE_PAGES_PER_TICK: u64 = 20;

/// One round, counted in the server's metrics (runs, failures, when).
pub async fn tick(app: &App) -> Result<Tick> {
    let outcome = tick_once(app).await;
    let failures = match &outcome {
        Ok(t) => t.failed as u64,
        Err(_) => 1,
    };
    app.metrics.scheduler_run(failures, app.now().timestamp());
    outcome
}

async fn tick_once(app: &App) -> Result<Tick> {
    let mut t = Tick::default();
    let orgs: HashMap<String, Organization> = store::orgs::all(app.read())
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let of = |org_id: &str| orgs.get(org_id).ok_or_else(|| Error::not_found("organization"));
    for (org_id, d) in st::due(app.read(), app.now()).await? {
        match async { run_due(app, of(&org_id)?, &d).await }.await {
            Ok(true) => t.suspended += 1,
            Ok(false) => {}
            Err(e) => {
                t.failed += 1;
                tracing::error!(departure = %d.id, error = %e, "suspension failed; retrying at the next tick");
            }
        }
    }
    for (org_id, d) in st::scheduled(app.read()).await? {
        match async { flag_if_needed(app, of(&org_id)?, &d).await }.await {
            Ok(true) => t.flagged += 1,
            Ok(false) => {}
            Err(e) => {
                t.failed += 1;
                tracing::error!(departure = %d.id, error = %e, "attention check failed");
            }
        }
    }
    for (org_id, d) in st::unsettled(app.read()).await? {
        match async { settle(app, of(&org_id)?, &d).await }.await {
            Ok(()) => {}
            Err(e) => {
                t.failed += 1;
                tracing::error!(departure = %d.id, error = %e, "settling failed");
            }
        }
    }
    for org in orgs.values() {
        let cutoff = match org.policy() {
            Ok(p) => p.purge_cutoff(app.now()),
            Err(e) => {
                t.failed += 1;
                tracing::error!(org = %org.id, error = %e, "the organisation's settings do not parse; its trash waits");
                continue;
            }
        };
        for user in users::purgeable(app.read(), &org.id, cutoff).await? {
            match purge(app, org, &user).await {
                Ok(true) => t.purged += 1,
                Ok(false) => {}
                Err(e) => {
                    t.failed += 1;
                    tracing::error!(user = %user.id, error = %e, "purge failed; retrying at the next tick");
                }
            }
        }
    }
    match super::mail::remind(app, &orgs).await {
        Ok(n) => t.reminded = n,
        Err(e) => {
            t.failed += 1;
            tracing::error!(error = %e, "reminders failed; retrying at the next tick");
        }
    }
    let org_ids: Vec<String> = orgs.keys().cloned().collect();
    match super::people::place_unplaced(app, &org_ids, PLACE_PAGES_PER_TICK).await {
        Ok(n) => t.placed = n,
        Err(e) => {
            t.failed += 1;
            tracing::error!(error = %e, "placing cards without a person failed; retrying at the next tick");
        }
    }
    if let Err(e) = super::auth::forget_old_attempts(app).await {
        t.failed += 1;
        tracing::error!(error = %e, "forgetting old sign-in attempts failed; retrying at the next tick");
    }
    Ok(t)
}

/// Ticks forever; errors are logged and retried at the next tick.
pub async fn run(app: App, every: Duration) {
    loop {
        match tick(&app).await {
            Ok(t) if t != Tick::default() => tracing::info!(?t, "scheduler"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "scheduler tick failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Suspends the departing user of a due departure, in one unit of work, after running its
/// approved plan if the organisation asks for it. A plan that cannot run (a successor left
/// since, say) is rolled back to its savepoint and recorded; the account still stops on time
/// and the plan stays approved for an admin to run. Returns whether this call did it.
async fn run_due(app: &App, org: &Organization, due: &Departure) -> Result<bool> {
    let policy = org.policy()?;
    app.write(&Actor::system(&org.id), async |tx, who| {
        let Some(mut d) = st::get_locked(tx, &org.id, due.id.as_str()).await? else {
            return Ok(false);
        };
        if d.status != DepartureStatus::Scheduled {
            return Ok(false);
        }
        let before = d.clone();
        if policy.execute_plan_before_suspension && d.plan_status == PlanStatus::Approved {
            d = run_plan_or_record(tx, who, d).await?;
        }
        let holdings = users::holdings(tx, &org.id, d.user_id.as_str()).await?;
        let done = d.suspended(&holdings, who.at)?;
        if !st::save(tx, &org.id, &d, &done).await? {
            return Ok(false);
        }
        if let Some(u) = users::by_id(tx, &org.id, d.user_id.as_str()).await? {
            lifecycle::suspend_in(tx, who, org, &u.user).await?;
        }
        audit(
            tx,
            who,
            "departure.suspend",
            ("departure", d.id.as_str()),
            snap(&before),
            snap(&done),
        )
        .await?;
        Ok(true)
    })
    .await
}

/// Runs the plan under a savepoint: on success the departure as it is after, on failure the
/// savepoint is rolled back, the failure audited, and the departure returned unchanged.
async fn run_plan_or_record(tx: &store::Tx, who: Who<'_>, d: Departure) -> Result<Departure> {
    let savepoint = tx.begin().await?;
    let mark = super::audit_mark();
    match execute_in(&savepoint, who, &d, false).await {
        Ok((after, _)) => {
            savepoint.commit().await?;
            Ok(after)
        }
        Err(e) => {
            savepoint.rollback().await?;
            super::audit_undo(mark);
            tracing::warn!(departure = %d.id, error = %e, "handover plan failed before suspension");
            let after = serde_json::json!({"error": e.message});
            audit(
                tx,
                who,
                "departure.plan_execute_failed",
                ("departure", d.id.as_str()),
                None,
                Some(after),
            )
            .await?;
            Ok(d)
        }
    }
}

/// Flags a scheduled departure that is not ready 7 days and 1 day before the last working day.
async fn flag_if_needed(app: &App, org: &Organization, d: &Departure) -> Result<bool> {
    let policy = org.policy()?;
    let Some(days) = d.attention_due(policy.today(app.now())) else {
        return Ok(false);
    };
    app.write(&Actor::system(&org.id), async |tx, who| {
        let readiness = readiness_of(tx, &org.id, d, who.at).await?;
        if readiness.ready || !st::flag(tx, &org.id, d.id.as_str(), days, who.at).await? {
            return Ok(false);
        }
        let after = serde_json::json!({"attention_days": days, "readiness": readiness});
        audit(
            tx,
            who,
            "departure.attention",
            ("departure", d.id.as_str()),
            None,
            Some(after),
        )
        .await?;
        Ok(true)
    })
    .await
}

/// A suspended departure whose status disagrees with what its user holds: done once they
/// hold nothing, needs action again when they hold something (the safety net behind the
/// transfers and undos that settle it at once).
async fn settle(app: &App, org: &Organization, d: &Departure) -> Result<()> {
    app.write(&Actor::system(&org.id), async |tx, who| {
        match users::lock(tx, &org.id, &[d.user_id.as_str()]).await?.pop() {
            Some(user) => super::departures::settle_in(tx, who, &user).await,
            None => Ok(()),
        }
    })
    .await
}

/// Removes a deleted user whose time in the trash is over, for good. A trashed user who still
/// holds something (nothing should let that happen; the check is the last line) is never
/// purged: they are skipped, logged, flagged to admins and audited once.
async fn purge(app: &App, org: &Organization, user: &User) -> Result<bool> {
    app.write(&Actor::system(&org.id), async |tx, who| {
        let holdings = users::holdings(tx, &org.id, &user.id).await?;
        if !holdings.is_empty() {
            tracing::warn!(user = %user.id, ?holdings, "a trashed user still holds something; not purged");
            if users::mark_purge_blocked(tx, &org.id, &user.id, who.at).await? {
                let after = serde_json::to_value(holdings).ok();
                audit(tx, who, "user.purge_blocked", ("user", &user.id), None, after).await?;
            }
            return Ok(false);
        }
        if !users::purge(tx, &org.id, &user.id).await? {
            return Ok(false);
        }
        audit(tx, who, "user.purge", ("user", &user.id), snap(user), None).await?;
        Ok(true)
    })
    .await
}
