//! One organisation as an archive (`meishi export-org`) that another server loads as a new
//! organisation (`meishi import-org`), on either engine.
//!
//! **Format** (`FORMAT`, version `VERSION`): JSON lines, UTF-8. The first line is the header
//! (`Header`: the format and its version, the meishi version and schema migrations that wrote
//! it, the organisation, the span of its person ids, each table with its columns in the
//! order rows give them, and the tables left out or rebuilt); then one line per row,
//! `{"t":"<table>","v":[<values in column order>]}`, table after table in
//! `store::org_archive::TABLES`' order, each in its key order; the last line
//! `{"end":{"rows":{"<table>":<count>,…}}}`, so that a cut-off file is refused. Values are
//! JSON strings, integers (timestamps in microseconds), booleans and nulls, as the columns
//! hold them. Person ids are numbered from 1 in the archive (`people` of them at most).
//!
//! The archive holds the users' password hashes (argon2), their e-mail addresses, every card
//! and contact, and the audit log: it is as sensitive as the database (the command line
//! writes it readable by its owner only).
//!
//! **Export** reads one snapshot (a read transaction; PostgreSQL REPEATABLE READ), a page of
//! `PAGE` rows at a time by keyset, and writes each row as it comes: memory stays bounded
//! whatever the organisation's size. It refuses a database with a table holding `org_id`
//! that the archive does not know (`check_coverage`). The export is audited afterwards
//! (`organization.export`).
//!
//! **Import** is one unit of work (all or nothing): the database must have the archive's
//! schema (the same migrations: load an archive with the meishi version that wrote it, then
//! upgrade); the organisation's id must not be in it and its slug must be free (`--as`
//! renames it). Ids are kept, not remapped: they are UUIDv7, unique across databases, and
//! they are named inside the audit log's and the history's JSON, in selections and in mail
//! Message-IDs, which keep pointing right only if ids stay. So a database holds an
//! organisation once: loading the same archive twice, or back into the database it came from,
//! is refused. Person ids are numbered afresh (`store::org_archive::reserve_person_ids`: they
//! come from a sequence shared by the database's organisations). The keyword index and the
//! same-person lookup keys are made from the cards as they are written. Mail not yet sent
//! when the archive was made (queued messages, sends not started) is imported cancelled: the
//! server it came from may have sent it since, and a customer must not get it twice. Audited
//! (`organization.import`) in the new organisation, after the history the archive brings.

use super::{Actor, App, audit};
use crate::domain::normalize;
use crate::domain::person::{self, PersonKeys};
use crate::domain::{CardFields, Error, OrgSlug, Result};
use crate::store::{
    self,
    org_archive::{self as st, Kind, TABLES},
};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

pub const FORMAT: &str = "meishi-organization";
pub const VERSION: u32 = 1;
/// Rows per page read, and per batch written.
const PAGE: u64 = 1000;

/// The archive's first line.
#[derive(Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub meishi: String,
    pub exported_at: chrono::DateTime<chrono::Utc>,
    pub schema: Vec<i64>,
    pub organization: OrgRef,
    /// Person ids run from 1 to this.
    pub people: i64,
    pub tables: Vec<TableHeader>,
    pub left_out: Vec<String>,
    pub rebuilt: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct OrgRef {
    pub id: String,
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub struct TableHeader {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Serialize)]
struct RowOut<'a> {
    t: &'a str,
    v: &'a [Json],
}

#[derive(Serialize, Deserialize)]
struct End {
    rows: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct EndOut<'a> {
    end: &'a End,
}

/// A line after the header: a row or the end.
#[derive(Deserialize)]
struct LineIn {
    t: Option<String>,
    v: Option<Vec<Json>>,
    end: Option<End>,
}

/// What an export or an import moved.
pub struct Moved {
    pub organization: OrgRef,
    /// Rows per table, in the archive's order.
    pub rows: Vec<(String, u64)>,
    /// Import: queued messages and unstarted sends imported cancelled.
    pub mail_cancelled: (u64, u64),
}

fn write_err(e: std::io::Error) -> Error {
    Error::bad_input("file", format!("cannot write the archive: {e}"))
}

/// Writes the organisation `slug` (or the only one) to `out` as an archive; `dest` names where
/// for the audit event.
pub async fn export(app: &App, slug: Option<&str>, out: &mut dyn Write, dest: &str) -> Result<Moved> {
    let org = super::auth::resolve_org(app, slug).await?;
    let tx = app.store.snapshot().await?;
    let result = export_in(&tx, &org.id, out, app.now()).await;
    store::rollback(tx).await;
    let moved = result?;
    out.flush().map_err(write_err)?;
    let after = serde_json::json!({
        "file": dest,
        "rows": moved.rows.iter().cloned().collect::<BTreeMap<_, _>>(),
    });
    app.write(&Actor::system(&org.id), async |tx, who| {
        audit(
            tx,
            who,
            "organization.export",
            ("organization", &org.id),
            None,
            Some(after.clone()),
        )
        .await
    })
    .await?;
    Ok(moved)
}

