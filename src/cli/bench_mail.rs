//! `meishi bench mail`: builds an organisation whose N cards have several holders per person
//! and some suspended owners, then times a One to One send's resolution and enqueue (the
//! service, as the API runs it) against its SQL floor (the same cards copied into the outbox
//! with no rule applied), side by side; then the delivery worker's throughput to a local SMTP
//! server against lettre sending the same messages in a bare loop (same
//! connections). See BENCHMARKS.md.

use super::bench::{peak_rss_mb, remove_sqlite_file};
use super::smtp_sink::Sink;
use crate::domain::{Error, Result, SystemClock};
use crate::service::mail::{self, MailConfig, Mailer, RecipientsInput, SendInput};
use crate::service::{App, bench as sb};
use clap::Args;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct MailBench {
    /// Database URL. A sqlite:// file is a scratch database: it is deleted and made anew. A
    /// postgres:// database must be empty (freshly created).
    #[arg(long, default_value = "sqlite://meishi-bench-mail.db")]
    database: String,
    /// Cards the send selects
    #[arg(long, default_value_t = 100_000)]
    recipients: usize,
    /// Members who hold them (the last two suspended)
    #[arg(long, default_value_t = 20)]
    owners: usize,
    /// Delivery rounds (worker, then lettre alone); the median ratio is reported
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

fn check(what: &str, got: i64, want: i64) -> Result<()> {
    if got != want {
        return Err(Error::internal(format!("{what}: {got}, expected {want}")));
    }
    Ok(())
}

pub async fn run(b: MailBench) -> Result<()> {
    if b.rounds == 0 {
        return Err(Error::bad_input("rounds", "at least one round"));
    }
    if b.owners < 3 {
        return Err(Error::bad_input(
            "owners",
            "at least 3 owners (two of them are suspended)",
        ));
    }
    if b.database.starts_with("sqlite://") {
        remove_sqlite_file(&b.database)?;
    }
    let sink = Sink::start().await;
    let config = MailConfig {
        smtp_url: sink.url(),
        from_domain: None,
        public_url: "http://127.0.0.1:8080".into(),
    };
    let app = App::open(&b.database, Arc::new(SystemClock))
        .await?
        .with_mail(Mailer::new(config)?);
    let engine = if app.store.is_sqlite() { "SQLite" } else { "PostgreSQL" };
    println!(
        "meishi bench mail: {} cards, {} owners, on {engine}",
        b.recipients, b.owners
    );

    let started = Instant::now();
    let setup = sb::mail_setup(&app, b.recipients, b.owners).await?;
    println!("setup: {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let floor_rows = sb::mail_floor(&app, &setup, "甲社").await?;
    let floor = started.elapsed().as_secs_f64();
    check("floor rows", floor_rows as i64, b.recipients as i64)?;

    let input = |r: RecipientsInput, later: bool| SendInput {
        template_id: setup.template_id.clone(),
        recipients: r,
        scheduled_at: later.then(|| app.now() + chrono::Duration::days(1)),
    };
    let company = RecipientsInput {
        company: Some("甲社".into()),
        ..Default::default()
    };
    let started = Instant::now();
    let send = mail::send(&app, &setup.admin, input(company, true)).await?;
    let took = started.elapsed().as_secs_f64();
    check(
        "queued + skipped",
        send.send.queued + send.send.skipped,
        b.recipients as i64,
    )?;
    println!(
        "resolve + enqueue {} cards: {took:.3} s ({} queued, {} skipped); SQL floor (a plain copy into the \
         outbox) {floor:.3} s; ratio {:.2}; target <= 2 s",
        b.recipients,
        send.send.queued,
        send.send.skipped,
        took / floor.max(1e-9)
    );
    println!("peak RSS so far: {:.0} MB", peak_rss_mb());

    // Delivery: the big send is cancelled and the same selection sent now (every message it
    // queued, from each of their senders), in rounds: the worker delivers a send, then lettre
    // alone sends the same messages (built by the worker's own code as they are sent) over the
    // same number of connections with a transport of its own, nothing read or written
    // meanwhile. The machine is shared and noisy: the median round is the figure.
    mail::cancel(&app, &setup.admin, &send.send.id).await?;
    let mailer = app.mail.clone().expect("mailer");
    let mut ratios = Vec::new();
    for round in 1..=b.rounds {
        let company = RecipientsInput {
            company: Some("甲社".into()),
            ..Default::default()
        };
        let send = mail::send(&app, &setup.admin, input(company, false)).await?;
        let k = send.send.queued as usize;
        sink.clear();
        let started = Instant::now();
        mail::deliver_due(&app, &mailer, "bench").await?;
        let worker = started.elapsed().as_secs_f64();
        check("delivered", sink.count() as i64, k as i64)?;
        sink.clear();
        let (sent, bare) = sb::mail_lettre_alone(&app, &mailer, &send.send.id, &sink.url(), 8).await?;
        check("lettre sent", sent as i64, k as i64)?;
        sink.clear();
        let company = RecipientsInput {
            company: Some("甲社".into()),
            ..Default::default()
        };
        let again = mail::send(&app, &setup.admin, input(company, false)).await?;
        let (marked, claiming, marking) = sb::mail_database_alone(&app).await?;
        let database = claiming + marking;
        check("claimed and marked", marked as i64, again.send.queued)?;
        let ratio = 100.0 * bare / worker;
        ratios.push(ratio);
        println!(
            "delivery round {round}: {k} messages to a local SMTP server: meishi's worker {:.0}/s ({worker:.2} s); \
             lettre in a bare loop {:.0}/s ({bare:.2} s); ratio {ratio:.0}%; the worker's database work alone \
             (claim, mark sent; no SMTP) {:.0}/s ({:.1} µs a message: claim {:.1}, mark {:.1})",
            k as f64 / worker,
            k as f64 / bare,
            marked as f64 / database,
            1e6 * database / marked.max(1) as f64,
            1e6 * claiming / marked.max(1) as f64,
            1e6 * marking / marked.max(1) as f64,
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "delivery: meishi's worker at {:.0}% of lettre alone (median of {} rounds; target >= 80%)",
        ratios[ratios.len() / 2],
        ratios.len()
    );
    println!("peak RSS: {:.0} MB", peak_rss_mb());
    Ok(())
}
