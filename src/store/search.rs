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

/// PostgreSQL: up to this many candidates (GIN's, counted) are fetched and sorted; more are
/// met walking `card_search` in id order. Fetching reads a heap page per candidate, walking
/// reads rows in order (several to a page) and tests each: at a million cards they cost
/// about the same at a few thousand matches (3,000 fetched, or 51 / 0.3 % = 17,000 rows
/// walked). BENCHMARKS.md, "Search (issue 13)".
pub const FEW: i64 = 3000;

/// PostgreSQL: the rows after the cursor, in id order, that a page looks through first when
/// the statistics say the keyword is in one card in `WINDOW / limit` or more.
const WINDOW: i64 = 8000;

/// PostgreSQL: at most this many gram keys of a term are looked up (spread over it).
const TERM_KEYS: usize = 8;

/// PostgreSQL: a gram key in more than this share of the index's entries is not looked up
/// when the term has a rarer one: it would cost GIN the reading of a posting list as long as
/// the table and remove few candidates.
const UBIQUITOUS: f64 = 0.5;

/// PostgreSQL: a term whose rarest gram key is in this share of the entries or more is
/// taken to be as common as that key when deciding on the window (its grams are met
/// together); below it only a count tells (`FEW`).
const DENSE: f64 = 0.05;

/// PostgreSQL: the grams indexed, one to this many characters long.
const GRAM: usize = 3;

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
            // No foreign key: its ON DELETE would look rows up by card_id, which no index here
            // leads with; `remove` deletes a card's row before the card (as for the FTS tables).
            "CREATE TABLE card_search (org_id TEXT NOT NULL, card_id TEXT NOT NULL, body TEXT NOT NULL, \
             grams INTEGER[] NOT NULL, PRIMARY KEY (org_id, card_id))"
                .into(),
            "CREATE INDEX card_search_grams ON card_search USING gin (grams)".into(),
        ]
    }
}

