//! `meishi bench audit`: what the audit log's hash chain costs a write. Times N units of
//! work that each write one audit event through the chain (`service::audit`: the head read
//! under its lock, the event, the head moved) against the same N units writing the event
//! as before the chain (one INSERT), alternating which goes first; then walks the chain as
//! `meishi audit verify` does. See BENCHMARKS.md.

use super::bench::remove_sqlite_file;
use crate::domain::{Error, Result, SystemClock};
use crate::service::{App, bench as sb, orgs};
use clap::Args;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct AuditBench {
    /// Database URL. A sqlite:// file is a scratch database: it is deleted and made anew. A
    /// postgres:// database must be empty (freshly created).
    #[arg(long, default_value = "sqlite://meishi-bench-audit.db")]
    database: String,
    /// Units of work (one audit event each) per contender and round
    #[arg(long, default_value_t = 5_000)]
    events: usize,
    /// Rounds; the best time of each contender counts
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

async fn org(app: &App, slug: &str) -> Result<String> {
    let (org, _) = orgs::init(
        app,
        orgs::NewOrganization {
            name: &format!("{slug} 株式会社"),
            slug: Some(slug),
            admin_email: "admin@bench.example",
            admin_name: "管理者",
            admin_password: "meishi-bench",
        },
    )
    .await?;
    Ok(org.id)
}

pub async fn run(b: AuditBench) -> Result<()> {
    if b.rounds == 0 || b.events == 0 {
        return Err(Error::bad_input("rounds", "at least one round of at least one event"));
    }
    if b.database.starts_with("sqlite://") {
        remove_sqlite_file(&b.database)?;
    }
    let app = App::open(&b.database, Arc::new(SystemClock)).await?;
    let engine = if app.store.is_sqlite() { "SQLite" } else { "PostgreSQL" };
    println!(
        "meishi bench audit: {} units of work per contender and round, on {engine}",
        b.events
    );
    let chained = org(&app, "bench").await?;
    let plain = org(&app, "bench-baseline").await?;
    let (mut best_chain, mut best_plain) = (f64::MAX, f64::MAX);
    for round in 0..b.rounds {
        let mut times = [0.0; 2];
        for k in 0..2 {
            // Alternate which goes first.
            let which = (k + round) % 2;
            let started = Instant::now();
            if which == 0 {
                sb::audited_writes(&app, &chained, b.events).await?;
            } else {
                sb::unchained_writes(&app, &plain, round * b.events, b.events).await?;
            }
            times[which] = started.elapsed().as_secs_f64();
        }
        println!(
            "round {}: chained {:.3} s, unchained {:.3} s, ratio {:.2}",
            round + 1,
            times[0],
            times[1],
            times[0] / times[1]
        );
        best_chain = best_chain.min(times[0]);
        best_plain = best_plain.min(times[1]);
    }
    let per = |t: f64| t / b.events as f64 * 1e6;
    println!(
        "best: chained {:.3} s ({:.0} µs a write), unchained {:.3} s ({:.0} µs a write): the chain adds {:.0} µs, ratio {:.2}",
        best_chain,
        per(best_chain),
        best_plain,
        per(best_plain),
        per(best_chain) - per(best_plain),
        best_chain / best_plain
    );
    let started = Instant::now();
    let verified = sb::verify_chain(&app, "bench").await?;
    let took = started.elapsed().as_secs_f64();
    let want = (b.events * b.rounds) as i64 + 2; // and the organisation's and its admin's creation
    if verified != want {
        return Err(Error::internal(format!("verified {verified} events, expected {want}")));
    }
    println!(
        "verify: {verified} events in {took:.3} s ({:.0} events/s), peak RSS {:.0} MB",
        verified as f64 / took,
        super::bench::peak_rss_mb()
    );
    Ok(())
}
