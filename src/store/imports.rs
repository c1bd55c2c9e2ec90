//! Set-based statements for card import and export.
//!
//! An import batch goes in with one statement per table: on SQLite read straight from Rust
//! memory through the `import_rows` table-valued function (`row_feed.rs`), on PostgreSQL as one
//! JSON text unpacked by `json_array_elements`; large imports into SQLite build the indexes of
//! `cards` once at the end (`CardWriter`). An export page crosses the driver as one JSON text
//! built by the database (`json_group_array` / `json_agg`), keyset-paged on the owner index.
//! Why (the drivers' cost per bound or returned value was most of the time): BENCHMARKS.md.

use super::row_feed::{COLUMNS, RowFeed, RowSource};
use super::{Conn, is_sqlite, sql};
use crate::domain::{CardFields, Result};
use sea_orm::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// `YYYY-MM-DD`, as `super::date_to_text` writes it, without chrono parsing its pattern for
/// every card.
fn iso_date(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    if !(0..=9999).contains(&d.year()) {
        return d.format("%Y-%m-%d").to_string(); // chrono's sign and width
    }
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

pub struct ImportRow {
    pub id: String,
    pub owner_id: String,
    pub fields: CardFields,
    pub company_key: String,
    pub extra: Option<String>,
}

const CARD_COLUMNS: &str = "id, owner_id, full_name, name_reading, company, company_key, department, title, email, \
                            phone, mobile, fax, postal_code, address, url, exchanged_on, extra";

/// PostgreSQL: a batch's JSON unpacked into rows, `SELECT j.value->>0, …, {also} FROM
/// json_array_elements(?)` (`also`: values every row shares, bound before the JSON).
fn unpack_sql(columns: usize, also: &str) -> String {
    let mut v: Vec<String> = (0..columns).map(|i| format!("j.value->>{i}")).collect();
    v.push(also.to_string());
    format!(
        "SELECT {} FROM json_array_elements(CAST(? AS json)) AS j(value)",
        v.join(", ")
    )
}

/// A batch's cards, each read as the values of `CARD_COLUMNS` (without the ones every card of
/// the batch shares: org_id, created_at, updated_at).
pub struct CardRows {
    rows: Vec<ImportRow>,
    dates: Vec<Option<String>>,
}

impl RowSource for CardRows {
    fn rows(&self) -> usize {
        self.rows.len()
    }

    fn text(&self, row: usize, column: usize) -> Option<&str> {
        let r = &self.rows[row];
        let f = &r.fields;
        Some(match column {
            0 => &r.id,
            1 => &r.owner_id,
            2 => &f.full_name,
            3 => &f.name_reading,
            4 => &f.company,
            5 => &r.company_key,
            6 => &f.department,
            7 => &f.title,
            8 => &f.email,
            9 => &f.phone,
            10 => &f.mobile,
            11 => &f.fax,
            12 => &f.postal_code,
            13 => &f.address,
            14 => &f.url,
            15 => return self.dates[row].as_deref(),
            16 => return r.extra.as_deref(),
            _ => return None,
        })
    }
}

/// A batch of cards and their tag links, ready to insert. Made by `CardBatch::new` (pure work,
/// done while the previous batch is being inserted), written by `CardWriter::write`.
pub enum CardBatch {
    /// SQLite: the rows themselves, read through `import_rows` (`row_feed.rs`).
    Rows {
        cards: CardRows,
        links: Vec<(String, String)>,
    },
    /// PostgreSQL: each as one JSON text (an array of rows, each an array of values), unpacked
    /// by `json_array_elements`: one bound value per batch instead of twenty per card.
    Json {
        rows: u64,
        cards: String,
        links: Option<(u64, String)>,
    },
}

impl CardBatch {
    /// `links`: (card_id, tag_id) pairs.
    ///
    /// The rows go in in company-key order (ids keep the file's order): the `(org_id,
    /// company_key, id)` index then takes them leaf after leaf instead of jumping between
    /// thousands of insertion points, and the other B-trees (the table by id, the owner index)
    /// are appended to at their right edge either way. The order of inserts within the
    /// transaction changes nothing else.
    pub fn new(c: &impl Conn, mut rows: Vec<ImportRow>, links: Vec<(String, String)>) -> Result<Self> {
        rows.sort_by(|a, b| a.company_key.cmp(&b.company_key));
        let dates = rows.iter().map(|r| r.fields.exchanged_on.map(iso_date)).collect();
        let cards = CardRows { rows, dates };
        if is_sqlite(c) {
            return Ok(Self::Rows { cards, links });
        }
        let json: Vec<Vec<Option<&str>>> = (0..cards.rows())
            .map(|row| (0..COLUMNS).map(|column| cards.text(row, column)).collect())
            .collect();
        Ok(Self::Json {
            rows: cards.rows() as u64,
            cards: to_json(&json)?,
            links: if links.is_empty() {
                None
            } else {
                Some((links.len() as u64, to_json(&links)?))
            },
        })
    }
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| crate::domain::Error::internal(format!("import batch: {e}")))
}

