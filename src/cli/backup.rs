//! `meishi backup`, `restore`, `export-org`, `import-org`: thin over `service::backup` and
//! `service::org_archive`.

use super::{Db, open, open_org, sqlite_file};
use crate::domain::Error;
use crate::service::{backup, org_archive};
use crate::store::Store;
use clap::Args;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    db: Db,
    /// The backup file to write (refused if it exists, unless --force)
    file: PathBuf,
    /// Replace FILE if it exists
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The database to restore into (sqlite://FILE; refused while a meishi has it open)
    #[command(flatten)]
    db: Db,
    /// A backup made by `meishi backup`
    file: PathBuf,
    /// Replace the database if there is one
    #[arg(long)]
    force: bool,
    /// Check the backup and the database, change nothing
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args)]
pub struct ExportOrgArgs {
    #[command(flatten)]
    db: Db,
    /// The organisation's slug, when the server has several
    #[arg(long)]
    org: Option<String>,
    /// The archive to write (JSON lines; `-` for standard output). It holds password hashes:
    /// keep it like the database
    file: String,
    /// Replace FILE if it exists
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct ImportOrgArgs {
    /// The database to load the organisation into (made if it is a new SQLite file)
    #[command(flatten)]
    db: Db,
    /// An archive made by `meishi export-org` (`-` for standard input)
    file: String,
    /// The new organisation's slug, instead of the archive's (when that one is taken here)
    #[arg(long = "as", value_name = "NEWSLUG")]
    as_slug: Option<String>,
}

fn secs(t: Instant) -> String {
    format!("{:.1} s", t.elapsed().as_secs_f64())
}

fn size(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub async fn backup(a: BackupArgs) -> Result<(), Error> {
    let url = &a.db.database;
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(Error::bad_input(
            "database",
            backup::pg_dump_advice(url, &a.file.display().to_string()),
        ));
    }
    if let Some(path) = sqlite_file(url)
        && !Path::new(path).exists()
    {
        return Err(Error::bad_input(
            "database",
            format!("there is no database at {url} (--database or MEISHI_DATABASE_URL names one)"),
        ));
    }
    let started = Instant::now();
    // Not `open`: no migration (the server using the database runs its own version).
    let store = Store::connect(url).await?;
    let b = backup::backup(&store, &a.file, a.force).await?;
    println!(
        "backed up {url} to {} ({}) in {}",
        a.file.display(),
        size(b.bytes),
        secs(started)
    );
    Ok(())
}

pub async fn restore(a: RestoreArgs) -> Result<(), Error> {
    let started = Instant::now();
    let options = backup::RestoreOptions {
        force: a.force,
        dry_run: a.dry_run,
    };
    let r = backup::restore(&a.file, &a.db.database, options).await?;
    let what = format!(
        "{}: organisations {} ({}), users {}, cards {}{}",
        a.file.display(),
        r.organizations.len(),
        r.organizations.join(", "),
        r.users,
        r.cards,
        if r.migrated > 0 {
            format!(", {} newer migration(s) run", r.migrated)
        } else {
            String::new()
        }
    );
    let verb = match (a.dry_run, r.replaced) {
        (true, true) => "would replace",
        (true, false) => "would restore into",
        (false, true) => "replaced",
        (false, false) => "restored into",
    };
    println!("{verb} {} from {what} in {}", a.db.database, secs(started));
    if a.dry_run {
        println!("the backup passed the integrity check; nothing was changed (--dry-run)");
    }
    Ok(())
}

pub async fn export_org(a: ExportOrgArgs) -> Result<(), Error> {
    let app = open_org(&a.db.database).await?;
    let started = Instant::now();
    let moved = if a.file == "-" {
        let stdout = std::io::stdout();
        let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
        org_archive::export(&app, a.org.as_deref(), &mut out, "standard output").await?
    } else {
        let file = PathBuf::from(&a.file);
        if file.exists() && !a.force {
            return Err(Error::conflict(format!(
                "{} already exists; give another name, or --force to replace it",
                file.display()
            ))
            .with_field("file"));
        }
        // Written beside, then renamed: a failed export leaves no half archive.
        let partial = partial_path(&file);
        let result = async {
            let mut out = BufWriter::with_capacity(1 << 20, private_file(&partial)?);
            let moved = org_archive::export(&app, a.org.as_deref(), &mut out, &a.file).await?;
            let f = out
                .into_inner()
                .map_err(|e| Error::bad_input("file", format!("cannot write the archive: {e}")))?;
            f.sync_all()
                .map_err(|e| Error::bad_input("file", format!("cannot write the archive: {e}")))?;
            std::fs::rename(&partial, &file)
                .map_err(|e| Error::bad_input("file", format!("{}: {e}", file.display())))?;
            Ok::<_, Error>(moved)
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result?
    };
    let total: u64 = moved.rows.iter().map(|(_, n)| n).sum();
    eprintln!(
        "exported organisation {} ({}) to {}: {total} rows in {}",
        moved.organization.name,
        moved.organization.slug,
        a.file,
        secs(started)
    );
    eprintln!("{}", table_counts(&moved.rows));
    eprintln!("the archive holds password hashes and personal data: keep it like the database");
    Ok(())
}

pub async fn import_org(a: ImportOrgArgs) -> Result<(), Error> {
    let app = open(&a.db.database).await?;
    let started = Instant::now();
    let options = org_archive::ImportOptions {
        slug: a.as_slug.as_deref(),
        source: &a.file,
    };
    let moved = if a.file == "-" {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        org_archive::import(&app, &mut input, options).await?
    } else {
        let f = std::fs::File::open(&a.file).map_err(|e| Error::bad_input("file", format!("{}: {e}", a.file)))?;
        let mut input: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 20, f));
        org_archive::import(&app, &mut input, options).await?
    };
    app.checkpoint_done().await;
    let total: u64 = moved.rows.iter().map(|(_, n)| n).sum();
    println!(
        "imported organisation {} as {} ({total} rows) in {}",
        moved.organization.name,
        moved.organization.slug,
        secs(started)
    );
    println!("{}", table_counts(&moved.rows));
    let (messages, sends) = moved.mail_cancelled;
    if messages + sends > 0 {
        println!(
            "mail not yet sent when the archive was made is cancelled here ({messages} message(s), {sends} send(s)): \
             the old server may have sent it"
        );
    }
    println!("API and SCIM tokens are not carried: make new ones (meishi token create, meishi scim-token create)");
    Ok(())
}

fn table_counts(rows: &[(String, u64)]) -> String {
    rows.iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn partial_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}.partial-{}", crate::store::new_id()))
}

/// A new file only its owner may read (the archive holds password hashes).
fn private_file(path: &Path) -> Result<std::fs::File, Error> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .map_err(|e| Error::bad_input("file", format!("{}: {e}", path.display())))
}
