//! Set-based statements for card import and export. An import batch and an export page each
//! cross the driver as one JSON text, unpacked or built by the database (`json_each` /
//! `json_group_array` on SQLite, `json_array_elements` / `json_agg` on PostgreSQL): the
//! drivers' cost per bound or returned value was most of the time (BENCHMARKS.md). Export
//! pages are keyset-paged on the owner index. Both engines; only function names differ.

use super::{Conn, sql};
use crate::domain::{CardFields, Result};
use sea_orm::Value;
use std::collections::HashMap;

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

/// One card as the batch's JSON carries it: an array in `CARD_COLUMNS` order,
/// without the values every card of the batch shares (org_id, created_at, updated_at).
#[derive(serde::Serialize)]
struct JsonRow<'a>(
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<String>,
    Option<&'a str>,
);

const CARD_COLUMNS: &str = "id, owner_id, full_name, name_reading, company, company_key, department, title, email, \
                            phone, mobile, fax, postal_code, address, url, exchanged_on, extra";

/// The batch's JSON unpacked into rows: `SELECT j.value->>0, …, {also} FROM json_each(?)`
/// (`also`: values every row shares, bound before the JSON).
fn unpack_sql(c: &impl Conn, columns: usize, also: &str) -> String {
    let mut v: Vec<String> = (0..columns).map(|i| format!("j.value->>{i}")).collect();
    if !also.is_empty() {
        v.push(also.to_string());
    }
    format!("SELECT {} FROM {}", v.join(", "), super::json_each_sql(c))
}

/// A batch of cards and their tag links, ready to insert: each as one JSON text. Made by
/// `CardBatch::new` (pure work, done while the previous batch is being inserted), written by
/// `insert_batch`.
pub struct CardBatch {
    cards: String,
    links: Option<String>,
}

impl CardBatch {
    /// `links`: (card_id, tag_id) pairs.
    ///
    /// The rows go in in company-key order (ids keep the file's order): the `(org_id,
    /// company_key, id)` index then takes them leaf after leaf instead of jumping between
    /// thousands of insertion points, and the other B-trees (the table by id, the owner index)
    /// are appended to at their right edge either way. The order of inserts within the
    /// transaction changes nothing else.
    pub fn new(mut rows: Vec<ImportRow>, links: &[(String, String)]) -> Result<Self> {
        rows.sort_by(|a, b| a.company_key.cmp(&b.company_key));
        let json: Vec<JsonRow> = rows
            .iter()
            .map(|r| {
                let f = &r.fields;
                JsonRow(
                    &r.id,
                    &r.owner_id,
                    &f.full_name,
                    &f.name_reading,
                    &f.company,
                    &r.company_key,
                    &f.department,
                    &f.title,
                    &f.email,
                    &f.phone,
                    &f.mobile,
                    &f.fax,
                    &f.postal_code,
                    &f.address,
                    &f.url,
                    f.exchanged_on.map(iso_date),
                    r.extra.as_deref(),
                )
            })
            .collect();
        Ok(Self {
            cards: to_json(&json)?,
            links: if links.is_empty() { None } else { Some(to_json(links)?) },
        })
    }
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| crate::domain::Error::internal(format!("import batch: {e}")))
}

/// Inserts a batch: one bound JSON text for its cards (and one for its tag links), unpacked by
/// the database, instead of twenty bound values per card, each copied by the driver
/// (BENCHMARKS.md).
///
/// PostgreSQL inserts straight from `json_array_elements`. SQLite first unpacks the batch into
/// a temporary table and copies from there: a many-row INSERT that calls an SQL function
/// (here `->>`) always keeps a statement journal (the original of every page it touches,
/// a million page copies for a million cards), and `INSERT OR FAIL … SELECT` from a plain
/// table keeps none.
pub async fn insert_batch(c: &impl Conn, org_id: &str, batch: CardBatch, now: i64) -> Result<()> {
    if c.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        let text = format!(
            "INSERT INTO cards ({CARD_COLUMNS}, org_id, created_at, updated_at) {}",
            unpack_sql(c, 17, "?, ?, ?")
        );
        c.execute_raw(sql(
            c,
            &text,
            vec![org_id.into(), now.into(), now.into(), batch.cards.into()],
        ))
        .await?;
    } else {
        c.execute_unprepared(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS import_cards (seq INTEGER PRIMARY KEY, {CARD_COLUMNS})"
        ))
        .await?;
        let stage = format!(
            "INSERT INTO temp.import_cards ({CARD_COLUMNS}) {}",
            unpack_sql(c, 17, "")
        );
        c.execute_raw(sql(c, &stage, vec![batch.cards.into()])).await?;
        let copy = format!(
            "INSERT OR FAIL INTO cards ({CARD_COLUMNS}, org_id, created_at, updated_at) \
             SELECT {CARD_COLUMNS}, ?, ?, ? FROM temp.import_cards ORDER BY seq"
        );
        c.execute_raw(sql(c, &copy, vec![org_id.into(), now.into(), now.into()]))
            .await?;
        c.execute_unprepared("DELETE FROM temp.import_cards").await?;
    }
    if let Some(links) = batch.links {
        // Few pages are touched (the right edges of card_tags and its index): the statement
        // journal that `->>` brings is small here.
        let text = format!(
            "INSERT INTO card_tags (card_id, tag_id, org_id) {}",
            unpack_sql(c, 2, "?")
        );
        c.execute_raw(sql(c, &text, vec![org_id.into(), links.into()])).await?;
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
/// JSON costs a fraction of it (BENCHMARKS.md). The page's first and last ids come with it,
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
    let tags = if c.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        format!("(SELECT json_agg(x.name) FROM ({tags}) x)")
    } else {
        format!("(SELECT json_group_array(x.name) FROM ({tags}) x)")
    };
    let mut w = selection_where(org_id, s, &mut values);
    if let Some(a) = after {
        w.push_str(" AND c.id > ?");
        values.push(a.into());
    }
    // json(): the tags stay a JSON array inside the row's array (SQLite marks JSON values by a
    // subtype that does not survive the subquery); PostgreSQL's json_agg is of type json.
    let columns = format!(
        "c.id, c.full_name, c.name_reading, c.company, c.department, c.title, c.email, c.phone, c.mobile, c.fax, \
         c.postal_code, c.address, c.url, c.exchanged_on, c.extra, {}",
        if c.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            "c.tags"
        } else {
            "json(c.tags)"
        }
    );
    let page = format!(
        "SELECT c.id, c.full_name, c.name_reading, c.company, c.department, c.title, c.email, c.phone, \
         c.mobile, c.fax, c.postal_code, c.address, c.url, c.exchanged_on, c.extra, {tags} AS tags \
         FROM cards c WHERE {w} ORDER BY c.id LIMIT {limit}"
    );
    let text = super::json_rows_sql(c, &page, &columns, "COUNT(*), MIN(c.id), MAX(c.id)");
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
