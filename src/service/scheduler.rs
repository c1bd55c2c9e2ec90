//! The scheduler: runs due suspensions, raises attention flags and purges the trash. It runs
//! once when the server starts (catching up on anything that fell due while it was down) and
//! then at an interval. Every step is a conditional update, so several servers on one
//! database do each thing exactly once.

use super::{App, departures, lifecycle};
use crate::domain::Result;
use crate::store;
use std::time::Duration;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tick {
    pub suspended: usize,
    pub flagged: usize,
    pub purged: usize,
}

/// One round. A departure that fails is logged and does not hold up the others; it is
/// retried at the next tick.
pub async fn tick(app: &App) -> Result<Tick> {
    let mut t = Tick::default();
    for (org_id, d) in store::departures::due(app.store.conn(), app.now()).await? {
        match departures::run_due(app, &org_id, &d).await {
            Ok(true) => t.suspended += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(departure = %d.id, error = %e, "suspension failed; retrying at the next tick"),
        }
    }
    for (org_id, d) in store::departures::scheduled(app.store.conn()).await? {
        match departures::flag_if_needed(app, &org_id, &d).await {
            Ok(true) => t.flagged += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(departure = %d.id, error = %e, "attention check failed"),
        }
    }
    t.purged = lifecycle::purge_due(app).await?;
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
