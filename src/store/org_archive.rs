//! An organisation's rows, table by table, for `meishi export-org` / `import-org`
//! (`service::org_archive`): which tables hold an organisation's data and how each is scoped,
//! its columns as the database has them, a page of rows (keyset on the table's key), and a
//! batch of rows written back. Generic over the columns on purpose: a column a later
//! migration adds is carried without a change here; a table a later migration adds that has an
//! `org_id` column is refused by `check_coverage` until it is listed below.

use super::{Conn, sql};
use crate::domain::{Error, Result};
use sea_orm::{QueryResult, Value};
use serde_json::Value as Json;

/// How a table's rows of one organisation are found.
#[derive(Clone, Copy)]
pub enum Scope {
    /// `organizations`: the row whose id is the organisation's.
    Itself,
    /// `org_id = ?`.
    Org,
    /// A table without `org_id`, through its parent: the SQL condition, with one `?` for the
    /// organisation's id.
    Via(&'static str),
}

/// A table export-org copies.
pub struct Table {
    pub name: &'static str,
    pub scope: Scope,
    /// Its primary key: the keyset order of its pages.
    pub key: &'static [&'static str],
    /// Columns holding a person id (`cards.person_id`…): numbered afresh by the database an
    /// archive is loaded into (the people's ids come from a sequence shared by every
    /// organisation of a database).
    pub person: &'static [&'static str],
}

const fn org(name: &'static str, key: &'static [&'static str]) -> Table {
    Table {
        name,
        scope: Scope::Org,
        key,
        person: &[],
    }
}

/// Every table an organisation's data lives in, in an order that writes a row after the rows
/// its foreign keys name (the import writes them in this order). `audit_events` last, so that
/// the import's own event follows the history it carries.
pub const TABLES: &[Table] = &[
    Table {
        name: "organizations",
        scope: Scope::Itself,
        key: &["id"],
        person: &[],
    },
    org("users", &["id"]),
    org("scim_users", &["user_id"]),
    org("tags", &["id"]),
    Table {
        name: "cards",
        scope: Scope::Org,
        key: &["id"],
        person: &["person_id"],
    },
    org("card_tags", &["card_id", "tag_id"]),
    org("contacts", &["id"]),
    org("card_history", &["id"]),
    org("news", &["id"]),
    Table {
        name: "person_candidates",
        scope: Scope::Org,
        key: &["id"],
        person: &["person_id", "other_person_id"],
    },
    org("transfers", &["id"]),
    Table {
        name: "transfer_items",
        scope: Scope::Via("transfer_id IN (SELECT id FROM transfers WHERE org_id = ?)"),
        key: &["transfer_id", "card_id"],
        person: &[],
    },
    Table {
        name: "transfer_tags",
        scope: Scope::Via("transfer_id IN (SELECT id FROM transfers WHERE org_id = ?)"),
        key: &["transfer_id", "tag_id"],
        person: &[],
    },
    org("departures", &["id"]),
    Table {
        name: "handover_items",
        scope: Scope::Via("departure_id IN (SELECT id FROM departures WHERE org_id = ?)"),
        key: &["id"],
        person: &[],
    },
    org("mail_settings", &["org_id"]),
    org("mail_suppressions", &["org_id", "kind", "value"]),
    org("mail_templates", &["id"]),
    org("mail_sends", &["id"]),
    org("mail_messages", &["id"]),
    // A message's delivery state (migration 14), keyed by the message's id.
    Table {
        name: "mail_states",
        scope: Scope::Via("id IN (SELECT id FROM mail_messages WHERE org_id = ?)"),
        key: &["id"],
        person: &[],
    },
    org("audit_events", &["id"]),
    // The chain's head comes with its events, so that the next event chains on.
    org("audit_heads", &["org_id"]),
];

/// Tables with an organisation's rows that an archive leaves out on purpose, and why.
pub const LEFT_OUT: &[(&str, &str)] = &[
    ("api_tokens", "credentials: the new server's users make new tokens"),
    ("sessions", "sign-ins: everyone signs in again on the new server"),
    (
        "scim_tokens",
        "credentials: the identity provider is given a new token and URL",
    ),
    ("scim_requests", "the SCIM page's log of recent requests, a diagnostic"),
    ("sign_in_throttle", "transient counts of failed sign-ins"),
];

/// What the import makes again from the cards instead of copying: the keyword index
/// (`store::search`) and the same-person lookup keys (`person_keys`, hashed with the
/// organisation's id, no `org_id` column). `card_search` is PostgreSQL's keyword index table;
/// SQLite's FTS tables have no `org_id`.
pub const REBUILT: &[&str] = &["card_search", "person_keys"];

/// A column's kind, as both engines store it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Bool,
}

