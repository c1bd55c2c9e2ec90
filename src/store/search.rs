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
//! **PostgreSQL**: `card_search (org_id, card_id, body, grams)`, keyed by `(org_id, card_id)`.
//! `body` is the card's folded fields, a newline between two (`SearchTokens::body`), and a
//! card matches a term exactly when the term is a substring of it (`strpos`: no term contains
//! the newline). `grams` holds the keys (`gram_key`, 32-bit hashes) of every character, bigram
//! and trigram of each field and of every four digits in its runs of digits, an `int4[]`
//! under GIN, no positions: a term's keys (`term_keys`: its own when it is shorter than a
//! trigram, else its trigrams and its runs of four digits) are in every card that contains
//! it, and together in few others, so GIN's candidates are nearly the matches and the exact
//! test reads few rows, each of about 0.8 kB. (Before: the bigrams' tsvector with positions,
//! a phrase found by GIN as the AND of its bigrams, tens of thousands of candidates for
//! common ones, each a 1.3 kB tsvector read again.)
//!
//! GIN gives no order, so a page in id order is found one of three ways (`page`), chosen from
//! the planner's statistics of the keyword's keys (one EXPLAIN, `Plan`):
//! - **walk**: `card_search` in id order from the cursor, each row tested (a LATERAL look-up
//!   of the card), until the page is full. First when the statistics allow a page within
//!   the next `WINDOW` rows (a keyword in one card in 160 or more; of several grams, whose
//!   statistics only bound it, when a first `PROBE` rows hold their share);
//! - **fetch**: GIN's candidates read, tested and sorted, when they are few (`Plan::few`,
//!   about √(limit × rows / 4), 3,570 at a million cards: there fetching a page's worth
//!   of candidates, a heap page each, costs what walking to a page costs);
//! - else counted (`Plan::count`: EXPLAIN ANALYZE of a query taking one of them gives the
//!   size of GIN's bitmap, no row read), and when they are many, the walk, for three times
//!   the rows that should hold a page, then the rest of the walk or the candidates fetched,
//!   whichever reads less (candidates far more than the matches, or matches met late).
//!
//! A term's keys looked up in GIN are its rarest (`KEYS`, `SPREAD`, `UBIQUITOUS`): a key in
//! every card (`use` of `user…`) costs GIN a posting list as long as the table and removes no
//! candidate. The statistics target of `grams` is 1,000, so that the keys in 0.5 % of the
//! cards or more are listed (1 % at the default).
//!
//! Maintenance is in the card's transaction: `store::cards` writes a card's entries with the
//! card, replaces them when its fields change, and removes them before the card (neither the
//! FTS tables nor `card_search` have a foreign key); an import writes them one statement per
//! batch (`store::imports`). Figures and the choice: BENCHMARKS.md, "Search (issue 13)".

use super::entities::card;
use super::{Conn, is_sqlite, sql};
use crate::domain::normalize::{self, SearchTokens};
use crate::domain::{CardFields, Result};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{FromQueryResult, Value};

/// Rows per multi-row statement when indexing cards one call at a time (four values each).
const CHUNK: usize = 1000;

/// PostgreSQL: the grams indexed, one to this many characters long.
const GRAM: usize = 3;

/// PostgreSQL: at most this many keys of a term are asked about (spread over it).
const TERM_KEYS: usize = 8;

/// PostgreSQL: at most this many keys of a term are looked up in GIN, its rarest, and only
/// those in at most `SPREAD` times the rarest one's rows: a further key seldom removes
/// candidates, and each costs GIN a posting list to read (`user190`: `190`, `r19`, not `er1`).
const KEYS: usize = 3;
const SPREAD: f64 = 8.0;

/// PostgreSQL: a key in more than this share of the rows is looked up only when it is the
/// term's rarest.
const UBIQUITOUS: f64 = 0.5;

/// PostgreSQL: the rows after the cursor, in id order, that a page walks first when the
/// statistics say the keyword may be in one card in `WINDOW / limit` or more.
const WINDOW: i64 = 8000;

/// PostgreSQL: of the window, the rows walked first for a keyword whose statistics only bound
/// it (`Plan::reliable`): the rest only if these hold their share of a page.
const PROBE: i64 = 2000;

