//! The keyword index (issue 13): what `GET /api/v1/cards?q=` and the console's keyword box
//! find cards by, on both engines.
//!
//! **What is indexed** (`normalize::card_search_tokens`): each card's name, reading, company,
//! department, title and email folded (NFKC, case, hiragana = katakana, variant kanji), its
//! phone and mobile as digits; as character **bigrams** in field order, its distinct
//! **characters**, and its runs of digits as **4-digit grams**. A keyword of two characters or
//! more is the phrase of its bigrams (an exact substring of one field: no bigram spans two
//! fields and `FIELD_BARRIER` keeps a phrase from running on), and each run of four digits or
//! more in it also the phrase of its digit grams (the same matches, found among far fewer
//! candidates: a digit bigram is in most cards); a keyword of one character is that character.
//! Each keyword is looked for in its few spellings (`normalize::search_terms`: legal form
//! aside, phone digits).
//!
//! **SQLite**: two contentless FTS5 tables whose rowid is the card's rowid, fed text already
//! split, so the stock `unicode61` tokenizer only cuts at the spaces (`categories` keeps
//! punctuation and symbols inside tokens): `card_grams` (columns `grams` and `digits`,
//! `detail=full`: positions, for the phrases) and `card_chars` (`detail=none`: one-character queries need no positions, and a
//! positional unigram column cost twice the time and size). FTS5 returns a match's rowids in
//! order, lazily, so a page is `… ORDER BY rowid LIMIT 51` and stops at the 51st match: a
//! keyword search in the API's default order lists the matches in **rowid order**, the order
//! the cards were written (for cards meishi created, the order of their UUIDv7 ids but for
//! the ones an import wrote in one batch, which go in by company), and its cursor is the id
//! followed by the rowid. Caution: `cards` has no INTEGER PRIMARY KEY, and SQLite's `VACUUM`
//! may renumber such a table's rowids; meishi never runs one, and a database someone
//! vacuumed needs its keyword index made again (drop the two tables, delete migration 5 from
//! `schema_migrations`, start meishi; `search_key` must exist for the migration to drop). The trigram tokenizer was no option (one- and two-character
//! queries), nor FTS5 prefix queries on the bigrams (they merge every matching term's list:
//! 40–400 ms for a common character).
//!
//! **PostgreSQL**: `card_search (card_id, org_id, grams tsvector)`, the same tokens written as
//! a tsvector literal (bigrams with their positions, a gap between fields; characters without
//! positions) under a GIN index; a keyword is a `tsquery` phrase (`'ヤマ' <-> 'マモ' <-> 'モト'`).
//! GIN gives no order, so a page in id order takes one of two ways: up to `FEW` matches are
//! fetched by id and sorted; more are found by walking `card_search` in id order and testing
//! each row (`ts_match_vq`, the function, which no index takes), which meets 51 matches soon
//! because they are many. Which: the planner's estimate (asked with EXPLAIN) when it is far
//! above `FEW`; else the next `WINDOW` rows in id order are looked through first (a dense
//! phrase, which the planner underestimates, has its page there), then at most `FEW` + 1
//! matches counted (a LIMIT is not left to the planner, which then walks an index in order
//! for a rare phrase too).
//!
//! Maintenance is in the card's transaction: `store::cards` writes a card's entries with the
//! card, replaces them when its fields change, and removes them before the card (ON DELETE
//! CASCADE reaches `card_search` but not an FTS table); an import writes them one statement
//! per batch (`store::imports`). Figures and the choice: BENCHMARKS.md, "Search (issue 13)".

use super::entities::card;
use super::{Conn, is_sqlite, sql};
use crate::domain::normalize::{self, SearchTokens};
use crate::domain::{CardFields, Result};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{FromQueryResult, Value};

/// Rows per multi-row statement when indexing cards one call at a time (three values each).
const CHUNK: usize = 1000;

/// PostgreSQL: up to this many matches (the planner's estimate) are fetched and sorted; more
/// are met in id order. Either way reads about a heap page of `card_search` per match fetched
/// or row walked; 2,000 is where the two meet for a million cards (2,000 matches fetched, or
/// 51 / (2,000 / 1,000,000) ≈ 25,000 rows walked, six to a page).
pub const FEW: i64 = 2000;

