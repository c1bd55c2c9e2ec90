//! Set-based statements for card export: the selection's count and its pages. A page crosses
//! the driver as one JSON text built by the database (`json_group_array` / `json_agg`),
//! keyset-paged on the owner index.
//! Why (the drivers' cost per returned value was most of the time): BENCHMARKS.md.

use super::{Conn, is_sqlite, sql};
use crate::domain::{CardFields, Result};
use sea_orm::Value;
use std::collections::HashMap;

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