/// A table's columns as this database has them, in their order.
pub async fn columns(c: &impl Conn, table: &str) -> Result<Vec<(String, Kind)>> {
    let text = if super::is_sqlite(c) {
        "SELECT name, type FROM pragma_table_info(?) ORDER BY cid"
    } else {
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
    };
    let rows = c.query_all_raw(sql(c, text, vec![table.into()])).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let name: String = r.try_get_by_index(0)?;
        let ty: String = r.try_get_by_index(1)?;
        let t = ty.to_ascii_lowercase();
        let kind = if t.contains("int") {
            Kind::Int
        } else if t.contains("bool") {
            Kind::Bool
        } else if t.contains("text") || t.contains("char") {
            Kind::Text
        } else {
            return Err(Error::internal(format!(
                "{table}.{name} is of type {ty}, which export-org does not carry"
            )));
        };
        out.push((name, kind));
    }
    if out.is_empty() {
        return Err(Error::internal(format!("there is no table {table}")));
    }
    Ok(out)
}

/// The tables of this database that have an `org_id` column.
pub async fn org_tables(c: &impl Conn) -> Result<Vec<String>> {
    let text = if super::is_sqlite(c) {
        "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND p.name = 'org_id' ORDER BY m.name"
    } else {
        "SELECT table_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND column_name = 'org_id' ORDER BY table_name"
    };
    let rows = c.query_all_raw(sql(c, text, vec![])).await?;
    rows.iter().map(|r| Ok(r.try_get_by_index(0)?)).collect()
}

/// Refuses when a table with an `org_id` column is neither copied, left out nor rebuilt: an
/// archive that silently lacked a new table's rows would lose them on the new server.
pub async fn check_coverage(c: &impl Conn) -> Result<()> {
    let known =
        |t: &str| TABLES.iter().any(|x| x.name == t) || LEFT_OUT.iter().any(|(x, _)| *x == t) || REBUILT.contains(&t);
    let missing: Vec<String> = org_tables(c).await?.into_iter().filter(|t| !known(t)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "export-org does not know the table(s) {} (store::org_archive::TABLES): refusing an incomplete archive",
            missing.join(", ")
        )))
    }
}

/// The organisation's people: the lowest and highest person id its cards and candidates name.
pub async fn person_span(c: &impl Conn, org_id: &str) -> Result<Option<(i64, i64)>> {
    let row = c
        .query_one_raw(sql(
            c,
            "SELECT MIN(p), MAX(p) FROM (\
               SELECT person_id AS p FROM cards WHERE org_id = ? AND person_id IS NOT NULL \
               UNION ALL SELECT person_id FROM person_candidates WHERE org_id = ? \
               UNION ALL SELECT other_person_id FROM person_candidates WHERE org_id = ?) x",
            vec![org_id.into(), org_id.into(), org_id.into()],
        ))
        .await?;
    let Some(r) = row else { return Ok(None) };
    let lo: Option<i64> = r.try_get_by_index(0)?;
    let hi: Option<i64> = r.try_get_by_index(1)?;
    Ok(lo.zip(hi))
}

/// A page of `table`'s rows of the organisation after `after` (the previous page's last key
/// values), in key order, each row its `cols` as JSON values.
pub async fn page(
    c: &impl Conn,
    table: &Table,
    org_id: &str,
    cols: &[(String, Kind)],
    after: Option<&[Json]>,
    limit: u64,
) -> Result<Vec<Vec<Json>>> {
    let list = cols.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    let mut values: Vec<Value> = vec![org_id.into()];
    // SQLite: `+org_id` keeps the planner off the indexes that start with `org_id` (it took
    // `cards_person` and sorted the organisation's cards again for every page: quadratic);
    // the pages then walk the key's own index from the cursor. PostgreSQL weighs both with
    // its statistics.
    let mut cond = match (table.scope, super::is_sqlite(c)) {
        (Scope::Itself, _) => "id = ?".to_string(),
        (Scope::Org, true) => "+org_id = ?".to_string(),
        (Scope::Org, false) => "org_id = ?".to_string(),
        (Scope::Via(c), _) => c.to_string(),
    };
    if let Some(after) = after {
        let keys = table.key.join(", ");
        let marks = vec!["?"; table.key.len()].join(", ");
        cond.push_str(&format!(" AND ({keys}) > ({marks})"));
        for (k, v) in table.key.iter().zip(after) {
            let kind = cols.iter().find(|(n, _)| n == k).map(|(_, k)| *k).unwrap_or(Kind::Text);
            values.push(bind(kind, v)?);
        }
    }
    values.push((limit as i64).into());
    let text = format!(
        "SELECT {list} FROM {} WHERE {cond} ORDER BY {} LIMIT ?",
        table.name,
        table.key.join(", ")
    );
    let rows = c.query_all_raw(sql(c, &text, values)).await?;
    rows.iter().map(|r| read_row(r, cols)).collect()
}

fn read_row(r: &QueryResult, cols: &[(String, Kind)]) -> Result<Vec<Json>> {
    let mut out = Vec::with_capacity(cols.len());
    for (i, (_, kind)) in cols.iter().enumerate() {
        out.push(match kind {
            Kind::Text => r
                .try_get_by_index::<Option<String>>(i)?
                .map_or(Json::Null, Json::String),
            Kind::Int => r.try_get_by_index::<Option<i64>>(i)?.map_or(Json::Null, Json::from),
            Kind::Bool => r.try_get_by_index::<Option<bool>>(i)?.map_or(Json::Null, Json::Bool),
        });
    }
    Ok(out)
}

