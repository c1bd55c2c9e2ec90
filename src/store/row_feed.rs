//! `import_rows`: a table-valued function through which an import hands its rows to SQLite,
//! straight from Rust memory, on the import's own connection (`Store::bulk_write`).
//!
//! `INSERT OR FAIL INTO cards (…) SELECT c0, c1, …, c17 FROM import_rows` reads the rows last
//! put into the connection's `RowFeed`; each value is copied once, by SQLite, into the new
//! record. Why not bound values or JSON (BENCHMARKS.md):
//! - sqlx binds one value at a time on the connection's thread, and a multi-row `VALUES` is
//!   compiled into code per row; JSON unpacking (`j.value->>n`) walks each row's array once per
//!   column, about 1.4 s of the writer's time per million cards;
//! - any SQL function in a many-row INSERT (`->>`, even `upper()`) makes SQLite keep a
//!   statement journal, a copy of every page of the transaction that the statement writes out
//!   again. A virtual table in the `FROM` clause needs no function and so keeps none.
//!
//! This and `store::stable_plans` are the places meishi calls SQLite's C interface itself
//! (through `libsqlite3-sys`, the version sqlx links; the lock file pins both). The module is eponymous (no `CREATE VIRTUAL
//! TABLE`), registered only on the bulk connection, read-only, and never sees SQL text from a
//! user.

use libsqlite3_sys as ffi;
use std::ffi::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex};

/// The columns `import_rows` declares: `c0` … `c21` (a source uses as many as it has).
pub const COLUMNS: usize = 22;
const DECLARATION: &std::ffi::CStr =
    c"CREATE TABLE x(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21)";

/// Rows of text (or NULL) values, read by column number.
pub trait RowSource: Send + Sync {
    fn rows(&self) -> usize;
    fn text(&self, row: usize, column: usize) -> Option<&str>;
}

/// (card_id, tag_id) pairs.
impl RowSource for Vec<(String, String)> {
    fn rows(&self) -> usize {
        self.len()
    }
    fn text(&self, row: usize, column: usize) -> Option<&str> {
        let (card, tag) = &self[row];
        match column {
            0 => Some(card),
            1 => Some(tag),
            _ => None,
        }
    }
}

type Slot = Option<Arc<dyn RowSource>>;

/// The rows every `SELECT … FROM import_rows` on the connection reads, until the next `put`.
#[derive(Clone, Default)]
pub struct RowFeed(Arc<Mutex<Slot>>);

impl RowFeed {
    pub fn put(&self, rows: Arc<dyn RowSource>) {
        *self.slot() = Some(rows);
    }

    fn get(&self) -> Slot {
        self.slot().clone()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `import_rows`, reading from this feed, on a connection.
    ///
    /// # Safety
    /// `db` is an open connection that no other thread is using during the call.
    pub unsafe fn register(&self, db: *mut ffi::sqlite3) -> Result<(), String> {
        let aux = Box::into_raw(Box::new(self.clone())) as *mut c_void;
        // SAFETY: MODULE lives forever; SQLite owns `aux` from here and frees it with drop_aux
        // (also when registration fails).
        let rc = unsafe { ffi::sqlite3_create_module_v2(db, c"import_rows".as_ptr(), &MODULE, aux, Some(drop_aux)) };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(format!("cannot register import_rows: SQLite error {rc}"))
        }
    }
}

static MODULE: ffi::sqlite3_module = {
    // SAFETY: every field is an integer or an optional function pointer; zero is 0 or None.
    let mut m: ffi::sqlite3_module = unsafe { std::mem::zeroed() };
    // No xCreate: eponymous only, `FROM import_rows` with no CREATE VIRTUAL TABLE.
    m.xConnect = Some(connect);
    m.xBestIndex = Some(best_index);
    m.xDisconnect = Some(disconnect);
    m.xOpen = Some(open);
    m.xClose = Some(close);
    m.xFilter = Some(filter);
    m.xNext = Some(next);
    m.xEof = Some(eof);
    m.xColumn = Some(column);
    m.xRowid = Some(rowid);
    m
};

