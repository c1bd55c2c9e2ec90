//! Same person (名寄せ), news and card history: the lookup keys, people's cards, candidates,
//! news items and the history rows. Scoped by organisation: `person_keys` holds no
//! organisation column, but the organisation's id is part of every key's hash and every card
//! is read with its organisation.

use super::{Conn, date_from_text, exec, from_micros, new_id, sql, to_micros};
use crate::domain::person::{CandidateReason, NewsFor, NewsKind, NewsStatus, NewsValues, PersonCard, Recency};
use crate::domain::{CardFields, Error, Result};
use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Value};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Values per IN list: well under both engines' bind limits.
const CHUNK: usize = 2000;

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A JSON array bound as one value and read as rows `j(value)`: an import's batch has tens of
/// thousands of keys, and binding each was most of the time (as for the cards themselves).
fn json_rows(c: &impl Conn) -> &'static str {
    if super::is_sqlite(c) {
        "json_each(?) AS j"
    } else {
        "json_array_elements(CAST(? AS json)) AS j(value)"
    }
}

/// The start and the end of an INSERT that leaves out rows already there (a unique key met).
///
/// SQLite: `INSERT OR IGNORE`, because a many-row statement that may stop half-way (any
/// constraint that aborts, as `ON CONFLICT DO NOTHING` leaves NOT NULL to; any SQL function;
/// `RETURNING`) opens a statement savepoint: SQLite then writes the original of every page the
/// statement changes to a statement journal, and FTS5 writes the keyword index's pending
/// entries out as a segment (why an import's batches no longer feed FTS5 directly:
/// `imports::CardWriter`). These statements call no function for the same reason (a JSON
/// array is read with `json_each`, never `->>`).
fn insert_ignore(c: &impl Conn) -> (&'static str, &'static str) {
    if super::is_sqlite(c) {
        ("INSERT OR IGNORE", "")
    } else {
        ("INSERT", " ON CONFLICT DO NOTHING")
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    Ok(serde_json::to_string(v)
        .map_err(|e| Error::internal(format!("person keys: {e}")))?
        .into())
}

/// `n` new person ids, each used once, ever: on PostgreSQL from a sequence (no lock is held: a
/// long import does not hold up card creation elsewhere), on SQLite from a counter row (its
/// writers queue anyway).
pub async fn new_person_ids(c: &impl Conn, n: usize) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if super::is_sqlite(c) {
        // Two statements: an UPDATE with RETURNING would keep a statement journal (see
        // `insert_ignore`).
        let bumped = exec(
            c,
            "UPDATE person_seq SET next = next + ? WHERE id = 1",
            vec![(n as i64).into()],
        )
        .await?;
        if bumped != 1 {
            return Err(Error::internal("person_seq has no row"));
        }
        let end = super::count(c, "SELECT next FROM person_seq WHERE id = 1", vec![]).await?;
        return Ok((end - n as i64..end).collect());
    }
    let rows = c
        .query_all_raw(sql(
            c,
            "SELECT nextval('person_seq') FROM generate_series(1, ?)",
            vec![(n as i64).into()],
        ))
        .await?;
    rows.iter().map(|r| Ok(r.try_get_by_index(0)?)).collect()
}

/// The people each key points at: `(key, person)` pairs.
pub async fn people_for_keys(c: &impl Conn, keys: &[i64]) -> Result<Vec<(i64, i64)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // SQLite: CROSS JOIN keeps the keys as the outer loop (each a seek in person_keys).
    let (join, key) = if super::is_sqlite(c) {
        ("CROSS JOIN", "j.value")
    } else {
        ("JOIN", "CAST(j.value #>> '{}' AS BIGINT)")
    };
    let text = format!(
        "SELECT k.key, k.person_id FROM {} {join} person_keys k ON k.key = {key}",
        json_rows(c)
    );
    let rows = c.query_all_raw(sql(c, &text, vec![to_json(&keys)?])).await?;
    rows.iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// Records keys; a pair already there is left as it is. In key order: the B-tree then takes
