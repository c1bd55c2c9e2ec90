//! Mail: templates, settings, the suppression lists, sends, their resolution (one statement
//! for the whole selection) and the outbox the delivery worker claims from. All scoped by
//! organisation except the worker's claim, which serves every organisation.

use super::{Conn, exec, from_micros, new_id, sql, to_micros};
use crate::domain::mail::{SendKind, SendStatus, SkipReason};
use crate::domain::{Error, Result};
use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Value};
use serde::Serialize;

fn get<T: sea_orm::TryGetable>(r: &QueryResult, i: usize) -> Result<T> {
    Ok(r.try_get_by_index(i)?)
}

// ---------------------------------------------------------------------------------------------
// Templates

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateRow {
    pub id: String,
    pub creator_id: String,
    pub creator_name: String,
    pub name: String,
    pub subject: String,
    pub body: String,
    pub html_body: Option<String>,
    pub shared: bool,
    /// The template this one was copied or handed over from.
    pub copied_from: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const TEMPLATE_COLUMNS: &str = "t.id, t.creator_id, u.display_name, t.name, t.subject, t.body, t.html_body, \
     CAST(CASE WHEN t.shared THEN 1 ELSE 0 END AS BIGINT), t.copied_from, t.created_at, t.updated_at";

fn template_row(r: &QueryResult) -> Result<TemplateRow> {
    Ok(TemplateRow {
        id: get(r, 0)?,
        creator_id: get(r, 1)?,
        creator_name: get(r, 2)?,
        name: get(r, 3)?,
        subject: get(r, 4)?,
        body: get(r, 5)?,
        html_body: get(r, 6)?,
        shared: get::<i64>(r, 7)? != 0,
        copied_from: get(r, 8)?,
        created_at: from_micros(get(r, 9)?),
        updated_at: from_micros(get(r, 10)?),
    })
}

pub struct NewTemplate<'a> {
    pub creator_id: &'a str,
    pub name: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub html_body: Option<&'a str>,
    pub shared: bool,
    pub copied_from: Option<&'a str>,
}

pub async fn insert_template(c: &impl Conn, org_id: &str, t: NewTemplate<'_>, at: DateTime<Utc>) -> Result<String> {
    let id = new_id();
    exec(
        c,
        "INSERT INTO mail_templates (id, org_id, creator_id, name, subject, body, html_body, shared, copied_from, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            id.clone().into(),
            org_id.into(),
            t.creator_id.into(),
            t.name.into(),
            t.subject.into(),
            t.body.into(),
            t.html_body.map(str::to_string).into(),
            t.shared.into(),
            t.copied_from.map(str::to_string).into(),
            to_micros(at).into(),
            to_micros(at).into(),
        ],
    )
    .await?;
    Ok(id)
}

