//! Set-based statements for card import (the export's pages are in `exports.rs`).
//!
//! An import batch goes in with one statement per table: on SQLite read straight from Rust
//! memory through the `import_rows` table-valued function (`row_feed.rs`), on PostgreSQL as one
//! JSON text unpacked by `json_array_elements`; large imports into SQLite build the indexes of
//! `cards` once at the end (`CardWriter`).
//! Why (the drivers' cost per bound value was most of the time): BENCHMARKS.md.

use super::row_feed::{RowFeed, RowSource};
use super::{Conn, is_sqlite, sql};
use crate::domain::normalize::SearchTokens;
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
    /// Its keyword index entries (`normalize::card_search_tokens`).
    pub search: SearchTokens,
    pub name_key: String,
    pub extra: Option<String>,
    /// The person (`service::people::Placer`); None when the import ran without matching.
    pub person_id: Option<i64>,
}

const CARD_COLUMNS: &str = "id, owner_id, full_name, name_reading, company, company_key, department, title, email, \
                            phone, mobile, fax, postal_code, address, url, exchanged_on, extra, name_key, person_id";

/// How many values of `CardRows` go into `cards` (`CARD_COLUMNS`); then come the keyword
/// index's: on SQLite the bigrams, the characters, the digit grams; on PostgreSQL the gram
/// keys (`search::grams_literal`) and the folded fields (`SearchTokens::body`).
const CARD_VALUES: usize = 19;

/// Where `person_id` is among `CARD_COLUMNS` (a number: PostgreSQL reads it from JSON text).
const PERSON_COLUMN: usize = 18;

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
/// the batch shares: org_id, created_at, updated_at), then its keyword index entries.
pub struct CardRows {
    rows: Vec<ImportRow>,
    dates: Vec<Option<String>>,
    /// PostgreSQL: each card's gram keys (`search::grams_literal`); SQLite: none.
    vectors: Vec<String>,
    people: Vec<Option<String>>,
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
            17 => &r.name_key,
            PERSON_COLUMN => return self.people[row].as_deref(),
            19 => match self.vectors.get(row) {
                Some(v) => v,
                None => &r.search.grams,
            },
            20 => &r.search.chars,
            21 => &r.search.digits,
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
        let people = rows.iter().map(|r| r.person_id.map(|p| p.to_string())).collect();
        if is_sqlite(c) {
            let cards = CardRows {
                rows,
                dates,
                vectors: Vec::new(),
                people,
            };
            return Ok(Self::Rows { cards, links });
        }
        let vectors = rows.iter().map(|r| super::search::grams_literal(&r.search)).collect();
        let cards = CardRows {
            rows,
            dates,
            vectors,
            people,
        };
        let json: Vec<Vec<Option<&str>>> = (0..cards.rows())
            .map(|row| {
                (0..=CARD_VALUES)
                    .map(|column| cards.text(row, column))
                    .chain([Some(cards.rows[row].search.body.as_str())])
                    .collect()
            })
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
///
/// **The keyword index (SQLite)** is written once, by `finish`: the batches' entries wait in a
/// temporary table (`temp.import_search`, in SQLite's temporary file, not in memory). Every
/// many-row INSERT into an FTS5 table opens a statement savepoint, and at each savepoint FTS5
/// writes its pending entries out as a segment: fed a batch at a time, the index was cut into
/// a segment per 5,000 cards, merged again and again as the import went on. In one statement
/// FTS5 writes a segment each time its 32 MB of pending entries fill (`store::search`).
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
        if feed.is_some() {
            c.execute_unprepared(
                "CREATE TEMP TABLE import_search (rid INTEGER PRIMARY KEY, grams TEXT, chars TEXT, digits TEXT)",
            )
            .await?;
        }
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
                let columns = (0..CARD_VALUES).map(|i| format!("c{i}")).collect::<Vec<_>>().join(", ");
                let n = cards.rows() as u64;
                feed.put(Arc::new(cards));
                let text = format!("INSERT OR FAIL {into} SELECT {columns}, ?, ?, ? FROM import_rows");
                all_written(c.execute_raw(sql(c, &text, shared())).await?, n)?;
                // The keyword index entries (store::search), keyed by the rows' rowids just
                // made, wait in `temp.import_search` for `finish` (see `CardWriter`).
                let text = format!(
                    "INSERT OR FAIL INTO temp.import_search (rid, grams, chars, digits) \
                     SELECT cards.rowid, f.c{CARD_VALUES}, f.c{}, f.c{} FROM import_rows f CROSS JOIN cards ON cards.id = f.c0",
                    CARD_VALUES + 1,
                    CARD_VALUES + 2
                );
                all_written(c.execute_raw(sql(c, &text, vec![])).await?, n)?;
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
                // The cards and their keyword index entries in one statement, the JSON read once.
                let mut values = vec![cards.into()];
                values.extend(shared());
                values.push(org_id.into());
                let columns = (0..CARD_VALUES)
                    .map(|i| match i {
                        PERSON_COLUMN => format!("CAST(v->>{i} AS BIGINT)"),
                        _ => format!("v->>{i}"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let text = format!(
                    "WITH j AS (SELECT value AS v FROM json_array_elements(CAST(? AS json))), \
                     c AS (INSERT {into} SELECT {columns}, ?, ?, ? FROM j) \
                     INSERT INTO card_search (org_id, card_id, body, grams) \
                     SELECT ?, v->>0, v->>{body}, CAST(v->>{CARD_VALUES} AS int4[]) FROM j",
                    body = CARD_VALUES + 1
                );
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

    /// Puts the staged keyword index entries into the FTS5 tables and builds the deferred
    /// indexes again; call it before committing.
    ///
    /// SQLite (the only engine with a feed, staged entries or deferred indexes): the rows are
    /// written, so the page cache goes down to `SORT_CACHE_KIB` first. An index's sort takes as
    /// much memory as the cache may hold, and FTS5's pending entries (up to 48 MB) would come on
    /// top of the import's large cache (`BULK_CACHE_KIB`): either would take the import's memory
    /// past 300 MB for a million cards. Sorts spill sorted runs to temporary files instead.
    pub async fn finish(self, c: &impl Conn) -> Result<()> {
        if self.feed.is_none() {
            return Ok(());
        }
        c.execute_unprepared(&format!("PRAGMA cache_size = -{SORT_CACHE_KIB}"))
            .await?;
        // Each FTS5 table takes the whole import's entries in one statement, in rowid order.
        for (table, columns) in [("card_grams", "grams, digits"), ("card_chars", "chars")] {
            let text = format!("INSERT INTO {table} (rowid, {columns}) SELECT rid, {columns} FROM temp.import_search");
            all_written(c.execute_raw(sql(c, &text, vec![])).await?, self.written)?;
        }
        c.execute_unprepared("DROP TABLE temp.import_search").await?;
        let creates = self.deferred.unwrap_or_default();
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