/// Below this many rows written, an import keeps the indexes of `cards` up to date as it goes
/// (see `CardWriter`): a small import then changes no schema. Two batches: the tests' larger
/// imports take the other way too.
const DEFER_INDEXES_AFTER: u64 = 10_000;

/// The page cache, in KiB, while `CardWriter::finish` builds the deferred indexes.
pub const SORT_CACHE_KIB: i64 = 32 * 1024;

/// Writes an import's batches into `cards` and `card_tags`, in the import's transaction.
///
/// SQLite reads each batch from Rust memory through `import_rows` (`row_feed.rs`) with
/// `INSERT OR FAIL … SELECT`: no value is bound, no SQL function is called, so SQLite keeps no
/// statement journal. PostgreSQL unpacks each batch's JSON (`json_array_elements`).
///
/// **Deferred indexes (SQLite).** Keeping the two secondary indexes of `cards` up to date row
/// by row costs more than writing the rows themselves (the company index takes each batch's
/// entries at thousands of points). Building an index afresh sorts its entries once and
/// writes its pages in order. So once an import has written at least `DEFER_INDEXES_AFTER`
/// rows, and at least as many as the table held when it began (so that rebuilding the whole
/// table's indexes costs less than the rest of the import would have), the writer drops the
/// indexes of `cards` and `finish` creates them again, from the same definitions, before the
/// commit. All in the one transaction: a failed import rolls the indexes back with the rows,
/// and other connections read their last committed snapshot, indexes and all, meanwhile (WAL);
/// writers wait for the import's transaction as they always do. PostgreSQL keeps its indexes:
/// dropping one takes an exclusive lock that would stop every organisation's reads of `cards`
/// for the whole import.
pub struct CardWriter {
    /// SQLite: the connection's `import_rows` feed.
    feed: Option<RowFeed>,
    /// Rows in `cards` when the import began (SQLite: the largest rowid, an upper bound read
    /// from the table's last page instead of a count).
    existing: u64,
    written: u64,
    /// The `CREATE INDEX` statements of the dropped indexes, for `finish`.
    deferred: Option<Vec<String>>,
}

impl CardWriter {
    /// `feed`: what `Store::bulk_write` gave with the transaction.
    pub async fn start(c: &impl Conn, feed: Option<RowFeed>) -> Result<Self> {
        let existing = if is_sqlite(c) {
            super::count(c, "SELECT COALESCE(MAX(rowid), 0) FROM cards", vec![]).await? as u64
        } else {
            0
        };
        Ok(Self {
            feed,
            existing,
            written: 0,
            deferred: None,
        })
    }