/// PostgreSQL: a term of several keys whose rarest is in this share of the rows or more is
/// taken to be as common as that key (its grams come together: さとういちろう).
const DENSE: f64 = 0.02;

/// PostgreSQL: what a row walked costs (read in id order, about ten to a heap page, tested)
/// beside a candidate fetched (a heap page read for it): `Plan::few`. At a million cards
/// about 0.8 and 3 µs, warm.
const WALK_PER_FETCH: f64 = 0.25;

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
            // The statistics list the keys in 0.5 % of the rows or more (1 % at the default
            // target 100), so that a keyword in one card in a hundred and fifty is known to be
            // dense (`Plan`); ANALYZE samples 300,000 rows instead of 30,000 (4.5 s at 1M).
            "ALTER TABLE card_search ALTER COLUMN grams SET STATISTICS 1000".into(),
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

/// PostgreSQL: the keys of a card's grams, sorted, each once, as an `int4[]` literal: every
/// character, bigram and trigram of each of its fields, and every run of four digits
/// (`normalize::DIGIT_GRAM`) in its runs of digits: a digit trigram is in a card in forty, a
/// phone number's trigrams together in too many cards that do not have the number.
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
        for run in normalize::digit_runs(field) {
            keys.extend(normalize::digit_grams(run).into_iter().map(gram_key));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    array_literal(&keys)
}

/// PostgreSQL: the gram keys every card containing `term` has: the term's own when it is
/// shorter than a trigram; else its runs of four digits, then its trigrams that are not
/// inside a run of four digits or more, at most `TERM_KEYS` (spread over the term).
fn term_keys(term: &str) -> Vec<i32> {
    let starts = char_starts(term);
    let n = starts.len() - 1;
    if n < GRAM {
        return vec![gram_key(term)];
    }
    let spread = |mut keys: Vec<i32>, max: usize| {
        if keys.len() > max {
            let last = keys.len() - 1;
            keys = (0..max).map(|j| keys[j * last / (max - 1).max(1)]).collect();
        }
        keys
    };
    let mut digits: Vec<i32> = Vec::new();
    // The byte ranges of the runs of four digits or more (digits are one byte each).
    let mut runs = Vec::new();
    for run in normalize::digit_runs(term) {
        let at = run.as_ptr() as usize - term.as_ptr() as usize;
        runs.push(at..at + run.len());
        for k in normalize::digit_grams(run).into_iter().map(gram_key) {
            if !digits.contains(&k) {
                digits.push(k);
            }
        }
    }
    let mut keys = spread(digits, TERM_KEYS);
    let mut trigrams: Vec<i32> = Vec::new();
    for i in 0..=n - GRAM {
        let (from, to) = (starts[i], starts[i + GRAM]);
        if runs.iter().any(|r| r.start <= from && to <= r.end) {
            continue;
        }
        let k = gram_key(&term[from..to]);
        if !trigrams.contains(&k) && !keys.contains(&k) {
            trigrams.push(k);
        }
    }
    let room = TERM_KEYS.saturating_sub(keys.len()).max(usize::from(keys.is_empty()));
    keys.extend(spread(trigrams, room));
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
    let plan = Plan::new(c, q).await?;
    let (window, probe) = (WINDOW as f64, PROBE as f64);
    let few = plan.few(limit);
    // 1. When the statistics allow a page within `WINDOW` rows, those rows walked first; a
    // keyword of several grams only if a first `PROBE` rows have matches enough.
    if plan.bound / plan.all * window >= limit as f64 {
        let first = if plan.reliable { window } else { probe };
        let mut rows = walk(c, org_id, q, filters, &after_id, Some(first as i64), limit).await?;
        if !plan.reliable && (rows.len() as u64) < limit && rows.len() as f64 * window / probe >= limit as f64 {
            let from = match rows.last() {
                Some(r) => r.try_get::<String>("", "id")?,
                None => after_id.clone(),
            };
            let more = limit - rows.len() as u64;
            rows.extend(walk(c, org_id, q, filters, &from, Some((window - probe) as i64), more).await?);
        }
        if rows.len() as u64 >= limit {
            return model(rows);
        }
    }
    // 2. GIN's candidates counted, unless the statistics put them under `few` already.
    let counted = if plan.bound <= few as f64 {
        None
    } else {
        Some(plan.count(c, q).await?.unwrap_or(i64::MAX))
    };
    if let Some(n) = counted.filter(|n| *n > few) {
        // 3. Many candidates (or the planner would not use the index: it thinks them many):
        // `card_search` walked in id order, each row tested, for three times the rows that
        // hold a page if the candidates are matches spread evenly; if they are not (the page
        // is not full), either the rest of the walk or the candidates fetched, whichever
        // reads less.
        let budget = (3.0 * limit as f64 * plan.all / n as f64).max(window) as i64;
        let rows = walk(c, org_id, q, filters, &after_id, Some(budget), limit).await?;
        if rows.len() as u64 >= limit {
            return model(rows);
        }
        if n as f64 * 4.0 > plan.all {
            return model(walk(c, org_id, q, filters, &after_id, None, limit).await?);
        }
    }
    // 4. Few candidates: each one's row read and tested, the matches sorted. (Uncounted, the
    // statistics' bound may be low: past `4 × few` the rest is walked.)
    let cap = if counted.is_none() { 4 * few } else { i64::MAX };
    let mut values: Vec<Value> = vec![org_id.into(), after_id.clone().into()];
    let recheck = q.recheck("body", &mut values);
    let gin = q.gin(&plan.keys(), &mut values);
    values.push(cap.into());
    let rows = c
        .query_all_raw(sql(
            c,
            &format!(
                "SELECT card_id FROM card_search WHERE org_id = ? AND card_id > ? AND {recheck} AND {gin} LIMIT ?"
            ),
            values,
        ))
        .await?;
    if rows.len() as i64 >= cap {
        return model(walk(c, org_id, q, filters, &after_id, None, limit).await?);
    }
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
    let rows = c.query_all_raw(sql(c, &text, values)).await?;
    model(rows)
}

