//! `meishi import FILE` and `meishi export`: the import and export use cases from the
//! terminal, with a progress bar (rows, rate, ETA) and a summary for imports.

use crate::domain::{Error, Result};
use crate::formats::csv::HeaderLang;
use crate::formats::vcard::VcardVersion;
use crate::formats::{Format, ImportMode, OnDuplicate, TextEncoding};
use crate::service::exports::{self, ExportOptions};
use crate::service::imports::{self, ImportOptions, Progress};
use crate::service::{Actor, App, auth};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Vcard,
    Csv,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Vcard => Format::Vcard,
            FormatArg::Csv => Format::Csv,
        }
    }
}

#[derive(Args)]
pub struct ImportArgs {
    /// The file: vCard (.vcf) or CSV
    pub file: std::path::PathBuf,
    /// Owner (email) of the rows that name none, and of rows whose owner is not a user here
    #[arg(long)]
    pub owner: Option<String>,
    /// An owner named in the file (another organisation's export) → a user here: OLD=NEW
    /// (e-mails; NEW may be a user id); repeat it for several
    #[arg(long = "owner-mapping", value_name = "OLD=NEW")]
    pub owner_mapping: Vec<String>,
    /// File format; told by the content when not given
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// utf-8, shift_jis or auto
    #[arg(long, default_value = "auto")]
    pub encoding: String,
    /// Import the good rows and list the bad ones (default: all or nothing)
    #[arg(long)]
    pub valid_rows: bool,
    /// Import exact duplicates of cards already there too (default: skip them and list them)
    #[arg(long)]
    pub keep_duplicates: bool,
    /// The organisation's slug, when the server has several
    #[arg(long)]
    pub org: Option<String>,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "vcard")]
    pub format: FormatArg,
    /// Only the cards this user (email) owns
    #[arg(long)]
    pub owner: Option<String>,
    /// Only cards with this tag (the owner's, else the one shared tag of that name)
    #[arg(long)]
    pub tag: Option<String>,
    /// vCard version: 4.0 or 3.0
    #[arg(long, default_value = "4.0")]
    pub version: String,
    /// CSV header: en (meishi's) or ja (会社名, 氏名, …)
    #[arg(long, default_value = "en")]
    pub header: String,
    /// CSV encoding: utf-8 or shift_jis
    #[arg(long, default_value = "utf-8")]
    pub encoding: String,
    /// CSV: write cells that begin with =, +, -, @, tab or CR as they are (by default they
    /// get a leading ' so that a spreadsheet does not run them as formulas)
    #[arg(long)]
    pub no_formula_guard: bool,
    /// The organisation's slug, when the server has several
    #[arg(long)]
    pub org: Option<String>,
}

