//! ユーザー管理 (admins): the list (search by name or email, status filter, 退職予定 badge,
//! CSV of the list as shown) with what each owns; a user's page with their scheduled
//! departure and suspend / reactivate / delete (showing what blocks a deletion and the ways
//! through).

use super::{Ctx, Session, flash_redirect, form, page, render};
use crate::domain::departure::Departure;
use crate::domain::directory::{Standing, StatusFilter};
use crate::domain::lifecycle::Holdings;
use crate::domain::model::User;
use crate::domain::{Error, Role};
use crate::service::users::DirectoryEntry;
use crate::service::{App, auth, departures, lifecycle, users};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<App> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users.csv", get(csv))
        .route("/users/{id}", get(show))
        .route("/sign-in-locks/{id}/lift", post(lift_lock))
        .route("/users/{id}/{action}", post(act))
}

fn admin(s: &Session) -> Result<(), Response> {
    if s.actor.is_admin() {
        Ok(())
    } else {
        Err(super::error_page(&s.ctx, &Error::forbidden("admins only")))
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
}

impl ListQuery {
    fn status(&self) -> crate::domain::Result<Option<StatusFilter>> {
        StatusFilter::parse("status", &self.status)
    }
    /// `?q=…&status=…` as this list was asked for (for the CSV link).
    fn query_string(&self) -> String {
        format!(
            "q={}&status={}",
            super::urlencode(&self.q),
            super::urlencode(&self.status)
        )
    }
}

#[derive(Template)]
#[template(path = "users.html")]
struct ListPage {
    ctx: Ctx,
    /// Sign-in locks and waits in force, with a button to lift each.
    locks: Vec<auth::SignInLock>,
    entries: Vec<DirectoryEntry>,
    q: ListQuery,
    statuses: Vec<&'static str>,
    error: Option<String>,
}

impl ListPage {
    fn lock_until(&self, l: &auth::SignInLock) -> String {
        self.ctx.moment(l.locked_until)
    }
    fn counts(&self, e: &DirectoryEntry) -> String {
        counts_text(&self.ctx, e.holdings.cards, e.holdings.contacts, e.holdings.tags)
    }
    fn status_label(&self, e: &DirectoryEntry) -> String {
        status_label(&self.ctx, e.standing.status())
    }
    fn filter_label(&self, status: &str) -> String {
        self.ctx.tk("users.filter", status)
    }
    fn total_text(&self) -> String {
        self.ctx
            .t("users.total")
            .replace("%{n}", &self.entries.len().to_string())
    }
    fn csv_href(&self) -> String {
        format!("/users.csv?{}", self.q.query_string())
    }
}

/// 利用中 / 停止中 / 削除済み, or アーカイブ for the archive account.
pub fn status_label(ctx: &Ctx, status: &str) -> String {
    if status == "archive" {
        ctx.t("users.status_archive")
    } else {
        ctx.tk("status", status)
    }
}

pub fn counts_text(ctx: &Ctx, cards: i64, contacts: i64, tags: i64) -> String {
    let n = |key: &str, v: i64| ctx.t(key).replace("%{n}", &v.to_string());
    format!(
        "{} · {} · {}",
        n("users.cards_n", cards),
        n("users.contacts_n", contacts),
        n("users.tags_n", tags)
    )
}

async fn list_page(app: &App, s: Session, q: ListQuery, error: Option<Error>) -> Result<Response, Response> {
    admin(&s)?;
    let s = s.with_nav("users");
    let status = page(&s.ctx, q.status())?;
    let entries = page(&s.ctx, users::directory(app, &s.actor, &q.q, status).await)?;
    let locks = page(&s.ctx, auth::locks(app, &s.actor).await)?;
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let code = shown.status;
    let p = ListPage {
        locks,
        entries,
        q,
        statuses: StatusFilter::ALL.iter().map(|f| f.as_str()).collect(),
        error: shown.message,
        ctx: s.ctx,
    };
    Ok((code, render(&p)).into_response())
}

async fn list(State(app): State<App>, s: Session, Query(q): Query<ListQuery>) -> Result<Response, Response> {
    list_page(&app, s, q, None).await
}

/// One CSV field: quoted when it must be (RFC 4180), and a leading `=`, `+`, `-`, `@` made
/// inert with `'` so that a spreadsheet never runs a name as a formula.
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// The list as shown (same search and filter), as CSV: UTF-8 with a BOM (Excel reads it as
/// UTF-8), CRLF line ends, headers and labels in the page's language.
async fn csv(State(app): State<App>, s: Session, Query(q): Query<ListQuery>) -> Result<Response, Response> {
    admin(&s)?;
    let status = page(&s.ctx, q.status())?;
    let entries = page(&s.ctx, users::directory(&app, &s.actor, &q.q, status).await)?;
    let ctx = &s.ctx;
    let mut out = String::from("\u{FEFF}");
    let header = [
        ctx.t("field.display_name"),
        ctx.t("field.email"),
        ctx.t("field.role"),
        ctx.t("field.status"),
        ctx.t("users.csv_cards"),
        ctx.t("users.csv_contacts"),
        ctx.t("users.csv_tags"),
    ];
    out.push_str(&header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","));
    out.push_str("\r\n");
    for e in &entries {
        let mut status = status_label(ctx, e.standing.status());
        if e.standing == Standing::Departing {
            status = format!("{status} ({})", ctx.t("users.departing"));
        }
        let line = [
            csv_field(&e.user.display_name),
            csv_field(&e.user.email),
            csv_field(&ctx.tk("role", e.user.role.as_str())),
            csv_field(&status),
            e.holdings.cards.to_string(),
            e.holdings.contacts.to_string(),
            e.holdings.tags.to_string(),
        ];
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"users.csv\""),
        ],
        out,
    )
        .into_response())
}