/// A template the viewer may see: their own, or a shared one (`viewer` None: any, for admins'
/// hand-over and the deletion guard).
pub async fn template(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<TemplateRow>> {
    let q = format!(
        "SELECT {TEMPLATE_COLUMNS} FROM mail_templates t JOIN users u ON u.id = t.creator_id \
         WHERE t.org_id = ? AND t.id = ?"
    );
    match c.query_one_raw(sql(c, &q, vec![org_id.into(), id.into()])).await? {
        Some(r) => Ok(Some(template_row(&r)?)),
        None => Ok(None),
    }
}

/// Templates in id order after `after`: those `viewer` created and the shared ones (or, with
/// `creator`, only that user's, shared or not).
pub async fn templates(
    c: &impl Conn,
    org_id: &str,
    viewer: &str,
    creator: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<TemplateRow>> {
    let mut values: Vec<Value> = vec![org_id.into()];
    let mut q = format!(
        "SELECT {TEMPLATE_COLUMNS} FROM mail_templates t JOIN users u ON u.id = t.creator_id WHERE t.org_id = ?"
    );
    match creator {
        Some(cr) => {
            q.push_str(" AND t.creator_id = ?");
            values.push(cr.into());
        }
        None => {
            q.push_str(" AND (t.creator_id = ? OR t.shared)");
            values.push(viewer.into());
        }
    }
    if let Some(a) = after {
        q.push_str(" AND t.id > ?");
        values.push(a.into());
    }
    q.push_str(&format!(" ORDER BY t.id LIMIT {limit}"));
    c.query_all_raw(sql(c, &q, values))
        .await?
        .iter()
        .map(template_row)
        .collect()
}

/// Changes a template only if `creator_id` created it; false if not (or gone).
pub async fn update_template(
    c: &impl Conn,
    org_id: &str,
    id: &str,
    creator_id: &str,
    t: &crate::domain::mail::TemplateText,
    shared: bool,
    at: DateTime<Utc>,
) -> Result<bool> {
    Ok(exec(
        c,
        "UPDATE mail_templates SET name = ?, subject = ?, body = ?, html_body = ?, shared = ?, updated_at = ? \
         WHERE org_id = ? AND id = ? AND creator_id = ?",
        vec![
            t.name.clone().into(),
            t.subject.clone().into(),
            t.body.clone().into(),
            t.html_body.clone().into(),
            shared.into(),
            to_micros(at).into(),
            org_id.into(),
            id.into(),
            creator_id.into(),
        ],
    )
    .await?
        == 1)
}

/// Deletes a template only if `creator_id` (None: anyone, the system) created it.
pub async fn delete_template(c: &impl Conn, org_id: &str, id: &str, creator_id: Option<&str>) -> Result<bool> {
    let mut values: Vec<Value> = vec![org_id.into(), id.into()];
    let mut q = "DELETE FROM mail_templates WHERE org_id = ? AND id = ?".to_string();
    if let Some(cr) = creator_id {
        q.push_str(" AND creator_id = ?");
        values.push(cr.into());
    }
    Ok(exec(c, &q, values).await? == 1)
}

pub async fn template_count(c: &impl Conn, org_id: &str, creator_id: &str) -> Result<i64> {
    super::count(
        c,
        "SELECT COUNT(*) FROM mail_templates WHERE org_id = ? AND creator_id = ?",
        vec![org_id.into(), creator_id.into()],
    )
    .await
}

/// Template counts per creator (the users list's holdings).
pub async fn template_counts(c: &impl Conn, org_id: &str) -> Result<Vec<(String, i64)>> {
    c.query_all_raw(sql(
        c,
        "SELECT creator_id, COUNT(*) FROM mail_templates WHERE org_id = ? GROUP BY creator_id",
        vec![org_id.into()],
    ))
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Settings {
    /// Who a handover notice comes from: `leaver` (default) or `successor`.
    pub handover_from: String,
    /// Reminder mail to leavers and admins (default on).
    pub reminders: bool,
    /// Messages a day, all sends together (default 100,000).
    pub daily_limit: i64,
    /// Only owners whose address is in this domain send (None: any).
    pub sending_domain: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            handover_from: "leaver".into(),
            reminders: true,
            daily_limit: crate::domain::mail::DEFAULT_DAILY_LIMIT,
            sending_domain: None,
        }
    }
}

pub async fn settings(c: &impl Conn, org_id: &str) -> Result<Settings> {
    let row = c
        .query_one_raw(sql(
            c,
            "SELECT handover_from, CAST(CASE WHEN reminders THEN 1 ELSE 0 END AS BIGINT), daily_limit, sending_domain \
             FROM mail_settings WHERE org_id = ?",
            vec![org_id.into()],
        ))
        .await?;
    Ok(match row {
        None => Settings::default(),
        Some(r) => Settings {
            handover_from: get(&r, 0)?,
            reminders: get::<i64>(&r, 1)? != 0,
            daily_limit: get(&r, 2)?,
            sending_domain: get(&r, 3)?,
        },
    })
}

pub async fn save_settings(c: &impl Conn, org_id: &str, s: &Settings, at: DateTime<Utc>) -> Result<()> {
    exec(
        c,
        "INSERT INTO mail_settings (org_id, handover_from, reminders, daily_limit, sending_domain, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id) DO UPDATE SET handover_from = excluded.handover_from, \
         reminders = excluded.reminders, daily_limit = excluded.daily_limit, \
         sending_domain = excluded.sending_domain, updated_at = excluded.updated_at",
        vec![
            org_id.into(),
            s.handover_from.clone().into(),
            s.reminders.into(),
            s.daily_limit.into(),
            s.sending_domain.clone().into(),
            to_micros(at).into(),
        ],
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Suppression lists: block (an address or a company key), opt_out and bounce (addresses)

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suppression {
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// Adds an entry; false if it was there already.
pub async fn suppress(
    c: &impl Conn,
    org_id: &str,
    kind: &str,
    value: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    Ok(exec(
        c,
        "INSERT INTO mail_suppressions (org_id, kind, value, reason, created_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (org_id, kind, value) DO NOTHING",
        vec![
            org_id.into(),
            kind.into(),
            value.into(),
            reason.into(),
            to_micros(at).into(),
        ],
    )
    .await?
        == 1)
}

pub async fn unsuppress(c: &impl Conn, org_id: &str, kind: &str, value: &str) -> Result<bool> {
    Ok(exec(
        c,
        "DELETE FROM mail_suppressions WHERE org_id = ? AND kind = ? AND value = ?",
        vec![org_id.into(), kind.into(), value.into()],
    )
    .await?
        == 1)
}

pub async fn suppressions(c: &impl Conn, org_id: &str, kind: Option<&str>, limit: u64) -> Result<Vec<Suppression>> {
    let mut values: Vec<Value> = vec![org_id.into()];
    let mut q = "SELECT kind, value, reason, created_at FROM mail_suppressions WHERE org_id = ?".to_string();
    if let Some(k) = kind {
        q.push_str(" AND kind = ?");
        values.push(k.into());
    }
    q.push_str(&format!(" ORDER BY kind, value LIMIT {limit}"));
    c.query_all_raw(sql(c, &q, values))
        .await?
        .iter()
        .map(|r| {
            Ok(Suppression {
                kind: get(r, 0)?,
                value: get(r, 1)?,
                reason: get(r, 2)?,
                created_at: from_micros(get(r, 3)?),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Resolution: which selected card gets a message, from whom, and why the others do not

/// The cards a send is for, as SQL over `cards c` with its values.
#[derive(Debug, Clone, Default)]
pub struct Recipients {
    pub owner_id: Option<String>,
    pub tag_id: Option<String>,
    /// A company key (`normalize::company`).
    pub company_key: Option<String>,
    pub card_ids: Vec<String>,
}

impl Recipients {
    fn filter(&self, values: &mut Vec<Value>) -> String {
        let mut w = String::new();
        if let Some(o) = &self.owner_id {
            w.push_str(" AND c.owner_id = ?");
            values.push(o.clone().into());
        }
        if let Some(t) = &self.tag_id {
            w.push_str(" AND EXISTS (SELECT 1 FROM card_tags ct WHERE ct.card_id = c.id AND ct.tag_id = ?)");
            values.push(t.clone().into());
        }
        if let Some(k) = &self.company_key {
            w.push_str(" AND c.company_key = ?");
            values.push(k.clone().into());
        }
        if !self.card_ids.is_empty() {
            w.push_str(&format!(" AND c.id IN ({})", vec!["?"; self.card_ids.len()].join(", ")));
            values.extend(self.card_ids.iter().map(|i| Value::from(i.clone())));
        }
        w
    }
}

/// The reasons that depend on the address, in `SkipReason::ALL`'s order, over `s.addr` and
/// `s.company_key`; binds the organisation three times.
const ADDRESS_CASES: &str = "WHEN s.addr = '' THEN 'no_email'
                WHEN EXISTS (SELECT 1 FROM mail_suppressions b WHERE b.org_id = ? AND b.kind = 'block'
                             AND b.value IN (s.addr, s.company_key)) THEN 'blocked'
                WHEN EXISTS (SELECT 1 FROM mail_suppressions b WHERE b.org_id = ? AND b.kind = 'opt_out'
                             AND b.value = s.addr) THEN 'opted_out'
                WHEN EXISTS (SELECT 1 FROM mail_suppressions b WHERE b.org_id = ? AND b.kind = 'bounce'
                             AND b.value = s.addr) THEN 'bounced'";

/// The same rows that a card whose newest-per-address rank is not 1 gets `duplicate_address`.
const DUPLICATE_CASE: &str = "CASE WHEN w.reason IS NULL AND ROW_NUMBER() OVER (
                        PARTITION BY CASE WHEN w.reason IS NULL THEN w.addr ELSE w.id END
                        ORDER BY w.day DESC, w.created_at DESC, w.id DESC) > 1
                    THEN 'duplicate_address' ELSE w.reason END";

/// The resolution as one query: every selected card with its sender's facts and `why` (NULL:
/// it gets a message), the reasons applied in `SkipReason::ALL`'s order. Columns: id, owner_id,
/// addr, full_name, company, department, title, owner name, owner email, why, leaves_at.
fn resolution(org_id: &str, r: &Recipients, at: DateTime<Utc>, domain: Option<&str>) -> (String, Vec<Value>) {
    let mut v: Vec<Value> = vec![org_id.into(), org_id.into()];
    let filter = r.filter(&mut v);
    let at = to_micros(at);
    let domain_test = match domain {
        Some(_) => "LOWER(s.owner_email) NOT LIKE ? ESCAPE '!'",
        None => "1 = 0",
    };
    let mut tail: Vec<Value> = vec![at.into()];
    if let Some(d) = domain {
        // The domain is matched as it is written: its `%` or `_` are no wildcards.
        tail.push(format!("%@{}", super::like_literal(&d.to_lowercase(), '!')).into());
    }
    tail.extend([org_id.into(), org_id.into(), org_id.into()]);
    v.extend(tail);
    let address_cases = ADDRESS_CASES;
    let q = format!(
        "WITH sel AS (
            SELECT c.id, c.owner_id, LOWER(TRIM(c.email)) AS addr, c.full_name, c.company, c.company_key,
                   c.department, c.title, u.display_name AS owner_name, u.email AS owner_email,
                   u.status AS owner_status, u.is_archive, d.leaves_at,
                   COALESCE(c.exchanged_on, '') AS day, c.created_at,
                   ROW_NUMBER() OVER (PARTITION BY c.person_id, CASE WHEN c.person_id IS NULL THEN c.id END
                                      ORDER BY COALESCE(c.exchanged_on, '') DESC, c.created_at DESC, c.id DESC) AS newest
            FROM cards c
            JOIN users u ON u.id = c.owner_id
            LEFT JOIN (SELECT user_id, MIN(suspend_moment) AS leaves_at FROM departures
                       WHERE org_id = ? AND status = 'scheduled' GROUP BY user_id) d ON d.user_id = c.owner_id
            WHERE c.org_id = ?{filter}
        ), why AS (
            SELECT s.*, CASE
                WHEN s.owner_status <> 'active' THEN 'owner_suspended'
                WHEN s.leaves_at IS NOT NULL AND s.leaves_at <= ? THEN 'owner_leaving'
                WHEN s.is_archive THEN 'owner_archive'
                WHEN {domain_test} THEN 'sender_domain'
                WHEN s.newest > 1 THEN 'older_card'
                {address_cases}
            END AS reason
            FROM sel s
        )
        SELECT w.id, w.owner_id, w.addr, w.full_name, w.company, w.department, w.title, w.owner_name,
               w.owner_email,
               {DUPLICATE_CASE} AS why,
               w.leaves_at
        FROM why w"
    );
    (q, v)
}

/// What a send would do, as the preview shows it.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = SendPreview)]
pub struct Preview {
    /// Messages that would be queued.
    pub messages: i64,
    /// Cards left out.
    pub skipped: i64,
    pub by_sender: Vec<SenderCount>,
    pub by_reason: Vec<ReasonCount>,
    /// The first skipped cards by name (all of them in the CSV).
    pub skipped_cards: Vec<SkippedCard>,
    /// Senders whose departure will suspend them after this send: their cards drop out of sends
    /// made after that moment.
    pub leaving_later: Vec<LeavingSender>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SenderCount {
    pub user_id: String,
    pub display_name: String,
    pub email: String,
    pub messages: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReasonCount {
    pub reason: SkipReason,
    pub label: String,
    pub cards: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SkippedCard {
    pub card_id: String,
    pub full_name: String,
    pub company: String,
    pub email: String,
    pub owner_name: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeavingSender {
    pub user_id: String,
    pub display_name: String,
    pub suspends_at: DateTime<Utc>,
    pub cards: i64,
}

/// How many skipped cards a preview names (the CSV has them all).
pub const PREVIEW_NAMES: u64 = 100;

pub async fn preview(
    c: &impl Conn,
    org_id: &str,
    r: &Recipients,
    at: DateTime<Utc>,
    domain: Option<&str>,
) -> Result<Preview> {
    let (res, v) = resolution(org_id, r, at, domain);
    let mut p = Preview::default();
    let q = format!(
        "SELECT x.owner_id, x.owner_name, x.owner_email, COUNT(*) FROM ({res}) x WHERE x.why IS NULL \
         GROUP BY x.owner_id, x.owner_name, x.owner_email ORDER BY COUNT(*) DESC, x.owner_id"
    );
    for row in c.query_all_raw(sql(c, &q, v.clone())).await? {
        let n: i64 = get(&row, 3)?;
        p.messages += n;
        p.by_sender.push(SenderCount {
            user_id: get(&row, 0)?,
            display_name: get(&row, 1)?,
            email: get(&row, 2)?,
            messages: n,
        });
    }
    let q = format!("SELECT x.why, COUNT(*) FROM ({res}) x WHERE x.why IS NOT NULL GROUP BY x.why");
    for row in c.query_all_raw(sql(c, &q, v.clone())).await? {
        let reason = SkipReason::from_stored(&get::<String>(&row, 0)?)?;
        let n: i64 = get(&row, 1)?;
        p.skipped += n;
        p.by_reason.push(ReasonCount {
            reason,
            label: reason.label_ja().into(),
            cards: n,
        });
    }
    p.by_reason
        .sort_by_key(|rc| SkipReason::ALL.iter().position(|r| *r == rc.reason));
    p.skipped_cards = skipped(c, org_id, r, at, domain, Some(PREVIEW_NAMES)).await?;
    let q = format!(
        "SELECT x.owner_id, x.owner_name, x.leaves_at, COUNT(*) FROM ({res}) x \
         WHERE x.why IS NULL AND x.leaves_at IS NOT NULL GROUP BY x.owner_id, x.owner_name, x.leaves_at \
         ORDER BY x.leaves_at, x.owner_id"
    );
    for row in c.query_all_raw(sql(c, &q, v)).await? {
        p.leaving_later.push(LeavingSender {
            user_id: get(&row, 0)?,
            display_name: get(&row, 1)?,
            suspends_at: from_micros(get(&row, 2)?),
            cards: get(&row, 3)?,
        });
    }
    Ok(p)
}

/// The skipped cards of a resolution, by reason and name (`limit` None: all).
pub async fn skipped(
    c: &impl Conn,
    org_id: &str,
    r: &Recipients,
    at: DateTime<Utc>,
    domain: Option<&str>,
    limit: Option<u64>,
) -> Result<Vec<SkippedCard>> {
    let (res, v) = resolution(org_id, r, at, domain);
    let limit = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
    let q = format!(
        "SELECT x.id, x.full_name, x.company, x.addr, x.owner_name, x.why FROM ({res}) x \
         WHERE x.why IS NOT NULL ORDER BY x.why, x.full_name, x.id{limit}"
    );
    c.query_all_raw(sql(c, &q, v))
        .await?
        .iter()
        .map(|row| {
            Ok(SkippedCard {
                card_id: get(row, 0)?,
                full_name: get(row, 1)?,
                company: get(row, 2)?,
                email: get(row, 3)?,
                owner_name: get(row, 4)?,
                reason: SkipReason::from_stored(&get::<String>(row, 5)?)?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The customer handover notice (引き継ぎのご挨拶): one per person among a leaver's customers

/// A leaver's customers and who takes each over: the cards the leaver holds (the successor is
/// the first plan line that selects the card, else the departure's) and the cards the
/// departure's transfers moved (the successor is their owner now).
pub struct NoticeScope {
    pub departure_id: String,
    pub leaver_id: String,
    pub default_successor: String,
    /// Each plan line's predicate on `cards c` (with its values) and successor, in order.
    pub lines: Vec<(String, Vec<Value>, String)>,
    /// Transfers from the leaver since then count (the departure's creation).
    pub since: DateTime<Utc>,
}

impl NoticeScope {
    fn dedupe_prefix(&self) -> String {
        format!("handover:{}:", self.departure_id)
    }
}

/// The notice's resolution: columns id, addr, full_name, company, department, title,
/// successor_id, successor name, successor email, dedupe key, why (NULL: gets a notice now;
/// `already_sent`: had one).
fn notice_resolution(org_id: &str, n: &NoticeScope) -> (String, Vec<Value>) {
    let mut v: Vec<Value> = vec![n.leaver_id.clone().into()];
    let mut case = String::from("CASE");
    for (pred, values, successor) in &n.lines {
        case.push_str(&format!(" WHEN ({pred}) THEN ?"));
        v.extend(values.iter().cloned());
        v.push(successor.clone().into());
    }
    // A CASE needs one WHEN at least: a plan without lines gives everything to the default.
    case = if n.lines.is_empty() {
        "?".into()
    } else {
        case + " ELSE ? END"
    };
    v.push(n.default_successor.clone().into());
    v.extend([
        n.dedupe_prefix().into(),
        org_id.into(),
        n.leaver_id.clone().into(),
        org_id.into(),
        n.leaver_id.clone().into(),
        to_micros(n.since).into(),
        org_id.into(),
        org_id.into(),
        org_id.into(),
        org_id.into(),
    ]);
    let q = format!(
        "WITH sel AS (
            SELECT c.id, LOWER(TRIM(c.email)) AS addr, c.full_name, c.company, c.company_key, c.department, c.title,
                   COALESCE(c.exchanged_on, '') AS day, c.created_at,
                   CASE WHEN c.owner_id = ? THEN {case} ELSE c.owner_id END AS successor_id,
                   ROW_NUMBER() OVER (PARTITION BY c.person_id, CASE WHEN c.person_id IS NULL THEN c.id END
                                      ORDER BY COALESCE(c.exchanged_on, '') DESC, c.created_at DESC, c.id DESC) AS newest,
                   CAST(? AS TEXT) || COALESCE(CAST(c.person_id AS TEXT), c.id) AS dedupe
            FROM cards c
            WHERE c.org_id = ? AND (c.owner_id = ? OR c.id IN (
                SELECT ti.card_id FROM transfer_items ti JOIN transfers t ON t.id = ti.transfer_id
                WHERE t.org_id = ? AND t.from_user_id = ? AND t.undone_at IS NULL AND t.created_at >= ?
                  AND t.to_user_id = c.owner_id))
        ), why AS (
            SELECT s.*, su.display_name AS successor_name, su.email AS successor_email, CASE
                WHEN s.newest > 1 THEN 'older_card'
                {ADDRESS_CASES}
                WHEN EXISTS (SELECT 1 FROM mail_messages m WHERE m.org_id = ? AND m.dedupe_key = s.dedupe)
                    THEN 'already_sent'
            END AS reason
            FROM sel s JOIN users su ON su.id = s.successor_id
        )
        SELECT w.id, w.addr, w.full_name, w.company, w.department, w.title, w.successor_id, w.successor_name,
               w.successor_email, w.dedupe, {DUPLICATE_CASE} AS why
        FROM why w"
    );
    (q, v)
}

/// A notice's customers: who would get one now, who had one, who is left out and why.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct NoticePreview {
    /// Customers (people) who would get the notice now.
    pub messages: i64,
    /// Customers who had it already (never sent twice).
    pub already_sent: i64,
    /// Cards left out for another reason.
    pub skipped: i64,
    /// The first customers and their successors (up to 100).
    pub customers: Vec<NoticeCustomer>,
    pub skipped_cards: Vec<SkippedCard>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NoticeCustomer {
    pub card_id: String,
    pub full_name: String,
    pub company: String,
    pub email: String,
    pub successor_id: String,
    pub successor_name: String,
}

/// (customers to notify, customers notified, cards left out) of a notice.
async fn notice_tally(c: &impl Conn, org_id: &str, n: &NoticeScope) -> Result<(i64, i64, i64)> {
    let (res, v) = notice_resolution(org_id, n);
    let mut out = (0, 0, 0);
    let q = format!("SELECT x.why, COUNT(*) FROM ({res}) x GROUP BY x.why");
    for row in c.query_all_raw(sql(c, &q, v)).await? {
        let why: Option<String> = get(&row, 0)?;
        let k: i64 = get(&row, 1)?;
        match why.as_deref() {
            None => out.0 += k,
            Some("already_sent") => out.1 += k,
            Some(_) => out.2 += k,
        }
    }
    Ok(out)
}

/// (customers still to notify, customers notified).
pub async fn notice_counts(c: &impl Conn, org_id: &str, n: &NoticeScope) -> Result<(i64, i64)> {
    let (left, sent, _) = notice_tally(c, org_id, n).await?;
    Ok((left, sent))
}

pub async fn notice_preview(c: &impl Conn, org_id: &str, n: &NoticeScope) -> Result<NoticePreview> {
    let (messages, already_sent, skipped) = notice_tally(c, org_id, n).await?;
    let mut p = NoticePreview {
        messages,
        already_sent,
        skipped,
        ..Default::default()
    };
    let (res, v) = notice_resolution(org_id, n);
    let q = format!(
        "SELECT x.id, x.full_name, x.company, x.addr, x.successor_id, x.successor_name FROM ({res}) x          WHERE x.why IS NULL ORDER BY x.full_name, x.id LIMIT {PREVIEW_NAMES}"
    );
    for row in c.query_all_raw(sql(c, &q, v.clone())).await? {
        p.customers.push(NoticeCustomer {
            card_id: get(&row, 0)?,
            full_name: get(&row, 1)?,
            company: get(&row, 2)?,
            email: get(&row, 3)?,
            successor_id: get(&row, 4)?,
            successor_name: get(&row, 5)?,
        });
    }
    let q = format!(
        "SELECT x.id, x.full_name, x.company, x.addr, x.successor_name, x.why FROM ({res}) x          WHERE x.why IS NOT NULL AND x.why <> 'already_sent' ORDER BY x.why, x.full_name, x.id LIMIT {PREVIEW_NAMES}"
    );
    for row in c.query_all_raw(sql(c, &q, v)).await? {
        p.skipped_cards.push(SkippedCard {
            card_id: get(&row, 0)?,
            full_name: get(&row, 1)?,
            company: get(&row, 2)?,
            email: get(&row, 3)?,
            owner_name: get(&row, 4)?,
            reason: SkipReason::from_stored(&get::<String>(&row, 5)?)?,
        });
    }
    Ok(p)
}

/// Queues the notice for every customer who has not had it (once per person and departure,
/// kept so by the outbox's unique `dedupe_key`). `from`: the leaver (id, name, address), or
/// None for each card's successor. Returns how many were queued.
pub async fn enqueue_notice(
    c: &impl Conn,
    org_id: &str,
    send_id: &str,
    n: &NoticeScope,
    from: Option<(&str, &str, &str)>,
    next_attempt_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<i64> {
    let (res, v) = notice_resolution(org_id, n);
    let (cols, from_values): (&str, Vec<Value>) = match from {
        Some((id, name, addr)) => ("?, ?, ?", vec![id.into(), name.into(), addr.into()]),
        None => ("x.successor_id, x.successor_name, x.successor_email", vec![]),
    };
    let mut values: Vec<Value> = vec![send_id.into(), org_id.into(), send_id.into()];
    values.extend(from_values);
    values.push(to_micros(at).into());
    values.extend(v);
    let q = format!(
        "INSERT INTO mail_messages (id, org_id, send_id, card_id, recipient, to_name, company, department, title, \
         sender_id, from_name, from_addr, successor_name, successor_addr, created_at, dedupe_key) \
         SELECT CAST(? AS TEXT) || '.' || x.id, ?, ?, x.id, x.addr, x.full_name, x.company, x.department, x.title, \
         {cols}, x.successor_name, x.successor_email, ?, x.dedupe FROM ({res}) x WHERE x.why IS NULL \
         ON CONFLICT (org_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING"
    );
    c.execute_raw(sql(c, &q, values)).await?;
    queue_states(c, send_id, next_attempt_at).await
}

/// The state rows (`queued`, due at `next_attempt_at`) of a send's new messages, the cards it
/// skipped left out: one INSERT … SELECT over the send's text rows, in the transaction that
/// wrote them. Returns how many.
async fn queue_states(c: &impl Conn, send_id: &str, next_attempt_at: DateTime<Utc>) -> Result<i64> {
    let n = exec(
        c,
        "INSERT INTO mail_states (id, status, attempts, next_attempt_at) \
         SELECT id, 'queued', 0, ? FROM mail_messages WHERE send_id = ? AND reason IS NULL",
        vec![to_micros(next_attempt_at).into(), send_id.into()],
    )
    .await?;
    Ok(n as i64)
}

/// Holds the organisation's row locked to the end of the transaction (PostgreSQL `FOR
/// UPDATE`; SQLite's write transaction already holds the database's write lock), so that the
/// daily limit's count and the send it guards are one step for every server.
pub async fn lock_sends(c: &impl Conn, org_id: &str) -> Result<()> {
    if !super::is_sqlite(c) {
        c.query_one_raw(sql(
            c,
            "SELECT id FROM organizations WHERE id = ? FOR UPDATE",
            vec![org_id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Messages the organisation's sends made since `since` queued (its daily limit).
pub async fn queued_since(c: &impl Conn, org_id: &str, since: DateTime<Utc>) -> Result<i64> {
    super::count(
        c,
        "SELECT CAST(COALESCE(SUM(queued), 0) AS BIGINT) FROM mail_sends WHERE org_id = ? AND created_at >= ?",
        vec![org_id.into(), to_micros(since).into()],
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Sends

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SendRow {
    pub id: String,
    pub kind: SendKind,
    pub created_by: Option<String>,
    pub template_id: Option<String>,
    pub departure_id: Option<String>,
    pub subject: String,
    pub selection: serde_json::Value,
    pub scheduled_at: DateTime<Utc>,
    pub status: SendStatus,
    pub queued: i64,
    pub skipped: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

pub struct NewSend<'a> {
    pub kind: SendKind,
    pub created_by: Option<&'a str>,
    pub template_id: Option<&'a str>,
    pub departure_id: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub html_body: Option<&'a str>,
    pub selection: serde_json::Value,
    pub scheduled_at: DateTime<Utc>,
}

pub async fn insert_send(c: &impl Conn, org_id: &str, s: &NewSend<'_>, at: DateTime<Utc>) -> Result<String> {
    let id = new_id();
    let secret = format!("{:032x}", rand::random::<u128>());
    exec(
        c,
        "INSERT INTO mail_sends (id, org_id, kind, created_by, template_id, departure_id, subject, body, html_body, \
         selection, scheduled_at, status, secret, queued, skipped, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, 0, 0, ?)",
        vec![
            id.clone().into(),
            org_id.into(),
            s.kind.as_str().into(),
            s.created_by.map(str::to_string).into(),
            s.template_id.map(str::to_string).into(),
            s.departure_id.map(str::to_string).into(),
            s.subject.into(),
            s.body.into(),
            s.html_body.map(str::to_string).into(),
            s.selection.to_string().into(),
            to_micros(s.scheduled_at).into(),
            secret.into(),
            to_micros(at).into(),
        ],
    )
    .await?;
    Ok(id)
}

/// Queues the messages of a One to One send and keeps its skipped cards (rows `skipped`, with
/// their reason): one statement over the resolution, whatever the selection's size. Returns
/// (queued, skipped).
pub async fn enqueue(
    c: &impl Conn,
    org_id: &str,
    send_id: &str,
    r: &Recipients,
    scheduled_at: DateTime<Utc>,
    domain: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(i64, i64)> {
    let (res, v) = resolution(org_id, r, scheduled_at, domain);
    let mut values: Vec<Value> = vec![send_id.into(), org_id.into(), send_id.into(), to_micros(at).into()];
    values.extend(v);
    let q = format!(
        "INSERT INTO mail_messages (id, org_id, send_id, card_id, recipient, to_name, company, department, title, \
         sender_id, from_name, from_addr, successor_name, successor_addr, created_at, reason) \
         SELECT CAST(? AS TEXT) || '.' || x.id, ?, ?, x.id, x.addr, x.full_name, x.company, x.department, x.title, \
         x.owner_id, x.owner_name, x.owner_email, '', '', ?, x.why FROM ({res}) x"
    );
    let (queued, skipped) = if super::is_sqlite(c) {
        let all = c.execute_raw(sql(c, &q, values)).await?.rows_affected() as i64;
        let queued = queue_states(c, send_id, scheduled_at).await?;
        (queued, all - queued)
    } else {
        // PostgreSQL writes the states from the text rows as it inserts them (a data-modifying
        // WITH), instead of reading 100,000 rows back: one statement for both tables.
        values.push(to_micros(scheduled_at).into());
        let q = format!(
            "WITH ins AS ({q} RETURNING id, reason), st AS (INSERT INTO mail_states (id, status, attempts, \
             next_attempt_at) SELECT id, 'queued', 0, ? FROM ins WHERE reason IS NULL RETURNING 1) \
             SELECT (SELECT COUNT(*) FROM st), (SELECT COUNT(*) FROM ins WHERE reason IS NOT NULL)"
        );
        match c.query_one_raw(sql(c, &q, values)).await? {
            Some(r) => (get(&r, 0)?, get(&r, 1)?),
            None => (0, 0),
        }
    };
    exec(
        c,
        "UPDATE mail_sends SET queued = ?, skipped = ? WHERE org_id = ? AND id = ?",
        vec![queued.into(), skipped.into(), org_id.into(), send_id.into()],
    )
    .await?;
    Ok((queued, skipped))
}

/// One message for the outbox (a handover notice, a reminder), at most once per `dedupe_key`.
/// Returns whether it was queued (false: one with that key exists).
pub struct OneMessage<'a> {
    pub card_id: Option<&'a str>,
    pub recipient: &'a str,
    pub to_name: &'a str,
    pub company: &'a str,
    pub department: &'a str,
    pub title: &'a str,
    pub sender_id: Option<&'a str>,
    pub from_name: &'a str,
    pub from_addr: &'a str,
    pub successor_name: &'a str,
    pub successor_addr: &'a str,
    pub dedupe_key: &'a str,
}

/// Whether the outbox holds a message with this once-only key.
pub async fn has_key(c: &impl Conn, org_id: &str, dedupe_key: &str) -> Result<bool> {
    Ok(super::count(
        c,
        "SELECT COUNT(*) FROM mail_messages WHERE org_id = ? AND dedupe_key = ?",
        vec![org_id.into(), dedupe_key.into()],
    )
    .await?
        > 0)
}

pub async fn enqueue_one(
    c: &impl Conn,
    org_id: &str,
    send_id: &str,
    m: &OneMessage<'_>,
    next_attempt_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<bool> {
    let id = format!("{send_id}.{}", m.card_id.map(str::to_string).unwrap_or_else(new_id));
    let n = exec(
        c,
        "INSERT INTO mail_messages (id, org_id, send_id, card_id, recipient, to_name, company, department, title, \
         sender_id, from_name, from_addr, successor_name, successor_addr, created_at, dedupe_key) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (org_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
        vec![
            id.clone().into(),
            org_id.into(),
            send_id.into(),
            m.card_id.map(str::to_string).into(),
            m.recipient.into(),
            m.to_name.into(),
            m.company.into(),
            m.department.into(),
            m.title.into(),
            m.sender_id.map(str::to_string).into(),
            m.from_name.into(),
            m.from_addr.into(),
            m.successor_name.into(),
            m.successor_addr.into(),
            to_micros(at).into(),
            m.dedupe_key.into(),
        ],
    )
    .await?;
    if n == 1 {
        exec(
            c,
            "INSERT INTO mail_states (id, status, attempts, next_attempt_at) VALUES (?, 'queued', 0, ?)",
            vec![id.into(), to_micros(next_attempt_at).into()],
        )
        .await?;
    }
    Ok(n == 1)
}

/// Records a send's counts: its messages, and the cards it left out.
pub async fn set_counts(c: &impl Conn, org_id: &str, send_id: &str) -> Result<(i64, i64)> {
    let (mut queued, mut skipped) = (0, 0);
    if let Some(row) = c
        .query_one_raw(sql(
            c,
            "SELECT COUNT(*), COUNT(reason) FROM mail_messages WHERE send_id = ? AND org_id = ?",
            vec![send_id.into(), org_id.into()],
        ))
        .await?
    {
        skipped = get(&row, 1)?;
        queued = get::<i64>(&row, 0)? - skipped;
    }
    exec(
        c,
        "UPDATE mail_sends SET queued = ?, skipped = ? WHERE org_id = ? AND id = ?",
        vec![queued.into(), skipped.into(), org_id.into(), send_id.into()],
    )
    .await?;
    Ok((queued, skipped))
}

const SEND_COLUMNS: &str = "id, kind, created_by, template_id, departure_id, subject, selection, scheduled_at, status, \
     queued, skipped, created_at, started_at, cancelled_at";

fn send(r: &QueryResult) -> Result<SendRow> {
    Ok(SendRow {
        id: get(r, 0)?,
        kind: SendKind::from_stored(&get::<String>(r, 1)?)?,
        created_by: get(r, 2)?,
        template_id: get(r, 3)?,
        departure_id: get(r, 4)?,
        subject: get(r, 5)?,
        selection: serde_json::from_str(&get::<String>(r, 6)?)
            .map_err(|e| Error::internal(format!("stored selection: {e}")))?,
        scheduled_at: from_micros(get(r, 7)?),
        status: SendStatus::from_stored(&get::<String>(r, 8)?)?,
        queued: get(r, 9)?,
        skipped: get(r, 10)?,
        created_at: from_micros(get(r, 11)?),
        started_at: get::<Option<i64>>(r, 12)?.map(from_micros),
        cancelled_at: get::<Option<i64>>(r, 13)?.map(from_micros),
    })
}

pub async fn send_by_id(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<SendRow>> {
    let q = format!("SELECT {SEND_COLUMNS} FROM mail_sends WHERE org_id = ? AND id = ?");
    match c.query_one_raw(sql(c, &q, vec![org_id.into(), id.into()])).await? {
        Some(r) => Ok(Some(send(&r)?)),
        None => Ok(None),
    }
}

/// Sends newest first (`before`: the cursor), optionally only those `created_by` made.
pub async fn sends(
    c: &impl Conn,
    org_id: &str,
    created_by: Option<&str>,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<SendRow>> {
    let mut values: Vec<Value> = vec![org_id.into()];
    let mut q = format!("SELECT {SEND_COLUMNS} FROM mail_sends WHERE org_id = ?");
    if let Some(u) = created_by {
        q.push_str(" AND created_by = ?");
        values.push(u.into());
    }
    if let Some(b) = before {
        q.push_str(" AND id < ?");
        values.push(b.into());
    }
    q.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    c.query_all_raw(sql(c, &q, values)).await?.iter().map(send).collect()
}

/// Message counts of a send by state.
pub async fn message_states(c: &impl Conn, org_id: &str, send_id: &str) -> Result<Vec<(String, i64)>> {
    c.query_all_raw(sql(
        c,
        "SELECT s.status, COUNT(*) FROM mail_messages m JOIN mail_states s ON s.id = m.id \
         WHERE m.send_id = ? AND m.org_id = ? GROUP BY s.status ORDER BY s.status",
        vec![send_id.into(), org_id.into()],
    ))
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
    .collect()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageRow {
    pub id: String,
    pub card_id: Option<String>,
    pub recipient: String,
    pub to_name: String,
    pub from_name: String,
    pub from_addr: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

pub async fn messages(
    c: &impl Conn,
    org_id: &str,
    send_id: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<MessageRow>> {
    let mut values: Vec<Value> = vec![send_id.into(), org_id.into()];
    // A sent message's end is when it was sent.
    let mut q = "SELECT m.id, m.card_id, m.recipient, m.to_name, m.from_name, m.from_addr, s.status, s.attempts, \
                 s.last_error, CASE WHEN s.status = 'sent' THEN s.done_at END \
                 FROM mail_messages m JOIN mail_states s ON s.id = m.id WHERE m.send_id = ? AND m.org_id = ?"
        .to_string();
    if let Some(a) = after {
        q.push_str(" AND m.id > ?");
        values.push(a.into());
    }
    q.push_str(&format!(" ORDER BY m.id LIMIT {limit}"));
    c.query_all_raw(sql(c, &q, values))
        .await?
        .iter()
        .map(|r| {
            Ok(MessageRow {
                id: get(r, 0)?,
                card_id: get(r, 1)?,
                recipient: get(r, 2)?,
                to_name: get(r, 3)?,
                from_name: get(r, 4)?,
                from_addr: get(r, 5)?,
                status: get(r, 6)?,
                attempts: get(r, 7)?,
                last_error: get(r, 8)?,
                sent_at: get::<Option<i64>>(r, 9)?.map(from_micros),
            })
        })
        .collect()
}

/// The skipped cards a send recorded, by reason and name.
pub async fn send_skips(c: &impl Conn, org_id: &str, send_id: &str, limit: Option<u64>) -> Result<Vec<SkippedCard>> {
    let limit = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
    let q = format!(
        "SELECT card_id, to_name, company, recipient, from_name, reason FROM mail_messages \
         WHERE send_id = ? AND org_id = ? AND reason IS NOT NULL ORDER BY reason, to_name, card_id{limit}"
    );
    c.query_all_raw(sql(c, &q, vec![send_id.into(), org_id.into()]))
        .await?
        .iter()
        .map(|row| {
            Ok(SkippedCard {
                card_id: get::<Option<String>>(row, 0)?.unwrap_or_default(),
                full_name: get(row, 1)?,
                company: get(row, 2)?,
                email: get(row, 3)?,
                owner_name: get(row, 4)?,
                reason: SkipReason::from_stored(&get::<String>(row, 5)?)?,
            })
        })
        .collect()
}

/// Removes a send that queued nothing (a handover notice every customer had already).
pub async fn delete_send(c: &impl Conn, org_id: &str, send_id: &str) -> Result<()> {
    exec(
        c,
        "DELETE FROM mail_sends WHERE org_id = ? AND id = ?",
        vec![org_id.into(), send_id.into()],
    )
    .await?;
    Ok(())
}

/// Cancels a send that has not started: the send and its queued messages, in one go; false if
/// it has started, ended or was cancelled already.
pub async fn cancel(c: &impl Conn, org_id: &str, send_id: &str, at: DateTime<Utc>) -> Result<bool> {
    let n = exec(
        c,
        "UPDATE mail_sends SET status = 'cancelled', cancelled_at = ? WHERE org_id = ? AND id = ? AND status = 'scheduled'",
        vec![to_micros(at).into(), org_id.into(), send_id.into()],
    )
    .await?;
    if n == 0 {
        return Ok(false);
    }
    exec(
        c,
        "UPDATE mail_states SET status = 'cancelled', done_at = ? WHERE status = 'queued' \
         AND id IN (SELECT id FROM mail_messages WHERE send_id = ? AND org_id = ?)",
        vec![to_micros(at).into(), send_id.into(), org_id.into()],
    )
    .await?;
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// The outbox, as the delivery worker sees it (every organisation)

/// A claimed message with what rendering it needs.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: String,
    /// Where its claimed state row is, for `mark_sent`: on PostgreSQL the row version's
    /// physical address (`ctid`), which the mark reads directly instead of looking the id up
    /// in the primary key; on SQLite its id.
    pub state_row: String,
    pub org_id: String,
    pub send_id: String,
    pub recipient: String,
    pub to_name: String,
    pub company: String,
    pub department: String,
    pub title: String,
    pub from_name: String,
    pub from_addr: String,
    pub successor_name: String,
    pub successor_addr: String,
    pub attempts: i64,
    pub subject: String,
    pub body: String,
    pub html_body: Option<String>,
    pub secret: String,
    pub kind: SendKind,
}

/// Starts the sends whose time has come (no cancelling after this).
pub async fn start_due(c: &impl Conn, now: DateTime<Utc>) -> Result<()> {
    let now = to_micros(now);
    exec(
        c,
        "UPDATE mail_sends SET status = 'sending', started_at = ? WHERE status = 'scheduled' AND scheduled_at <= ?",
        vec![now.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// A claim: the messages one conditional update took, held under the claim's own id (in
/// `claimed_by`) until the lease's end (`lease_until`).
#[derive(Debug)]
pub struct Claim {
    pub id: String,
    pub messages: Vec<Outgoing>,
}

/// Claims up to `limit` due messages until `until`: one conditional update (its RETURNING
/// names them), so that servers sharing the database never take the same message. Each claim
/// has an id of its own, written in `claimed_by`, and its marks name it.
///
/// A claim is a lease: the message's state row becomes `sending` until `lease_until`, and a
/// claim that lapsed (a server died while delivering) is taken again like a queued message,
/// with the same Message-ID. Both are found in due order on the one partial index of the
/// states not yet done (`mail_states_due`), a batch's worth of entries (and the leases in
/// force, skipped), never a sort of the queue. The claim changes no indexed column
/// (`status`, `claimed_by`, `lease_until` and `attempts` are in no index, `done_at` and
/// `next_attempt_at` are left alone), so that PostgreSQL writes it as a heap-only update of
/// the small state row (the table keeps room on each page for that: migration 14); the
/// messages' text is only read, by primary key.
/// The send's state is not looked at: a message is never due before its send's time (it is
/// queued with `next_attempt_at` = the send's `scheduled_at`), `start_due` starts such sends
/// first in the same transaction, and a cancelled send's messages are done.
pub async fn claim(c: &impl Conn, now: DateTime<Utc>, until: DateTime<Utc>, limit: u64) -> Result<Claim> {
    let lock = if super::is_sqlite(c) {
        ""
    } else {
        // The queue's statistics are nearly always stale (a send of 100,000 is claimed before
        // autovacuum has looked at it), and with them PostgreSQL chose to gather every due row
        // with a bitmap, sort them and hash-join them back: 160-230 ms a claim of 1,024 where
        // the due index, walked in order, takes 2 ms; and to join the text by hashing the
        // whole outbox. Only the walk and the primary-key probes are allowed, for this
        // transaction (one statement).
        c.query_one_raw(sql(
            c,
            "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true), \
             set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)",
            vec![],
        ))
        .await?;
        " FOR UPDATE SKIP LOCKED"
    };
    // The rows the subquery picks are this claim's alone: locked (PostgreSQL, skipping those
    // another claim holds) or under the one writer (SQLite). So the update names them by id
    // only, which the planner can only read through the primary key.
    let id = super::new_id();
    let now = to_micros(now);
    let update = format!(
        "UPDATE mail_states SET status = 'sending', claimed_by = ?, lease_until = ?, attempts = attempts + 1 \
         WHERE id IN (SELECT s.id FROM mail_states s WHERE {DUE} \
                      ORDER BY s.next_attempt_at LIMIT {limit}{lock})"
    );
    let values = vec![id.as_str().into(), to_micros(until).into(), now.into(), now.into()];
    // The claimed rows come back as one JSON value, not a row each: the drivers' cost per
    // row (SQLite's is a channel message and a copy of every column) was most of a claim's.
    // SQLite has no UPDATE in a WITH: its claim reads its rows back on the due index, the
    // first `limit` rows that name the claim (the claim took the first due ones).
    let messages = if super::is_sqlite(c) {
        exec(c, &update, values).await?;
        let q = format!(
            "SELECT {} FROM (SELECT id, attempts FROM mail_states WHERE done_at IS NULL AND next_attempt_at <= ? \
             AND claimed_by = ? ORDER BY next_attempt_at LIMIT {limit}) s JOIN mail_messages m ON m.id = s.id",
            as_json(c, "s.id")
        );
        read_outgoing(c, &q, vec![now.into(), id.as_str().into()]).await?
    } else {
        let q = format!(
            "WITH s AS ({update} RETURNING id, attempts, CAST(ctid AS TEXT) AS state_row) \
             SELECT {} FROM s JOIN mail_messages m ON m.id = s.id",
            as_json(c, "s.state_row")
        );
        read_outgoing(c, &q, values).await?
    };
    Ok(Claim { id, messages })
}

/// A message the worker may take (its state as `s`, given the time twice): not done, due,
/// and queued or held by a lease that lapsed.
const DUE: &str = "s.done_at IS NULL AND s.next_attempt_at <= ? AND (s.status = 'queued' OR s.lease_until <= ?)";

/// The columns `outgoing` reads from a message row, in its order.
/// Over the message's text as `m` and its state as `s`.
/// The last column is `state_row` (`Outgoing::state_row`), as the query names it.
const OUTGOING: &str = "m.id, m.org_id, m.send_id, m.recipient, m.to_name, m.company, m.department, m.title, \
                        m.from_name, m.from_addr, m.successor_name, m.successor_addr, s.attempts";

/// One message row as `OUTGOING` lists it.
type OutgoingRow = (
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
    i64,
    String,
);

/// Claimed (or, for the benchmark, read) message rows, a JSON array of `OUTGOING` arrays,
/// with the text of their sends.
async fn outgoing(c: &impl Conn, json: &str) -> Result<Vec<Outgoing>> {
    let rows: Vec<OutgoingRow> =
        serde_json::from_str(json).map_err(|e| Error::internal(format!("claimed mail rows: {e}")))?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // The text of their sends, each read once (a batch is mostly of one send).
    let mut send_ids: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
    send_ids.sort_unstable();
    send_ids.dedup();
    let q = format!(
        "SELECT id, subject, body, html_body, secret, kind FROM mail_sends WHERE id IN ({})",
        vec!["?"; send_ids.len()].join(", ")
    );
    let mut texts = std::collections::HashMap::new();
    for r in c
        .query_all_raw(sql(c, &q, send_ids.into_iter().map(Value::from).collect()))
        .await?
    {
        let text: (String, String, Option<String>, String, SendKind) = (
            get(&r, 1)?,
            get(&r, 2)?,
            get(&r, 3)?,
            get(&r, 4)?,
            SendKind::from_stored(&get::<String>(&r, 5)?)?,
        );
        texts.insert(get::<String>(&r, 0)?, text);
    }
    rows.into_iter()
        .map(|r| {
            let (subject, body, html_body, secret, kind) = texts
                .get(&r.2)
                .cloned()
                .ok_or_else(|| Error::internal(format!("message of a send {} that is not there", r.2)))?;
            Ok(Outgoing {
                id: r.0,
                org_id: r.1,
                send_id: r.2,
                recipient: r.3,
                to_name: r.4,
                company: r.5,
                department: r.6,
                title: r.7,
                from_name: r.8,
                from_addr: r.9,
                successor_name: r.10,
                successor_addr: r.11,
                attempts: r.12,
                state_row: r.13,
                subject,
                body,
                html_body,
                secret,
                kind,
            })
        })
        .collect()
}

/// A send's messages as the worker sees them, without claiming them (`meishi bench mail`
/// sends the same messages with lettre alone).
pub async fn messages_of_send(c: &impl Conn, send_id: &str) -> Result<Vec<Outgoing>> {
    let q = format!(
        "SELECT {} FROM mail_messages m JOIN mail_states s ON s.id = m.id WHERE m.send_id = ?",
        as_json(
            c,
            if super::is_sqlite(c) {
                "s.id"
            } else {
                "CAST(s.ctid AS TEXT)"
            }
        )
    );
    read_outgoing(c, &q, vec![send_id.into()]).await
}

/// The aggregate that gives a query's message rows (`m`, and their states `s`) as one JSON
/// array of `OUTGOING` arrays, each with its `state_row` (an expression) last.
fn as_json(c: &impl Conn, state_row: &str) -> String {
    if super::is_sqlite(c) {
        format!("json_group_array(json_array({OUTGOING}, {state_row}))")
    } else {
        format!("COALESCE(json_agg(json_build_array({OUTGOING}, {state_row})), '[]')::text")
    }
}

/// Runs a query whose one value is `as_json`'s array, and reads the messages from it.
async fn read_outgoing(c: &impl Conn, q: &str, values: Vec<Value>) -> Result<Vec<Outgoing>> {
    let row = c.query_one_raw(sql(c, q, values)).await?;
    let json = row.map(|r| get::<String>(&r, 0)).transpose()?;
    outgoing(c, json.as_deref().unwrap_or("[]")).await
}

/// Marks sent the messages of a claim (`sent`) it still holds: those it put back or failed
/// are no longer its (`mark_failed` clears `claimed_by` or ends them), nor are those of a
/// lapsed claim another claim took. The rows go as one JSON array (one bound value): on
/// PostgreSQL their addresses, read directly (a TID scan: the primary-key probes by id were a
/// third of the mark); a row version that is no longer the claim's (taken over, or its place
/// reused) fails the claim's own test and is left alone, as by id; fewer rows marked than
/// sent, the rest by id. On SQLite the ids, primary-key probes. The state rows leave the due
/// index: a new version of each small state row and its primary-key entry, the message's
/// text untouched.
pub async fn mark_sent(c: &impl Conn, claim: &str, sent: &[&Outgoing], at: DateTime<Utc>) -> Result<()> {
    let by_id = if super::is_sqlite(c) {
        "id IN (SELECT value FROM json_each(?))"
    } else {
        "id = ANY(ARRAY(SELECT json_array_elements_text(CAST(? AS json))))"
    };
    let mark = async |named: &str, list: Vec<&str>| {
        exec(
            c,
            &format!(
                "UPDATE mail_states SET status = 'sent', done_at = ?, last_error = NULL \
                 WHERE {named} AND claimed_by = ? AND status = 'sending'"
            ),
            vec![
                to_micros(at).into(),
                serde_json::to_string(&list).expect("a list of strings").into(),
                claim.into(),
            ],
        )
        .await
    };
    let ids = || sent.iter().map(|m| m.id.as_str()).collect();
    if super::is_sqlite(c) {
        mark(by_id, ids()).await?;
        return Ok(());
    }
    let by_address = "ctid = ANY(ARRAY(SELECT CAST(json_array_elements_text(CAST(? AS json)) AS tid)))";
    let marked = mark(by_address, sent.iter().map(|m| m.state_row.as_str()).collect()).await?;
    // A row that moved since the claim (VACUUM FULL, CLUSTER, pg_repack rewrite the table) is
    // not at its address any more: those are marked by id, or they would be sent again once
    // their lease lapsed. The claim's own test leaves the rows marked above alone.
    if (marked as usize) < sent.len() {
        mark(by_id, ids()).await?;
    }
    Ok(())
}

/// Puts a claimed message back for another try at `retry_at`, or fails it for good (`None`,
/// done at `at`).
pub async fn mark_failed(
    c: &impl Conn,
    claim: &str,
    id: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    bounced: bool,
    at: DateTime<Utc>,
) -> Result<()> {
    let (status, next, done) = match retry_at {
        Some(t) => ("queued", Some(to_micros(t)), None),
        None if bounced => ("bounced", None, Some(to_micros(at))),
        None => ("failed", None, Some(to_micros(at))),
    };
    exec(
        c,
        "UPDATE mail_states SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at), claimed_by = NULL, \
         lease_until = NULL, done_at = ?, last_error = ? WHERE id = ? AND claimed_by = ?",
        vec![
            status.into(),
            next.into(),
            done.into(),
            error.chars().take(1000).collect::<String>().into(),
            id.into(),
            claim.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Ends the started sends with nothing left to deliver: the sends of the messages not done
/// are gathered once (on the due index, a probe of the text each), not each send's messages.
pub async fn finish_sends(c: &impl Conn) -> Result<()> {
    exec(
        c,
        "UPDATE mail_sends SET status = 'done' WHERE status = 'sending' AND id NOT IN \
         (SELECT m.send_id FROM mail_states s JOIN mail_messages m ON m.id = s.id WHERE s.done_at IS NULL)",
        vec![],
    )
    .await?;
    Ok(())
}

/// The message an opt-out link names: (org, recipient, secret).
pub async fn message_for_opt_out(c: &impl Conn, id: &str) -> Result<Option<(String, String, String)>> {
    let row = c
        .query_one_raw(sql(
            c,
            "SELECT m.org_id, m.recipient, s.secret FROM mail_messages m JOIN mail_sends s ON s.id = m.send_id \
             WHERE m.id = ?",
            vec![id.into()],
        ))
        .await?;
    match row {
        Some(r) => Ok(Some((get(&r, 0)?, get(&r, 1)?, get(&r, 2)?))),
        None => Ok(None),
    }
}

/// Across every organisation (the operator's metrics): the outbox's messages queued and
/// being sent, counted on its partial index of exactly those rows.
pub async fn outbox_depth(c: &impl Conn) -> Result<(i64, i64)> {
    let rows = c
        .query_all_raw(sql(
            c,
            "SELECT status, COUNT(*) FROM mail_states WHERE done_at IS NULL GROUP BY status",
            vec![],
        ))
        .await?;
    let (mut queued, mut sending) = (0, 0);
    for r in rows {
        let status: String = r.try_get_by_index(0)?;
        let n: i64 = r.try_get_by_index(1)?;
        match status.as_str() {
            "queued" => queued = n,
            _ => sending = n,
        }
    }
    Ok((queued, sending))
}