/// them leaf after leaf (three times faster than in the order they came for a batch of 30,000).
/// SQLite reads the JSON object's members in the order they are written.
pub async fn add_keys(c: &impl Conn, pairs: &[(i64, i64)]) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    // {"key": [person, …], …} in key order (written by hand: a JSON map would sort the keys
    // as text), read with two json_each and no function.
    let mut pairs = pairs.to_vec();
    pairs.sort_unstable();
    pairs.dedup();
    let mut json = String::with_capacity(pairs.len() * 32);
    json.push('{');
    let mut last = None;
    for (k, p) in pairs {
        if last == Some(k) {
            let _ = write!(json, ",{p}");
        } else {
            if last.is_some() {
                json.push_str("],");
            }
            let _ = write!(json, "\"{k}\":[{p}");
            last = Some(k);
        }
    }
    if last.is_some() {
        json.push(']');
    }
    json.push('}');
    let from = if super::is_sqlite(c) {
        "SELECT a.key, b.value FROM json_each(?) AS a, json_each(a.value) AS b"
    } else {
        "SELECT CAST(a.key AS BIGINT), CAST(b.value AS BIGINT) FROM json_each(CAST(? AS json)) AS a, \
         json_array_elements_text(a.value) AS b"
    };
    let (insert, ignore) = insert_ignore(c);
    let text = format!("{insert} INTO person_keys (key, person_id) {from}{ignore}");
    exec(c, &text, vec![json.into()]).await?;
    Ok(())
}

const PERSON_CARD_COLUMNS: &str = "id, person_id, owner_id, full_name, name_reading, company, department, title, \
                                   email, phone, mobile, fax, postal_code, address, url, exchanged_on, created_at";

fn person_card(r: &QueryResult) -> Result<PersonCard> {
    let exchanged_on = date_from_text(&r.try_get_by_index::<Option<String>>(15)?);
    let created_at = from_micros(r.try_get_by_index(16)?);
    Ok(PersonCard::new(
        r.try_get_by_index(0)?,
        r.try_get_by_index::<Option<i64>>(1)?.unwrap_or_default(),
        r.try_get_by_index(2)?,
        CardFields {
            full_name: r.try_get_by_index(3)?,
            name_reading: r.try_get_by_index(4)?,
            company: r.try_get_by_index(5)?,
            department: r.try_get_by_index(6)?,
            title: r.try_get_by_index(7)?,
            email: r.try_get_by_index(8)?,
            phone: r.try_get_by_index(9)?,
            mobile: r.try_get_by_index(10)?,
            fax: r.try_get_by_index(11)?,
            postal_code: r.try_get_by_index(12)?,
            address: r.try_get_by_index(13)?,
            url: r.try_get_by_index(14)?,
            exchanged_on,
        },
        Recency::of(exchanged_on, created_at),
    ))
}

/// The organisation's cards of these people.
pub async fn cards_of_people(c: &impl Conn, org_id: &str, people: &[i64]) -> Result<Vec<PersonCard>> {
    let mut out = Vec::new();
    for chunk in people.chunks(CHUNK) {
        let text = format!(
            "SELECT {PERSON_CARD_COLUMNS} FROM cards WHERE org_id = ? AND person_id IN ({})",
            marks(chunk.len())
        );
        let mut values: Vec<Value> = vec![org_id.into()];
        values.extend(chunk.iter().map(|p| Value::from(*p)));
        for r in c.query_all_raw(sql(c, &text, values)).await? {
            out.push(person_card(&r)?);
        }
    }
    Ok(out)
}

/// Up to `limit` of the organisation's cards that have no person yet, in no particular order
/// (what `cards_person` gives first: no sort of every such card for each page).
pub async fn unplaced_cards(c: &impl Conn, org_id: &str, limit: u64) -> Result<Vec<PersonCard>> {
    let text = format!("SELECT {PERSON_CARD_COLUMNS} FROM cards WHERE org_id = ? AND person_id IS NULL LIMIT ?");
    let rows = c
        .query_all_raw(sql(c, &text, vec![org_id.into(), (limit as i64).into()]))
        .await?;
    rows.iter().map(person_card).collect()
}