/// PostgreSQL: the rows after the cursor, in id order, that a page looks through first.
const WINDOW: i64 = 3000;

/// FTS5's in-memory index grows to this many bytes before it is written out as a segment
/// (default 1 MB). An import writes a million cards' tokens in one transaction: larger
/// segments merge less (FTS5 build of 1M cards' bigrams 9.4 s instead of 19.6 s).
const GRAMS_HASH_BYTES: u64 = 32 << 20;
const CHARS_HASH_BYTES: u64 = 16 << 20;

/// The migration's statements (5): the index tables, engine by engine.
pub fn schema(sqlite: bool) -> Vec<String> {
    if sqlite {
        let table = |name: &str, column: &str, detail: &str| {
            format!(
                "CREATE VIRTUAL TABLE {name} USING fts5({column}, content='', contentless_delete=1, \
                 detail={detail}, tokenize=\"unicode61 categories 'L* N* P* S* M* Co' remove_diacritics 0\")"
            )
        };
        vec![
            table("card_grams", "grams, digits", "full"),
            table("card_chars", "chars", "none"),
            format!("INSERT INTO card_grams (card_grams, rank) VALUES ('hashsize', {GRAMS_HASH_BYTES})"),
            format!("INSERT INTO card_chars (card_chars, rank) VALUES ('hashsize', {CHARS_HASH_BYTES})"),
        ]
    } else {
        vec![
            "CREATE TABLE card_search (card_id TEXT PRIMARY KEY REFERENCES cards(id) ON DELETE CASCADE, \
             org_id TEXT NOT NULL, grams tsvector NOT NULL)"
                .into(),
            "CREATE INDEX card_search_grams ON card_search USING gin (grams)".into(),
        ]
    }
}

/// A PostgreSQL tsvector literal of a card's tokens: each bigram at its position (a position
/// left out at a field barrier), each character without one.
pub fn tsvector(t: &SearchTokens) -> String {
    let mut out = String::with_capacity(t.grams.len() * 2 + t.chars.len() * 2);
    let mut pos = 0u32;
    for g in t.grams.split(' ').filter(|g| !g.is_empty()) {
        pos += 1;
        if g == normalize::FIELD_BARRIER {
            continue;
        }
        quote_lexeme(g, &mut out);
        out.push(':');
        out.push_str(&pos.min(16383).to_string());
        out.push(' ');
    }
    pos += 1;
    for g in t.digits.split(' ').filter(|g| !g.is_empty()) {
        pos += 1;
        if g == normalize::FIELD_BARRIER {
            continue;
        }
        quote_lexeme(g, &mut out);
        out.push(':');
        out.push_str(&pos.min(16383).to_string());
        out.push(' ');
    }
    for c in t.chars.split(' ').filter(|c| !c.is_empty()) {
        quote_lexeme(c, &mut out);
        out.push(' ');
    }
    out.pop();
    out
}

fn quote_lexeme(s: &str, out: &mut String) {
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(ch),
        }
    }
    out.push('\'');
}

/// A keyword as the index is asked: the table it is looked up in (SQLite) and the query.
pub struct Query {
    /// Every term a single character: `card_chars` (SQLite).
    chars: bool,
    /// FTS5 MATCH text or a tsquery literal.
    text: String,
}

impl Query {
    /// None when the keyword folds to nothing (no filter).
    pub fn new(c: &impl Conn, q: &str) -> Option<Self> {
        let terms = normalize::search_terms(q);
        let first = terms.first()?;
        let chars = first.chars().count() == 1;
        let sqlite = is_sqlite(c);
        // A phrase of tokens, in the engine's syntax.
        let phrase = |tokens: &[&str], column: &str| {
            if sqlite {
                // Double quotes around the phrase, a quote inside doubled; `card_chars` has one
                // column and, with detail=none, no column filters.
                let quoted = format!("\"{}\"", tokens.join(" ").replace('"', "\"\""));
                if column == "chars" {
                    quoted
                } else {
                    format!("{column} : {quoted}")
                }
            } else {
                let lexemes: Vec<String> = tokens
                    .iter()
                    .map(|g| {
                        let mut l = String::new();
                        quote_lexeme(g, &mut l);
                        l
                    })
                    .collect();
                format!("({})", lexemes.join(" <-> "))
            }
        };
        let and = if sqlite { " AND " } else { " & " };
        // A term is the phrase of its bigrams (of its digit grams when it is all digits),
        // and, for speed only, each run of digits in it among the digit grams: a card with the
        // term in a field has that run in one of its runs of digits.
        let term = |t: &String| {
            let runs = normalize::digit_runs(t);
            let mut parts: Vec<String> = runs
                .iter()
                .map(|r| phrase(&normalize::digit_grams(r), "digits"))
                .collect();
            if runs.first().is_none_or(|r| r.len() != t.len()) {
                let grams = normalize::term_grams(t);
                let grams: Vec<&str> = grams.iter().map(String::as_str).collect();
                parts.insert(0, phrase(&grams, if chars { "chars" } else { "grams" }));
            }
            format!("({})", parts.join(and))
        };
        let text = terms
            .iter()
            .map(term)
            .collect::<Vec<_>>()
            .join(if sqlite { " OR " } else { " | " });
        Some(Self { chars, text })
    }