    pub async fn write(&mut self, c: &impl Conn, org_id: &str, batch: CardBatch, now: i64) -> Result<()> {
        let into = format!("INTO cards ({CARD_COLUMNS}, org_id, created_at, updated_at)");
        let shared = || -> Vec<Value> { vec![org_id.into(), now.into(), now.into()] };
        match batch {
            CardBatch::Rows { cards, links } => {
                let Some(feed) = &self.feed else {
                    return Err(crate::domain::Error::internal("an SQLite import without its row feed"));
                };
                if self.deferred.is_none() && self.written >= DEFER_INDEXES_AFTER && self.written >= self.existing {
                    self.deferred = Some(drop_indexes(c, "cards").await?);
                }
                self.written += cards.rows() as u64;
                let columns = (0..COLUMNS).map(|i| format!("c{i}")).collect::<Vec<_>>().join(", ");
                let n = cards.rows() as u64;
                feed.put(Arc::new(cards));
                let text = format!("INSERT OR FAIL {into} SELECT {columns}, ?, ?, ? FROM import_rows");
                all_written(c.execute_raw(sql(c, &text, shared())).await?, n)?;
                if !links.is_empty() {
                    let n = links.len() as u64;
                    feed.put(Arc::new(links));
                    let text =
                        "INSERT OR FAIL INTO card_tags (card_id, tag_id, org_id) SELECT c0, c1, ? FROM import_rows";
                    all_written(c.execute_raw(sql(c, text, vec![org_id.into()])).await?, n)?;
                }
            }
            CardBatch::Json { rows, cards, links } => {
                self.written += rows;
                let mut values = shared();
                values.push(cards.into());
                let text = format!("INSERT {into} {}", unpack_sql(COLUMNS, "?, ?, ?"));
                all_written(c.execute_raw(sql(c, &text, values)).await?, rows)?;
                if let Some((n, links)) = links {
                    let text = format!("INSERT INTO card_tags (card_id, tag_id, org_id) {}", unpack_sql(2, "?"));
                    all_written(
                        c.execute_raw(sql(c, &text, vec![org_id.into(), links.into()])).await?,
                        n,
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Builds the deferred indexes again; call it before committing.
    ///
    /// SQLite sorts an index's entries in as much memory as its page cache may hold, and
    /// the import's cache is large (`BULK_CACHE_KIB`): both together would take the import's
    /// memory past 300 MB for a million cards. So the cache is made small first and the sort
    /// spills sorted runs to temporary files instead.
    pub async fn finish(self, c: &impl Conn) -> Result<()> {
        let Some(creates) = self.deferred else {
            return Ok(());
        };
        c.execute_unprepared(&format!("PRAGMA cache_size = -{SORT_CACHE_KIB}"))
            .await?;
        for create in creates {
            c.execute_unprepared(&create).await?;
        }
        Ok(())
    }
}

/// A batch's INSERT wrote every row it was given (a check that costs nothing: were the rows
/// ever not read, the import must fail rather than report them imported).
fn all_written(done: sea_orm::ExecResult, rows: u64) -> Result<()> {
    if done.rows_affected() == rows {
        Ok(())
    } else {
        Err(crate::domain::Error::internal(format!(
            "an import batch of {rows} rows wrote {}",
            done.rows_affected()
        )))
    }
}

/// A table's explicit indexes (SQLite; not the primary key's): name and `CREATE INDEX`
/// statement, as the schema holds them.
pub async fn index_definitions(c: &impl Conn, table: &str) -> Result<Vec<(String, String)>> {
    let rows = c
        .query_all_raw(sql(
            c,
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            vec![table.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// Drops a table's explicit indexes (SQLite) and returns the statements that create them again.
/// meishi never runs ANALYZE; in a database someone has analysed, the dropped indexes'
/// `sqlite_stat1` rows go with them until the next ANALYZE (the planner's defaults meanwhile).
async fn drop_indexes(c: &impl Conn, table: &str) -> Result<Vec<String>> {
    let mut creates = Vec::new();
    for (name, create) in index_definitions(c, table).await? {
        c.execute_unprepared(&format!("DROP INDEX \"{name}\"")).await?;
        creates.push(create);
    }
    Ok(creates)
}

/// The ids of a user's personal tags with these names: name → id.
pub async fn personal_tags(
    c: &impl Conn,
    org_id: &str,
    owner_id: &str,
    names: &[String],
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for chunk in names.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut values: Vec<Value> = vec![org_id.into(), owner_id.into()];
        values.extend(chunk.iter().map(|n| Value::from(n.as_str())));
        let rows = c
            .query_all_raw(sql(
                c,
                &format!("SELECT name, id FROM tags WHERE org_id = ? AND creator_id = ? AND name IN ({marks})"),
                values,
            ))
            .await?;
        for r in rows {
            out.insert(r.try_get_by_index::<String>(0)?, r.try_get_by_index::<String>(1)?);
        }
    }
    Ok(out)
}

/// Every user of the organisation: id → email (for the owner column of an export).
pub async fn user_emails(c: &impl Conn, org_id: &str) -> Result<HashMap<String, String>> {
    let rows = c
        .query_all_raw(sql(
            c,
            "SELECT id, email FROM users WHERE org_id = ?",
            vec![org_id.into()],
        ))
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(r.try_get_by_index::<String>(0)?, r.try_get_by_index::<String>(1)?);
    }
    Ok(out)
}

/// Which cards an export takes: one owner's (the pages walk the `(org_id, owner_id, id)`
/// index, so every page is a range scan on both engines), optionally only those with a tag.
#[derive(Clone, Default)]
pub struct Selection {
    pub owner_id: String,
    pub tag_id: Option<String>,
}

fn selection_where(org_id: &str, s: &Selection, values: &mut Vec<Value>) -> String {
    let mut w = String::from("c.org_id = ? AND c.owner_id = ?");
    values.push(org_id.into());
    values.push(s.owner_id.as_str().into());
    if let Some(t) = &s.tag_id {
        w.push_str(" AND c.id IN (SELECT card_id FROM card_tags WHERE tag_id = ? AND org_id = ?)");
        values.push(t.as_str().into());
        values.push(org_id.into());
    }
    w
}

/// How many cards an export of these owners (all when None) and tag takes.
pub async fn count_selection(c: &impl Conn, org_id: &str, owner_id: Option<&str>, tag_id: Option<&str>) -> Result<i64> {
    let mut values: Vec<Value> = vec![org_id.into()];
    let mut w = String::from("c.org_id = ?");
    if let Some(o) = owner_id {
        w.push_str(" AND c.owner_id = ?");
        values.push(o.into());
    }
    if let Some(t) = tag_id {
        w.push_str(" AND c.id IN (SELECT card_id FROM card_tags WHERE tag_id = ? AND org_id = ?)");
        values.push(t.into());
        values.push(org_id.into());
    }
    super::count(c, &format!("SELECT COUNT(*) FROM cards c WHERE {w}"), values).await
}

pub struct ExportCard {
    pub id: String,
    pub fields: CardFields,
    pub extra: Option<String>,
    /// Tag names, in name order.
    pub tags: Vec<String>,
}

/// One exported card as the page's JSON carries it: an array in `export_page`'s column order.
#[derive(serde::Deserialize)]
struct JsonCard(
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    /// The card's tag names (None: PostgreSQL's json_agg of no rows).
    Option<Vec<String>>,
);

/// One page of an export as the database gave it: the cards as one JSON text, parsed by
/// `cards` (on the writer's side, while the next page is being read).
pub struct ExportPage {
    pub rows: usize,
    pub last: String,
    json: String,
}

impl ExportPage {
    /// The page's cards, in id order.
    pub fn cards(&self) -> Result<Vec<ExportCard>> {
        let mut rows: Vec<JsonCard> = serde_json::from_str(&self.json)
            .map_err(|e| crate::domain::Error::internal(format!("export page: {e}")))?;
        rows.sort_by(|a, b| a.0.cmp(&b.0)); // most likely in order already: one pass
        Ok(rows
            .into_iter()
            .map(|r| ExportCard {
                id: r.0,
                fields: CardFields {
                    full_name: r.1,
                    name_reading: r.2,
                    company: r.3,
                    department: r.4,
                    title: r.5,
                    email: r.6,
                    phone: r.7,
                    mobile: r.8,
                    fax: r.9,
                    postal_code: r.10,
                    address: r.11,
                    url: r.12,
                    exchanged_on: super::date_from_text(&r.13),
                },
                extra: r.14,
                tags: {
                    let mut t = r.15.unwrap_or_default();
                    t.sort();
                    t
                },
            })
            .collect())
    }
}

/// One page of the selection, in id order, after `after`; None when there is nothing more.
///
/// The database hands the page over as one JSON text (an array of rows, each an array of
/// columns) instead of 15 values per card: the drivers' per-value cost (on SQLite a copy and a
/// cross-thread free of every value) was most of an export's time; building and parsing the
/// JSON costs a fraction of it (BENCHMARKS.md). The page's count and last id come with it,
/// so the next page can be asked for before this one is parsed.
pub async fn export_page(
    c: &impl Conn,
    org_id: &str,
    s: &Selection,
    after: Option<&str>,
    limit: usize,
    viewer: Option<&str>,
) -> Result<Option<ExportPage>> {
    // The card's tag names, as a JSON array: one primary-key range per card in card_tags.
    // `viewer`: only the tags this member may see (shared, their own, the organisation's).
    let mut values: Vec<Value> = Vec::new();
    let mut tags =
        String::from("SELECT t.name FROM card_tags ct JOIN tags t ON t.id = ct.tag_id WHERE ct.card_id = c.id");
    if let Some(v) = viewer {
        tags.push_str(" AND (t.shared = ? OR t.creator_id IS NULL OR t.creator_id = ?)");
        values.push(true.into());
        values.push(v.into());
    }
    let sqlite = is_sqlite(c);
    let tags = if sqlite {
        format!("(SELECT json_group_array(x.name) FROM ({tags}) x)")
    } else {
        format!("(SELECT json_agg(x.name) FROM ({tags}) x)")
    };
    let mut w = selection_where(org_id, s, &mut values);
    if let Some(a) = after {
        w.push_str(" AND c.id > ?");
        values.push(a.into());
    }
    // json(): the tags stay a JSON array inside the row's array (SQLite marks JSON values by a
    // subtype that does not survive the subquery); PostgreSQL's json_agg is of type json.
    const CARD: &str = "c.id, c.full_name, c.name_reading, c.company, c.department, c.title, c.email, c.phone, \
                        c.mobile, c.fax, c.postal_code, c.address, c.url, c.exchanged_on, c.extra";
    let columns = format!("{CARD}, {}", if sqlite { "json(c.tags)" } else { "c.tags" });
    let page = format!("SELECT {CARD}, {tags} AS tags FROM cards c WHERE {w} ORDER BY c.id LIMIT {limit}");
    let text = super::json_rows_sql(c, &page, &columns, "COUNT(*), MAX(c.id)");
    let Some(row) = c.query_one_raw(sql(c, &text, values)).await? else {
        return Ok(None);
    };
    let rows = row.try_get_by_index::<i64>(1)? as usize;
    if rows == 0 {
        return Ok(None);
    }
    Ok(Some(ExportPage {
        rows,
        last: row.try_get_by_index(2)?,
        json: row.try_get_by_index(0)?,
    }))
}
