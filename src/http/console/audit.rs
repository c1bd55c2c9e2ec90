//! 監査ログ (admins): the organisation's audit events filtered by who, what, target and days
//! (in the organisation's zone), newest first, a page at a time; and the filtered events as
//! CSV (UTF-8 with a BOM, or Shift_JIS for Excel), read from the store a page at a time while
//! the download goes, so that its size does not matter.

use super::cards::{Names, all_users};
use super::{Ctx, Lang, Session, page, render, tr};
use crate::domain::model::{AuditEvent, Page, User};
use crate::domain::{Error, ErrorKind};
use crate::formats::to_shift_jis;
use crate::service::audit::{self, AuditQuery, SYSTEM_ACTOR};
use crate::service::{Actor, App};
use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use std::collections::HashMap;

/// Events per page the CSV reads from the store (the largest page the store gives).
const CSV_PAGE: u64 = 500;

pub fn router() -> Router<App> {
    Router::new().route("/audit", get(show)).route("/audit.csv", get(csv))
}

/// The filters as the form sent them (empty: not filtered).
#[derive(Default)]
struct Filters {
    actor: String,
    action: String,
    target_type: String,
    target_id: String,
    from: String,
    to: String,
    limit: String,
}

impl Filters {
    fn of(q: &HashMap<String, String>) -> Self {
        let v = |k: &str| q.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
        Filters {
            actor: v("actor"),
            action: v("action"),
            target_type: v("target_type"),
            target_id: v("target_id"),
            from: v("from"),
            to: v("to"),
            limit: v("limit"),
        }
    }