fn model(rows: Vec<sea_orm::QueryResult>) -> Result<Vec<(card::Model, String)>> {
    rows.iter()
        .map(|r| Ok((card::Model::from_query_result(r, "")?, String::new())))
        .collect()
}

/// PostgreSQL: the matches after `after_id` met walking `card_search` in id order, each row
/// tested (`budget`: only that many rows), the cards of the first `limit` that pass the
/// filters. Each card is looked up by its id (a LATERAL subquery the planner keeps: joined
/// otherwise, it could read `cards` in id order beside the walk, every card of it).
async fn walk(
    c: &impl Conn,
    org_id: &str,
    q: &Query,
    filters: &Filters,
    after_id: &str,
    budget: Option<i64>,
    limit: u64,
) -> Result<Vec<sea_orm::QueryResult>> {
    let mut values: Vec<Value> = vec![org_id.into(), after_id.into()];
    let source = match budget {
        Some(b) => {
            values.push(b.into());
            "(SELECT card_id, body FROM card_search WHERE org_id = ? AND card_id > ? ORDER BY card_id LIMIT ?) s"
        }
        None => "(SELECT card_id, body FROM card_search WHERE org_id = ? AND card_id > ?) s",
    };
    let rest = filters.sql(org_id, &mut values);
    let recheck = q.recheck("s.body", &mut values);
    values.push((limit as i64).into());
    let text = format!(
        "SELECT c.* FROM {source} CROSS JOIN LATERAL \
         (SELECT cards.* FROM cards WHERE cards.id = s.card_id{rest} OFFSET 0) c \
         WHERE {recheck} ORDER BY s.card_id LIMIT ?"
    );
    Ok(c.query_all_raw(sql(c, &text, values)).await?)
}

/// PostgreSQL: how a page is looked for (see the module's doc), from the planner's estimates.
struct Plan {
    /// Per term, the gram keys looked up in GIN: its `KEYS` rarest (a key in more than
    /// `UBIQUITOUS` of the rows only when it is the rarest).
    keys: Vec<Vec<i32>>,
    /// The rows of `card_search` (all organisations').
    all: f64,
    /// The statistics' bound on the matches: per term its rarest key's rows, summed.
    bound: f64,
    /// Whether `bound` is close: each term one key, or its rarest in `DENSE` of the rows or
    /// more (a term's grams then come together: さとういちろう).
    reliable: bool,
}

