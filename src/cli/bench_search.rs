//! `meishi bench search`: loads N cards through the import (the benchmark CSV of
//! `bench import`, set-based, index and all), then times keyword searches of each kind through
//! the service the API calls (`service::cards::list`, first page, default order and limit),
//! side by side with the full-scan `LIKE` baseline on the same data in the same run. Prints
//! p50/p99 per kind, their ratio, the index's size and the peak memory. See BENCHMARKS.md.

use super::bench_import::{cpu_secs, load_average, remove_sqlite, rss_mb, write_plain_csv};
use crate::domain::{Error, Result};
use crate::formats::{Format, ImportMode, TextEncoding};
use crate::service::cards::{self, CardQuery};
use crate::service::imports::ImportOptions;
use crate::service::{Actor, App, bench, imports, orgs};
use clap::Args;
use std::time::Instant;

#[derive(Args)]
pub struct SearchBench {
    /// Database URL. A sqlite:// file is a scratch database: it is deleted and made anew. A
    /// postgres:// database must be empty (freshly created).
    #[arg(long, default_value = "sqlite://meishi-bench-search.db")]
    database: String,
    /// Cards loaded
    #[arg(long, default_value_t = 1_000_000)]
    cards: usize,
    /// Timed queries per kind (terms taken in turn)
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Timed baseline queries per kind (a full scan each for a rare term)
    #[arg(long, default_value_t = 10)]
    baseline_queries: usize,
    /// Where the CSV is written
    #[arg(long, default_value = "meishi-bench-search")]
    dir: std::path::PathBuf,
    /// Search the cards a previous run left in this database instead of loading them
    #[arg(long)]
    reuse: bool,
}

const SLUG: &str = "bench-search";
const ADMIN: &str = "admin@bench-search.example";