    /// The filters checked: the days are dates, the page size a number.
    fn wanted(&self) -> Result<Wanted, Error> {
        let day = |field: &str, s: &str| {
            if s.is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| Error::bad_input(field, format!("'{s}' is not a date (YYYY-MM-DD)")))
        };
        let limit = if self.limit.is_empty() {
            None
        } else {
            Some(
                self.limit
                    .parse()
                    .map_err(|_| Error::bad_input("limit", "limit must be between 1 and 500"))?,
            )
        };
        Ok(Wanted {
            actor: self.actor.clone(),
            action: self.action.clone(),
            target_type: self.target_type.clone(),
            target_id: self.target_id.clone(),
            from: day("from", &self.from)?,
            to: day("to", &self.to)?,
            limit,
        })
    }

    /// The filters as a query string (without the empty ones), for the next page and the CSV.
    fn query_string(&self, extra: &[(&str, &str)]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target_type", &self.target_type),
            ("target_id", &self.target_id),
            ("from", &self.from),
            ("to", &self.to),
            ("limit", &self.limit),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        for (k, v) in extra {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

/// Checked filters, owned, so that the CSV's stream can ask for page after page.
struct Wanted {
    actor: String,
    action: String,
    target_type: String,
    target_id: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    limit: Option<u64>,
}

impl Wanted {
    fn query<'a>(&'a self, cursor: Option<&'a str>, limit: Option<u64>) -> AuditQuery<'a> {
        AuditQuery {
            action: Some(self.action.as_str()),
            actor_id: Some(self.actor.as_str()),
            target_type: Some(self.target_type.as_str()),
            target_id: Some(self.target_id.as_str()),
            from: self.from,
            to: self.to,
            cursor,
            limit,
        }
    }
}

/// Who acted, as people read it: the user's name, `システム` / `system`, or the id of a user
/// no longer there.
fn actor_name(lang: Lang, names: &Names, e: &AuditEvent) -> String {
    match e.actor_id.as_deref() {
        None => tr(lang, "audit.system"),
        Some(id) if crate::domain::scim::is_idp_actor(id) => tr(lang, "audit.idp"),
        Some(id) if names.known(id) => names.get(id),
        Some(id) => id.to_string(),
    }
}

fn json(v: &Option<serde_json::Value>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    ctx: Ctx,
    f: Filters,
    users: Vec<User>,
    names: Names,
    actions: Vec<String>,
    target_types: Vec<String>,
    events: Vec<AuditEvent>,
    next: Option<String>,
    /// Whether this is a later page (a link back to the newest).
    paged: bool,
    error: Option<String>,
    error_field: String,
}

impl AuditPage {
    fn who(&self, e: &AuditEvent) -> String {
        actor_name(self.ctx.lang, &self.names, e)
    }
    fn when(&self, e: &AuditEvent) -> String {
        self.ctx.minute(e.at)
    }
    fn json(&self, v: &Option<serde_json::Value>) -> String {
        json(v)
    }
    fn next_href(&self, cursor: &str) -> String {
        format!("/audit?{}", self.f.query_string(&[("cursor", cursor)]))
    }
    fn first_href(&self) -> String {
        format!("/audit?{}", self.f.query_string(&[]))
    }
    fn csv_href(&self, encoding: &str) -> String {
        let extra: &[(&str, &str)] = if encoding.is_empty() {
            &[]
        } else {
            &[("encoding", encoding)]
        };
        format!("/audit.csv?{}", self.f.query_string(extra))
    }
    fn system(&self) -> &'static str {
        SYSTEM_ACTOR
    }
}

async fn show(
    State(app): State<App>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    if !s.actor.is_admin() {
        return Err(super::error_page(&s.ctx, &Error::forbidden("admins only")));
    }
    let s = s.with_nav("audit");
    let f = Filters::of(&q);
    let cursor = q.get("cursor").map(String::as_str).filter(|c| !c.is_empty());
    let users = page(&s.ctx, all_users(&app, &s.actor).await)?;
    let (actions, target_types) = page(&s.ctx, audit::vocabulary(&app, &s.actor).await)?;
    let listed = match f.wanted() {
        Ok(w) => audit::list(&app, &s.actor, w.query(cursor, w.limit)).await,
        Err(e) => Err(e),
    };
    let (events, next, error) = match listed {
        Ok(p) => (p.items, p.next_cursor, None),
        Err(e) if filter_error(&e) => (Vec::new(), None, Some(e)),
        Err(e) => return Err(super::error_page(&s.ctx, &e)),
    };
    let mut shown = super::shown(s.ctx.lang, error.as_ref());
    if let Some(text) = error.as_ref().and_then(|e| filter_message(&s.ctx, e)) {
        shown.message = Some(text);
    }
    let p = AuditPage {
        names: Names::of_users(&users),
        users,
        actions,
        target_types,
        events,
        next,
        paged: cursor.is_some(),
        f,
        error: shown.message,
        error_field: shown.field,
        ctx: s.ctx,
    };
    Ok((shown.status, render(&p)).into_response())
}

/// What the CSV's stream carries from one page to the next.
struct Feed {
    app: App,
    actor: Actor,
    wanted: Wanted,
    names: Names,
    lang: Lang,
    zone: chrono_tz::Tz,
    shift_jis: bool,
    /// The page read before the response started (its errors are an error page).
    first: Option<Page<AuditEvent>>,
    cursor: Option<String>,
}

impl Feed {
    /// One page as CSV bytes; the first comes after the BOM (UTF-8) and the header.
    fn chunk(&self, events: &[AuditEvent], first: bool) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        if first {
            let time = format!("{} ({})", tr(self.lang, "audit.col_time"), self.zone.name());
            let header = [
                time,
                tr(self.lang, "audit.col_actor"),
                tr(self.lang, "audit.col_action"),
                tr(self.lang, "audit.col_target_type"),
                tr(self.lang, "audit.col_target_id"),
                tr(self.lang, "audit.col_before"),
                tr(self.lang, "audit.col_after"),
            ];
            let _ = w.write_record(header);
        }
        for e in events {
            let _ = w.write_record([
                e.at.with_timezone(&self.zone).format("%Y-%m-%d %H:%M:%S").to_string(),
                no_formula(actor_name(self.lang, &self.names, e)),
                no_formula(e.action.clone()),
                no_formula(e.target_type.clone()),
                no_formula(e.target_id.clone()),
                json(&e.before),
                json(&e.after),
            ]);
        }
        let utf8 = w.into_inner().unwrap_or_default();
        if self.shift_jis {
            let mut out = Vec::with_capacity(utf8.len());
            to_shift_jis(&String::from_utf8_lossy(&utf8), &mut out);
            out
        } else if first {
            [b"\xEF\xBB\xBF".as_slice(), &utf8].concat()
        } else {
            utf8
        }
    }

    async fn next_page(&mut self) -> crate::domain::Result<Option<Page<AuditEvent>>> {
        if let Some(p) = self.first.take() {
            return Ok(Some(p));
        }
        let Some(cursor) = self.cursor.take() else {
            return Ok(None);
        };
        let q = self.wanted.query(Some(&cursor), Some(CSV_PAGE));
        audit::list(&self.app, &self.actor, q).await.map(Some)
    }
}

