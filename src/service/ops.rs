//! What an operator asks of a running server: is it ready (the database answers), and the
//! figures `/metrics` reads from the database when scraped. Server-wide counts, never an
//! organisation's names or data.

use super::App;
use crate::domain::{Error, Result};
use crate::metrics::{Gauges, OVERDUE_AFTER};
use crate::store;
use std::time::Duration;

/// How long readiness and a scrape wait for the database before saying it does not answer
/// (a pool with every connection busy waits too).
const DATABASE_WAIT: Duration = Duration::from_secs(5);

/// Whether the database answers a trivial query within `DATABASE_WAIT`.
pub async fn ready(app: &App) -> Result<()> {
    match tokio::time::timeout(DATABASE_WAIT, app.store.ping()).await {
        Ok(r) => r,
        Err(_) => Err(Error::internal("the database did not answer in time")),
    }
}

/// The database's figures for `/metrics`, read with cheap counts on indexes; a database that
/// does not answer gives `database_up = false` and no figures (the scrape itself succeeds).
pub async fn gauges(app: &App) -> Gauges {
    let pool = app.store.pool();
    let read = async {
        let now = app.now();
        let overdue_before = now - chrono::Duration::from_std(OVERDUE_AFTER).unwrap_or_default();
        let (due, overdue, needs_action) =
            store::departures::counts_for_metrics(app.read(), now, overdue_before).await?;
        let (queued, sending) = store::mail::outbox_depth(app.read()).await?;
        Ok::<_, Error>(Gauges {
            database_up: true,
            outbox_queued: Some(queued),
            outbox_sending: Some(sending),
            departures_due: Some(due),
            departures_overdue: Some(overdue),
            departures_needs_action: Some(needs_action),
            pool,
        })
    };
    match tokio::time::timeout(DATABASE_WAIT, read).await {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the database's figures could not be read");
            Gauges {
                pool,
                ..Gauges::default()
            }
        }
        Err(_) => {
            tracing::warn!("metrics: the database did not answer in time");
            Gauges {
                pool,
                ..Gauges::default()
            }
        }
    }
}