/// The query kinds and their terms, all taken from the benchmark CSV's cards (`write_plain_csv`):
/// family and given names, readings, 5,000 companies, departments, titles, mail addresses
/// `user{i}@c{co}.example.jp`, phones `03-{co}-{i}` and mobiles `090-…`.
fn kinds(n: usize) -> Vec<(&'static str, Vec<String>)> {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let k = |i: usize| (i * 7919) % n.max(1);
    vec![
        (
            "1 kanji",
            own(&[
                "佐", "藤", "鈴", "木", "高", "橋", "田", "中", "伊", "辺", "山", "本", "村", "林", "加", "吉", "郎",
                "花", "健", "美", "咲", "営", "総", "務", "開", "課", "長", "係", "代", "鑫",
            ]),
        ),
        (
            "2 kanji",
            own(&[
                "佐藤", "鈴木", "髙橋", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
                "一郎", "花子", "健太", "美咲", "営業", "開発", "総務", "購買", "課長", "部長", "係長", "主任", "取締",
                "本部", "企画", "会社", "藤美",
            ]),
        ),
        (
            "3 kanji",
            own(&[
                "佐藤一",
                "鈴木花",
                "髙橋健",
                "田中美",
                "伊藤翔",
                "渡辺陽",
                "山本大",
                "中村由",
                "小林拓",
                "加藤愛",
                "営業部",
                "開発部",
                "総務部",
                "購買部",
                "代表取",
                "株式会",
                "藤一郎",
                "木花子",
                "経営企",
                "第一営",
            ]),
        ),
        (
            "5 kanji",
            own(&[
                "第一営業部",
                "経営企画室",
                "代表取締役",
                "営業本部第",
                "本部第一営",
                "株式会社サ",
                "式会社サン",
                "佐藤一郎x",
                "山本美咲鈴",
                "田中健太郎",
            ]),
        ),
        (
            "reading (hiragana)",
            own(&[
                "さとう",
                "すずき",
                "たかはし",
                "たなか",
                "いとう",
                "わたなべ",
                "やまもと",
                "なかむら",
                "こばやし",
                "かとう",
                "よしだ",
                "やまだ",
                "いちろう",
                "はなこ",
                "けんた",
                "みさき",
                "さとういちろう",
                "やまもとけんた",
                "ななし",
                "まもと",
            ]),
        ),
        (
            "phone fragment",
            (0..20)
                .map(|i| match i % 4 {
                    0 => format!("03-{:04}", k(i) % 5000),
                    1 => format!("{:04}-{:04}", k(i) % 5000, k(i + 1) % 10000),
                    2 => format!("090{:04}{:04}", (k(i) / 10000) % 10000, k(i) % 10000),
                    _ => format!("{:04}-{:02}", k(i) % 10000, k(i) % 100),
                })
                .collect(),
        ),
        (
            "e-mail fragment",
            (0..20)
                .map(|i| match i % 4 {
                    0 => format!("user{}@", k(i)),
                    1 => format!("c{:04}.example", k(i) % 5000),
                    2 => format!("user{}", k(i) % 1000),
                    _ => format!("r{}@c{:04}", k(i), k(i) % 5000),
                })
                .collect(),
        ),
        (
            "rare",
            (0..20)
                .map(|i| match i % 4 {
                    0 => format!("user{}@c", k(i)),
                    1 => format!("090-{:04}-{:04}", (k(i) / 10000) % 10000, k(i) % 10000),
                    2 => ["存在しない名前", "鑫", "zzqx", "ヴァ"][i / 4 % 4].to_string(),
                    _ => format!("サンプル{:04}", k(i) % 5000),
                })
                .collect(),
        ),
        (
            "common",
            own(&[
                "株式会社",
                "サンプル",
                "部",
                "example",
                "営業",
                "jp",
                "@",
                "0",
                "ン",
                "会社",
            ]),
        ),
    ]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub async fn run(b: SearchBench) -> Result<()> {
    let sqlite = b.database.starts_with("sqlite:");
    if sqlite && !b.reuse {
        let path = b.database.trim_start_matches("sqlite:").trim_start_matches("//");
        remove_sqlite(std::path::Path::new(path.split('?').next().unwrap_or(path)));
    }
    let app = super::open(&b.database).await?;
    let org_id = if b.reuse {
        bench::find_parties(&app, SLUG, ADMIN, ADMIN)
            .await?
            .ok_or_else(|| Error::bad_input("reuse", "no cards of a previous run in this database"))?
            .org_id
    } else {
        load(&app, &b).await?
    };
    let stored = bench::count_cards(&app, &org_id).await?;
    let actor = Actor::system(&org_id);
    let (index_bytes, cards_bytes) = bench::search_sizes(&app).await?;
    let engine = if sqlite { "SQLite" } else { "PostgreSQL" };
    println!();
    println!("keyword search over {stored} cards in {engine}, first page (limit 50, id order)");
    println!(
        "  index {:.0} MB; the cards table {:.0} MB (with its indexes on PostgreSQL); load average {}",
        index_bytes as f64 / 1e6,
        cards_bytes as f64 / 1e6,
        load_average()
    );
    println!(
        "  {:<20} {:>9} {:>9} {:>7} | {:>10} {:>10} | {:>8} {:>8}",
        "kind", "p50 ms", "p99 ms", "found", "LIKE p50", "LIKE p99", "ratio50", "ratio99"
    );
    let cpu_before = cpu_secs().0;
    let mut worst: f64 = 0.0;
    for (kind, terms) in kinds(stored as usize) {
        // Each term once untimed: a server's cache is warm.
        for t in &terms {
            list(&app, &actor, t).await?;
        }
        let mut times = Vec::with_capacity(b.queries);
        let mut per_term: Vec<Vec<f64>> = vec![Vec::new(); terms.len()];
        let mut found = 0usize;
        for i in 0..b.queries {
            let t = &terms[i % terms.len()];
            let started = Instant::now();
            found += list(&app, &actor, t).await?;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            times.push(ms);
            per_term[i % terms.len()].push(ms);
        }
        // The term slowest at its median: a term slow by itself, not one query a busy
        // machine delayed.
        let medians: Vec<f64> = per_term
            .iter_mut()
            .map(|v| {
                v.sort_by(f64::total_cmp);
                percentile(v, 0.5)
            })
            .collect();
        let slowest = (0..terms.len())
            .max_by(|&a, &b| medians[a].total_cmp(&medians[b]))
            .unwrap_or(0);
        let mut base = Vec::with_capacity(b.baseline_queries);
        for i in 0..b.baseline_queries {
            let t = &terms[i % terms.len()];
            let started = Instant::now();
            bench::like_page(&app, &org_id, t).await?;
            base.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        base.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        let (b50, b99) = (percentile(&base, 0.5), percentile(&base, 0.99));
        worst = worst.max(p99);
        println!(
            "  {kind:<20} {p50:>9.2} {p99:>9.2} {:>7.1} | {b50:>10.1} {b99:>10.1} | {:>8.0} {:>8.0}   slowest term {} (median {:.2} ms)",
            found as f64 / b.queries.max(1) as f64,
            b50 / p50,
            b99 / p99,
            terms[slowest],
            medians[slowest]
        );
    }
    println!(
        "  worst p99 {worst:.2} ms; CPU {:.1} s (this process; PostgreSQL's backends not included); peak RSS {:.0} MB",
        cpu_secs().0 - cpu_before,
        rss_mb("VmHWM:")
    );
    println!(
        "RESULT engine={engine} cards={stored} index_bytes={index_bytes} cards_bytes={cards_bytes} worst_p99_ms={worst:.2} peak_rss_mb={:.0}",
        rss_mb("VmHWM:")
    );
    Ok(())
}

/// The cards on the first page for keyword `q`.
async fn list(app: &App, actor: &Actor, q: &str) -> Result<usize> {
    let page = cards::list(
        app,
        actor,
        CardQuery {
            q: Some(q),
            ..Default::default()
        },
    )
    .await?;
    Ok(page.items.len())
}

/// Writes the benchmark CSV and imports it (the import's own set-based path) into a new
/// organisation; returns its id.
async fn load(app: &App, b: &SearchBench) -> Result<String> {
    std::fs::create_dir_all(&b.dir).map_err(|e| Error::internal(format!("{}: {e}", b.dir.display())))?;
    let csv = b.dir.join("cards.csv");
    write_plain_csv(&csv, b.cards)?;
    let (org, admin) = orgs::init(
        app,
        orgs::NewOrganization {
            name: "検索ベンチ株式会社",
            slug: Some(SLUG),
            admin_email: ADMIN,
            admin_name: "管理 太郎",
            admin_password: "bench-search-password",
        },
    )
    .await?;
    let actor = Actor::system(&org.id);
    // Matching off: this CSV's people repeat in long periods (`write_plain_csv`); the cards'
    // people do not take part in a keyword search.
    let opts = ImportOptions {
        format: Some(Format::Csv),
        encoding: TextEncoding::Auto,
        mode: ImportMode::AllOrNothing,
        same_person: false,
        ..ImportOptions::new(Some(admin.id.clone()))
    };
    let file = std::fs::File::open(&csv).map_err(|e| Error::internal(e.to_string()))?;
    let started = Instant::now();
    let report = imports::import(app, &actor, Box::new(file), opts, None).await?;
    eprintln!(
        "imported {} cards in {:.1} s (index included)",
        report.imported,
        started.elapsed().as_secs_f64()
    );
    bench::checkpoint_done(app).await;
    bench::analyze(app).await?;
    Ok(org.id)
}
