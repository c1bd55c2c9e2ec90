//! Reading the audit log (admins only), verifying its hash chain and exporting it for
//! archiving. Writing happens inside every other use case (`super::audit`).

use super::{Actor, App, page_limit, paginate};
use crate::domain::audit_chain::{Break, ChainedEvent, Walk};
use crate::domain::model::{AuditEvent, Page};
use crate::domain::{Error, Result};
use crate::store::{self, audit};
use chrono::NaiveDate;

/// What `actor_id` says for the events the system wrote (scheduler, command line).
pub const SYSTEM_ACTOR: &str = "system";

/// Which events; an empty text filters nothing, like a missing one.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    pub action: Option<&'a str>,
    /// A user's id, or `system`.
    pub actor_id: Option<&'a str>,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    /// From this day on, in the organisation's time zone.
    pub from: Option<NaiveDate>,
    /// Up to and including this day, in the organisation's time zone.
    pub to: Option<NaiveDate>,
    pub cursor: Option<&'a str>,
    pub limit: Option<u64>,
}

/// Newest first.
pub async fn list(app: &App, actor: &Actor, q: AuditQuery<'_>) -> Result<Page<AuditEvent>> {
    actor.require_admin()?;
    let limit = page_limit(q.limit)?;
    let before = store::parse_cursor(q.cursor)?;
    let f = filter(app, actor, &q).await?;
    let items = audit::list(app.read(), &actor.org_id, &f, before.as_deref(), limit + 1).await?;
    Ok(paginate(items, limit, |e| e.id.clone()))
}

/// The actions and the target types that occur in the organisation's log (a filter's choices).
pub async fn vocabulary(app: &App, actor: &Actor) -> Result<(Vec<String>, Vec<String>)> {
    actor.require_admin()?;
    let actions = audit::actions(app.read(), &actor.org_id).await?;
    let types = audit::target_types(app.read(), &actor.org_id).await?;
    Ok((actions, types))
}

/// The store's filter: the days become moments in the organisation's zone (`from`'s start to
/// the start of the day after `to`).
async fn filter(app: &App, actor: &Actor, q: &AuditQuery<'_>) -> Result<audit::AuditFilter> {
    let text = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if let (Some(from), Some(to)) = (q.from, q.to)
        && to < from
    {
        return Err(Error::unprocessable("the last day is before the first day").with_field("to"));
    }
    let (from, until) = if q.from.is_some() || q.to.is_some() {
        let policy = super::org(app.read(), &actor.org_id).await?.policy()?;
        (
            q.from.map(|d| policy.day_start(d)),
            q.to.and_then(|d| d.succ_opt()).map(|d| policy.day_start(d)),
        )
    } else {
        (None, None)
    };
    Ok(audit::AuditFilter {
        action: text(q.action),
        actor: text(q.actor_id).map(|a| {
            if a == SYSTEM_ACTOR {
                audit::ActorFilter::System
            } else {
                audit::ActorFilter::User(a)
            }
        }),
        target_type: text(q.target_type),
        target_id: text(q.target_id),
        from,
        until,
    })
}

// ---------------------------------------------------------------------------------------------
// The chain: verifying it and exporting it for archiving (issue 17)

/// Events read per page when walking or exporting a chain: memory holds one page.
const CHAIN_PAGE: u64 = 1000;

/// One organisation's chain, walked.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub org_slug: String,
    /// Events that verified, from the first on.
    pub verified: i64,
    /// The head the walk had to reach: the last event's seq and hash when the walk began
    /// (record it elsewhere to make a later rewrite of the whole chain show).
    pub head_seq: i64,
    pub head_hash: String,
    pub broken: Option<BrokenLink>,
}

/// The first link that does not hold.
#[derive(Debug, Clone)]
pub struct BrokenLink {
    pub seq: i64,
    /// The event where the chain breaks (none when events are missing at the end).
    pub event_id: Option<String>,
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    pub why: Break,
}

/// Walks the chain of the organisation `slug`, or of every organisation, and stops each at
/// its first broken link. Events appended while it walks are left for the next run: each
/// walk goes up to the head it read first. Streamed: a page of events at a time. For the
/// operator (the command line), not an organisation's users: it names every organisation.
pub async fn verify(app: &App, slug: Option<&str>) -> Result<Vec<Verdict>> {
    let orgs = match slug {
        Some(s) => vec![super::auth::resolve_org(app, Some(s)).await?],
        None => store::orgs::all(app.read()).await?,
    };
    let mut out = Vec::with_capacity(orgs.len());
    for org in orgs {
        out.push(verify_org(app, &org.id, org.slug).await?);
    }
    Ok(out)
}