/// PostgreSQL: a gram's key in `card_search.grams`, FNV-1a (32 bits) of its UTF-8 bytes. Every
/// index entry holds these: changing the function means indexing every card again.
pub fn gram_key(g: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in g.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

/// The byte offsets of a text's characters, and its length at the end.
fn char_starts(s: &str) -> Vec<usize> {
    s.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect()
}

/// PostgreSQL: the keys of a card's grams (every character, bigram and trigram of each of
/// its fields), sorted, each once, as an `int4[]` literal.
pub fn grams_literal(t: &SearchTokens) -> String {
    let mut keys = Vec::with_capacity(t.body.len() * 2);
    for field in t.body.split(normalize::FIELD_SEPARATOR) {
        let starts = char_starts(field);
        let n = starts.len() - 1;
        for len in 1..=GRAM.min(n) {
            for i in 0..=n - len {
                keys.push(gram_key(&field[starts[i]..starts[i + len]]));
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    array_literal(&keys)
}

/// PostgreSQL: the gram keys every card containing `term` has: the term's own when it is
/// shorter than a trigram, else those of (at most `TERM_KEYS` of) its trigrams, spread over it.
fn term_keys(term: &str) -> Vec<i32> {
    let starts = char_starts(term);
    let n = starts.len() - 1;
    if n < GRAM {
        return vec![gram_key(term)];
    }
    let mut keys: Vec<i32> = Vec::with_capacity(n);
    for i in 0..=n - GRAM {
        let k = gram_key(&term[starts[i]..starts[i + GRAM]]);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if keys.len() > TERM_KEYS {
        let last = keys.len() - 1;
        keys = (0..TERM_KEYS).map(|j| keys[j * last / (TERM_KEYS - 1)]).collect();
    }
    keys
}

fn array_literal(keys: &[i32]) -> String {
    let mut out = String::with_capacity(keys.len() * 12 + 2);
    out.push('{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&k.to_string());
    }
    out.push('}');
    out
}

/// A keyword as the index is asked: the table it is looked up in and the MATCH text (SQLite),
/// or its terms and their gram keys (PostgreSQL).
pub struct Query {
    /// Every term a single character: `card_chars` (SQLite).
    chars: bool,
    /// FTS5 MATCH text (SQLite).
    text: String,
    /// The terms (PostgreSQL).
    terms: Vec<Term>,
}

/// PostgreSQL: one spelling of a keyword (`normalize::search_terms`) and the keys of the grams
/// every card that contains it has (`term_keys`).
struct Term {
    text: String,
    keys: Vec<i32>,
}

impl Query {
    /// None when the keyword folds to nothing (no filter).
    pub fn new(c: &impl Conn, q: &str) -> Option<Self> {
        let terms = normalize::search_terms(q);
        let first = terms.first()?;
        let chars = first.chars().count() == 1;
        if !is_sqlite(c) {
            let terms = terms
                .into_iter()
                .map(|text| Term {
                    keys: term_keys(&text),
                    text,
                })
                .collect();
            return Some(Self {
                chars,
                text: String::new(),
                terms,
            });
        }
        // A phrase of tokens: double quotes around it, a quote inside doubled; `card_chars` has
        // one column and, with detail=none, no column filters.
        let phrase = |tokens: &[&str], column: &str| {
            let quoted = format!("\"{}\"", tokens.join(" ").replace('"', "\"\""));
            if column == "chars" {
                quoted
            } else {
                format!("{column} : {quoted}")
            }
        };
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
            format!("({})", parts.join(" AND "))
        };
        let text = terms.iter().map(term).collect::<Vec<_>>().join(" OR ");
        Some(Self {
            chars,
            text,
            terms: Vec::new(),
        })
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
            let mut values = vec![Value::from(org_id)];
            let all: Vec<&[i32]> = self.terms.iter().map(|t| t.keys.as_slice()).collect();
            let text = format!(
                "cards.id IN (SELECT card_id FROM card_search WHERE org_id = $1 AND {} AND {})",
                self.recheck("body", &mut values),
                self.gin(&all, &mut values)
            );
            let mut n = 0;
            let text: String = text
                .split('?')
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part.to_string()
                    } else {
                        n += 1;
                        format!("${}{part}", n + 1)
                    }
                })
                .collect();
            Expr::cust_with_values(text, values)
        }
    }

    /// PostgreSQL: the exact test, on a `body` column (the keyword a substring of it).
    fn recheck(&self, body: &str, values: &mut Vec<Value>) -> String {
        let tests: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                values.push(t.text.clone().into());
                format!("strpos({body}, ?) > 0")
            })
            .collect();
        format!("({})", tests.join(" OR "))
    }

    /// PostgreSQL: the index's test, `keys[i]` the gram keys looked up for term `i` (a card
    /// with the term has them all).
    fn gin(&self, keys: &[&[i32]], values: &mut Vec<Value>) -> String {
        let tests: Vec<String> = keys
            .iter()
            .map(|k| {
                values.push(array_literal(k).into());
                "grams @> CAST(? AS int4[])".to_string()
            })
            .collect();
        format!("({})", tests.join(" OR "))
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
    let model = |rows: Vec<sea_orm::QueryResult>| -> Result<Vec<(card::Model, String)>> {
        rows.iter()
            .map(|r| Ok((card::Model::from_query_result(r, "")?, String::new())))
            .collect()
    };
    let plan = Plan::new(c, q, limit).await?;
    if plan.window {
        // The next `WINDOW` rows in id order: a keyword in one card in `WINDOW / limit` or
        // more has its page there.
        let mut values: Vec<Value> = vec![org_id.into(), after_id.clone().into(), WINDOW.into()];
        let recheck = q.recheck("s.body", &mut values);
        let rest = filters.sql(org_id, &mut values);
        values.push((limit as i64).into());
        let text = format!(
            "SELECT cards.* FROM (SELECT card_id, body FROM card_search WHERE org_id = ? AND card_id > ? \
             ORDER BY card_id LIMIT ?) s JOIN cards ON cards.id = s.card_id WHERE {recheck}{rest} \
             ORDER BY s.card_id LIMIT ?"
        );
        let rows = c.query_all_raw(sql(c, &text, values)).await?;
        if rows.len() as u64 >= limit {
            return model(rows);
        }
    }
    if plan.count(c, q).await?.is_some_and(|n| n <= FEW) {
        // Few candidates: each one's heap row read, tested, the matches sorted.
        let mut values: Vec<Value> = vec![org_id.into(), after_id.clone().into()];
        let recheck = q.recheck("body", &mut values);
        let gin = q.gin(&plan.keys(), &mut values);
        let rows = c
            .query_all_raw(sql(
                c,
                &format!("SELECT card_id FROM card_search WHERE org_id = ? AND card_id > ? AND {recheck} AND {gin}"),
                values,
            ))
            .await?;
        let mut ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get_by_index(0))
            .collect::<std::result::Result<_, _>>()?;
        ids.sort_unstable();
        if filters.owner_id.is_none() && filters.company_key.is_none() && filters.tag_id.is_none() {
            ids.truncate(limit as usize);
        }
        let mut values: Vec<Value> = vec![serde_json::to_string(&ids).unwrap_or_default().into()];
        let rest = filters.sql(org_id, &mut values);
        values.push((limit as i64).into());
        let text = format!(
            "SELECT cards.* FROM cards WHERE cards.id IN (SELECT json_array_elements_text(CAST(? AS json))){rest} \
             ORDER BY cards.id LIMIT ?"
        );
        return model(c.query_all_raw(sql(c, &text, values)).await?);
    }
    // Many: `card_search` walked in id order, each row tested, until the page is full.
    let mut values: Vec<Value> = vec![org_id.into(), after_id.into()];
    let recheck = q.recheck("s.body", &mut values);
    let rest = filters.sql(org_id, &mut values);
    values.push((limit as i64).into());
    let text = format!(
        "SELECT cards.* FROM card_search s JOIN cards ON cards.id = s.card_id \
         WHERE s.org_id = ? AND s.card_id > ? AND {recheck}{rest} ORDER BY s.card_id LIMIT ?"
    );
    model(c.query_all_raw(sql(c, &text, values)).await?)
}