/// A JSON value of an archive as a value of a column of this kind.
pub fn bind(kind: Kind, v: &Json) -> Result<Value> {
    let bad = || Error::bad_input("archive", format!("{v} is not a {kind:?} value"));
    Ok(match (kind, v) {
        (Kind::Text, Json::Null) => Value::String(None),
        (Kind::Int, Json::Null) => Value::BigInt(None),
        (Kind::Bool, Json::Null) => Value::Bool(None),
        (Kind::Text, Json::String(s)) => s.clone().into(),
        (Kind::Int, Json::Number(n)) => n.as_i64().ok_or_else(bad)?.into(),
        (Kind::Bool, Json::Bool(b)) => (*b).into(),
        _ => return Err(bad()),
    })
}

/// Writes rows into `table` (each row the values of `cols`, in order), many to a statement.
pub async fn insert(c: &impl Conn, table: &str, cols: &[(String, Kind)], rows: &[Vec<Json>]) -> Result<()> {
    // Under both engines' bind limits (SQLite 32,766).
    let per = (16_000 / cols.len()).clamp(1, 1000);
    let list = cols.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    let one = format!("({})", vec!["?"; cols.len()].join(", "));
    for chunk in rows.chunks(per) {
        let mut values = Vec::with_capacity(chunk.len() * cols.len());
        for row in chunk {
            for ((_, kind), v) in cols.iter().zip(row) {
                values.push(bind(*kind, v)?);
            }
        }
        let text = format!(
            "INSERT INTO {table} ({list}) VALUES {}",
            vec![one.as_str(); chunk.len()].join(", ")
        );
        c.execute_raw(sql(c, &text, values)).await?;
    }
    Ok(())
}

/// Reserves `span` new person ids, consecutive and never given out again; returns the first.
/// SQLite: the counter row, under the write transaction's lock. PostgreSQL: the sequence set
/// past them in one statement (a `nextval` elsewhere between its two calls would take an id
/// of the range, harmlessly: ids of people are only ever compared within one organisation, and
/// this one is not visible to anyone before the import commits).
pub async fn reserve_person_ids(c: &impl Conn, span: i64) -> Result<i64> {
    if span <= 0 {
        return Ok(0);
    }
    if super::is_sqlite(c) {
        let start = super::count(c, "SELECT next FROM person_seq WHERE id = 1", vec![]).await?;
        super::exec(
            c,
            "UPDATE person_seq SET next = next + ? WHERE id = 1",
            vec![span.into()],
        )
        .await?;
        return Ok(start);
    }
    let last = super::count(
        c,
        "SELECT setval('person_seq', nextval('person_seq') + ? - 1)",
        vec![span.into()],
    )
    .await?;
    Ok(last - span + 1)
}

/// The schema migrations this database has applied, in order.
pub async fn schema_versions(c: &impl Conn) -> Result<Vec<i64>> {
    let rows = c
        .query_all_raw(sql(c, "SELECT version FROM schema_migrations ORDER BY version", vec![]))
        .await?;
    rows.iter().map(|r| Ok(r.try_get_by_index(0)?)).collect()
}

/// The users and cards of the whole database (what a restore reports).
pub async fn totals(c: &impl Conn) -> Result<(i64, i64)> {
    let users = super::count(c, "SELECT COUNT(*) FROM users", vec![]).await?;
    let cards = super::count(c, "SELECT COUNT(*) FROM cards", vec![]).await?;
    Ok((users, cards))
}

/// Whether the organisation with this id is in the database, and its slug.
pub async fn org_slug_by_id(c: &impl Conn, org_id: &str) -> Result<Option<String>> {
    let row = c
        .query_one_raw(sql(
            c,
            "SELECT slug FROM organizations WHERE id = ?",
            vec![org_id.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get_by_index(0)?),
        None => None,
    })
}

/// Mail an imported organisation's old server may still send: its messages not yet sent and
/// its sends not yet started are cancelled, so that the new server never sends them a second
/// time. Returns (messages, sends) cancelled.
pub async fn cancel_pending_mail(c: &impl Conn, org_id: &str, note: &str, now: i64) -> Result<(u64, u64)> {
    let messages = super::exec(
        c,
        "UPDATE mail_states SET status = 'cancelled', last_error = ?, done_at = ? \
         WHERE done_at IS NULL AND id IN (SELECT id FROM mail_messages WHERE org_id = ?)",
        vec![note.into(), now.into(), org_id.into()],
    )
    .await?;
    let sends = super::exec(
        c,
        "UPDATE mail_sends SET status = 'cancelled', cancelled_at = ? \
         WHERE org_id = ? AND status IN ('scheduled', 'sending')",
        vec![now.into(), org_id.into()],
    )
    .await?;
    Ok((messages, sends))
}