async fn verify_org(app: &App, org_id: &str, org_slug: String) -> Result<Verdict> {
    let (head_seq, head_hash) = audit::head(app.read(), org_id).await?;
    let mut walk = Walk::default();
    let mut last_seq = 0;
    let broken = 'walk: loop {
        let page = audit::chain_page(app.read(), org_id, last_seq, CHAIN_PAGE).await?;
        for e in page.iter().take_while(|e| e.seq <= head_seq) {
            if let Err(why) = walk.step(e) {
                break 'walk Some(BrokenLink {
                    seq: e.seq,
                    event_id: Some(e.id.clone()),
                    at: Some(store::from_micros(e.at)),
                    why,
                });
            }
            last_seq = e.seq;
        }
        if (page.len() as u64) < CHAIN_PAGE || last_seq >= head_seq {
            break walk.finish(head_seq, &head_hash).err().map(|why| BrokenLink {
                seq: walk.checked() + 1,
                event_id: None,
                at: None,
                why,
            });
        }
    };
    Ok(Verdict {
        org_slug,
        verified: walk.checked(),
        head_seq,
        head_hash,
        broken,
    })
}

/// The archive's formats: CSV (UTF-8, a header line) or JSON Lines (one event a line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveFormat {
    Csv,
    Jsonl,
}

impl ArchiveFormat {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "jsonl" => Ok(Self::Jsonl),
            _ => Err(Error::bad_input("format", "must be csv or jsonl")),
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl => "application/jsonl; charset=utf-8",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
        }
    }
}

/// The organisation's audit log in chain order, for archiving: every stored field (the JSON
/// texts as stored, the time to the microsecond), with `seq`, `prev_hash` and `hash`, so that
/// the archive can be checked without meishi (`domain::audit_chain` says how). Read a page at
/// a time by `next_chunk`, up to the head as it was when the export began.
pub struct Archive {
    app: App,
    org_id: String,
    format: ArchiveFormat,
    after_seq: i64,
    pub head_seq: i64,
    pub head_hash: String,
    started: bool,
}

/// Starts an export of the actor's organisation's audit log (admins).
pub async fn archive(app: &App, actor: &Actor, format: ArchiveFormat) -> Result<Archive> {
    actor.require_admin()?;
    let (head_seq, head_hash) = audit::head(app.read(), &actor.org_id).await?;
    Ok(Archive {
        app: app.clone(),
        org_id: actor.org_id.clone(),
        format,
        after_seq: 0,
        head_seq,
        head_hash,
        started: false,
    })
}

/// The archive's CSV columns, in order.
const ARCHIVE_COLUMNS: [&str; 13] = [
    "seq",
    "id",
    "org_id",
    "at",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
    "at_micros",
    "prev_hash",
    "hash",
];

impl Archive {
    /// The next page of the archive as bytes (the CSV's header with the first); None at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let first = !self.started;
        self.started = true;
        let page = if self.after_seq >= self.head_seq {
            Vec::new()
        } else {
            audit::chain_page(self.app.read(), &self.org_id, self.after_seq, CHAIN_PAGE).await?
        };
        let events: Vec<&ChainedEvent> = page.iter().take_while(|e| e.seq <= self.head_seq).collect();
        if events.is_empty() {
            self.after_seq = self.head_seq;
            // An empty CSV still has its header.
            return Ok((first && self.format == ArchiveFormat::Csv).then(|| archive_csv(&[], true)));
        }
        self.after_seq = events.last().map_or(self.head_seq, |e| e.seq);
        Ok(Some(match self.format {
            ArchiveFormat::Csv => archive_csv(&events, first),
            ArchiveFormat::Jsonl => archive_jsonl(&events),
        }))
    }
}

fn rfc3339(micros: i64) -> String {
    store::from_micros(micros).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn archive_csv(events: &[&ChainedEvent], header: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    if header {
        let _ = w.write_record(ARCHIVE_COLUMNS);
    }
    for e in events {
        let _ = w.write_record([
            e.seq.to_string().as_str(),
            &e.id,
            &e.org_id,
            &rfc3339(e.at),
            e.actor_id.as_deref().unwrap_or(""),
            &e.action,
            &e.target_type,
            &e.target_id,
            e.before_json.as_deref().unwrap_or(""),
            e.after_json.as_deref().unwrap_or(""),
            &e.at.to_string(),
            &e.prev_hash,
            &e.hash,
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// One JSON object a line; `before`/`after` are the stored JSON texts put in as they are
/// (a text that is not JSON, which meishi never writes, goes in as a string).
fn archive_jsonl(events: &[&ChainedEvent]) -> Vec<u8> {
    let text = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let json = |s: &Option<String>| match s {
        None => "null".to_string(),
        Some(t) if serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok() => t.clone(),
        Some(t) => text(t),
    };
    let mut out = Vec::new();
    for e in events {
        let line = format!(
            "{{\"seq\":{},\"id\":{},\"org_id\":{},\"at\":{},\"actor_id\":{},\"action\":{},\"target_type\":{},\
             \"target_id\":{},\"before\":{},\"after\":{},\"at_micros\":{},\"prev_hash\":{},\"hash\":{}}}\n",
            e.seq,
            text(&e.id),
            text(&e.org_id),
            text(&rfc3339(e.at)),
            e.actor_id.as_deref().map_or("null".into(), text),
            text(&e.action),
            text(&e.target_type),
            text(&e.target_id),
            json(&e.before_json),
            json(&e.after_json),
            e.at,
            text(&e.prev_hash),
            text(&e.hash),
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}