impl Plan {
    async fn new(c: &impl Conn, q: &Query) -> Result<Self> {
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
            // Not the plan expected: every key looked up, the candidates counted.
            return Ok(Self {
                keys: q.terms.iter().map(|t| t.keys.clone()).collect(),
                all: 1.0,
                bound: f64::MAX,
                reliable: false,
            });
        };
        let all = rows[0].max(1.0);
        let estimate = |k: &i32| rows[1 + distinct.binary_search(k).unwrap_or(0)];
        let mut keys = Vec::with_capacity(q.terms.len());
        let mut bound = 0.0;
        let mut reliable = true;
        for t in &q.terms {
            let mut ks: Vec<(f64, i32)> = t.keys.iter().map(|k| (estimate(k), *k)).collect();
            ks.sort_by(|a, b| a.0.total_cmp(&b.0));
            let rarest = ks[0].0;
            bound += rarest;
            reliable &= ks.len() == 1 || rarest >= DENSE * all;
            keys.push(
                ks.iter()
                    .enumerate()
                    .filter(|(i, (e, _))| *i == 0 || (*e <= UBIQUITOUS * all && *e <= SPREAD * rarest))
                    .take(KEYS)
                    .map(|(_, (_, k))| *k)
                    .collect(),
            );
        }
        Ok(Self {
            keys,
            all,
            bound: bound.min(all),
            reliable,
        })
    }

    /// Up to this many candidates are fetched rather than walked past: fetching reads a heap
    /// page per candidate, walking `limit × all / n` rows in order (`WALK_PER_FETCH` the cost
    /// of one), and the two meet where `n² = limit × all × WALK_PER_FETCH`.
    fn few(&self, limit: u64) -> i64 {
        (limit as f64 * self.all * WALK_PER_FETCH).sqrt() as i64
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(literal: &str) -> Vec<i32> {
        let inner = literal.trim_start_matches('{').trim_end_matches('}');
        inner
            .split(',')
            .filter(|k| !k.is_empty())
            .map(|k| k.parse().unwrap())
            .collect()
    }

    /// A card has every key looked up for each substring of one of its fields (GIN never
    /// misses a match), and the keys of a substring across two fields need not be there.
    #[test]
    fn a_card_has_the_keys_of_every_substring_of_its_fields() {
        let f = crate::domain::CardFields {
            full_name: "山本 太郎".into(),
            name_reading: "やまもと たろう".into(),
            company: "株式会社サンプル0123".into(),
            email: "user12345@c0123.example.jp".into(),
            phone: "03-1234-5678".into(),
            mobile: "090-0007-1271".into(),
            ..Default::default()
        };
        let t = normalize::card_search_tokens(&f);
        let card = keys_of(&grams_literal(&t));
        let mut sorted = card.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(card, sorted, "sorted, each once");
        for field in t.body.split(normalize::FIELD_SEPARATOR) {
            let cs: Vec<char> = field.chars().collect();
            for i in 0..cs.len() {
                for j in i + 1..=cs.len() {
                    let sub: String = cs[i..j].iter().collect();
                    for k in term_keys(&sub) {
                        assert!(card.binary_search(&k).is_ok(), "{sub:?} in {field:?}");
                    }
                }
            }
        }
        let crossing = term_keys("郎ヤマ");
        assert!(crossing.iter().any(|k| card.binary_search(k).is_err()));
    }

    #[test]
    fn a_terms_keys() {
        assert_eq!(term_keys("山"), [gram_key("山")]);
        assert_eq!(term_keys("山本"), [gram_key("山本")]);
        assert_eq!(term_keys("ヤマモト"), [gram_key("ヤマモ"), gram_key("マモト")]);
        // Runs of four digits or more by their 4-digit grams, not their trigrams.
        assert_eq!(
            term_keys("03-12345"),
            [
                gram_key("1234"),
                gram_key("2345"),
                gram_key("03-"),
                gram_key("3-1"),
                gram_key("-12")
            ]
        );
        assert_eq!(term_keys("user190"), ["use", "ser", "er1", "r19", "190"].map(gram_key));
        let long = term_keys("株式会社サンプル第一営業本部");
        assert_eq!(long.len(), TERM_KEYS);
        assert_eq!(long[0], gram_key("株式会"));
        assert_eq!(long[TERM_KEYS - 1], gram_key("業本部"));
        assert_eq!(array_literal(&[1, -2]), "{1,-2}");
        assert_eq!(array_literal(&[]), "{}");
    }
}
