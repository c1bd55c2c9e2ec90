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
use crate::service::{Actor, bench, orgs};
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

pub(super) fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

const FAMILY: [(&str, &str); 12] = [
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
];
const GIVEN: [(&str, &str); 10] = [
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

/// Writes the benchmark CSV: row i is a deterministic, realistic card (5,000 companies).
pub(super) fn write_csv(path: &std::path::Path, rows: usize) -> Result<u64> {
    let file = std::fs::File::create(path).map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
    let mut w = csv::WriterBuilder::new().from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    let io = |e: csv::Error| Error::internal(format!("writing the CSV: {e}"));
    w.write_record(EN_HEADER).map_err(io)?;
    for i in 0..rows {
        let (f, fr) = FAMILY[i % FAMILY.len()];
        let (g, gr) = GIVEN[(i / FAMILY.len()) % GIVEN.len()];
        let co = i % 5000;
        let date = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new((i % 2000) as u64);
        let tags = match i % 20 {
            0 => "展示会2026;重要",
            5 | 10 | 15 => "展示会2026",
            _ => "",
        };
        w.write_record([
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
        ])
        .map_err(io)?;
    }
    w.flush().map_err(|e| Error::internal(e.to_string()))?;
    Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
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

pub async fn run(b: ImportBench) -> Result<()> {
    std::fs::create_dir_all(&b.dir).map_err(|e| Error::internal(format!("{}: {e}", b.dir.display())))?;
    let csv = b.dir.join("cards.csv");
    let started = Instant::now();
    let bytes = write_csv(&csv, b.rows)?;
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
        owner_id: Some(admin.id.clone()),
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
    if report.imported != b.rows as u64 || stored != b.rows as i64 {
        return Err(Error::internal(format!(
            "benchmark check failed: imported {}, stored {stored}, expected {}",
            report.imported, b.rows
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
