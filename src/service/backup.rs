//! Backups of a SQLite database and their restore (`meishi backup`, `meishi restore`); for
//! PostgreSQL, the `pg_dump`/`pg_restore` lines to run instead.
//!
//! A backup is `VACUUM INTO` a temporary file beside the destination (one read transaction:
//! the server keeps serving and writing; every commit acknowledged before the backup began is
//! in it), synced, then linked into place (never over an existing file unless `force`).
//!
//! A restore works on a copy: the file is copied beside the database it replaces, checked
//! (SQLite's header, `PRAGMA integrity_check`, a meishi schema this build knows), brought up
//! to date (migrations newer than the backup run), the restore audited in each organisation
//! of the copy, checkpointed and synced; then, under the database's exclusive lock
//! (`store::lock_path`: refused while any meishi process has the database open), the old
//! database's WAL is checkpointed into it and its `-wal`/`-shm` removed, and the copy is
//! renamed over it. A crash at any point leaves the old database or the new one, whole.

use super::{Actor, App, audit};
use crate::domain::{Error, Result, SystemClock};
use crate::store::{self, Store, org_archive};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `backup` wrote.
pub struct Backup {
    pub bytes: u64,
}

/// Copies the SQLite database of `store` to `file`, consistently, while it is in use.
pub async fn backup(store: &Store, file: &Path, force: bool) -> Result<Backup> {
    if !store.is_sqlite() {
        return Err(Error::bad_input("database", "meishi backup copies a SQLite database"));
    }
    if file.is_dir() {
        return Err(Error::bad_input("file", format!("{} is a directory", file.display())));
    }
    if let (Some(db), Ok(f)) = (store.sqlite_file(), file.canonicalize())
        && db.canonicalize().is_ok_and(|db| db == f)
    {
        return Err(Error::bad_input("file", "the backup would replace the database itself"));
    }
    if !force && file.exists() {
        return Err(exists(file));
    }
    let temp = Temp::beside(file, "backup")?;
    store.backup_into(&temp.path).await?;
    sync_file(&temp.path)?;
    if force {
        std::fs::rename(&temp.path, file).map_err(|e| io("file", file, e))?;
    } else {
        // A link fails if the file appeared meanwhile: never over an existing file.
        match std::fs::hard_link(&temp.path, file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists(file)),
            // A file system without hard links: checked above, renamed now.
            Err(_) => std::fs::rename(&temp.path, file).map_err(|e| io("file", file, e))?,
        }
    }
    drop(temp);
    sync_dir(file)?;
    let bytes = std::fs::metadata(file).map_err(|e| io("file", file, e))?.len();
    Ok(Backup { bytes })
}

fn exists(file: &Path) -> Error {
    Error::conflict(format!(
        "{} already exists; give another name, or --force to replace it",
        file.display()
    ))
    .with_field("file")
}

/// What `meishi backup` says for a PostgreSQL database: the lines that back it up and
/// restore it, for the configured database, without its password.
pub fn pg_dump_advice(database_url: &str, file: &str) -> String {
    let (url, had_password) = match url::Url::parse(database_url) {
        Ok(mut u) => {
            let had = u.password().is_some();
            let _ = u.set_password(None);
            (u.to_string(), had)
        }
        Err(_) => ("postgres://USER@HOST:5432/DATABASE".to_string(), false),
    };
    let parsed = url::Url::parse(&url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "HOST".into());
    let port = parsed.as_ref().and_then(|u| u.port()).unwrap_or(5432);
    let user = parsed
        .as_ref()
        .map(|u| u.username().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "USER".into());
    let new_url = match parsed {
        Some(mut u) => {
            let name = u.path().trim_start_matches('/').to_string();
            u.set_path(&format!("/{name}_restored"));
            u.to_string()
        }
        None => url.clone(),
    };
    let new_db = new_url
        .rsplit_once('/')
        .map(|(_, d)| d.split('?').next().unwrap_or(d).to_string())
        .unwrap_or_default();
    let password = if had_password {
        "\nThe password is not printed: give it in PGPASSWORD or ~/.pgpass."
    } else {
        ""
    };
    format!(
        "meishi backup copies SQLite databases; this database is PostgreSQL, and pg_dump is the tool \
         (a consistent snapshot while meishi serves):\n\
         \n  pg_dump --format=custom --file={file} --dbname={url}\n\
         \nTo restore it into a new, empty database (then point meishi at it):\n\
         \n  createdb -h {host} -p {port} -U {user} -T template0 -E UTF8 -l C.UTF-8 {new_db}\
         \n  pg_restore --no-owner --exit-on-error --dbname={new_url} {file}\n{password}",
        file = shell(file),
        url = shell(&url),
        new_url = shell(&new_url),
    )
}

