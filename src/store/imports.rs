//! Set-based statements for card import and export: multi-row INSERTs whose SQL text is the
//! same for every full chunk (so the driver prepares it once per connection and reuses it),
//! and keyset-paged reads for streaming exports. Both engines, the same SQL.

use super::{Conn, sql};
use crate::domain::{CardFields, Result};
use sea_orm::Value;
use std::collections::HashMap;
use std::fmt::Write;

/// Cards per INSERT statement: 20 values each, well under SQLite's 32,766 and PostgreSQL's
/// 65,535 bind limits. Measured with `meishi bench import` (BENCHMARKS.md).
pub const CARD_CHUNK: usize = 500;
const LINK_CHUNK: usize = 2000;

const CARD_COLUMNS: &str = "id, org_id, owner_id, full_name, name_reading, company, company_key, department, title, \
     email, phone, mobile, fax, postal_code, address, url, exchanged_on, created_at, updated_at, extra";
const CARD_VALUES: usize = 20;

/// SQLite's page cache for the import's connection, in KiB: the B-tree pages an import keeps
/// touching (the last leaf of the table and of each index, one leaf per company in the company
/// index) stay in memory instead of being spilled and read back. The default is 2 MiB. The
/// cache also holds the transaction's dirty pages until it must spill them to the WAL, so a
/// larger one spills less often; 160 MiB keeps the import's peak RSS under 300 MB
/// (BENCHMARKS.md: 64 → 160 MiB, see the figures there).
pub const BULK_CACHE_KIB: i64 = 160 * 1024;
const DEFAULT_CACHE_KIB: i64 = 2000;

/// Sizes the page cache of the transaction's connection for a bulk insert (`on`), or back to
/// SQLite's default before the commit. Nothing to do on PostgreSQL.
pub async fn bulk_cache(c: &impl Conn, on: bool) -> Result<()> {
    if c.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return Ok(());
    }
    let kib = if on {
        std::env::var("MEISHI_IMPORT_CACHE_KIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(BULK_CACHE_KIB)
    } else {
        DEFAULT_CACHE_KIB
    };
    c.execute_unprepared(&format!("PRAGMA cache_size = -{kib}")).await?;
    Ok(())
}

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

fn insert_sql(table_and_columns: &str, per_row: usize, rows: usize) -> String {
    let mut s = String::with_capacity(64 + rows * (per_row * 2 + 3));
    let _ = write!(s, "INSERT INTO {table_and_columns} VALUES ");
    let one = format!("({})", vec!["?"; per_row].join(","));
    for i in 0..rows {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&one);
    }
    s
}

/// Inserts the cards with multi-row statements of `CARD_CHUNK` rows.
///
/// The rows go in in company-key order (ids keep the file's order): the `(org_id,
/// company_key, id)` index then takes them leaf after leaf instead of jumping between
/// thousands of insertion points, and the other B-trees (the table by id, the owner index)
/// are appended to at their right edge either way. The order of inserts within the
/// transaction changes nothing else.
pub async fn insert_cards(c: &impl Conn, org_id: &str, mut rows: Vec<ImportRow>, now: i64) -> Result<()> {
    rows.sort_by(|a, b| a.company_key.cmp(&b.company_key));
    let full_sql = insert_sql(&format!("cards ({CARD_COLUMNS})"), CARD_VALUES, CARD_CHUNK);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<ImportRow> = rows.by_ref().take(CARD_CHUNK).collect();
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * CARD_VALUES);
        let n = chunk.len();
        for r in chunk {
            let f = r.fields;
            values.extend([
                r.id.into(),
                org_id.into(),
                r.owner_id.into(),
                f.full_name.into(),
                f.name_reading.into(),
                f.company.into(),
                r.company_key.into(),
                f.department.into(),
                f.title.into(),
                f.email.into(),
                f.phone.into(),
                f.mobile.into(),
                f.fax.into(),
                f.postal_code.into(),
                f.address.into(),
                f.url.into(),
                f.exchanged_on.map(iso_date).into(),
                now.into(),
                now.into(),
                r.extra.into(),
            ]);
        }
        let text = if n == CARD_CHUNK {
            std::borrow::Cow::Borrowed(full_sql.as_str())
        } else {
            std::borrow::Cow::Owned(insert_sql(&format!("cards ({CARD_COLUMNS})"), CARD_VALUES, n))
        };
        c.execute_raw(sql(c, &text, values)).await?;
    }
    Ok(())
}

