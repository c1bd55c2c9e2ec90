//! `meishi bench import`: writes a CSV of N business cards (meishi's header, every field
//! filled, a quarter of the rows tagged), then, side by side in one run, times `sqlite3`'s
//! own `.import` of that file into a plain table (the baseline; SQLite only) and meishi's
//! import of it (the service, as the API and the command line run it), then meishi's export
//! of the same cards as CSV and as vCard. Prints times, rates, the ratio and memory.
//! See BENCHMARKS.md.

use crate::cli::bench::BenchCommand;
use crate::domain::{Error, Result};
use crate::formats::csv::{EN_HEADER, HeaderLang};
use crate::formats::vcard::VcardVersion;
use crate::formats::{Format, ImportMode, TextEncoding};
use crate::service::exports::{self, ExportOptions};
use crate::service::imports::{self, ImportOptions};
use crate::service::{Actor, App, bench, orgs};
use clap::{Args, Subcommand};
use std::io::Write;
use std::time::Instant;

/// `meishi bench …`: the transfer benchmark (bench.rs) and this one.
#[derive(Subcommand)]
pub enum AnyBench {
    #[command(flatten)]
    Other(BenchCommand),
    /// Time the import of an N-row CSV against sqlite3's .import, then the export
    Import(ImportBench),
    /// Time keyword searches over N cards against a full-scan LIKE
    Search(super::bench_search::SearchBench),
    /// Time a One to One send's resolution and enqueue for N cards against its SQL floor, then
    /// delivery to a local SMTP server against lettre alone
    Mail(super::bench_mail::MailBench),
    /// Time audited writes through the audit log's hash chain against a plain INSERT each
    Audit(super::bench_audit::AuditBench),
    /// Load the card list over HTTP (filters, a deep cursor, 10 % writes) against a bare
    /// handler serving the same bytes; optionally a soak, and several servers on PostgreSQL
    Http(super::bench_http::HttpBench),
}

#[derive(Args)]
pub struct ImportBench {
    /// Database URL. A sqlite:// file is a scratch database: it is deleted and made anew. A
    /// postgres:// database must be empty (freshly created).
    #[arg(long, default_value = "sqlite://meishi-bench-import.db")]
    database: String,
    /// Rows in the CSV
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Where the CSV and the baseline's database are written
    #[arg(long, default_value = "meishi-bench-import")]
    dir: std::path::PathBuf,
    /// Only the import (and its baseline): no export
    #[arg(long)]
    no_export: bool,
    /// Same-person matching's cost instead: two organisations each first get this many cards
    /// (untimed), then `--rows` more cards (some of them people met before) are imported into
    /// one with matching off and into the other with it on, back to back
    #[arg(long)]
    into: Option<usize>,
    /// With `--into`: build the two organisations and stop (copy the database aside to time
    /// again on it with `--reuse`)
    #[arg(long, requires = "into")]
    setup_only: bool,
    /// With `--into`: time on the organisations a `--setup-only` run built (SQLite: copy the
    /// saved file back first; the timed imports change it)
    #[arg(long, requires = "into", conflicts_with = "setup_only")]
    reuse: bool,
}

/// CPU seconds (user + system) of this process, and of its waited-for children (sqlite3), from
/// /proc/self/stat: on a shared machine they vary less than the wall-clock times.
pub(super) fn cpu_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name in parentheses: utime is the 14th field, cstime the 17th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| f.get(i - 3).copied().unwrap_or(0.0) / tick;
    (get(14) + get(15), get(16) + get(17))
}

pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub(super) fn rss_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// SQLite's own heap (page caches, FTS5's pending entries, sorters), its peak since the last
/// call, in MB; the rest of the RSS is meishi's and the binary's.
pub(super) fn sqlite_peak_mb() -> f64 {
    // SAFETY: plain reads of SQLite's global memory statistics (reset = 1).
    unsafe { libsqlite3_sys::sqlite3_memory_highwater(1) as f64 / 1048576.0 }
}

pub(super) fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

