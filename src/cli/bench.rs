//! `meishi bench transfer`: builds one user's N cards (2 contacts, 2 tags each), then times,
//! on the same engine and data, a hand-written SQL transfer of all of them and its undo
//! (`store::bench`), and meishi's own transfer and undo (the service, as the API and the
//! command line run it). Prints both times, their ratio and the process's peak memory.
//! See BENCHMARKS.md.

use crate::domain::model::User;
use crate::domain::transfer::SelectionInput;
use crate::domain::{Error, Result, Role, SystemClock, UserStatus};
use crate::service::transfers::{self, Outcome, TransferRequest};
use crate::service::{Actor, App, orgs};
use crate::store::{self, Store, bench as sb};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time a transfer of N cards against hand-written SQL doing the same work
    Transfer {
        /// Database URL. A sqlite:// file is a scratch database: it is deleted (with its -wal
        /// and -shm) and made anew. A postgres:// database must be empty (freshly created).
        #[arg(long, default_value = "sqlite://meishi-bench.db")]
        database: String,
        /// Number of cards the leaving user owns
        #[arg(long, default_value_t = 100_000)]
        cards: usize,
        /// Cards inserted per setup transaction
        #[arg(long, default_value_t = 10_000)]
        chunk: usize,
        /// Only build the data, then stop (to copy it aside for --reuse)
        #[arg(long)]
        setup_only: bool,
        /// Use the data a --setup-only run left in this database instead of building it
        #[arg(long, conflicts_with = "setup_only")]
        reuse: bool,
    },
}

const SLUG: &str = "bench";
const FROM_EMAIL: &str = "leaving@bench.example";
const TO_EMAIL: &str = "successor@bench.example";

/// Peak resident set size of this process so far, in MB (VmHWM).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A scratch SQLite file is removed with its WAL and shared-memory files.
fn remove_sqlite_file(url: &str) -> Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return Err(Error::bad_input("database", "the benchmark needs a sqlite:// file"));
    }
    for p in [path.to_string(), format!("{path}-wal"), format!("{path}-shm")] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::internal(format!("cannot remove {p}: {e}"))),
        }
    }
    Ok(())
}

fn check(what: &str, got: i64, want: i64) -> Result<()> {
    if got != want {
        return Err(Error::internal(format!(
            "benchmark check failed: {what}: {got}, expected {want}"
        )));
    }
    Ok(())
}

struct Parties {
    org_id: String,
    from: String,
    to: String,
}

fn user(email: &str, name: &str, now: chrono::DateTime<chrono::Utc>) -> User {
    User {
        id: store::new_id(),
        email: email.into(),
        display_name: name.into(),
        role: Role::Member,
        status: UserStatus::Active,
        is_archive: false,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    }
}

async fn setup(app: &App, n: usize, chunk: usize) -> Result<Parties> {
    let (org, _admin) = orgs::init(
        app,
        orgs::NewOrganization {
            name: "ベンチ株式会社",
            slug: Some(SLUG),
            admin_email: "admin@bench.example",
            admin_name: "管理者",
            admin_password: "meishi-bench",
        },
    )
    .await?;
    let now = app.now();
    let from = user(FROM_EMAIL, "退職 予定", now);
    let to = user(TO_EMAIL, "後任 担当", now);
    let tx = app.store.write().await?;
    store::users::insert(&tx, &org.id, &from, None).await?;
    store::users::insert(&tx, &org.id, &to, None).await?;
    store::commit(tx).await?;
    let tag_ids = sb::create_tags(&app.store, &org.id, &from.id, now).await?;

    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "setup {bar:30} {human_pos}/{human_len} cards  {msg}  {elapsed_precise} eta {eta}",
        )
        .expect("template"),
    );
    let started = Instant::now();
    let mut rows = 0u64;
    let mut done = 0;
    while done < n {
        let k = chunk.min(n - done);
        rows += sb::insert_chunk(&app.store, &org.id, &from.id, &tag_ids, done, k, now).await?;
        done += k;
        bar.set_position(done as u64);
        let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("{rows} rows, {rate:.0} rows/s"));
    }
    bar.finish();
    Ok(Parties {
        org_id: org.id,
        from: from.id,
        to: to.id,
    })
}

async fn existing(app: &App) -> Result<Parties> {
    let missing = || Error::bad_input("reuse", "no benchmark data here: run once with --setup-only first");
    let org = store::orgs::by_slug(app.store.conn(), SLUG)
        .await?
        .ok_or_else(missing)?;
    let c = app.store.conn();
    let from = store::users::by_email(c, &org.id, FROM_EMAIL)
        .await?
        .ok_or_else(missing)?;
    let to = store::users::by_email(c, &org.id, TO_EMAIL)
        .await?
        .ok_or_else(missing)?;
    Ok(Parties {
        org_id: org.id,
        from: from.user.id,
        to: to.user.id,
    })
}

/// Runs one timed step after bringing the database to a settled state.
async fn timed<T>(store: &Store, label: &str, step: impl std::future::Future<Output = Result<T>>) -> Result<(T, f64)> {
    sb::settle(store).await?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("template"));
    bar.set_message(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let out = step.await;
    let secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let out = out?;
    eprintln!("{label}: {secs:.2} s");
    Ok((out, secs))
}