/// Whether the organisation has a card without a person (one look in `cards_person`; the
/// scheduler asks at every tick).
pub async fn has_unplaced(c: &impl Conn, org_id: &str) -> Result<bool> {
    let row = c
        .query_one_raw(sql(
            c,
            "SELECT 1 FROM cards WHERE org_id = ? AND person_id IS NULL LIMIT 1",
            vec![org_id.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// Sets the person of these cards (a page at a time: `CASE id WHEN … THEN …`).
pub async fn set_people(c: &impl Conn, org_id: &str, cards: &[(String, i64)]) -> Result<()> {
    set_people_where(c, org_id, cards, "").await
}

/// `set_people` for cards that have no person yet (others are left as they are).
pub async fn place_cards(c: &impl Conn, org_id: &str, cards: &[(String, i64)]) -> Result<()> {
    set_people_where(c, org_id, cards, " AND person_id IS NULL").await
}

async fn set_people_where(c: &impl Conn, org_id: &str, cards: &[(String, i64)], also: &str) -> Result<()> {
    for chunk in cards.chunks(CHUNK / 3) {
        let cases = " WHEN ? THEN ?".repeat(chunk.len());
        let text = format!(
            "UPDATE cards SET person_id = CASE id{cases} END WHERE org_id = ? AND id IN ({}){also}",
            marks(chunk.len())
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3 + 1);
        for (id, p) in chunk {
            values.push(id.as_str().into());
            values.push((*p).into());
        }
        values.push(org_id.into());
        values.extend(chunk.iter().map(|(id, _)| Value::from(id.as_str())));
        exec(c, &text, values).await?;
    }
    Ok(())
}

/// Moves every card of person `from` to person `into`.
pub async fn merge_people(c: &impl Conn, org_id: &str, from: i64, into: i64) -> Result<u64> {
    exec(
        c,
        "UPDATE cards SET person_id = ? WHERE org_id = ? AND person_id = ?",
        vec![into.into(), org_id.into(), from.into()],
    )
    .await
}

// --- candidates ---

pub struct NewCandidate {
    pub person_id: i64,
    pub other_person_id: i64,
    pub card_id: String,
    pub other_card_id: String,
    pub reason: CandidateReason,
}

/// Records candidate pairs, lower person id first; a pair already there (open, or decided
/// before) is kept as it is.
pub async fn add_candidates(c: &impl Conn, org_id: &str, items: Vec<NewCandidate>, now: DateTime<Utc>) -> Result<()> {
    let now = to_micros(now);
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<NewCandidate> = items
        .into_iter()
        .map(|n| {
            if n.person_id <= n.other_person_id {
                n
            } else {
                NewCandidate {
                    person_id: n.other_person_id,
                    other_person_id: n.person_id,
                    card_id: n.other_card_id,
                    other_card_id: n.card_id,
                    reason: n.reason,
                }
            }
        })
        .filter(|n| n.person_id != n.other_person_id && seen.insert((n.person_id, n.other_person_id)))
        .collect();
    for chunk in rows.chunks(500) {
        let (insert, ignore) = insert_ignore(c);
        let text = format!(
            "{insert} INTO person_candidates (id, org_id, person_id, other_person_id, card_id, other_card_id, reason, \
             status, created_at) VALUES {}{ignore}",
            vec!["(?, ?, ?, ?, ?, ?, ?, 'open', ?)"; chunk.len()].join(", ")
        );
        let mut values = Vec::with_capacity(chunk.len() * 8);
        for n in chunk {
            values.extend([
                Value::from(new_id()),
                org_id.into(),
                n.person_id.into(),
                n.other_person_id.into(),
                n.card_id.as_str().into(),
                n.other_card_id.as_str().into(),
                n.reason.as_str().into(),
                now.into(),
            ]);
        }
        exec(c, &text, values).await?;
    }
    Ok(())
}

/// A candidate pair as stored.
#[derive(Debug, Clone)]
pub struct CandidateRow {
    pub id: String,
    pub person_id: i64,
    pub other_person_id: i64,
    pub card_id: String,
    pub other_card_id: String,
    pub reason: CandidateReason,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

fn candidate_row(r: &QueryResult) -> Result<CandidateRow> {
    Ok(CandidateRow {
        id: r.try_get_by_index(0)?,
        person_id: r.try_get_by_index(1)?,
        other_person_id: r.try_get_by_index(2)?,
        card_id: r.try_get_by_index(3)?,
        other_card_id: r.try_get_by_index(4)?,
        reason: CandidateReason::from_stored(&r.try_get_by_index::<String>(5)?)?,
        status: r.try_get_by_index(6)?,
        created_at: from_micros(r.try_get_by_index(7)?),
    })
}

const CANDIDATE_COLUMNS: &str = "id, person_id, other_person_id, card_id, other_card_id, reason, status, created_at";

/// The open candidate pairs a person is part of.
pub async fn open_candidates_of(c: &impl Conn, org_id: &str, person: i64) -> Result<Vec<CandidateRow>> {
    let text = format!(
        "SELECT {CANDIDATE_COLUMNS} FROM person_candidates WHERE org_id = ? AND status = 'open' \
         AND (person_id = ? OR other_person_id = ?) ORDER BY id"
    );
    let rows = c
        .query_all_raw(sql(c, &text, vec![org_id.into(), person.into(), person.into()]))
        .await?;
    rows.iter().map(candidate_row).collect()
}

pub async fn get_candidate(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<CandidateRow>> {
    let text = format!("SELECT {CANDIDATE_COLUMNS} FROM person_candidates WHERE org_id = ? AND id = ?");
    let row = c.query_one_raw(sql(c, &text, vec![org_id.into(), id.into()])).await?;
    row.as_ref().map(candidate_row).transpose()
}

/// Decides an open candidate (`confirmed` or `rejected`); false if it was decided already.
pub async fn decide_candidate(
    c: &impl Conn,
    org_id: &str,
    id: &str,
    status: &str,
    by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(exec(
        c,
        "UPDATE person_candidates SET status = ?, decided_by = ?, decided_at = ? \
         WHERE org_id = ? AND id = ? AND status = 'open'",
        vec![
            status.into(),
            by.into(),
            to_micros(now).into(),
            org_id.into(),
            id.into(),
        ],
    )
    .await?
        == 1)
}

/// After two people became one (`from` into `into`): their open pairs with third people now
/// name `into` (a pair `into` already has is dropped), and pairs between the two are closed.
pub async fn repoint_candidates(c: &impl Conn, org_id: &str, from: i64, into: i64) -> Result<()> {
    for (col, other) in [("person_id", "other_person_id"), ("other_person_id", "person_id")] {
        // A pair that would duplicate one of `into`'s goes.
        exec(
            c,
            &format!(
                "DELETE FROM person_candidates WHERE org_id = ? AND {col} = ? AND status = 'open' AND EXISTS (\
                 SELECT 1 FROM person_candidates o WHERE o.org_id = person_candidates.org_id \
                 AND ((o.person_id = ? AND o.other_person_id = person_candidates.{other}) \
                 OR (o.other_person_id = ? AND o.person_id = person_candidates.{other})))"
            ),
            vec![org_id.into(), from.into(), into.into(), into.into()],
        )
        .await?;
    }
    exec(
        c,
        "DELETE FROM person_candidates WHERE org_id = ? AND status = 'open' AND person_id = other_person_id",
        vec![org_id.into()],
    )
    .await?;
    // What is left names `from`: rename it, then put the lower id first again.
    exec(
        c,
        "UPDATE person_candidates SET person_id = ? WHERE org_id = ? AND person_id = ? AND other_person_id <> ?",
        vec![into.into(), org_id.into(), from.into(), into.into()],
    )
    .await?;
    exec(
        c,
        "UPDATE person_candidates SET other_person_id = ? WHERE org_id = ? AND other_person_id = ? AND person_id <> ?",
        vec![into.into(), org_id.into(), from.into(), into.into()],
    )
    .await?;
    exec(
        c,
        "UPDATE person_candidates SET person_id = other_person_id, other_person_id = person_id, \
         card_id = other_card_id, other_card_id = card_id WHERE org_id = ? AND person_id > other_person_id",
        vec![org_id.into()],
    )
    .await?;
    Ok(())
}

/// Records a decision that two people are not one (a split), unless one is on record.
pub async fn record_apart(
    c: &impl Conn,
    org_id: &str,
    pair: (i64, String),
    other: (i64, String),
    by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (a, b) = if pair.0 <= other.0 {
        (pair, other)
    } else {
        (other, pair)
    };
    exec(
        c,
        "INSERT INTO person_candidates (id, org_id, person_id, other_person_id, card_id, other_card_id, reason, \
         status, created_at, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, 'name', 'rejected', ?, ?, ?) \
         ON CONFLICT DO NOTHING",
        vec![
            new_id().into(),
            org_id.into(),
            a.0.into(),
            b.0.into(),
            a.1.into(),
            b.1.into(),
            to_micros(now).into(),
            by.into(),
            to_micros(now).into(),
        ],
    )
    .await?;
    Ok(())
}

// --- news ---

/// Records news: one open item per card and kind; an item for a card that already has an open
/// one of its kind folds into it (`arrivals` counts them; the newest values win, by the
/// source card's recency). Items for the same card and kind are folded here first.
pub async fn add_news(c: &impl Conn, org_id: &str, items: Vec<NewsFor>, now: DateTime<Utc>) -> Result<()> {
    let mut folded: HashMap<(String, NewsKind), (NewsFor, i64)> = HashMap::new();
    for n in items {
        match folded.entry((n.card_id.clone(), n.kind)) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (kept, count) = e.get_mut();
                *count += 1;
                if n.recency > kept.recency {
                    *kept = n;
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((n, 1));
            }
        }
    }
    let now = to_micros(now);
    let rows: Vec<(NewsFor, i64)> = folded.into_values().collect();
    for chunk in rows.chunks(400) {
        let mut values = Vec::with_capacity(chunk.len() * 11);
        for (n, count) in chunk {
            let json = serde_json::to_string(&n.values).map_err(|e| Error::internal(e.to_string()))?;
            values.extend([
                Value::from(new_id()),
                org_id.into(),
                n.card_id.as_str().into(),
                n.kind.as_str().into(),
                json.into(),
                n.source_card_id.as_str().into(),
                n.recency.day.format("%Y-%m-%d").to_string().into(),
                n.recency.created_at.into(),
                (*count).into(),
                now.into(),
                now.into(),
            ]);
        }
        let rows = vec!["(?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let columns = "id, org_id, card_id, kind, status, new_values, source_card_id, source_day, \
                       source_created_at, arrivals, created_at, updated_at";
        let fold = |v: &str| {
            let newer = format!("({v}.source_day, {v}.source_created_at) > (news.source_day, news.source_created_at)");
            format!(
                "arrivals = news.arrivals + {v}.arrivals, updated_at = {v}.updated_at, \
                 new_values = CASE WHEN {newer} THEN {v}.new_values ELSE news.new_values END, \
                 source_card_id = CASE WHEN {newer} THEN {v}.source_card_id ELSE news.source_card_id END, \
                 source_created_at = CASE WHEN {newer} THEN {v}.source_created_at ELSE news.source_created_at END, \
                 source_day = CASE WHEN {newer} THEN {v}.source_day ELSE news.source_day END"
            )
        };
        if super::is_sqlite(c) {
            // No upsert: it may abort half-way, so SQLite would open a statement savepoint, and
            // FTS5 writes its pending entries out at every savepoint (`insert_ignore`). The open
            // items are folded first, then the new ones go in (those of a card and kind that has
            // an open item are left out by the partial unique index). Safe on SQLite: its
            // writers take turns, so no item can be opened between the two statements.
            let text = format!(
                "WITH v ({columns}) AS (VALUES {rows}) UPDATE OR IGNORE news SET {} FROM v \
                 WHERE news.card_id = v.card_id AND news.kind = v.kind AND news.status = 'open' AND news.org_id = v.org_id",
                fold("v")
            );
            exec(c, &text, values.clone()).await?;
            exec(
                c,
                &format!("INSERT OR IGNORE INTO news ({columns}) VALUES {rows}"),
                values,
            )
            .await?;
        } else {
            let text = format!(
                "INSERT INTO news ({columns}) VALUES {rows} ON CONFLICT (card_id, kind) WHERE status = 'open' DO UPDATE SET {}",
                fold("excluded")
            );
            exec(c, &text, values).await?;
        }
    }
    Ok(())
}

/// A news item as stored, with what the list shows of its card.
#[derive(Debug, Clone)]
pub struct NewsRow {
    pub id: String,
    pub card_id: String,
    pub kind: NewsKind,
    pub status: NewsStatus,
    pub values: NewsValues,
    pub source_card_id: String,
    pub arrivals: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub owner_id: String,
    pub card: CardFields,
}

const NEWS_COLUMNS: &str = "n.id, n.card_id, n.kind, n.status, n.new_values, n.source_card_id, n.arrivals, \
    n.created_at, n.updated_at, n.decided_by, n.decided_at, c.owner_id, c.full_name, c.company, c.department, \
    c.title, c.email, c.phone, c.mobile, c.postal_code, c.address";

fn news_row(r: &QueryResult) -> Result<NewsRow> {
    let raw: String = r.try_get_by_index(4)?;
    let id: String = r.try_get_by_index(0)?;
    let values = serde_json::from_str(&raw).map_err(|e| Error::internal(format!("news {id}: stored values: {e}")))?;
    Ok(NewsRow {
        card_id: r.try_get_by_index(1)?,
        kind: NewsKind::from_stored(&r.try_get_by_index::<String>(2)?)?,
        status: NewsStatus::from_stored(&r.try_get_by_index::<String>(3)?)?,
        values,
        source_card_id: r.try_get_by_index(5)?,
        arrivals: r.try_get_by_index(6)?,
        created_at: from_micros(r.try_get_by_index(7)?),
        updated_at: from_micros(r.try_get_by_index(8)?),
        decided_by: r.try_get_by_index(9)?,
        decided_at: r.try_get_by_index::<Option<i64>>(10)?.map(from_micros),
        owner_id: r.try_get_by_index(11)?,
        card: CardFields {
            full_name: r.try_get_by_index(12)?,
            company: r.try_get_by_index(13)?,
            department: r.try_get_by_index(14)?,
            title: r.try_get_by_index(15)?,
            email: r.try_get_by_index(16)?,
            phone: r.try_get_by_index(17)?,
            mobile: r.try_get_by_index(18)?,
            postal_code: r.try_get_by_index(19)?,
            address: r.try_get_by_index(20)?,
            ..Default::default()
        },
        id,
    })
}

#[derive(Default)]
pub struct NewsFilter {
    pub owner_id: Option<String>,
    pub card_id: Option<String>,
    pub kind: Option<NewsKind>,
    pub status: Option<NewsStatus>,
    /// The last id of the previous page.
    pub after: Option<String>,
}

/// A page of news, newest item id last (id order), matching every given filter.
pub async fn list_news(c: &impl Conn, org_id: &str, f: NewsFilter, limit: u64) -> Result<Vec<NewsRow>> {
    let mut text = format!("SELECT {NEWS_COLUMNS} FROM news n JOIN cards c ON c.id = n.card_id WHERE n.org_id = ?");
    let mut values: Vec<Value> = vec![org_id.into()];
    if let Some(o) = f.owner_id {
        text.push_str(" AND c.owner_id = ?");
        values.push(o.into());
    }
    if let Some(card) = f.card_id {
        text.push_str(" AND n.card_id = ?");
        values.push(card.into());
    }
    if let Some(k) = f.kind {
        text.push_str(" AND n.kind = ?");
        values.push(k.as_str().into());
    }
    if let Some(s) = f.status {
        text.push_str(" AND n.status = ?");
        values.push(s.as_str().into());
    }
    if let Some(a) = f.after {
        text.push_str(" AND n.id > ?");
        values.push(a.into());
    }
    text.push_str(" ORDER BY n.id LIMIT ?");
    values.push((limit as i64).into());
    let rows = c.query_all_raw(sql(c, &text, values)).await?;
    rows.iter().map(news_row).collect()
}

pub async fn get_news(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<NewsRow>> {
    let text =
        format!("SELECT {NEWS_COLUMNS} FROM news n JOIN cards c ON c.id = n.card_id WHERE n.org_id = ? AND n.id = ?");
    let row = c.query_one_raw(sql(c, &text, vec![org_id.into(), id.into()])).await?;
    row.as_ref().map(news_row).transpose()
}

/// Closes an open item (applied or dismissed); false if it was not open any more.
pub async fn close_news(
    c: &impl Conn,
    org_id: &str,
    id: &str,
    status: NewsStatus,
    by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(exec(
        c,
        "UPDATE news SET status = ?, decided_by = ?, decided_at = ?, updated_at = ? \
         WHERE org_id = ? AND id = ? AND status = 'open'",
        vec![
            status.as_str().into(),
            by.into(),
            to_micros(now).into(),
            to_micros(now).into(),
            org_id.into(),
            id.into(),
        ],
    )
    .await?
        == 1)
}

/// Open news on the cards a user owns.
pub async fn count_open_news_of_owner(c: &impl Conn, org_id: &str, owner_id: &str) -> Result<i64> {
    super::count(
        c,
        "SELECT COUNT(*) FROM news n JOIN cards c ON c.id = n.card_id \
         WHERE n.org_id = ? AND n.status = 'open' AND c.org_id = ? AND c.owner_id = ?",
        vec![org_id.into(), org_id.into(), owner_id.into()],
    )
    .await
}

// --- history ---

/// One change of a card's fields: the changed fields' values before and after.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub id: String,
    pub card_id: String,
    pub actor_id: Option<String>,
    pub reason: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub at: DateTime<Utc>,
}

pub async fn add_history(c: &impl Conn, org_id: &str, rows: &[HistoryRow]) -> Result<()> {
    for chunk in rows.chunks(500) {
        let text = format!(
            "INSERT INTO card_history (id, org_id, card_id, actor_id, reason, before_json, after_json, at) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut values = Vec::with_capacity(chunk.len() * 8);
        for h in chunk {
            values.extend([
                Value::from(h.id.as_str()),
                org_id.into(),
                h.card_id.as_str().into(),
                h.actor_id.clone().into(),
                h.reason.as_str().into(),
                h.before.to_string().into(),
                h.after.to_string().into(),
                to_micros(h.at).into(),
            ]);
        }
        exec(c, &text, values).await?;
    }
    Ok(())
}

/// The changes of these cards, oldest first.
pub async fn history_of(c: &impl Conn, org_id: &str, card_ids: &[String]) -> Result<Vec<HistoryRow>> {
    let mut out = Vec::new();
    for chunk in card_ids.chunks(CHUNK) {
        let text = format!(
            "SELECT id, card_id, actor_id, reason, before_json, after_json, at FROM card_history \
             WHERE org_id = ? AND card_id IN ({}) ORDER BY id",
            marks(chunk.len())
        );
        let mut values: Vec<Value> = vec![org_id.into()];
        values.extend(chunk.iter().map(|id| Value::from(id.as_str())));
        for r in c.query_all_raw(sql(c, &text, values)).await? {
            let json = |i: usize| -> Result<serde_json::Value> {
                let raw: String = r.try_get_by_index(i)?;
                serde_json::from_str(&raw).map_err(|e| Error::internal(format!("card history: {e}")))
            };
            out.push(HistoryRow {
                id: r.try_get_by_index(0)?,
                card_id: r.try_get_by_index(1)?,
                actor_id: r.try_get_by_index(2)?,
                reason: r.try_get_by_index(3)?,
                before: json(4)?,
                after: json(5)?,
                at: from_micros(r.try_get_by_index(6)?),
            });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}