    fn table(&self) -> &'static str {
        if self.chars { "card_chars" } else { "card_grams" }
    }

    /// A condition on `cards` (any order, counts): the card is among the matches.
    pub fn condition(&self, c: &impl Conn, org_id: &str) -> SimpleExpr {
        if is_sqlite(c) {
            let table = self.table();
            Expr::cust_with_values(
                format!("cards.rowid IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)"),
                [Value::from(self.text.clone())],
            )
        } else {
            // sea-query numbers a custom expression's own placeholders on PostgreSQL.
            Expr::cust_with_values(
                "cards.id IN (SELECT card_id FROM card_search WHERE org_id = $1 AND grams @@ CAST($2 AS tsquery))",
                [Value::from(org_id), Value::from(self.text.clone())],
            )
        }
    }
}

/// The other filters of a listing, as SQL on `cards` and their values.
pub struct Filters {
    pub owner_id: Option<String>,
    pub company_key: Option<String>,
    pub tag_id: Option<String>,
}

impl Filters {
    fn sql(&self, org_id: &str, values: &mut Vec<Value>) -> String {
        let mut out = String::from(" AND cards.org_id = ?");
        values.push(org_id.into());
        if let Some(o) = &self.owner_id {
            out.push_str(" AND cards.owner_id = ?");
            values.push(o.clone().into());
        }
        if let Some(k) = &self.company_key {
            out.push_str(" AND cards.company_key = ?");
            values.push(k.clone().into());
        }
        if let Some(t) = &self.tag_id {
            out.push_str(" AND cards.id IN (SELECT card_id FROM card_tags WHERE tag_id = ? AND org_id = ?)");
            values.extend([t.clone().into(), org_id.into()]);
        }
        out
    }
}