/// PostgreSQL: how a page is looked for (see the module's doc), from the planner's estimates.
struct Plan {
    /// Per term, the gram keys looked up in GIN.
    keys: Vec<Vec<i32>>,
    /// Whether the next `WINDOW` rows are looked through first.
    window: bool,
}

impl Plan {
    async fn new(c: &impl Conn, q: &Query, limit: u64) -> Result<Self> {
        let mut distinct: Vec<i32> = q.terms.iter().flat_map(|t| t.keys.iter().copied()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        // One EXPLAIN: the table's rows and each gram key's (from the statistics' most common
        // elements; a key they do not list is put at half the least common one's). Each branch
        // has a LIMIT so that none is planned in parallel (a worker's share of the rows).
        let mut values: Vec<Value> = Vec::new();
        let mut text = String::from("EXPLAIN (FORMAT JSON) (SELECT 1 FROM card_search LIMIT 1)");
        for k in &distinct {
            text.push_str(" UNION ALL (SELECT 1 FROM card_search WHERE grams @> CAST(? AS int4[]) LIMIT 1)");
            values.push(array_literal(&[*k]).into());
        }
        let plan = c.query_one_raw(sql(c, &text, values)).await?;
        let rows: Option<Vec<f64>> = match plan {
            Some(r) => {
                let json = r.try_get_by_index::<serde_json::Value>(0)?;
                json[0]["Plan"]["Plans"]
                    .as_array()
                    .and_then(|branches| branches.iter().map(|b| b["Plans"][0]["Plan Rows"].as_f64()).collect())
            }
            None => None,
        };
        let Some(rows) = rows.filter(|r| r.len() == distinct.len() + 1) else {
            // Not the plan expected: every key looked up, the matches counted.
            return Ok(Self {
                keys: q.terms.iter().map(|t| t.keys.clone()).collect(),
                window: false,
            });
        };
        let all = rows[0].max(1.0);
        let estimate = |k: &i32| rows[1 + distinct.binary_search(k).unwrap_or(0)];
        let mut keys = Vec::with_capacity(q.terms.len());
        let mut expected = 0.0;
        let mut dense = true;
        for t in &q.terms {
            let mut ks: Vec<(f64, i32)> = t.keys.iter().map(|k| (estimate(k), *k)).collect();
            ks.sort_by(|a, b| a.0.total_cmp(&b.0));
            let rarest = ks[0].0;
            expected += rarest;
            dense &= ks.len() == 1 || rarest >= DENSE * all;
            keys.push(
                ks.iter()
                    .enumerate()
                    .filter(|(i, (e, _))| *i == 0 || *e <= UBIQUITOUS * all)
                    .map(|(_, (_, k))| *k)
                    .collect(),
            );
        }
        Ok(Self {
            keys,
            window: dense && expected.min(all) / all * WINDOW as f64 >= limit as f64,
        })
    }

    fn keys(&self) -> Vec<&[i32]> {
        self.keys.iter().map(Vec::as_slice).collect()
    }

    /// The candidates GIN finds (all organisations'), counted without reading their rows:
    /// EXPLAIN ANALYZE of a query that takes one of them shows how many the bitmap index
    /// scans gave. None when the planner would not use the index (it thinks them many).
    async fn count(&self, c: &impl Conn, q: &Query) -> Result<Option<i64>> {
        let mut values = Vec::new();
        let gin = q.gin(&self.keys(), &mut values);
        let text = format!(
            "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, FORMAT JSON) \
             WITH m AS MATERIALIZED (SELECT 1 FROM card_search WHERE {gin}) SELECT 1 FROM m LIMIT 1"
        );
        let Some(r) = c.query_one_raw(sql(c, &text, values)).await? else {
            return Ok(None);
        };
        fn scans(node: &serde_json::Value, sum: &mut Option<i64>) {
            if node["Node Type"] == "Bitmap Index Scan" {
                *sum = Some(sum.unwrap_or(0) + node["Actual Rows"].as_i64().unwrap_or(i64::MAX / 4));
            }
            for child in node["Plans"].as_array().into_iter().flatten() {
                scans(child, sum);
            }
        }
        let mut sum = None;
        scans(&r.try_get_by_index::<serde_json::Value>(0)?[0]["Plan"], &mut sum);
        Ok(sum)
    }
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
            let marks = vec!["(?, ?, ?, CAST(? AS int4[]))"; chunk.len()].join(", ");
            let mut values = Vec::with_capacity(chunk.len() * 4);
            for (id, t) in chunk {
                values.extend([
                    Value::from(org_id),
                    id.as_str().into(),
                    t.body.clone().into(),
                    grams_literal(t).into(),
                ]);
            }
            let text = format!("INSERT INTO card_search (org_id, card_id, body, grams) VALUES {marks}");
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
