//! ニュース (人事異動・連絡先変更): the news on my cards, applied or dismissed one at a time
//! (inline with htmx: the row is replaced by its result and the menu's badge follows) or in
//! bulk (all or none). Without JavaScript the same buttons are plain form posts that go back
//! to where they came from with a message. The rules are `service::people`'s.

use super::cards::all_users;
use super::{Ctx, Session, flash_error_redirect, flash_redirect, form, page, render};
use crate::domain::model::User;
use crate::domain::{Error, ErrorKind};
use crate::service::App;
use crate::service::people::{self, BulkNews, News, NewsAction, NewsQuery};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<App> {
    Router::new()
        .route("/news", get(list))
        .route("/news/bulk", post(bulk))
        .route("/news/{id}/{action}", post(act))
}

/// One field a news item carries: the card's value now and the new one.
#[derive(Clone)]
pub struct Change {
    pub field: &'static str,
    pub current: String,
    pub new: String,
}

/// A news item as a row shows it (the news page and the card page share `news_row.html`).
#[derive(Clone)]
pub struct NewsRow {
    pub id: String,
    pub card_id: String,
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub open: bool,
    pub changes: Vec<Change>,
    /// Several arrivals for the same person folded into this item (the newest values win).
    pub arrivals: i64,
    pub when: String,
    pub source_card_id: String,
    pub checked: bool,
    /// Whether the row has a checkbox for the bulk buttons (not on a card's page).
    pub selectable: bool,
    /// What the last inline action did (or why it failed).
    pub message: Option<String>,
    pub failed: bool,
}

impl NewsRow {
    pub fn of(ctx: &Ctx, n: News) -> Self {
        let (c, v) = (&n.current, &n.values);
        let pairs = [
            ("company", &c.company, &v.company),
            ("department", &c.department, &v.department),
            ("title", &c.title, &v.title),
            ("email", &c.email, &v.email),
            ("phone", &c.phone, &v.phone),
            ("mobile", &c.mobile, &v.mobile),
            ("postal_code", &c.postal_code, &v.postal_code),
            ("address", &c.address, &v.address),
        ];
        let open = n.status == crate::domain::person::NewsStatus::Open;
        // Open: what would change (a personnel change carries company, department and title
        // as a whole, so an emptied field shows too). Settled: the values it brought.
        let changes = pairs
            .into_iter()
            .filter_map(|(field, cur, new)| {
                let (current, new) = (cur.clone().unwrap_or_default(), new.clone()?);
                let shown = if open { current != new } else { !new.is_empty() };
                shown.then_some(Change { field, current, new })
            })
            .collect();
        NewsRow {
            open,
            kind: n.kind.as_str(),
            status: n.status.as_str(),
            when: ctx.minute(n.updated_at),
            name: n.full_name,
            id: n.id,
            card_id: n.card_id,
            changes,
            arrivals: n.arrivals,
            source_card_id: n.source_card_id,
            checked: false,
            selectable: true,
            message: None,
            failed: false,
        }
    }
}

/// The filters of the list, as the page's address carries them.
#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    /// Administrators: whose news (empty: my own).
    #[serde(default)]
    owner: String,
    cursor: Option<String>,
    limit: Option<u64>,
}

#[derive(Template)]
#[template(path = "news.html")]
struct NewsPage {
    ctx: Ctx,
    rows: Vec<NewsRow>,
    kind: String,
    status: String,
    owner: String,
    /// Whose news these are, when not the signed-in user's.
    owner_name: Option<String>,
    users: Vec<User>,
    limit: Option<u64>,
    next: Option<String>,
    error: Option<String>,
}

impl NewsPage {
    fn next_href(&self, cursor: &str) -> String {
        let e = super::urlencode;
        format!(
            "/news?kind={}&status={}&owner={}&cursor={}{}",
            e(&self.kind),
            e(&self.status),
            e(&self.owner),
            e(cursor),
            self.limit.map(|l| format!("&limit={l}")).unwrap_or_default()
        )
    }
    /// Open news of every kind: the empty list then means there is no news at all.
    fn unfiltered(&self) -> bool {
        self.kind.is_empty() && matches!(self.status.as_str(), "" | "open")
    }
    fn owner_title(&self) -> String {
        let name = self.owner_name.clone().unwrap_or_default();
        self.ctx.t("news.of_user").replace("%{name}", &name)
    }
}