/// One page of the matches in the API's default order (see the module's doc), after the card
/// `after` (its id and, on SQLite, its rowid as the key). Each card comes with its key.
pub async fn page(
    c: &impl Conn,
    org_id: &str,
    q: &Query,
    filters: &Filters,
    after: Option<(String, String)>,
    limit: u64,
) -> Result<Vec<(card::Model, String)>> {
    let mut values: Vec<Value> = vec![q.text.clone().into()];
    if is_sqlite(c) {
        let table = q.table();
        // The cursor's rowid; a cursor without one (not made by a keyword listing) is looked up.
        let from = match after {
            None => 0,
            Some((id, key)) => match key.parse::<i64>() {
                Ok(r) => r,
                Err(_) => {
                    super::count(
                        c,
                        "SELECT COALESCE(MAX(rowid), 0) FROM cards WHERE id = ?",
                        vec![id.into()],
                    )
                    .await?
                }
            },
        };
        values.push(from.into());
        let rest = filters.sql(org_id, &mut values);
        values.push((limit as i64).into());
        let text = format!(
            "SELECT cards.*, cards.rowid AS search_rowid FROM {table} CROSS JOIN cards ON cards.rowid = {table}.rowid \
             WHERE {table} MATCH ? AND {table}.rowid > ?{rest} ORDER BY {table}.rowid LIMIT ?"
        );
        let rows = c.query_all_raw(sql(c, &text, values)).await?;
        return rows
            .iter()
            .map(|r| {
                let rowid: i64 = r.try_get("", "search_rowid")?;
                Ok((card::Model::from_query_result(r, "")?, rowid.to_string()))
            })
            .collect();
    }
    let after_id = after.map(|(id, _)| id).unwrap_or_default();
    // The planner's estimate of the matches, from its statistics of the lexemes
    // (ts_typanalyze: a thousand-odd most common ones and their frequencies): a probe that
    // counted them read a heap page per match, 70 ms for 5,000 of them.
    let plan = c
        .query_one_raw(sql(
            c,
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM card_search WHERE grams @@ CAST(? AS tsquery)",
            values,
        ))
        .await?;
    let estimate = match plan {
        Some(r) => r.try_get_by_index::<serde_json::Value>(0)?[0]["Plan"]["Plan Rows"]
            .as_f64()
            .unwrap_or(f64::MAX),
        None => f64::MAX,
    };
    // Far above `FEW` the estimate is right (one common lexeme, its frequency known); below,
    // it is not to be trusted either way (a phrase's lexemes are multiplied as if independent;
    // a lexeme the statistics do not list is guessed at 0.5 %), so the matches are counted,
    // up to `FEW` + 1.
    let model = |rows: Vec<sea_orm::QueryResult>| -> Result<Vec<(card::Model, String)>> {
        rows.iter()
            .map(|r| Ok((card::Model::from_query_result(r, "")?, String::new())))
            .collect()
    };
    if estimate <= (10 * FEW) as f64 {
        // First the next `WINDOW` rows in id order: a phrase in one card in sixty or more has
        // its page there, and counting its matches would read a heap page for each.
        let mut values: Vec<Value> = vec![
            org_id.into(),
            after_id.clone().into(),
            WINDOW.into(),
            q.text.clone().into(),
        ];
        let rest = filters.sql(org_id, &mut values);
        values.push((limit as i64).into());
        let text = format!(
            "SELECT cards.* FROM (SELECT card_id, grams FROM card_search WHERE org_id = ? AND card_id > ? \
             ORDER BY card_id LIMIT ?) s JOIN cards ON cards.id = s.card_id \
             WHERE ts_match_vq(s.grams, CAST(? AS tsquery)){rest} ORDER BY s.card_id LIMIT ?"
        );
        let rows = c.query_all_raw(sql(c, &text, values)).await?;
        if rows.len() as u64 >= limit {
            return model(rows);
        }
    }
    let few = if estimate <= (10 * FEW) as f64 {
        c.query_all_raw(sql(
            c,
            "SELECT card_id FROM card_search WHERE grams @@ CAST(? AS tsquery) AND org_id = ? LIMIT ?",
            vec![q.text.clone().into(), org_id.into(), (FEW + 1).into()],
        ))
        .await?
    } else {
        Vec::new()
    };
    let text;
    let mut values: Vec<Value>;
    if estimate <= (10 * FEW) as f64 && (few.len() as i64) <= FEW {
        let ids: Vec<String> = few
            .iter()
            .map(|r| r.try_get_by_index(0))
            .collect::<std::result::Result<_, _>>()?;
        values = vec![serde_json::to_string(&ids).unwrap_or_default().into(), after_id.into()];
        let rest = filters.sql(org_id, &mut values);
        values.push((limit as i64).into());
        text = format!(
            "SELECT cards.* FROM cards WHERE cards.id IN (SELECT json_array_elements_text(CAST(? AS json))) \
             AND cards.id > ?{rest} ORDER BY cards.id LIMIT ?"
        );
    } else {
        values = vec![org_id.into(), q.text.clone().into(), after_id.into()];
        let rest = filters.sql(org_id, &mut values);
        values.push((limit as i64).into());
        text = format!(
            "SELECT cards.* FROM card_search s JOIN cards ON cards.id = s.card_id \
             WHERE s.org_id = ? AND ts_match_vq(s.grams, CAST(? AS tsquery)) AND s.card_id > ?{rest} \
             ORDER BY s.card_id LIMIT ?"
        );
    }
    model(c.query_all_raw(sql(c, &text, values)).await?)
}