pub async fn import(app: &App, a: ImportArgs) -> Result<()> {
    let org = auth::resolve_org(app, a.org.as_deref()).await?;
    let actor = Actor::system(&org.id);
    let owner_id = match &a.owner {
        Some(e) => Some(super::user_id(app, &org.id, e, "owner").await?),
        None => None,
    };
    let file = std::fs::File::open(&a.file)
        .map_err(|e| Error::bad_input("file", format!("cannot open {}: {e}", a.file.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let opts = ImportOptions {
        format: a.format.map(Format::from),
        encoding: TextEncoding::parse("encoding", &a.encoding)?,
        mode: if a.valid_rows {
            ImportMode::ValidRows
        } else {
            ImportMode::AllOrNothing
        },
        on_duplicate: if a.keep_duplicates {
            OnDuplicate::Keep
        } else {
            OnDuplicate::Skip
        },
        owner_mapping: (!a.owner_mapping.is_empty()).then(|| a.owner_mapping.join(",")),
        ..ImportOptions::new(owner_id)
    };
    let progress = Arc::new(Progress::default());
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {percent:>3}% {msg}  ETA {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let rows = progress.rows.load(Ordering::Relaxed);
                let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_position(progress.bytes.load(Ordering::Relaxed));
                bar.set_message(format!("{rows} rows, {rate:.0} rows/s"));
            }
        })
    };
    let result = imports::import(app, &actor, Box::new(file), opts, Some(progress)).await;
    ticker.abort();
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    app.checkpoint_done().await; // the database file whole before the command ends
    match result {
        Ok(r) => {
            for w in &r.warnings {
                eprintln!("warning: line {}: {}: {}", w.line, w.field, w.message);
            }
            for e in &r.errors {
                eprintln!("skipped: line {}: {}: {}", e.line, field_or_row(&e.field), e.message);
            }
            if r.error_count > r.errors.len() as u64 {
                eprintln!("… and {} more", r.error_count - r.errors.len() as u64);
            }
            let verb = if r.on_duplicate == OnDuplicate::Skip {
                "skipped"
            } else {
                "kept"
            };
            for d in &r.duplicate_lines {
                eprintln!("duplicate {verb}: line {}: the same as card {}", d.line, d.card_id);
            }
            if r.duplicates > r.duplicate_lines.len() as u64 {
                eprintln!(
                    "… and {} more duplicates",
                    r.duplicates - r.duplicate_lines.len() as u64
                );
            }
            println!(
                "imported {} of {} rows ({}, {}) in {secs:.1}s; {} skipped, {} tags created",
                r.imported,
                r.rows,
                r.format.as_str(),
                r.encoding,
                r.skipped,
                r.tags_created
            );
            Ok(())
        }
        Err(e) => {
            if let Some(errors) = e
                .details
                .as_ref()
                .and_then(|d| d.get("errors"))
                .and_then(|v| v.as_array())
            {
                for x in errors {
                    eprintln!(
                        "line {}: {}: {}",
                        x["line"],
                        field_or_row(x["field"].as_str().unwrap_or("")),
                        x["message"].as_str().unwrap_or("")
                    );
                }
                let total = e.details.as_ref().and_then(|d| d["error_count"].as_u64()).unwrap_or(0);
                if total > errors.len() as u64 {
                    eprintln!("… and {} more", total - errors.len() as u64);
                }
            }
            Err(e)
        }
    }
}

fn field_or_row(f: &str) -> &str {
    if f.is_empty() { "row" } else { f }
}

pub async fn export(app: &App, a: ExportArgs) -> Result<()> {
    let org = auth::resolve_org(app, a.org.as_deref()).await?;
    let actor = Actor::system(&org.id);
    let owner_id = match &a.owner {
        Some(e) => Some(super::user_id(app, &org.id, e, "owner").await?),
        None => None,
    };
    let tag_id = match &a.tag {
        None => None,
        Some(name) => Some(crate::service::cards::tag_named(app, &actor, name, owner_id.as_deref()).await?),
    };
    let version = match a.version.as_str() {
        "4.0" | "4" => VcardVersion::V4,
        "3.0" | "3" => VcardVersion::V3,
        v => return Err(Error::bad_input("version", format!("'{v}' is not 3.0 or 4.0"))),
    };
    let header = match a.header.as_str() {
        "en" => HeaderLang::En,
        "ja" => HeaderLang::Ja,
        h => return Err(Error::bad_input("header", format!("'{h}' is not en or ja"))),
    };
    let opts = ExportOptions {
        format: a.format.into(),
        owner_id,
        tag_id,
        encoding: match TextEncoding::parse("encoding", &a.encoding)? {
            TextEncoding::Auto => TextEncoding::Utf8,
            e => e,
        },
        version,
        header,
        formula_guard: !a.no_formula_guard,
    };
    let mut ex = exports::export(app, &actor, opts).await?;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    while let Some(chunk) = ex.body.recv().await {
        let chunk = chunk?;
        out.write_all(&chunk)
            .map_err(|e| Error::internal(format!("cannot write the export: {e}")))?;
    }
    out.flush()
        .map_err(|e| Error::internal(format!("cannot write the export: {e}")))?;
    eprintln!("exported {} cards", ex.cards);
    Ok(())
}
