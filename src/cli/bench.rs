//! `meishi bench transfer`: builds one user's N cards (2 contacts, 2 tags each), then times,
//! on the same engine and data, a hand-written SQL transfer of all of them and its undo
//! (`service::bench`, its SQL in `store::bench`), and meishi's own transfer and undo (the
//! service, as the API and the command line run it). Prints both times, their ratio and the
//! process's peak memory. See BENCHMARKS.md.

use crate::domain::transfer::SelectionInput;
use crate::domain::{Error, Result};
use crate::service::bench::{self as sb, Parties};
use crate::service::transfers::{self, Outcome, TransferRequest};
use crate::service::{Actor, App, orgs};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
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
        /// Rounds of both contenders, alternating which goes first; the best time of each counts
        #[arg(long, default_value_t = 1)]
        rounds: usize,
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
pub(super) fn peak_rss_mb() -> f64 {
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
pub(super) fn remove_sqlite_file(url: &str) -> Result<()> {
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
    let [from, to] =
        sb::insert_members(app, &org.id, [(FROM_EMAIL, "退職 予定"), (TO_EMAIL, "後任 担当")], now).await?;
    let tag_ids = sb::create_tags(app, &org.id, &from, now).await?;

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
        rows += sb::insert_chunk(app, &org.id, &from, &tag_ids, done, k, now).await?;
        done += k;
        bar.set_position(done as u64);
        let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("{rows} rows, {rate:.0} rows/s"));
    }
    bar.finish();
    Ok(Parties {
        org_id: org.id,
        from,
        to,
    })
}

async fn existing(app: &App) -> Result<Parties> {
    let missing = || Error::bad_input("reuse", "no benchmark data here: run once with --setup-only first");
    sb::find_parties(app, SLUG, FROM_EMAIL, TO_EMAIL)
        .await?
        .ok_or_else(missing)
}

/// Wall-clock and CPU seconds of one step.
#[derive(Clone, Copy)]
struct Secs {
    wall: f64,
    cpu: f64,
}

/// User + system CPU seconds of a process, from /proc (clock ticks of 1/100 s on Linux).
pub(super) fn proc_cpu(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The fields after the command name, which is in parentheses and may hold spaces.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .map(|ticks| ticks / 100.0)
        .unwrap_or(0.0)
}

/// CPU seconds used so far by the engine's work: this process (SQLite runs inside it) and,
/// for a PostgreSQL server on this machine, the backends serving this database. Unlike the
/// wall clock it does not grow when other work competes for the cores; it leaves out waiting
/// for the disk, and PostgreSQL's background writers.
async fn cpu_seconds(app: &App) -> Result<f64> {
    let mut total = proc_cpu("self");
    for pid in sb::backend_pids(app).await? {
        // A server elsewhere has its own pids: count only PostgreSQL processes seen here.
        let pid = pid.to_string();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            total += proc_cpu(&pid);
        }
    }
    Ok(total)
}

/// Runs one timed step after bringing the database to a settled state.
async fn timed<T>(app: &App, label: &str, step: impl std::future::Future<Output = Result<T>>) -> Result<(T, Secs)> {
    sb::settle(app).await?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("template"));
    bar.set_message(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    let cpu = cpu_seconds(app).await?;
    let started = Instant::now();
    let out = step.await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(app).await? - cpu;
    bar.finish_and_clear();
    let out = out?;
    eprintln!("{label}: {wall:.2} s (cpu {cpu:.2} s)");
    Ok((out, Secs { wall, cpu }))
}

/// What every step is checked against: the data as the setup left it.
struct Expect {
    n: i64,
    cards: i64,
    links: i64,
}