#[derive(Deserialize)]
struct NewUserForm {
    email: String,
    display_name: String,
    role: String,
    #[serde(default)]
    password: String,
}

async fn create(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: NewUserForm = form(&s, &headers, &body).await?;
    let n = users::NewUser {
        email: f.email,
        display_name: f.display_name,
        role: Some(if f.role == "admin" { Role::Admin } else { Role::Member }),
        password: Some(f.password).filter(|p| !p.is_empty()),
    };
    match users::create(&app, &s.actor, n).await {
        Ok(u) => {
            let message = s.ctx.t("users.created").replace("%{name}", &u.display_name);
            Ok(flash_redirect(&format!("/users/{}", u.id), &message))
        }
        Err(e) => list_page(&app, s, ListQuery::default(), Some(e)).await,
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    ctx: Ctx,
    user: User,
    owned: Holdings,
    departure: Option<Departure>,
    error: Option<String>,
}

impl UserPage {
    fn owns_anything(&self) -> bool {
        !self.owned.is_empty()
    }
    fn counts(&self) -> String {
        counts_text(&self.ctx, self.owned.cards, self.owned.contacts, self.owned.tags)
    }
    fn deleted_at(&self) -> String {
        self.user.deleted_at.map(|d| self.ctx.minute(d)).unwrap_or_default()
    }
    fn status_label(&self) -> String {
        status_label(&self.ctx, self.status())
    }
    fn status(&self) -> &'static str {
        Standing::of(&self.user, false).status()
    }
    fn departure_text(&self, d: &Departure) -> String {
        self.ctx
            .t("users.departure_scheduled")
            .replace("%{day}", &d.last_working_day.to_string())
            .replace("%{moment}", &self.ctx.moment(d.suspend_moment))
    }
}

async fn user_page(app: &App, s: Session, id: &str, error: Option<Error>) -> Result<Response, Response> {
    admin(&s)?;
    let s = s.with_nav("users");
    let user = page(&s.ctx, users::get(app, &s.actor, id).await)?;
    let owned = page(&s.ctx, lifecycle::holdings(app, &s.actor, id).await)?;
    let departure = page(&s.ctx, departures::open_for_user(app, &s.actor, id).await)?;
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = UserPage {
        user,
        owned,
        departure,
        error: shown.message,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn show(State(app): State<App>, s: Session, Path(id): Path<String>) -> Result<Response, Response> {
    user_page(&app, s, &id, None).await
}

async fn act(
    State(app): State<App>,
    s: Session,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: HashMap<String, String> = form(&s, &headers, &body).await?;
    let archive = f.get("archive").is_some_and(|v| v == "1");
    let (result, done) = match action.as_str() {
        "suspend" => (lifecycle::suspend(&app, &s.actor, &id).await, "users.suspended"),
        "reactivate" => (lifecycle::reactivate(&app, &s.actor, &id).await, "users.reactivated"),
        "restore" => (lifecycle::restore(&app, &s.actor, &id).await, "users.restored"),
        "delete" if archive => (
            lifecycle::delete(&app, &s.actor, &id, true).await,
            "users.archived_and_deleted",
        ),
        "delete" => (lifecycle::delete(&app, &s.actor, &id, false).await, "users.deleted"),
        _ => (Err(Error::not_found("action")), ""),
    };
    match result {
        Ok(u) => {
            let message = s.ctx.t(done).replace("%{name}", &u.display_name);
            Ok(flash_redirect(&format!("/users/{id}"), &message))
        }
        Err(e) => user_page(&app, s, &id, Some(e)).await,
    }
}

/// Lifts a sign-in lock (admins), back to the users page with a message.
async fn lift_lock(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    admin(&s)?;
    let _: HashMap<String, String> = form(&s, &headers, &body).await?;
    match auth::lift_lock(&app, &s.actor, &id).await {
        Ok(()) => Ok(flash_redirect("/users", &s.ctx.t("users.lock_lifted"))),
        Err(e) => Ok(super::flash_error_redirect("/users", &super::message(s.ctx.lang, &e))),
    }
}