async fn export_in(
    tx: &store::Tx,
    org_id: &str,
    out: &mut dyn Write,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Moved> {
    st::check_coverage(tx).await?;
    let org = super::org(tx, org_id).await?;
    let (people_from, people) = match st::person_span(tx, org_id).await? {
        Some((lo, hi)) => (lo, hi - lo + 1),
        None => (1, 0),
    };
    let mut tables = Vec::with_capacity(TABLES.len());
    let mut columns = Vec::with_capacity(TABLES.len());
    for t in TABLES {
        let cols = st::columns(tx, t.name).await?;
        tables.push(TableHeader {
            name: t.name.into(),
            columns: cols.iter().map(|(n, _)| n.clone()).collect(),
        });
        columns.push(cols);
    }
    let organization = OrgRef {
        id: org.id.clone(),
        slug: org.slug.clone(),
        name: org.name.clone(),
    };
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        meishi: env!("CARGO_PKG_VERSION").into(),
        exported_at: now,
        schema: st::schema_versions(tx).await?,
        organization: organization.clone(),
        people,
        tables,
        left_out: st::LEFT_OUT.iter().map(|(t, _)| t.to_string()).collect(),
        rebuilt: st::REBUILT.iter().map(|t| t.to_string()).collect(),
    };
    serde_json::to_writer(&mut *out, &header).map_err(|e| write_err(e.into()))?;
    out.write_all(b"\n").map_err(write_err)?;
    let mut counts = Vec::with_capacity(TABLES.len());
    for (t, cols) in TABLES.iter().zip(&columns) {
        let key_at: Vec<usize> = t
            .key
            .iter()
            .map(|k| cols.iter().position(|(n, _)| n == k))
            .collect::<Option<_>>()
            .ok_or_else(|| Error::internal(format!("{}: its key is not among its columns", t.name)))?;
        let person_at = positions(cols, t.person, t.name)?;
        let mut after: Option<Vec<Json>> = None;
        let mut n = 0u64;
        loop {
            let rows = st::page(tx, t, org_id, cols, after.as_deref(), PAGE).await?;
            for row in &rows {
                let mut row = row.clone();
                for &i in &person_at {
                    if let Some(p) = row[i].as_i64() {
                        row[i] = Json::from(p - people_from + 1);
                    }
                }
                serde_json::to_writer(&mut *out, &RowOut { t: t.name, v: &row }).map_err(|e| write_err(e.into()))?;
                out.write_all(b"\n").map_err(write_err)?;
            }
            n += rows.len() as u64;
            match rows.last() {
                Some(last) if rows.len() as u64 == PAGE => {
                    after = Some(key_at.iter().map(|&i| last[i].clone()).collect())
                }
                _ => break,
            }
        }
        counts.push((t.name.to_string(), n));
    }
    let end = End {
        rows: counts.iter().cloned().collect(),
    };
    serde_json::to_writer(&mut *out, &EndOut { end: &end }).map_err(|e| write_err(e.into()))?;
    out.write_all(b"\n").map_err(write_err)?;
    Ok(Moved {
        organization,
        rows: counts,
        mail_cancelled: (0, 0),
    })
}

/// The positions of `names` among `cols`.
fn positions(cols: &[(String, Kind)], names: &[&str], table: &str) -> Result<Vec<usize>> {
    names
        .iter()
        .map(|n| {
            cols.iter()
                .position(|(c, _)| c == n)
                .ok_or_else(|| Error::internal(format!("{table} has no column {n}")))
        })
        .collect()
}

/// How an archive is loaded.
pub struct ImportOptions<'a> {
    /// The new organisation's slug, instead of the archive's.
    pub slug: Option<&'a str>,
    /// Where the archive came from, for the audit event.
    pub source: &'a str,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_input("archive", msg)
}

/// Reads the next line; None at the end of the input.
fn next_line(input: &mut dyn BufRead, buf: &mut String, line_no: &mut u64) -> Result<Option<()>> {
    buf.clear();
    let n = input
        .read_line(buf)
        .map_err(|e| bad(format!("cannot read the archive (line {}): {e}", *line_no + 1)))?;
    if n == 0 {
        return Ok(None);
    }
    *line_no += 1;
    Ok(Some(()))
}

