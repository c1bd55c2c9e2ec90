//! The only place that talks SQL. One implementation for SQLite and PostgreSQL: sea-orm
//! builds the statements, `migrate.rs` holds DDL both engines accept.

pub mod audit;
pub mod auth;
pub mod bench;
pub mod cards;
pub mod departures;
pub mod entities;
pub mod exports;
pub mod imports;
pub mod mail;
pub mod migrate;
pub mod org_archive;
pub mod orgs;
pub mod people;
pub mod row_feed;
pub mod scim;
pub mod search;
pub mod transfers;
pub mod users;

use crate::domain::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use row_feed::RowFeed;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, SqlErr, TransactionOptions, TransactionTrait};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

pub use sea_orm::ConnectionTrait as Conn;

/// SQLite's page cache for a bulk load's connection, in KiB: the B-tree pages an import keeps
/// touching (the last leaf of the table and of each index, one leaf per company in the company
/// index) stay in memory instead of being spilled and read back; the default is 2 MiB. The
/// cache also holds the transaction's dirty pages until it must spill them to the WAL, so a
/// larger one spills less often; 128 MiB keeps the import's peak RSS under 300 MB, same-person
/// (BENCHMARKS.md: 64 → 160 MiB, see the figures there).
pub const BULK_CACHE_KIB: i64 = 128 * 1024;
/// The page size of a new SQLite database: 8 KiB (PostgreSQL's), not SQLite's default 4 KiB.
/// Bulk work writes and reads half as many pages, each a system call (a million-card
/// import −0.4 s and its checkpoint −0.5 s, a million-card transfer −2 s: BENCHMARKS.md); a
/// small write's WAL frame is 8 KiB instead of 4. A database keeps the size it was made with
/// (in WAL mode only a VACUUM outside WAL changes it), so this applies to new files only.
pub const SQLITE_PAGE_SIZE: u32 = 8192;
pub type Tx = DatabaseTransaction;
pub type Db = DatabaseConnection;

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// How the pool's connections were opened (SQLite): `bulk_write` opens one more like them.
    sqlite: Option<SqliteConnectOptions>,
    /// The checkpoint started after the last bulk load (SQLite), for `checkpoint_done`.
    checkpoint: std::sync::Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// SQLite: the shared lock on the database's lock file, held while any clone of this store
    /// lives (`lock_file`).
    _lock: Option<std::sync::Arc<std::fs::File>>,
}

/// Turns on SQLite's query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`) for a
/// new connection: a statement's plan no longer depends on the values bound to it.
///
/// Without it, SQLite 3.51 looks at a bound `LIMIT ?` (sea-orm binds every limit, `.one()`'s
/// `LIMIT 1` too) and at values compared with a partial index's condition when it compiles a
/// statement, and marks the statement expired whenever such a value is bound again: sqlx's
/// cached statements were compiled anew on every execution, a quarter of the server's CPU
/// under the card list's load (BENCHMARKS.md P6). meishi writes the conditions of its partial
/// indexes literally where a statement needs them (`done_at IS NULL`, `ON CONFLICT … WHERE
/// status = 'open'`), and never runs ANALYZE, so no plan needed a bound value.
async fn stable_plans(conn: &mut sqlx::SqliteConnection) -> std::result::Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: the handle is locked away from sqlx's worker thread; the option takes an int
    // and an optional int pointer for the value it had (none asked).
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        return Err(sqlx::Error::Protocol(format!(
            "cannot set SQLITE_DBCONFIG_ENABLE_QPSG: {rc}"
        )));
    }
    Ok(())
}

/// How a process that opens a SQLite database tells `meishi restore` that it uses it.
///
/// Every meishi process that opens a SQLite file (`serve`, `demo`, and every other command)
/// holds a **shared** advisory lock (`flock`) on `FILE.lock` beside it for as long as it has
/// the database open; `meishi restore` takes it **exclusively** without waiting, so it
/// refuses while anyone has the database open, and holds it while it swaps the files, so
/// nobody opens the database half-way. Why not SQLite's own locks: in WAL mode an idle
/// connection holds no lock on the database file that another process could test (only a
/// shared lock on a byte of the `-shm` file, SQLite's private business), and `BEGIN
/// EXCLUSIVE` does not even keep readers out; a server between two requests would look
/// unused. Replacing the file under it would leave it on the old inode, and its `-wal` would
/// then be applied to the new file. A separate file, because `flock` on the database file
/// itself would, on NFS, be emulated with the same byte-range locks SQLite uses.
/// Processes other than meishi (the `sqlite3` shell) do not take this lock.
/// The path is the database's real one (links resolved), so that `restore` and a server that
/// name the database differently meet on one lock file.
pub fn lock_path(db_file: &std::path::Path) -> std::path::PathBuf {
    let real = db_file.canonicalize().ok().or_else(|| {
        let dir = db_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        Some(dir.canonicalize().ok()?.join(db_file.file_name()?))
    });
    let db_file = real.as_deref().unwrap_or(db_file);
    let mut name = db_file.as_os_str().to_owned();
    name.push(".lock");
    std::path::PathBuf::from(name)
}