const FAMILY: [(&str, &str); 30] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("髙橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山﨑", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
];
const GIVEN: [(&str, &str); 30] = [
    ("一郎", "イチロウ"),
    ("花子", "ハナコ"),
    ("健太", "ケンタ"),
    ("美咲", "ミサキ"),
    ("翔太", "ショウタ"),
    ("陽子", "ヨウコ"),
    ("大輔", "ダイスケ"),
    ("由美", "ユミ"),
    ("拓也", "タクヤ"),
    ("愛", "アイ"),
    ("蓮", "レン"),
    ("陽菜", "ヒナ"),
    ("大翔", "ヒロト"),
    ("結衣", "ユイ"),
    ("悠真", "ユウマ"),
    ("さくら", "サクラ"),
    ("湊", "ミナト"),
    ("葵", "アオイ"),
    ("颯太", "ソウタ"),
    ("凛", "リン"),
    ("誠", "マコト"),
    ("恵子", "ケイコ"),
    ("浩", "ヒロシ"),
    ("裕子", "ユウコ"),
    ("隆", "タカシ"),
    ("直美", "ナオミ"),
    ("修", "オサム"),
    ("久美子", "クミコ"),
    ("剛", "ツヨシ"),
    ("明美", "アケミ"),
];
const DEPTS: [&str; 6] = [
    "営業部",
    "営業本部 第一営業部",
    "開発部",
    "総務部",
    "経営企画室",
    "購買部",
];
const TITLES: [&str; 6] = ["", "主任", "係長", "課長", "部長", "代表取締役"];

/// Writes a benchmark CSV: meishi's header, then the record `row(i)` makes for each `i` of
/// `range`; returns the file's size.
fn write_rows(path: &std::path::Path, range: std::ops::Range<u64>, row: impl Fn(u64) -> [String; 16]) -> Result<u64> {
    let file = std::fs::File::create(path).map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
    let mut w = csv::WriterBuilder::new().from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    let io = |e: csv::Error| Error::internal(format!("writing the CSV: {e}"));
    w.write_record(EN_HEADER).map_err(io)?;
    for i in range {
        w.write_record(row(i)).map_err(io)?;
    }
    w.flush().map_err(|e| Error::internal(e.to_string()))?;
    Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
}

/// The search benchmark's names: the first of each list.
const PLAIN_FAMILY: usize = 12;
const PLAIN_GIVEN: usize = 10;

/// The search benchmark's CSV (`bench search`; its query terms are taken from these cards): row
/// i is a deterministic card of 12 family and 10 given names, 5,000 companies, phones
/// `03-{co}-{i}`. Its people repeat in long periods (the same name at the same address every
/// 360 rows), which makes it no data for same-person matching: imported with matching off.
pub(super) fn write_plain_csv(path: &std::path::Path, rows: usize) -> Result<u64> {
    write_rows(path, 0..rows as u64, |i| {
        let i = i as usize;
        let (f, fr) = FAMILY[i % PLAIN_FAMILY];
        let (g, gr) = GIVEN[(i / PLAIN_FAMILY) % PLAIN_GIVEN];
        let co = i % 5000;
        let date = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new((i % 2000) as u64);
        let tags = match i % 20 {
            0 => "展示会2026;重要",
            5 | 10 | 15 => "展示会2026",
            _ => "",
        };
        [
            format!("{f} {g}"),
            format!("{fr} {gr}"),
            format!("株式会社サンプル{co:04}"),
            DEPTS[i % DEPTS.len()].to_string(),
            TITLES[(i / 7) % TITLES.len()].to_string(),
            format!("user{i}@c{co:04}.example.jp"),
            format!("03-{:04}-{:04}", co, i % 10000),
            format!("090-{:04}-{:04}", (i / 10000) % 10000, i % 10000),
            format!("03-{:04}-{:04}", co, (i + 1) % 10000),
            format!("100-{:04}", i % 10000),
            format!(
                "東京都千代田区丸の内{}-{}-{} サンプルビル{}階",
                i % 3 + 1,
                i % 9 + 1,
                i % 30 + 1,
                i % 40 + 1
            ),
            format!("https://www.c{co:04}.example.jp/"),
            date.format("%Y-%m-%d").to_string(),
            tags.to_string(),
            String::new(),
            String::new(),
        ]
    })
}

/// A row's pseudo-random draws (splitmix64): the same for the same row, on every run.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One row in this many is a person of an earlier row met again: same name and mail, a later
/// exchange date, and a new title (even rows) or a new mobile number (odd rows): news.
const MET_AGAIN_EVERY: u64 = 25;