/// (a) The hand-written SQL, then its undo, which leaves the data as it was.
async fn baseline(app: &App, p: &Parties, e: &Expect, round: usize) -> Result<(Secs, Secs)> {
    let label = |s: &str| format!("round {round}: baseline {s}");
    let (b, secs) = timed(
        app,
        &label("transfer"),
        sb::baseline_transfer(app, &p.org_id, &p.from, &p.to, app.now()),
    )
    .await?;
    check("baseline: cards moved", b.cards, e.n)?;
    check("baseline: contacts", b.contacts, e.n * sb::CONTACTS_PER_CARD as i64)?;
    check(
        "baseline: cards of the successor",
        sb::count_owned(app, &p.org_id, &p.to).await?,
        e.n,
    )?;
    check("baseline: tag links", sb::count_links(app).await?, e.links + e.n)?;
    let (restored, undo_secs) = timed(
        app,
        &label("undo"),
        sb::baseline_undo(app, &p.org_id, &p.from, &b, app.now()),
    )
    .await?;
    check("baseline undo: cards restored", restored, e.n)?;
    restored_as_before(app, p, e, "baseline undo").await?;
    Ok((secs, undo_secs))
}

/// (b) meishi, through the service, as the API and `meishi transfer` call it; then its undo.
async fn meishi(app: &App, p: &Parties, e: &Expect, round: usize) -> Result<(Secs, Secs)> {
    let label = |s: &str| format!("round {round}: meishi {s}");
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
    let (outcome, secs) = timed(app, &label("transfer"), transfers::transfer(app, &actor, req, &|_| {})).await?;
    let t = match outcome {
        Outcome::Done(t) => t,
        Outcome::Preview(_) => return Err(Error::internal("the transfer ran as a dry run")),
    };
    check("meishi: cards moved", t.cards, e.n)?;
    check("meishi: contacts", t.contacts, e.n * sb::CONTACTS_PER_CARD as i64)?;
    check(
        "meishi: cards of the successor",
        sb::count_owned(app, &p.org_id, &p.to).await?,
        e.n,
    )?;
    check(
        "meishi: cards of the batch",
        sb::count_last_transfer(app, &p.org_id, Some(&t.id)).await?,
        e.n,
    )?;
    check("meishi: tag links", sb::count_links(app).await?, e.links + e.n)?;
    let (u, undo_secs) = timed(app, &label("undo"), transfers::undo(app, &actor, &t.id, &|_| {})).await?;
    check("meishi undo: cards restored", u.restored, e.n)?;
    check("meishi undo: cards skipped", u.skipped, 0)?;
    restored_as_before(app, p, e, "meishi undo").await?;
    Ok((secs, undo_secs))
}