/// Loads an archive as a new organisation, in one unit of work.
pub async fn import(app: &App, input: &mut dyn BufRead, o: ImportOptions<'_>) -> Result<Moved> {
    let mut buf = String::new();
    let mut line_no = 0u64;
    if next_line(input, &mut buf, &mut line_no)?.is_none() {
        return Err(bad("the archive is empty"));
    }
    let header: Header = serde_json::from_str(&buf)
        .map_err(|e| bad(format!("line 1 is not a meishi organisation archive's header: {e}")))?;
    if header.format != FORMAT {
        return Err(bad(format!(
            "not a meishi organisation archive (format '{}')",
            header.format
        )));
    }
    if header.version != VERSION {
        return Err(bad(format!(
            "archive format version {} is not {VERSION}, the one this meishi reads",
            header.version
        )));
    }
    let slug = OrgSlug::parse(o.slug.unwrap_or(&header.organization.slug)).map_err(|e| e.with_field("as"))?;
    let org_id = header.organization.id.clone();
    let actor = Actor::system(&org_id);
    app.write(&actor, async |tx, who| {
        let schema = st::schema_versions(tx).await?;
        if schema != header.schema {
            return Err(bad(format!(
                "the archive was written by a meishi with schema migrations {:?}, this database has {:?}: \
                 load it with the meishi version that wrote it ({}), then upgrade",
                header.schema, schema, header.meishi
            )));
        }
        if let Some(existing) = st::org_slug_by_id(tx, &org_id).await? {
            return Err(Error::conflict(format!(
                "this database already holds the archive's organisation (id {org_id}, slug '{existing}'): \
                 ids are kept, so a database holds an organisation once"
            )));
        }
        if store::orgs::by_slug(tx, slug.as_str()).await?.is_some() {
            return Err(Error::conflict(format!(
                "an organisation with the slug '{}' is already here: give the new one another with --as NEWSLUG",
                slug.as_str()
            ))
            .with_field("as"));
        }
        let names: Vec<&str> = header.tables.iter().map(|t| t.name.as_str()).collect();
        let expected: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        if names != expected {
            return Err(bad(format!("the archive's tables {names:?} are not {expected:?}")));
        }
        // Each table's columns in the archive's order, with this database's kinds.
        let mut columns = Vec::with_capacity(TABLES.len());
        for th in &header.tables {
            let here = st::columns(tx, &th.name).await?;
            let mut cols = Vec::with_capacity(th.columns.len());
            for name in &th.columns {
                let kind = here
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, k)| *k)
                    .ok_or_else(|| bad(format!("{}.{name} is not a column here", th.name)))?;
                cols.push((name.clone(), kind));
            }
            if let Some((n, _)) = here.iter().find(|(n, _)| !th.columns.contains(n)) {
                return Err(bad(format!("the archive has no {}.{n}", th.name)));
            }
            columns.push(cols);
        }
        let first_person = st::reserve_person_ids(tx, header.people).await?;
        let mut load = Loader {
            org_id: &org_id,
            slug: slug.as_str(),
            person_offset: first_person - 1,
            people: header.people,
            columns: &columns,
            current: 0,
            batch: Vec::new(),
            counts: vec![0; TABLES.len()],
        };
        let mut end = None;
        while next_line(input, &mut buf, &mut line_no)?.is_some() {
            if buf.trim().is_empty() {
                continue;
            }
            if end.is_some() {
                return Err(bad(format!("line {line_no}: something after the archive's end")));
            }
            let line: LineIn = serde_json::from_str(&buf).map_err(|e| bad(format!("line {line_no}: {e}")))?;
            match line {
                LineIn {
                    t: Some(t),
                    v: Some(v),
                    end: None,
                } => load.row(tx, &t, v).await.map_err(|e| at_line(e, line_no))?,
                LineIn {
                    end: Some(e), t: None, ..
                } => end = Some(e),
                _ => return Err(bad(format!("line {line_no}: neither a row nor the end"))),
            }
        }
        load.flush(tx).await?;
        let Some(end) = end else {
            return Err(bad("the archive is cut off: its end line is missing"));
        };
        let rows: Vec<(String, u64)> = TABLES
            .iter()
            .zip(&load.counts)
            .map(|(t, n)| (t.name.to_string(), *n))
            .collect();
        for (t, n) in &rows {
            let said = end.rows.get(t).copied().unwrap_or(0);
            if said != *n {
                return Err(bad(format!("the archive says {said} rows of {t}, it holds {n}")));
            }
        }
        if load.counts[0] != 1 {
            return Err(bad("the archive holds no organisation row"));
        }
        let note = format!(
            "not sent: imported from an archive made at {}; the server it came from may have sent it",
            header.exported_at.to_rfc3339()
        );
        let cancelled = st::cancel_pending_mail(tx, &org_id, &note, store::to_micros(who.at)).await?;
        let after = serde_json::json!({
            "source": o.source,
            "exported_at": header.exported_at,
            "from_slug": header.organization.slug,
            "slug": slug.as_str(),
            "meishi": header.meishi,
            "rows": rows.iter().cloned().collect::<BTreeMap<_, _>>(),
            "mail_cancelled": {"messages": cancelled.0, "sends": cancelled.1},
        });
        audit(
            tx,
            who,
            "organization.import",
            ("organization", &org_id),
            None,
            Some(after),
        )
        .await?;
        Ok(Moved {
            organization: OrgRef {
                id: org_id.clone(),
                slug: slug.as_str().to_string(),
                name: header.organization.name.clone(),
            },
            rows,
            mail_cancelled: cancelled,
        })
    })
    .await
}