/// An error of the filters themselves: malformed (400) or not fitting together (422: the last
/// day before the first).
fn filter_error(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::BadInput | ErrorKind::Unprocessable)
}

/// A filter's error in the page's language: this page's own text for its fields.
fn filter_message(ctx: &Ctx, e: &Error) -> Option<String> {
    let field = e.field.as_ref().filter(|_| filter_error(e))?;
    Some(ctx.t(&format!("audit.error_{field}"))).filter(|t| !t.starts_with('⚠'))
}

/// The error page of a filter the CSV cannot use.
fn bad_filter(ctx: &Ctx, e: Error) -> Response {
    match filter_message(ctx, &e) {
        Some(message) => {
            let status = crate::http::error::status(e.kind);
            let page = super::ErrorPage {
                ctx,
                status: status.as_u16(),
                message,
            };
            (status, render(&page)).into_response()
        }
        None => super::error_page(ctx, &e),
    }
}

/// A cell Excel would read as a formula (`=`, `+`, `-`, `@`) gets a leading `'`: a user's
/// name is text the user chose.
fn no_formula(s: String) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

async fn csv(
    State(app): State<App>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    if !s.actor.is_admin() {
        return Err(super::error_page(&s.ctx, &Error::forbidden("admins only")));
    }
    let shift_jis = match q.get("encoding").map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("utf-8") | Some("utf8") => false,
        Some("shift_jis") | Some("sjis") | Some("cp932") => true,
        Some(_) => {
            return Err(bad_filter(
                &s.ctx,
                Error::bad_input("encoding", "must be utf-8 or shift_jis"),
            ));
        }
    };
    let wanted = Filters::of(&q).wanted().map_err(|e| bad_filter(&s.ctx, e))?;
    let users = page(&s.ctx, all_users(&app, &s.actor).await)?;
    let first = audit::list(&app, &s.actor, wanted.query(None, Some(CSV_PAGE)))
        .await
        .map_err(|e| bad_filter(&s.ctx, e))?;
    let today = app.now().with_timezone(&s.ctx.zone).format("%Y%m%d");
    let disposition = format!("attachment; filename=\"audit-{today}.csv\"");
    let content_type = if shift_jis {
        "text/csv; charset=Shift_JIS"
    } else {
        "text/csv; charset=utf-8"
    };
    let feed = Feed {
        names: Names::of_users(&users),
        lang: s.ctx.lang,
        zone: s.ctx.zone,
        app,
        actor: s.actor,
        wanted,
        shift_jis,
        first: Some(first),
        cursor: None,
    };
    let stream = futures_util::stream::unfold((feed, true), |(mut feed, first)| async move {
        match feed.next_page().await {
            Ok(Some(p)) => {
                let bytes = feed.chunk(&p.items, first);
                feed.cursor = p.next_cursor;
                Some((Ok::<_, std::io::Error>(bytes), (feed, false)))
            }
            Ok(None) => None,
            Err(e) => {
                // The header is sent: the download can only stop short, and the log says why.
                tracing::error!(error = %e.message, "audit CSV");
                feed.cursor = None;
                Some((Err(std::io::Error::other(e.message)), (feed, false)))
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