/// A word for a POSIX shell, quoted when it needs to be.
fn shell(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@=,+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// How a restore goes.
pub struct RestoreOptions {
    /// Replace an existing database (else refused).
    pub force: bool,
    /// Check the file and the target, change nothing.
    pub dry_run: bool,
}

/// What a restore found in the file and did.
pub struct Restored {
    pub organizations: Vec<String>,
    pub users: i64,
    pub cards: i64,
    /// Migrations newer than the backup, run on it.
    pub migrated: usize,
    /// A database was there and is replaced (or would be, in a dry run).
    pub replaced: bool,
}

/// Restores the backup `file` as the SQLite database of `target_url`.
pub async fn restore(file: &Path, target_url: &str, o: RestoreOptions) -> Result<Restored> {
    let target = sqlite_target(target_url)?;
    // A link is followed: the database it names is replaced, not the link.
    let target = target.canonicalize().unwrap_or(target);
    check_source(file, &target)?;
    // Held until the new database is in place: nobody opens the database meanwhile.
    let lock = store::lock_file(&target)?;
    if let Err(e) = lock.try_lock() {
        return Err(match e {
            std::fs::TryLockError::WouldBlock => Error::conflict(format!(
                "{} is in use by a running meishi (a server or another command holds {}); stop it before restoring",
                target.display(),
                store::lock_path(&target).display()
            ))
            .with_field("database"),
            std::fs::TryLockError::Error(e) => io("database", &target, e),
        });
    }
    let replaced = target.exists();
    if replaced && !o.force && !o.dry_run {
        return Err(Error::conflict(format!(
            "{} already holds a database; --force replaces it with the backup (--dry-run checks first)",
            target.display()
        ))
        .with_field("database"));
    }
    let temp = Temp::beside(&target, "restore")?;
    std::fs::copy(file, &temp.path).map_err(|e| io("file", file, e))?;
    let mut restored = check_and_prepare(file, &temp.path, &target, o.dry_run).await?;
    restored.replaced = replaced;
    if o.dry_run {
        return Ok(restored);
    }
    sync_file(&temp.path)?;
    if replaced {
        // The old database's last commits go into its file, so that removing its -wal loses
        // nothing even if the rename below never happens.
        match Store::connect_unlocked(&sqlite_url(&target)).await {
            Ok(old) => {
                if let Err(e) = old.checkpoint_and_close().await {
                    tracing::warn!(error = %e, "the database being replaced could not be checkpointed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "the database being replaced could not be opened"),
        }
        for side in sidecars(&target) {
            remove_if_there(&side)?;
        }
    }
    std::fs::rename(&temp.path, &target).map_err(|e| io("database", &target, e))?;
    drop(temp);
    sync_dir(&target)?;
    drop(lock);
    Ok(restored)
}

/// The file of a `sqlite://` URL, or why a restore does not apply.
fn sqlite_target(url: &str) -> Result<PathBuf> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(Error::bad_input(
            "database",
            "meishi restore restores a SQLite database; a PostgreSQL database is restored with pg_restore \
             (meishi backup --database URL prints the lines)",
        ));
    }
    let rest = url
        .strip_prefix("sqlite:")
        .ok_or_else(|| Error::bad_input("database", format!("'{url}' is not a sqlite:// URL")))?;
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.contains(":memory:") {
        return Err(Error::bad_input("database", "restore needs a database file"));
    }
    Ok(PathBuf::from(path))
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The file must be a SQLite database on its own (not a live one with its WAL beside it), and
/// not the target itself.
fn check_source(file: &Path, target: &Path) -> Result<()> {
    let meta = std::fs::metadata(file).map_err(|e| io("file", file, e))?;
    if !meta.is_file() {
        return Err(Error::bad_input("file", format!("{} is not a file", file.display())));
    }
    let mut head = [0u8; 16];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(file).map_err(|e| io("file", file, e))?;
        f.read(&mut head).map_err(|e| io("file", file, e))?
    };
    if n < 16 || &head != b"SQLite format 3\0" {
        return Err(Error::bad_input(
            "file",
            format!("{} is not a SQLite database, so not a meishi backup", file.display()),
        ));
    }
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(Error::bad_input(
            "file",
            format!(
                "{} has a write-ahead log beside it: it is a database in use, not a backup; make one with meishi backup",
                file.display()
            ),
        ));
    }
    if let (Ok(a), Ok(b)) = (file.canonicalize(), target.canonicalize())
        && a == b
    {
        return Err(Error::bad_input("file", "the backup is the database itself"));
    }
    Ok(())
}

/// Checks the copy at `temp` (integrity, a meishi schema this build knows), runs the newer
/// migrations, audits the restore in each organisation (unless a dry run), and closes it with
/// everything in its main file.
async fn check_and_prepare(file: &Path, temp: &Path, target: &Path, dry_run: bool) -> Result<Restored> {
    let unsound = |e: Error| {
        Error::bad_input(
            "file",
            format!("{} is not a sound SQLite database: {}", file.display(), e.message),
        )
    };
    let store = Store::connect_unlocked(&sqlite_url(temp)).await.map_err(unsound)?;
    let problems = store.integrity_check().await.map_err(unsound)?;
    if problems != ["ok"] {
        return Err(Error::bad_input(
            "file",
            format!(
                "{} fails SQLite's integrity check: {}",
                file.display(),
                problems.join("; ")
            ),
        ));
    }
    let not_meishi = || {
        Error::bad_input(
            "file",
            format!(
                "{} is a SQLite database but not a meishi one (no schema_migrations)",
                file.display()
            ),
        )
    };
    let versions = org_archive::schema_versions(store.conn())
        .await
        .map_err(|_| not_meishi())?;
    if versions.is_empty() {
        return Err(not_meishi());
    }
    let known = store::migrate::known_versions();
    if let Some(v) = versions.iter().find(|v| !known.contains(v)) {
        return Err(Error::bad_input(
            "file",
            format!(
                "{} was made by a newer meishi (its schema has migration {v}, unknown to this one); restore it with that version",
                file.display()
            ),
        ));
    }
    let migrated = store.migrate().await?;
    let orgs = store::orgs::all(store.conn()).await?;
    let mut organizations: Vec<String> = orgs.iter().map(|o| o.slug.clone()).collect();
    organizations.sort();
    let ids: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
    let (users, cards) = org_archive::totals(store.conn()).await?;
    if !dry_run {
        let app = App::new(store.clone(), Arc::new(SystemClock));
        let after = serde_json::json!({
            "file": file.display().to_string(),
            "database": target.display().to_string(),
            "migrations_applied": migrated,
        });
        for id in &ids {
            app.write(&Actor::system(id), async |tx, who| {
                audit(
                    tx,
                    who,
                    "database.restore",
                    ("organization", id),
                    None,
                    Some(after.clone()),
                )
                .await
            })
            .await?;
        }
    }
    store.checkpoint_and_close().await?;
    Ok(Restored {
        organizations,
        users,
        cards,
        migrated,
        replaced: false,
    })
}

/// A file beside another, removed (with its -wal and -shm) unless it was renamed away.
struct Temp {
    path: PathBuf,
}

impl Temp {
    fn beside(file: &Path, what: &str) -> Result<Self> {
        let name = file
            .file_name()
            .ok_or_else(|| Error::bad_input("file", format!("{} names no file", file.display())))?
            .to_string_lossy();
        let dir = parent(file);
        if !dir.is_dir() {
            return Err(Error::bad_input(
                "file",
                format!("there is no directory {}", dir.display()),
            ));
        }
        Ok(Self {
            path: dir.join(format!(".{name}.{what}-{}", store::new_id())),
        })
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        for side in sidecars(&self.path) {
            let _ = std::fs::remove_file(side);
        }
    }
}

fn parent(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A database's -wal and -shm files.
fn sidecars(db: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|s| {
        let mut p = db.as_os_str().to_owned();
        p.push(s);
        PathBuf::from(p)
    })
}

fn remove_if_there(p: &Path) -> Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("database", p, e)),
        _ => Ok(()),
    }
}

fn sync_file(p: &Path) -> Result<()> {
    std::fs::File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("file", p, e))
}

/// Makes a rename in the file's directory durable (a no-op where directories cannot be opened).
fn sync_dir(file: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = parent(file);
        std::fs::File::open(&dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("file", &dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

fn io(field: &str, p: &Path, e: std::io::Error) -> Error {
    Error::bad_input(field, format!("{}: {e}", p.display()))
}