/// Writes the benchmark CSV: rows `first..first + rows`, each a deterministic, realistic card
/// (900 names, 5,000 companies, drawn per person); one in `MET_AGAIN_EVERY` is an earlier row's
/// person again. Other rows meet the same-person rule only by chance (the same name at the same
/// address, or in the same company and department): a few percent, as in real card bases.
pub(super) fn write_csv(path: &std::path::Path, first: usize, rows: usize) -> Result<u64> {
    let day0 = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    write_rows(path, first as u64..(first + rows) as u64, |i| {
        let again = i >= MET_AGAIN_EVERY && i % MET_AGAIN_EVERY == 0;
        let p = if again { mix(i) % i } else { i };
        let h = mix(p);
        let draw = |shift: u32, n: u64| ((h >> shift) % n) as usize;
        let h2 = mix(p ^ 0x5555_5555_5555_5555);
        let place = |shift: u32, n: u64| ((h2 >> shift) % n) as usize;
        let (f, fr) = FAMILY[draw(0, FAMILY.len() as u64)];
        let (g, gr) = GIVEN[draw(8, GIVEN.len() as u64)];
        let co = draw(16, 5000);
        let mut title = draw(30, TITLES.len() as u64);
        let mut mobile = (draw(34, 10000), (p % 10000) as usize);
        let mut date = day0 + chrono::Days::new(draw(48, 1500) as u64);
        if again {
            date = date + chrono::Days::new(30 + i % 300);
            if i % 2 == 0 {
                title = (title + 1) % TITLES.len();
            } else {
                mobile = (draw(20, 10000), (i % 10000) as usize);
            }
        }
        let tags = match i % 20 {
            0 => "展示会2026;重要",
            5 | 10 | 15 => "展示会2026",
            _ => "",
        };
        [
            format!("{f} {g}"),
            format!("{fr} {gr}"),
            format!("株式会社サンプル{co:04}"),
            DEPTS[draw(26, DEPTS.len() as u64)].to_string(),
            TITLES[title].to_string(),
            format!("user{p}@c{co:04}.example.jp"),
            format!("03-{:04}-{:04}", co, draw(40, 10000)),
            format!("090-{:04}-{:04}", mobile.0, mobile.1),
            format!("03-{:04}-{:04}", co, draw(44, 10000)),
            format!("100-{:04}", draw(12, 10000)),
            format!(
                "東京都千代田区丸の内{}-{}-{} サンプルビル{}階",
                place(0, 3) + 1,
                place(8, 9) + 1,
                place(16, 30) + 1,
                place(24, 40) + 1
            ),
            format!("https://www.c{co:04}.example.jp/"),
            date.format("%Y-%m-%d").to_string(),
            tags.to_string(),
            String::new(),
            String::new(),
        ]
    })
}