#[repr(C)]
struct Table {
    base: ffi::sqlite3_vtab, // first: SQLite sees a sqlite3_vtab
    feed: RowFeed,
}

#[repr(C)]
struct Cursor {
    base: ffi::sqlite3_vtab_cursor, // first: SQLite sees a sqlite3_vtab_cursor
    rows: Slot,
    at: usize,
}

unsafe extern "C" fn drop_aux(aux: *mut c_void) {
    // SAFETY: made by Box::into_raw in register.
    drop(unsafe { Box::from_raw(aux as *mut RowFeed) });
}

unsafe extern "C" fn connect(
    db: *mut ffi::sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    vtab: *mut *mut ffi::sqlite3_vtab,
    _err: *mut *mut c_char,
) -> c_int {
    // SAFETY: SQLite passes its connection, our aux and an out pointer.
    unsafe {
        let rc = ffi::sqlite3_declare_vtab(db, DECLARATION.as_ptr());
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let feed = (*(aux as *const RowFeed)).clone();
        let table = Box::new(Table {
            base: std::mem::zeroed(),
            feed,
        });
        *vtab = Box::into_raw(table) as *mut ffi::sqlite3_vtab;
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn disconnect(vtab: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: made by Box::into_raw in connect.
    drop(unsafe { Box::from_raw(vtab as *mut Table) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn best_index(_vtab: *mut ffi::sqlite3_vtab, info: *mut ffi::sqlite3_index_info) -> c_int {
    // One plan: read every row, in order. No constraint is used.
    // SAFETY: SQLite passes a valid index info.
    unsafe {
        (*info).estimatedCost = 5000.0;
        (*info).estimatedRows = 5000;
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn open(_vtab: *mut ffi::sqlite3_vtab, cursor: *mut *mut ffi::sqlite3_vtab_cursor) -> c_int {
    let c = Box::new(Cursor {
        // SAFETY: a plain C struct; SQLite fills in pVtab.
        base: unsafe { std::mem::zeroed() },
        rows: None,
        at: 0,
    });
    // SAFETY: SQLite passes an out pointer.
    unsafe { *cursor = Box::into_raw(c) as *mut ffi::sqlite3_vtab_cursor };
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: made by Box::into_raw in open.
    drop(unsafe { Box::from_raw(cursor as *mut Cursor) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn filter(
    cursor: *mut ffi::sqlite3_vtab_cursor,
    _idx: c_int,
    _idx_str: *const c_char,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    // SAFETY: our cursor, whose pVtab SQLite set to our table.
    unsafe {
        let c = &mut *(cursor as *mut Cursor);
        let table = &*(c.base.pVtab as *const Table);
        c.rows = table.feed.get();
        c.at = 0;
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn next(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: our cursor.
    unsafe { (*(cursor as *mut Cursor)).at += 1 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn eof(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: our cursor.
    let c = unsafe { &*(cursor as *const Cursor) };
    c.rows.as_ref().is_none_or(|r| c.at >= r.rows()) as c_int
}

unsafe extern "C" fn column(cursor: *mut ffi::sqlite3_vtab_cursor, ctx: *mut ffi::sqlite3_context, i: c_int) -> c_int {
    // SAFETY: our cursor, on a row (SQLite checked eof); SQLite copies the text (TRANSIENT).
    unsafe {
        let c = &*(cursor as *const Cursor);
        let value = c.rows.as_ref().and_then(|r| r.text(c.at, i as usize));
        match value {
            Some(s) => ffi::sqlite3_result_text(
                ctx,
                s.as_ptr() as *const c_char,
                s.len() as c_int,
                ffi::SQLITE_TRANSIENT(),
            ),
            None => ffi::sqlite3_result_null(ctx),
        }
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn rowid(cursor: *mut ffi::sqlite3_vtab_cursor, out: *mut ffi::sqlite3_int64) -> c_int {
    // SAFETY: our cursor and SQLite's out pointer.
    unsafe { *out = (*(cursor as *const Cursor)).at as i64 };
    ffi::SQLITE_OK
}