pub async fn run(c: BenchCommand) -> Result<()> {
    let BenchCommand::Transfer {
        database,
        cards: n,
        chunk,
        setup_only,
        reuse,
    } = c;
    let sqlite = database.starts_with("sqlite:");
    if sqlite && !reuse {
        remove_sqlite_file(&database)?;
    }
    let store = Store::connect(&database).await?;
    store.migrate().await?;
    let app = App::new(store.clone(), Arc::new(SystemClock));
    let engine = if sqlite { "sqlite" } else { "postgres" };

    let p = if reuse {
        existing(&app).await?
    } else {
        if sb::warm_up(&store).await?.0 != 0 {
            return Err(Error::bad_input(
                "database",
                "the database already has cards: give a freshly created one",
            ));
        }
        let p = setup(&app, n, chunk.max(1)).await?;
        sb::settle(&store).await?;
        p
    };
    let n = n as i64;
    let (cards, contacts, links) = sb::warm_up(&store).await?;
    check(
        "cards of the leaving user",
        sb::count_owned(&store, &p.org_id, &p.from).await?,
        n,
    )?;
    eprintln!("data: {cards} cards, {contacts} contacts, {links} tag links ({engine})");
    if setup_only {
        return Ok(());
    }

    // (a) hand-written SQL, then its undo, which leaves the data as it was.
    let (b, base_secs) = timed(
        &store,
        "baseline transfer",
        sb::baseline_transfer(&store, &p.org_id, &p.from, &p.to, app.now()),
    )
    .await?;
    check("baseline: cards moved", b.cards, n)?;
    check(
        "baseline: cards of the successor",
        sb::count_owned(&store, &p.org_id, &p.to).await?,
        n,
    )?;
    check("baseline: tag links", sb::count_links(&store).await?, links + n)?;
    let (restored, base_undo_secs) = timed(
        &store,
        "baseline undo",
        sb::baseline_undo(&store, &p.org_id, &p.from, &b, app.now()),
    )
    .await?;
    check("baseline undo: cards restored", restored, n)?;
    check(
        "baseline undo: cards of the leaving user",
        sb::count_owned(&store, &p.org_id, &p.from).await?,
        n,
    )?;
    check("baseline undo: tag links", sb::count_links(&store).await?, links)?;
    check(
        "baseline undo: cards never transferred",
        sb::count_last_transfer(&store, &p.org_id, None).await?,
        cards,
    )?;

    // (b) meishi, through the service as the API and the command line call it.
    let actor = Actor::system(&p.org_id);
    let req = TransferRequest {
        from_user_id: p.from.clone(),
        to_user_id: p.to.clone(),
        selection: SelectionInput {
            all: Some(true),
            ..Default::default()
        },
        include_tags: false,
        dry_run: false,
    };
    let (outcome, meishi_secs) = timed(
        &store,
        "meishi transfer",
        transfers::transfer(&app, &actor, req, &|_| {}),
    )
    .await?;
    let t = match outcome {
        Outcome::Done(t) => t,
        Outcome::Preview(_) => return Err(Error::internal("the transfer ran as a dry run")),
    };
    check("meishi: cards moved", t.cards, n)?;
    check("meishi: contacts", t.contacts, n * sb::CONTACTS_PER_CARD as i64)?;
    check(
        "meishi: cards of the successor",
        sb::count_owned(&store, &p.org_id, &p.to).await?,
        n,
    )?;
    check(
        "meishi: cards of the batch",
        sb::count_last_transfer(&store, &p.org_id, Some(&t.id)).await?,
        n,
    )?;
    check("meishi: tag links", sb::count_links(&store).await?, links + n)?;
    let (u, meishi_undo_secs) = timed(&store, "meishi undo", transfers::undo(&app, &actor, &t.id, &|_| {})).await?;
    check("meishi undo: cards restored", u.restored, n)?;
    check(
        "meishi undo: cards of the leaving user",
        sb::count_owned(&store, &p.org_id, &p.from).await?,
        n,
    )?;
    check("meishi undo: tag links", sb::count_links(&store).await?, links)?;
    check(
        "meishi undo: cards never transferred",
        sb::count_last_transfer(&store, &p.org_id, None).await?,
        cards,
    )?;

    let ratio = meishi_secs / base_secs;
    let undo_ratio = meishi_undo_secs / meishi_secs;
    let rss = peak_rss_mb();
    let rate = n as f64 / meishi_secs;
    println!();
    println!("{:<28} {}", "engine", engine);
    println!("{:<28} {}", "cards (N)", n);
    println!("{:<28} {:.2} s", "baseline transfer", base_secs);
    println!("{:<28} {:.2} s", "meishi transfer", meishi_secs);
    println!("{:<28} {:.2}  (target <= 1.25)", "ratio meishi/baseline", ratio);
    println!("{:<28} {:.2} s", "baseline undo", base_undo_secs);
    println!("{:<28} {:.2} s", "meishi undo", meishi_undo_secs);
    println!("{:<28} {:.2}  (target <= 1.5)", "meishi undo/transfer", undo_ratio);
    println!("{:<28} {:.0} MB  (target < 300)", "peak RSS", rss);
    println!("{:<28} {:.0}", "meishi cards/s", rate);
    println!(
        "RESULT engine={engine} cards={n} baseline_s={base_secs:.3} meishi_s={meishi_secs:.3} ratio={ratio:.3} \
         baseline_undo_s={base_undo_secs:.3} meishi_undo_s={meishi_undo_secs:.3} undo_ratio={undo_ratio:.3} \
         peak_rss_mb={rss:.0} cards_per_s={rate:.0}"
    );
    Ok(())
}