/// Opens (creates) a database's lock file.
pub fn lock_file(db_file: &std::path::Path) -> Result<std::fs::File> {
    let path = lock_path(db_file);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::bad_input("database", format!("cannot open the lock file {}: {e}", path.display())))
}

impl Store {
    /// Opens `sqlite://path` (created if missing; WAL, busy timeout) or `postgres://…`. A
    /// SQLite file is held under a shared lock (`lock_path`) while the store lives.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(url, true).await
    }

    /// `connect` without the lock file: `meishi restore` opens the copy it is about to put in
    /// place, and the database it replaces, under its own exclusive lock.
    pub async fn connect_unlocked(url: &str) -> Result<Self> {
        Self::open(url, false).await
    }

    async fn open(url: &str, lock: bool) -> Result<Self> {
        let db = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| Error::bad_input("database", format!("bad SQLite URL '{url}': {e}")))?
                .create_if_missing(true)
                .page_size(SQLITE_PAGE_SIZE)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            let file = opts.get_filename();
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let lock = if lock && !in_memory {
                let f = lock_file(file)?;
                if let Err(e) = f.try_lock_shared() {
                    return Err(match e {
                        std::fs::TryLockError::WouldBlock => Error::conflict(format!(
                            "{} is being restored (meishi restore holds {}); try again when it is done",
                            file.display(),
                            lock_path(file).display()
                        ))
                        .with_field("database"),
                        std::fs::TryLockError::Error(e) => {
                            Error::internal(format!("cannot lock {}: {e}", file.display()))
                        }
                    });
                }
                Some(std::sync::Arc::new(f))
            } else {
                None
            };
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| Box::pin(stable_plans(conn)))
                .connect_with(opts.clone())
                .await
                .map_err(|e| Error::internal(format!("cannot open {url}: {e}")))?;
            return Ok(Self {
                db: DatabaseConnection::from(pool),
                sqlite: Some(opts),
                checkpoint: Default::default(),
                _lock: lock,
            });
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut opts = sea_orm::ConnectOptions::new(url);
            opts.max_connections(16).sqlx_logging(false);
            sea_orm::Database::connect(opts)
                .await
                .map_err(|e| Error::internal(format!("cannot connect to PostgreSQL: {e}")))?
        } else {
            return Err(Error::bad_input(
                "database",
                format!("'{url}' is neither a sqlite:// nor a postgres:// URL"),
            ));
        };
        Ok(Self {
            db,
            sqlite: None,
            checkpoint: Default::default(),
            _lock: None,
        })
    }

    /// A read-only transaction on one snapshot of the database (an organisation's export):
    /// PostgreSQL REPEATABLE READ; SQLite a deferred transaction, whose first read fixes the
    /// snapshot (WAL). End it with `rollback`.
    pub(crate) async fn snapshot(&self) -> Result<Tx> {
        let options = if self.sqlite.is_some() {
            TransactionOptions::default()
        } else {
            TransactionOptions {
                isolation_level: Some(sea_orm::IsolationLevel::RepeatableRead),
                access_mode: Some(sea_orm::AccessMode::ReadOnly),
                sqlite_transaction_mode: None,
            }
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// SQLite: writes a consistent copy of the database to `path` (`VACUUM INTO`: one read
    /// transaction, so writers go on meanwhile; what was committed before it began is in the
    /// copy, nothing later). The copy keeps the rows' rowids (SQLite copies the b-trees'
    /// records as they are), so the keyword index, keyed by the cards' rowids, stays right.
    /// `path` must not exist. SQLite does not sync the copy: the caller does.
    pub async fn backup_into(&self, path: &std::path::Path) -> Result<()> {
        if self.sqlite.is_none() {
            return Err(Error::bad_input(
                "database",
                "only a SQLite database is copied this way",
            ));
        }
        let path = path
            .to_str()
            .ok_or_else(|| Error::bad_input("file", "the backup's path is not UTF-8"))?;
        exec(&self.db, "VACUUM INTO ?", vec![path.into()]).await?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check`: "ok", or the first problems it names.
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        let rows = self
            .db
            .query_all_raw(sql(&self.db, "PRAGMA integrity_check(20)", vec![]))
            .await?;
        rows.iter().map(|r| Ok(r.try_get_by_index(0)?)).collect()
    }

    /// SQLite: copies the WAL into the database file and empties it (the file then holds
    /// everything), then closes every connection.
    pub async fn checkpoint_and_close(self) -> Result<()> {
        if self.sqlite.is_some() {
            self.db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        self.db.close_by_ref().await?;
        Ok(())
    }

    pub async fn migrate(&self) -> Result<usize> {
        Ok(migrate::run(&self.db).await?)
    }

    /// Reads outside a transaction.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// A write transaction. On SQLite it is `BEGIN IMMEDIATE`, so that two writers queue on
    /// the busy timeout instead of failing when a read lock would have to be upgraded. Only
    /// the unit of work (`service::App::write`) opens one: it commits or rolls back explicitly.
    pub(crate) async fn write(&self) -> Result<Tx> {
        Ok(self.db.begin_with_options(immediate()).await?)
    }

    /// A write transaction for a bulk load (an import of cards), on a connection of its own;
    /// commit it with `commit_bulk`. On SQLite it comes with the connection's `RowFeed`, the
    /// rows `SELECT … FROM import_rows` reads (`row_feed.rs`).
    ///
    /// On SQLite the connection is opened for this one transaction and closed after it:
    /// - a page cache of `BULK_CACHE_KIB` (the B-tree pages the load keeps touching stay in
    ///   memory);
    /// - foreign keys not enforced. With them enforced (or with any SQL function in the
    ///   statement), SQLite keeps a statement journal for every many-row INSERT: the original
    ///   of each page the statement touches, written to a temporary file, 6 GB for a million
    ///   cards (BENCHMARKS.md; `imports::CardWriter`). The caller guarantees what
    ///   the keys would: it writes only rows of its organisation, whose owners and tags it has
    ///   read or created in the same transaction;
    /// - no checkpoint at the commit: the committed transaction is in the WAL, durable and
    ///   visible to every reader; copying it into the database file (as long again as
    ///   writing it, for a big load) is started by `commit_bulk` in the background, as
    ///   SQLite's documentation suggests for applications that cannot wait for it.
    ///
    /// PostgreSQL: `write()`, and no feed.
    pub(crate) async fn bulk_write(&self) -> Result<(Tx, Option<RowFeed>)> {
        let Some(opts) = &self.sqlite else {
            return Ok((self.write().await?, None));
        };
        let opts = opts
            .clone()
            .foreign_keys(false)
            .pragma("cache_size", format!("-{BULK_CACHE_KIB}"))
            .pragma("wal_autocheckpoint", "0")
            // Few statements repeat in an import; a many-row VALUES of another length is another
            // statement, and 100 of them kept compiled took 20 MB.
            .statement_cache_capacity(16);
        let feed = RowFeed::default();
        let registered = feed.clone();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .after_connect(move |conn, _| {
                let feed = registered.clone();
                Box::pin(async move {
                    stable_plans(conn).await?;
                    let mut handle = conn.lock_handle().await?;
                    // SAFETY: the handle is locked away from sqlx's worker thread.
                    unsafe { feed.register(handle.as_raw_handle().as_ptr()) }.map_err(sqlx::Error::Protocol)
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| Error::internal(format!("cannot open the database for an import: {e}")))?;
        let tx = DatabaseConnection::from(pool).begin_with_options(immediate()).await?;
        Ok((tx, Some(feed)))
    }

    /// Commits a `bulk_write` transaction, then (SQLite) starts copying the WAL into the
    /// database file in the background; `checkpoint_done` waits for it.
    pub async fn commit_bulk(&self, tx: Tx) -> Result<()> {
        tx.commit().await?;
        if self.sqlite.is_some() {
            let db = self.db.clone();
            let handle = tokio::spawn(async move {
                if let Err(e) = db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
                    tracing::warn!(error = %e, "checkpoint after an import failed (the next writer retries it)");
                }
            });
            // A previous checkpoint still running goes on unwatched.
            *self.checkpoint.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
        Ok(())
    }

    /// Waits for the checkpoint `commit_bulk` started, if any (the command line, before it
    /// exits, so that the database file is whole).
    pub async fn checkpoint_done(&self) {
        let handle = self.checkpoint.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.await;
        }
    }

    pub fn is_sqlite(&self) -> bool {
        is_sqlite(&self.db)
    }

    /// The SQLite database's file.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite.as_ref().map(|o| o.get_filename())
    }

    /// The pool's connections now: open, idle, and the most it opens.
    pub fn pool(&self) -> crate::metrics::Pool {
        fn of<D: sqlx::Database>(p: &sqlx::Pool<D>) -> crate::metrics::Pool {
            crate::metrics::Pool {
                size: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            }
        }
        if self.is_sqlite() {
            of(self.db.get_sqlite_connection_pool())
        } else {
            of(self.db.get_postgres_connection_pool())
        }
    }

    /// Whether the database answers a trivial query (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        self.db.execute_unprepared("SELECT 1").await?;
        Ok(())
    }
}

/// Whether a connection or transaction is on SQLite (else PostgreSQL).
pub fn is_sqlite(c: &impl Conn) -> bool {
    c.get_database_backend() == sea_orm::DatabaseBackend::Sqlite
}

/// `BEGIN IMMEDIATE` on SQLite (nothing special on PostgreSQL).
fn immediate() -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    }
}

pub(crate) async fn commit(tx: Tx) -> Result<()> {
    Ok(tx.commit().await?)
}

/// Rolls a transaction back now. Dropping one only queues the rollback: on PostgreSQL the
/// connection goes back to the pool with its locks held until it is next used (an import
/// that failed after creating a tag kept the next import of that tag waiting ~17 s).
pub async fn rollback(tx: Tx) {
    if let Err(e) = tx.rollback().await {
        tracing::warn!(error = %e, "rollback failed");
    }
}

impl From<DbErr> for Error {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::conflict("already exists"),
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Error::conflict("refers to something that does not exist")
            }
            _ => Error::internal(format!("database: {e}")),
        }
    }
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Reads a date the store wrote as `YYYY-MM-DD`; anything else is an error, not a default.
pub fn stored_date(what: &str, s: &str) -> Result<NaiveDate> {
    date_from_text(&Some(s.to_string())).ok_or_else(|| Error::internal(format!("stored {what} '{s}' is not a date")))
}

pub fn date_to_text(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

/// Reads what `date_to_text` wrote. `YYYY-MM-DD` is read by hand: chrono parsing its pattern
/// for every card was a visible part of an export.
pub fn date_from_text(s: &Option<String>) -> Option<NaiveDate> {
    let s = s.as_deref()?;
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
        if let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) {
            return NaiveDate::from_ymd_opt(y as i32, m, d);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A cursor is the last id of the previous page; anything else is bad input.
pub fn parse_cursor(cursor: Option<&str>) -> Result<Option<String>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(c) => uuid::Uuid::parse_str(c)
            .map(|u| Some(u.to_string()))
            .map_err(|_| Error::bad_input("cursor", "not a cursor returned by this listing")),
    }
}

/// A hand-written statement with `?` placeholders, numbered `$1, $2, …` for PostgreSQL.
/// Used for the set-based statements that read better as SQL than as a builder chain; the
/// SQL must not contain `?` anywhere else.
pub fn sql(c: &impl Conn, text: &str, values: Vec<sea_orm::Value>) -> sea_orm::Statement {
    let backend = c.get_database_backend();
    let text = if backend == sea_orm::DatabaseBackend::Postgres {
        let mut out = String::with_capacity(text.len() + 16);
        let mut n = 0;
        for ch in text.chars() {
            if ch == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(ch);
            }
        }
        out
    } else {
        text.to_string()
    };
    sea_orm::Statement::from_sql_and_values(backend, text, values)
}

/// A query giving the rows of `page` (a `SELECT` whose result columns are `columns`, each
/// written `c.name`) as one JSON text: an array of one array of column values per row; `[]`
/// or NULL when there are none; then the aggregates `also` over the same rows. The drivers
/// then hand over one value per page instead of one per column and row. The rows' order is
/// not guaranteed (an aggregate `ORDER BY` would make SQLite sort them again in a temporary
/// B-tree): the caller sorts. The only difference between the engines is the functions' names.
pub fn json_rows_sql(c: &impl Conn, page: &str, columns: &str, also: &str) -> String {
    if c.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        format!("SELECT json_agg(json_build_array({columns}))::text, {also} FROM ({page}) c")
    } else {
        format!("SELECT json_group_array(json_array({columns})), {also} FROM ({page}) c")
    }
}

/// `text` for a `LIKE … ESCAPE 'e'` pattern, matching itself only: its `%`, `_` and `e` are
/// escaped with `e` (a user's text never becomes a wildcard).
pub fn like_literal(text: &str, e: char) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for ch in text.chars() {
        if ch == '%' || ch == '_' || ch == e {
            out.push(e);
        }
        out.push(ch);
    }
    out
}

/// Runs a statement and returns the number of rows it changed.
pub async fn exec(c: &impl Conn, text: &str, values: Vec<sea_orm::Value>) -> Result<u64> {
    Ok(c.execute_raw(sql(c, text, values)).await?.rows_affected())
}

/// Runs a query whose first column of its one row is a count.
pub async fn count(c: &impl Conn, text: &str, values: Vec<sea_orm::Value>) -> Result<i64> {
    let row = c.query_one_raw(sql(c, text, values)).await?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<i64>(0)?,
        None => 0,
    })
}