/// `sqlite3 DB ".mode csv" ".import FILE cards_plain"`: the CLI's own import, timed as a whole.
fn sqlite3_import(csv: &std::path::Path, db: &std::path::Path) -> Result<f64> {
    remove_sqlite(db);
    let started = Instant::now();
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(".mode csv")
        .arg(format!(".import '{}' cards_plain", csv.display()))
        .output()
        .map_err(|e| Error::internal(format!("cannot run sqlite3 (apt-get install -y sqlite3): {e}")))?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(Error::internal(format!(
            "sqlite3 .import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(secs)
}

/// Not the target's baseline, a diagnostic: what SQLite alone takes to put the same rows into
/// meishi's real `cards` table the way a large import does (`store::imports::CardWriter`): in
/// one transaction, the two indexes dropped, the rows copied (WAL, the import's page cache),
/// the indexes created again with the smaller cache; timed until committed, the checkpoint
/// left out as meishi's is; no application code at all. `sqlite3` runs `INSERT INTO cards
/// SELECT … FROM` the baseline's plain table (ids made by printf, as wide and as ordered as
/// UUIDv7s; the company as its key; no tag links). The gap between this and `.import` is the
/// price of the schema; the gap between meishi and this is meishi's own. The script is
/// `store::bench::sql_floor_script`.
async fn sql_floor(dir: &std::path::Path, plain: &std::path::Path) -> Result<f64> {
    let db = dir.join("floor.db");
    remove_sqlite(&db);
    let script = {
        let app = super::open(&format!("sqlite://{}", db.display())).await?;
        let (org, admin) = orgs::init(
            &app,
            orgs::NewOrganization {
                name: "フロア株式会社",
                slug: Some("bench-floor"),
                admin_email: "admin@floor.example",
                admin_name: "床 太郎",
                admin_password: "bench-floor-password",
            },
        )
        .await?;
        bench::sql_floor_script(app, &org.id, &admin.id, plain).await?
    };
    let started = Instant::now();
    let mut child = std::process::Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::internal(format!("cannot run sqlite3: {e}")))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .map_err(|e| Error::internal(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| Error::internal(e.to_string()))?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() || !out.stderr.is_empty() {
        return Err(Error::internal(format!(
            "sqlite3 INSERT … SELECT failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    remove_sqlite(&db);
    Ok(secs)
}

/// Resets this process's peak RSS (VmHWM) to its current RSS, so that a phase's peak is its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// `--into`'s two organisations, each given the base CSV with matching on (untimed as a pair).
async fn setup_into(app: &App, base: &std::path::Path) -> Result<Vec<(String, String)>> {
    let mut orgs_made = Vec::new();
    for (slug, name) in [
        ("bench-off", "ベンチ株式会社 (照合なし)"),
        ("bench-on", "ベンチ株式会社 (照合あり)"),
    ] {
        let (org, admin) = orgs::init(
            app,
            orgs::NewOrganization {
                name,
                slug: Some(slug),
                admin_email: "admin@bench.example",
                admin_name: "管理 太郎",
                admin_password: "bench-import-password",
            },
        )
        .await?;
        let opts = ImportOptions {
            format: Some(Format::Csv),
            ..ImportOptions::new(Some(admin.id.clone()))
        };
        let file = std::fs::File::open(base).map_err(|e| Error::internal(e.to_string()))?;
        reset_peak_rss();
        let started = Instant::now();
        let r = imports::import(app, &Actor::system(&org.id), Box::new(file), opts, None).await?;
        let secs = started.elapsed().as_secs_f64();
        bench::checkpoint_done(app).await;
        eprintln!(
            "{slug}: {} base cards imported with matching in {secs:.2} s ({:.0} rows/s), peak RSS {:.0} MB, {} duplicates skipped",
            r.imported,
            r.imported as f64 / secs,
            rss_mb("VmHWM:"),
            r.duplicates
        );
        orgs_made.push((org.id, admin.id));
    }
    Ok(orgs_made)
}

/// `--into N`: the cost of same-person matching and news on an import into a large organisation.
async fn run_into(b: &ImportBench, into: usize) -> Result<()> {
    let base = b.dir.join("base.csv");
    let more = b.dir.join("more.csv");
    if !b.reuse {
        write_csv(&base, 0, into)?;
        if let Some(path) = b.database.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            remove_sqlite(std::path::Path::new(path.split('?').next().unwrap_or(path)));
        }
    }
    let bytes = write_csv(&more, into, b.rows)?;
    let app = super::open(&b.database).await?;
    let load_start = load_average();
    let orgs_made = if b.reuse {
        bench::bench_orgs(&app, &["bench-off", "bench-on"]).await?
    } else {
        setup_into(&app, &base).await?
    };
    if b.setup_only {
        println!("set up: two organisations of {into} cards in {}", b.database);
        return Ok(());
    }
    let mut timed = Vec::new();
    for ((org_id, admin_id), matching) in orgs_made.iter().zip([false, true]) {
        let (_, _, news_before) = bench::count_people(&app, org_id).await?;
        let opts = ImportOptions {
            format: Some(Format::Csv),
            same_person: matching,
            ..ImportOptions::new(Some(admin_id.clone()))
        };
        let file = std::fs::File::open(&more).map_err(|e| Error::internal(e.to_string()))?;
        reset_peak_rss();
        sqlite_peak_mb();
        let cpu_before = cpu_secs().0;
        let started = Instant::now();
        let r = imports::import(&app, &Actor::system(org_id), Box::new(file), opts, None).await?;
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_secs().0 - cpu_before;
        let peak = rss_mb("VmHWM:");
        let sqlite_peak = sqlite_peak_mb();
        bench::checkpoint_done(&app).await;
        let (people, unplaced, news) = bench::count_people(&app, org_id).await?;
        timed.push((
            matching,
            secs,
            cpu,
            peak,
            sqlite_peak,
            r.imported,
            r.duplicates,
            people,
            unplaced,
            news - news_before,
        ));
    }
    let engine = if b.database.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    println!();
    println!(
        "import of {} CSV rows ({:.0} MB) into an organisation holding {into} cards, {engine}",
        b.rows,
        bytes as f64 / 1e6
    );
    println!(
        "  load average {load_start} at the start, {} at the end",
        load_average()
    );
    for (matching, secs, cpu, peak, sqlite_peak, imported, dups, people, unplaced, news) in &timed {
        println!(
            "  matching {:<3}  {secs:>7.2} s  {:>9.0} rows/s  {cpu:.2} s CPU  peak RSS {peak:.0} MB (SQLite's heap {sqlite_peak:.0} MB)  \
             imported {imported}, duplicates {dups}; organisation: {people} people, {unplaced} cards without one, {news} news items new",
            if *matching { "on" } else { "off" },
            *imported as f64 / secs,
        );
    }
    println!("  ratio on / off {:>8.2}   (target ≤ 2)", timed[1].1 / timed[0].1);
    Ok(())
}

pub async fn run(b: ImportBench) -> Result<()> {
    std::fs::create_dir_all(&b.dir).map_err(|e| Error::internal(format!("{}: {e}", b.dir.display())))?;
    if let Some(into) = b.into {
        return run_into(&b, into).await;
    }
    let csv = b.dir.join("cards.csv");
    let started = Instant::now();
    let bytes = write_csv(&csv, 0, b.rows)?;
    eprintln!(
        "wrote {} rows ({:.0} MB) to {} in {:.1} s",
        b.rows,
        bytes as f64 / 1e6,
        csv.display(),
        started.elapsed().as_secs_f64()
    );
    let sqlite = b.database.starts_with("sqlite:");
    if sqlite {
        let path = b.database.trim_start_matches("sqlite:").trim_start_matches("//");
        remove_sqlite(std::path::Path::new(path.split('?').next().unwrap_or(path)));
    }
    let load_start = load_average();
    let baseline = if sqlite {
        let child_cpu = cpu_secs().1;
        let secs = sqlite3_import(&csv, &b.dir.join("baseline.db"))?;
        let cpu = cpu_secs().1 - child_cpu;
        eprintln!("sqlite3 .import: {secs:.2} s ({cpu:.2} s CPU)");
        let child_cpu = cpu_secs().1;
        let floor = sql_floor(&b.dir, &b.dir.join("baseline.db")).await?;
        let floor_cpu = cpu_secs().1 - child_cpu;
        eprintln!("sqlite3 INSERT … SELECT into meishi's cards table: {floor:.2} s ({floor_cpu:.2} s CPU)");
        Some((secs, cpu, floor, floor_cpu))
    } else {
        None
    };

    let app = super::open(&b.database).await?;
    let (org, admin) = orgs::init(
        &app,
        orgs::NewOrganization {
            name: "ベンチ株式会社",
            slug: Some("bench-import"),
            admin_email: "admin@bench.example",
            admin_name: "管理 太郎",
            admin_password: "bench-import-password",
        },
    )
    .await?;
    let actor = Actor::system(&org.id);
    let opts = ImportOptions {
        format: Some(Format::Csv),
        encoding: TextEncoding::Auto,
        mode: ImportMode::AllOrNothing,
        ..ImportOptions::new(Some(admin.id.clone()))
    };
    let file = std::fs::File::open(&csv).map_err(|e| Error::internal(e.to_string()))?;
    let rss_before = rss_mb("VmRSS:");
    let cpu_before = cpu_secs().0;
    let started = Instant::now();
    let report = imports::import(&app, &actor, Box::new(file), opts, None).await?;
    let import_secs = started.elapsed().as_secs_f64();
    let import_cpu = cpu_secs().0 - cpu_before;
    let import_peak = rss_mb("VmHWM:");
    // The WAL's copy into the database file, which the import leaves to the background:
    // timed on its own, so that the figures say what the caller waits for and what follows.
    let cpu_before = cpu_secs().0;
    let started = Instant::now();
    bench::checkpoint_done(&app).await;
    let (checkpoint_secs, checkpoint_cpu) = (started.elapsed().as_secs_f64(), cpu_secs().0 - cpu_before);
    let stored = bench::count_cards(&app, &org.id).await?;
    // The CSV meets some people again with the very same card: those are skipped duplicates.
    if report.imported + report.duplicates != b.rows as u64 || stored != report.imported as i64 {
        return Err(Error::internal(format!(
            "benchmark check failed: imported {} and {} duplicates skipped, stored {stored}, expected {} rows",
            report.imported, report.duplicates, b.rows
        )));
    }

    let mut exports_timed = Vec::new();
    let formats: &[(&str, Format, VcardVersion)] = if b.no_export {
        &[]
    } else {
        &[
            ("CSV", Format::Csv, VcardVersion::V4),
            ("vCard 4.0", Format::Vcard, VcardVersion::V4),
        ]
    };
    for &(label, format, version) in formats {
        let cpu_before = cpu_secs().0;
        let started = Instant::now();
        let mut ex = exports::export(
            &app,
            &actor,
            ExportOptions {
                format,
                owner_id: None,
                tag_id: None,
                encoding: TextEncoding::Utf8,
                version,
                header: HeaderLang::En,
                formula_guard: true,
            },
        )
        .await?;
        let (mut out_bytes, mut max_rss, mut chunks) = (0u64, 0f64, 0u64);
        let mut sink = std::io::sink();
        while let Some(chunk) = ex.body.recv().await {
            let chunk = chunk?;
            out_bytes += chunk.len() as u64;
            let _ = sink.write_all(&chunk);
            chunks += 1;
            if chunks % 50 == 0 {
                max_rss = max_rss.max(rss_mb("VmRSS:"));
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_secs().0 - cpu_before;
        exports_timed.push((label, secs, cpu, out_bytes, max_rss.max(rss_mb("VmRSS:"))));
    }

    let engine = if sqlite { "SQLite" } else { "PostgreSQL" };
    let n = b.rows as f64;
    println!();
    println!(
        "import of {} CSV rows ({:.0} MB) into {engine}",
        b.rows,
        bytes as f64 / 1e6
    );
    println!(
        "  load average {load_start} at the start, {} at the end",
        load_average()
    );
    if let Some((base, cpu, floor, floor_cpu)) = baseline {
        println!(
            "  sqlite3 .import (plain table)   {base:>8.2} s  {:>10.0} rows/s   {cpu:.2} s CPU",
            n / base
        );
        println!(
            "  sqlite3 INSERT…SELECT into cards {floor:>7.2} s  {:>10.0} rows/s   {floor_cpu:.2} s CPU (diagnostic: SQLite alone, as meishi loads; ratio {:.2})",
            n / floor,
            floor / base
        );
    }
    println!(
        "  meishi import                   {import_secs:>8.2} s  {:>10.0} rows/s   {import_cpu:.2} s CPU (all threads), {} tags created",
        n / import_secs,
        report.tags_created
    );
    if sqlite {
        println!(
            "  then the WAL checkpoint          {checkpoint_secs:>7.2} s                  {checkpoint_cpu:.2} s CPU (in the background; import + checkpoint {:.2} s, {:.0} rows/s)",
            import_secs + checkpoint_secs,
            n / (import_secs + checkpoint_secs)
        );
    }
    if let Some((base, cpu, _, _)) = baseline {
        println!(
            "  ratio meishi / sqlite3          {:>8.2}            (CPU time ratio {:.2}; with the checkpoint {:.2})",
            import_secs / base,
            import_cpu / cpu,
            (import_secs + checkpoint_secs) / base
        );
    }
    println!("  peak RSS                        {import_peak:>8.0} MB (RSS {rss_before:.0} MB before the import)");
    for (label, secs, cpu, out_bytes, rss) in exports_timed {
        println!(
            "export as {label:<10}             {secs:>8.2} s  {:>10.0} cards/s  {cpu:.2} s CPU, {:.0} MB written, RSS at most {rss:.0} MB",
            n / secs,
            out_bytes as f64 / 1e6
        );
    }
    Ok(())
}