fn at_line(e: Error, line: u64) -> Error {
    let message = format!("line {line}: {}", e.message);
    Error { message, ..e }
}

/// Rows on their way in: checked, renumbered, written a batch at a time.
struct Loader<'a> {
    org_id: &'a str,
    slug: &'a str,
    person_offset: i64,
    people: i64,
    columns: &'a [Vec<(String, Kind)>],
    /// The table rows come for now (`TABLES`' index).
    current: usize,
    batch: Vec<Vec<Json>>,
    counts: Vec<u64>,
}

impl Loader<'_> {
    async fn row(&mut self, tx: &store::Tx, table: &str, mut v: Vec<Json>) -> Result<()> {
        let i = TABLES
            .iter()
            .position(|t| t.name == table)
            .ok_or_else(|| bad(format!("unknown table {table}")))?;
        if i < self.current {
            return Err(bad(format!("{table} comes after {}", TABLES[self.current].name)));
        }
        if i != self.current {
            self.flush(tx).await?;
            self.current = i;
        }
        let cols = &self.columns[i];
        if v.len() != cols.len() {
            return Err(bad(format!("{table}: {} values for {} columns", v.len(), cols.len())));
        }
        let t = &TABLES[i];
        let org_col = if table == "organizations" { "id" } else { "org_id" };
        if let Some(at) = cols.iter().position(|(n, _)| n == org_col)
            && v[at].as_str() != Some(self.org_id)
        {
            return Err(bad(format!("{table}: a row of another organisation ({})", v[at])));
        }
        if table == "organizations"
            && let Some(at) = cols.iter().position(|(n, _)| n == "slug")
        {
            v[at] = Json::from(self.slug);
        }
        for &at in &positions(cols, t.person, table)? {
            if let Json::Number(n) = &v[at] {
                let p = n.as_i64().filter(|p| (1..=self.people).contains(p)).ok_or_else(|| {
                    bad(format!(
                        "{table}: person id {n} is outside the archive's 1..={}",
                        self.people
                    ))
                })?;
                v[at] = Json::from(p + self.person_offset);
            }
        }
        self.batch.push(v);
        self.counts[i] += 1;
        if self.batch.len() as u64 >= PAGE {
            self.flush(tx).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, tx: &store::Tx) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let t = &TABLES[self.current];
        let cols = &self.columns[self.current];
        st::insert(tx, t.name, cols, &self.batch).await?;
        if t.name == "cards" {
            self.index_cards(tx, cols).await?;
        }
        self.batch.clear();
        Ok(())
    }

    /// The keyword index and the same-person lookup keys of the cards just written, made
    /// from their fields as every other write of a card makes them.
    async fn index_cards(&self, tx: &store::Tx, cols: &[(String, Kind)]) -> Result<()> {
        let at = |name: &str| cols.iter().position(|(n, _)| n == name);
        let text = |row: &[Json], name: &str| at(name).and_then(|i| row[i].as_str()).unwrap_or_default().to_string();
        let mut tokens = Vec::with_capacity(self.batch.len());
        let mut keys = Vec::new();
        for row in &self.batch {
            let fields = CardFields {
                full_name: text(row, "full_name"),
                name_reading: text(row, "name_reading"),
                company: text(row, "company"),
                department: text(row, "department"),
                title: text(row, "title"),
                email: text(row, "email"),
                phone: text(row, "phone"),
                mobile: text(row, "mobile"),
                address: text(row, "address"),
                ..Default::default()
            };
            tokens.push((text(row, "id"), normalize::card_search_tokens(&fields)));
            if let Some(p) = at("person_id").and_then(|i| row[i].as_i64()) {
                keys.extend(
                    person::lookup_keys(self.org_id, &PersonKeys::of(&fields))
                        .into_iter()
                        .map(|k| (k.hash, p)),
                );
            }
        }
        store::search::add(tx, self.org_id, &tokens).await?;
        store::people::add_keys(tx, &keys).await
    }
}