async fn restored_as_before(app: &App, p: &Parties, e: &Expect, what: &str) -> Result<()> {
    check(
        &format!("{what}: cards of the leaving user"),
        sb::count_owned(app, &p.org_id, &p.from).await?,
        e.n,
    )?;
    check(&format!("{what}: tag links"), sb::count_links(app).await?, e.links)?;
    check(
        &format!("{what}: cards never transferred"),
        sb::count_last_transfer(app, &p.org_id, None).await?,
        e.cards,
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

pub async fn run(c: BenchCommand) -> Result<()> {
    let BenchCommand::Transfer {
        database,
        cards: n,
        chunk,
        rounds,
        setup_only,
        reuse,
    } = c;
    let sqlite = database.starts_with("sqlite:");
    if sqlite && !reuse {
        remove_sqlite_file(&database)?;
    }
    let app = super::open(&database).await?;
    let engine = if sqlite { "sqlite" } else { "postgres" };

    let p = if reuse {
        existing(&app).await?
    } else {
        if sb::warm_up(&app).await?.0 != 0 {
            return Err(Error::bad_input(
                "database",
                "the database already has cards: give a freshly created one",
            ));
        }
        let p = setup(&app, n, chunk.max(1)).await?;
        sb::analyze(&app).await?;
        sb::settle(&app).await?;
        p
    };
    let (cards, contacts, links) = sb::warm_up(&app).await?;
    let e = Expect {
        n: n as i64,
        cards,
        links,
    };
    check(
        "cards of the leaving user",
        sb::count_owned(&app, &p.org_id, &p.from).await?,
        e.n,
    )?;
    eprintln!("data: {cards} cards, {contacts} contacts, {links} tag links ({engine})");
    if setup_only {
        return Ok(());
    }

    // Each round runs both contenders on the same data; the order alternates so that neither
    // always runs on the other's leftovers. Every figure is the best of the rounds.
    // The first rewrite of every card grows its row (last_transfer_id gets a value) and splits
    // the freshly loaded, full pages; undo does not merge them back. A first transfer on new
    // data therefore costs about half of every later one. One untimed cycle brings the data
    // to that steady state before either contender is timed.
    eprintln!("conditioning: one baseline transfer and undo, not counted");
    baseline(&app, &p, &e, 0).await?;
    let load_before = load_average();
    let mut steps: [Vec<Secs>; 4] = Default::default();
    for round in 1..=rounds.max(1) {
        let (b, m) = if round % 2 == 1 {
            let b = baseline(&app, &p, &e, round).await?;
            (b, meishi(&app, &p, &e, round).await?)
        } else {
            let m = meishi(&app, &p, &e, round).await?;
            (baseline(&app, &p, &e, round).await?, m)
        };
        for (i, s) in [b.0, b.1, m.0, m.1].into_iter().enumerate() {
            steps[i].push(s);
        }
    }
    let load_after = load_average();
    let best = |i: usize| Secs {
        wall: min(&steps[i].iter().map(|s| s.wall).collect::<Vec<_>>()),
        cpu: min(&steps[i].iter().map(|s| s.cpu).collect::<Vec<_>>()),
    };
    let (base, base_undo, mei, mei_undo) = (best(0), best(1), best(2), best(3));
    let ratio = mei.wall / base.wall;
    let undo_ratio = mei_undo.wall / mei.wall;
    let ratio_cpu = mei.cpu / base.cpu;
    let undo_ratio_cpu = mei_undo.cpu / mei.cpu;
    let rss = peak_rss_mb();
    let rate = n as f64 / mei.wall;
    let rounds = rounds.max(1);
    let row = |name: &str, s: Secs| println!("{name:<28} {:>8.2} s {:>8.2} s", s.wall, s.cpu);
    let ratio_row =
        |name: &str, w: f64, c: f64, target: &str| println!("{name:<28} {w:>8.2}   {c:>8.2}    (target {target})");
    println!();
    println!("{:<28} {engine}, {n} cards, best of {rounds} round(s)", "engine");
    println!("{:<28} {:>10} {:>10}", "", "wall", "cpu");
    row("baseline transfer", base);
    row("meishi transfer", mei);
    ratio_row("ratio meishi/baseline", ratio, ratio_cpu, "<= 1.25");
    row("baseline undo", base_undo);
    row("meishi undo", mei_undo);
    ratio_row("meishi undo/transfer", undo_ratio, undo_ratio_cpu, "<= 1.5");
    println!("{:<28} {rss:.0} MB  (target < 300)", "peak RSS");
    println!("{:<28} {rate:.0}", "meishi cards/s");
    println!("{:<28} {load_before} -> {load_after}", "load average");
    println!(
        "RESULT engine={engine} cards={n} rounds={rounds} baseline_s={:.3} meishi_s={:.3} ratio={ratio:.3} \
         baseline_undo_s={:.3} meishi_undo_s={:.3} undo_ratio={undo_ratio:.3} peak_rss_mb={rss:.0} \
         cards_per_s={rate:.0} baseline_cpu_s={:.3} meishi_cpu_s={:.3} ratio_cpu={ratio_cpu:.3} \
         baseline_undo_cpu_s={:.3} meishi_undo_cpu_s={:.3} undo_ratio_cpu={undo_ratio_cpu:.3} load=\"{load_after}\"",
        base.wall, mei.wall, base_undo.wall, mei_undo.wall, base.cpu, mei.cpu, base_undo.cpu, mei_undo.cpu
    );
    Ok(())
}