async fn news_page(
    app: &App,
    s: Session,
    q: ListQuery,
    error: Option<(StatusCode, String)>,
    checked: &[String],
) -> Result<Response, Response> {
    let s = s.with_nav("news");
    let given = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let query = NewsQuery {
        owner_id: given(&q.owner),
        card_id: None,
        kind: given(&q.kind),
        status: given(&q.status),
        cursor: q.cursor.clone().filter(|c| !c.is_empty()),
        limit: Some(q.limit.unwrap_or(50)),
    };
    let result = page(&s.ctx, people::list_news(app, &s.actor, query).await)?;
    let users = if s.actor.is_admin() {
        page(&s.ctx, all_users(app, &s.actor).await)?
    } else {
        Vec::new()
    };
    let owner_name = users
        .iter()
        .find(|u| u.id == q.owner.trim() && u.id != s.actor.user_id)
        .map(|u| u.display_name.clone());
    let rows = result
        .items
        .into_iter()
        .map(|n| {
            let mut r = NewsRow::of(&s.ctx, n);
            r.checked = checked.contains(&r.id);
            r
        })
        .collect();
    let (status, error) = match error {
        Some((st, e)) => (st, Some(e)),
        None => (StatusCode::OK, None),
    };
    let p = NewsPage {
        rows,
        kind: q.kind,
        status: q.status,
        owner: q.owner,
        owner_name,
        users,
        limit: q.limit,
        next: result.next_cursor,
        error,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn list(State(app): State<App>, s: Session, Query(q): Query<ListQuery>) -> Result<Response, Response> {
    news_page(&app, s, q, None, &[]).await
}

/// The result of an inline (htmx) action: the row as it is now, and the menu's badge.
#[derive(Template)]
#[template(path = "news_fragment.html")]
struct RowFragment {
    ctx: Ctx,
    r: NewsRow,
    oob: bool,
}

#[derive(Deserialize)]
struct ActForm {
    /// The page the post came from (the news list with its filters, or a card).
    #[serde(default)]
    back: String,
}

/// The message an action leaves, in the page's language.
fn done_message(ctx: &Ctx, action: NewsAction, name: &str) -> String {
    let key = match action {
        NewsAction::Apply => "news.applied",
        NewsAction::Dismiss => "news.dismissed",
    };
    ctx.t(key).replace("%{name}", name)
}

/// A failed action in the page's language: "already settled" said plainly.
fn failure(ctx: &Ctx, e: &Error) -> String {
    if e.kind == ErrorKind::Conflict && ctx.lang == super::Lang::Ja {
        ctx.t("news.already_settled")
    } else {
        super::message(ctx.lang, e)
    }
}

/// Apply or dismiss one item: `/news/{id}/apply`, `/news/{id}/dismiss`.
async fn act(
    State(app): State<App>,
    s: Session,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: ActForm = form(&s, &headers, &body).await?;
    let action = page(&s.ctx, NewsAction::parse("action", &action))?;
    let back = super::safe_next(Some(f.back.as_str()).filter(|b| !b.is_empty()).or(Some("/news")));
    let htmx = headers.contains_key("hx-request");
    let result = people::act_on_news(&app, &s.actor, &id, action).await;
    match result {
        Ok(n) => {
            let message = done_message(&s.ctx, action, &n.full_name);
            if !htmx {
                return Ok(flash_redirect(&back, &message));
            }
            let mut ctx = s.ctx;
            ctx.news_open = people::open_count(&app, &s.actor).await.unwrap_or(ctx.news_open);
            let mut r = NewsRow::of(&ctx, n);
            r.message = Some(message);
            Ok(render(&RowFragment { ctx, r, oob: true }).into_response())
        }
        // Someone else's news, or none: the error page, whatever asked.
        Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Forbidden) => Err(super::error_page(&s.ctx, &e)),
        Err(e) if htmx => {
            // The row stays, with the reason and no buttons: reloading shows it as it is now.
            let r = NewsRow {
                id: id.clone(),
                card_id: String::new(),
                name: String::new(),
                kind: "",
                status: "",
                open: false,
                changes: Vec::new(),
                arrivals: 0,
                when: String::new(),
                source_card_id: String::new(),
                checked: false,
                selectable: false,
                message: Some(failure(&s.ctx, &e)),
                failed: true,
            };
            let mut ctx = s.ctx;
            ctx.path = back; // the row's reload link
            Ok(render(&RowFragment { ctx, r, oob: false }).into_response())
        }
        Err(e) => Ok(flash_error_redirect(&back, &failure(&s.ctx, &e))),
    }
}

/// Apply or dismiss the checked items: all of them or none. An error keeps the page as it
/// was (filters and ticks) with the reason above the list.
async fn bulk(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: HashMap<String, String> = form(&s, &headers, &body).await?;
    let ids: Vec<String> = form_urlencoded::parse(body.as_bytes())
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| v.into_owned())
        .collect();
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let q = ListQuery {
        kind: field("kind"),
        status: field("status"),
        owner: field("owner"),
        cursor: None,
        limit: None,
    };
    let back = super::safe_next(Some(field("back").as_str()).filter(|b| !b.is_empty()).or(Some("/news")));
    let action = page(&s.ctx, NewsAction::parse("action", &field("action")))?;
    if ids.is_empty() {
        let e = s.ctx.t("news.select_some");
        return news_page(&app, s, q, Some((StatusCode::BAD_REQUEST, e)), &ids).await;
    }
    match people::bulk_news(
        &app,
        &s.actor,
        BulkNews {
            action,
            ids: ids.clone(),
        },
    )
    .await
    {
        Ok(r) => {
            let key = match action {
                NewsAction::Apply => "news.bulk_applied",
                NewsAction::Dismiss => "news.bulk_dismissed",
            };
            let message = s.ctx.t(key).replace("%{n}", &r.done.to_string());
            Ok(flash_redirect(&back, &message))
        }
        Err(e) => {
            let status = crate::http::error::status(e.kind);
            let message = if s.ctx.lang == super::Lang::Ja {
                s.ctx.t("news.bulk_failed")
            } else {
                format!("Nothing was changed: {}", e.message)
            };
            news_page(&app, s, q, Some((status, message)), &ids).await
        }
    }
}