/// Links cards to tags: (card_id, tag_id) pairs.
pub async fn insert_links(c: &impl Conn, org_id: &str, links: Vec<(String, String)>) -> Result<()> {
    let full_sql = insert_sql("card_tags (card_id, tag_id, org_id)", 3, LINK_CHUNK);
    let mut links = links.into_iter().peekable();
    while links.peek().is_some() {
        let chunk: Vec<(String, String)> = links.by_ref().take(LINK_CHUNK).collect();
        let n = chunk.len();
        let mut values: Vec<Value> = Vec::with_capacity(n * 3);
        for (card, tag) in chunk {
            values.extend([card.into(), tag.into(), org_id.into()]);
        }
        let text = if n == LINK_CHUNK {
            full_sql.clone()
        } else {
            insert_sql("card_tags (card_id, tag_id, org_id)", 3, n)
        };
        c.execute_raw(sql(c, &text, values)).await?;
    }
    Ok(())
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
);

/// One page of an export as the database gave it: the cards as one JSON text, parsed by
/// `cards` (on the writer's side, while the next page is being read).
pub struct ExportPage {
    pub rows: usize,
    pub first: String,
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
            })
            .collect())
    }
}

/// One page of the selection, in id order, after `after`; None when there is nothing more.
///
/// The database hands the page over as one JSON text (an array of rows, each an array of
/// columns) instead of 15 values per card: the drivers' per-value cost (on SQLite a copy and a
/// cross-thread free of every value) was most of an export's time; building and parsing the
/// JSON costs a fraction of it (BENCHMARKS.md). The page's first and last ids come with it,
/// so the next page can be asked for before this one is parsed.
pub async fn export_page(
    c: &impl Conn,
    org_id: &str,
    s: &Selection,
    after: Option<&str>,
    limit: usize,
) -> Result<Option<ExportPage>> {
    let mut values = Vec::new();
    let mut w = selection_where(org_id, s, &mut values);
    if let Some(a) = after {
        w.push_str(" AND c.id > ?");
        values.push(a.into());
    }
    let columns = "c.id, c.full_name, c.name_reading, c.company, c.department, c.title, c.email, c.phone, \
                   c.mobile, c.fax, c.postal_code, c.address, c.url, c.exchanged_on, c.extra";
    let page = format!("SELECT {columns} FROM cards c WHERE {w} ORDER BY c.id LIMIT {limit}");
    let text = super::json_rows_sql(c, &page, columns, "COUNT(*), MIN(c.id), MAX(c.id)");
    let Some(row) = c.query_one_raw(sql(c, &text, values)).await? else {
        return Ok(None);
    };
    let rows = row.try_get_by_index::<i64>(1)? as usize;
    if rows == 0 {
        return Ok(None);
    }
    Ok(Some(ExportPage {
        rows,
        first: row.try_get_by_index(2)?,
        last: row.try_get_by_index(3)?,
        json: row.try_get_by_index(0)?,
    }))
}

/// Tag names on one owner's cards whose ids lie in `first..=last`, by card id, in name order.
/// `viewer`: only tags this member may see (shared, their own, the organisation's); None for all.
pub async fn tag_names_between(
    c: &impl Conn,
    org_id: &str,
    owner_id: &str,
    first: &str,
    last: &str,
    viewer: Option<&str>,
) -> Result<HashMap<String, Vec<String>>> {
    let mut values: Vec<Value> = vec![org_id.into(), owner_id.into(), first.into(), last.into()];
    let mut text = String::from(
        "SELECT ct.card_id, t.name FROM cards c JOIN card_tags ct ON ct.card_id = c.id JOIN tags t ON t.id = ct.tag_id \
         WHERE c.org_id = ? AND c.owner_id = ? AND c.id >= ? AND c.id <= ?",
    );
    if let Some(v) = viewer {
        text.push_str(" AND (t.shared = ? OR t.creator_id IS NULL OR t.creator_id = ?)");
        values.push(true.into());
        values.push(v.into());
    }
    text.push_str(" ORDER BY ct.card_id, t.name");
    let rows = c.query_all_raw(sql(c, &text, values)).await?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get_by_index::<String>(0)?)
            .or_default()
            .push(r.try_get_by_index::<String>(1)?);
    }
    Ok(out)
}