/// Writes the index entries of cards already in `cards`: their ids and
/// `normalize::card_search_tokens`.
pub async fn add(c: &impl Conn, org_id: &str, cards: &[(String, SearchTokens)]) -> Result<()> {
    for chunk in cards.chunks(CHUNK) {
        if is_sqlite(c) {
            // The card's rowid, found by its id.
            let marks = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
            let mut values = Vec::with_capacity(chunk.len() * 4);
            for (id, t) in chunk {
                values.extend([
                    Value::from(id.as_str()),
                    t.grams.clone().into(),
                    t.digits.clone().into(),
                    t.chars.clone().into(),
                ]);
            }
            let rows = format!(
                "WITH v(id, grams, digits, chars) AS (VALUES {marks}) \
                 SELECT cards.rowid AS r, v.grams, v.digits, v.chars FROM v CROSS JOIN cards ON cards.id = v.id"
            );
            let grams = format!("INSERT INTO card_grams (rowid, grams, digits) SELECT r, grams, digits FROM ({rows})");
            c.execute_raw(sql(c, &grams, values.clone())).await?;
            let chars = format!("INSERT INTO card_chars (rowid, chars) SELECT r, chars FROM ({rows})");
            c.execute_raw(sql(c, &chars, values)).await?;
        } else {
            let marks = vec!["(?, ?, CAST(? AS tsvector))"; chunk.len()].join(", ");
            let mut values = Vec::with_capacity(chunk.len() * 3);
            for (id, t) in chunk {
                values.extend([Value::from(id.as_str()), org_id.into(), tsvector(t).into()]);
            }
            let text = format!("INSERT INTO card_search (card_id, org_id, grams) VALUES {marks}");
            c.execute_raw(sql(c, &text, values)).await?;
        }
    }
    Ok(())
}

/// Removes a card's index entries (before the card itself: an FTS table has no foreign key).
pub async fn remove(c: &impl Conn, org_id: &str, id: &str) -> Result<()> {
    if is_sqlite(c) {
        for table in ["card_grams", "card_chars"] {
            let text =
                format!("DELETE FROM {table} WHERE rowid = (SELECT rowid FROM cards WHERE org_id = ? AND id = ?)");
            c.execute_raw(sql(c, &text, vec![org_id.into(), id.into()])).await?;
        }
    } else {
        c.execute_raw(sql(
            c,
            "DELETE FROM card_search WHERE org_id = ? AND card_id = ?",
            vec![org_id.into(), id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Rows per page of `fill`.
const FILL_PAGE: i64 = 1000;

/// Indexes every existing card (migration 5), a page of cards at a time, with the tokens every
/// later write makes (they need NFKC, which neither engine's SQL has).
pub async fn fill(c: &impl Conn) -> Result<()> {
    let mut after = String::new();
    loop {
        let rows = c
            .query_all_raw(sql(
                c,
                "SELECT id, org_id, full_name, name_reading, company, department, title, email, phone, mobile \
                 FROM cards WHERE id > ? ORDER BY id LIMIT ?",
                vec![after.clone().into(), FILL_PAGE.into()],
            ))
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get_by_index(0)?;
        let mut by_org: std::collections::BTreeMap<String, Vec<(String, SearchTokens)>> = Default::default();
        for r in &rows {
            let f = CardFields {
                full_name: r.try_get_by_index(2)?,
                name_reading: r.try_get_by_index(3)?,
                company: r.try_get_by_index(4)?,
                department: r.try_get_by_index(5)?,
                title: r.try_get_by_index(6)?,
                email: r.try_get_by_index(7)?,
                phone: r.try_get_by_index(8)?,
                mobile: r.try_get_by_index(9)?,
                ..Default::default()
            };
            by_org
                .entry(r.try_get_by_index(1)?)
                .or_default()
                .push((r.try_get_by_index(0)?, normalize::card_search_tokens(&f)));
        }
        for (org_id, cards) in &by_org {
            add(c, org_id, cards).await?;
        }
        if (rows.len() as i64) < FILL_PAGE {
            return Ok(());
        }
    }
}

/// The index's size in bytes (SQLite: the FTS tables' shadow tables, from `dbstat`;
/// PostgreSQL: `card_search` with its GIN and primary key indexes and TOAST).
pub async fn size(c: &impl Conn) -> Result<i64> {
    let text = if is_sqlite(c) {
        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE 'card\\_grams\\_%' ESCAPE '\\' \
         OR name LIKE 'card\\_chars\\_%' ESCAPE '\\'"
    } else {
        "SELECT pg_total_relation_size('card_search')"
    };
    super::count(c, text, vec![]).await
}
