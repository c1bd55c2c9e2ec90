//! 退職・出向の管理 (admins): the offboarding desk. Upcoming departures by last working day
//! with readiness, plan status and the suspension moment in the organisation's time zone;
//! register, approve, preview and execute the plan, undo its batches, cancel.

use super::cards::{Names, all_users, visible_tags};
use super::{Ctx, Session, form, page, render};
use crate::domain::Error;
use crate::domain::departure::Departure;
use crate::domain::departure::Plan;
use crate::domain::departure::{DepartureKind, Readiness};
use crate::domain::model::{Organization, User};
use crate::domain::transfer::Transfer;
use crate::service::departures::{self as svc, Execution};
use crate::service::{App, orgs, transfers};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<App> {
    Router::new()
        .route("/departures", get(desk).post(register))
        .route("/departures/{id}", get(show))
        .route("/departures/{id}/{action}", post(act))
}

/// A departure with what the desk shows next to it.
pub struct Row {
    pub d: Departure,
    pub name: String,
    pub successor: String,
    pub readiness: Readiness,
    pub moment: String,
}

fn admin(s: &Session) -> Result<(), Response> {
    if s.actor.is_admin() {
        Ok(())
    } else {
        Err(super::error_page(&s.ctx, &Error::forbidden("admins only")))
    }
}

#[derive(Template)]
#[template(path = "departures.html")]
struct DeskPage {
    ctx: Ctx,
    rows: Vec<Row>,
    users: Vec<User>,
    org: Organization,
    error: Option<String>,
    error_field: String,
    today: String,
}

impl DeskPage {
    fn suspend_hint(&self) -> String {
        self.ctx
            .t("departures.suspend_at_hint")
            .replace("%{at}", &self.org.suspend_at)
    }
}

async fn rows(app: &App, s: &Session, list: Vec<Departure>, names: &Names) -> Result<Vec<Row>, Response> {
    let mut out = Vec::new();
    for d in list {
        let readiness = page(&s.ctx, svc::readiness(app, &s.actor, &d.id).await)?;
        out.push(Row {
            name: names.get(&d.user_id),
            successor: names.get(&d.successor_id),
            moment: s.ctx.moment(d.suspend_moment),
            readiness,
            d,
        });
    }
    Ok(out)
}

async fn desk_page(app: &App, s: Session, error: Option<Error>) -> Result<Response, Response> {
    admin(&s)?;
    let s = s.with_nav("departures");
    let org = page(&s.ctx, orgs::get(app, &s.actor).await)?;
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let names = Names::of_users(&users);
    let q = svc::DepartureQuery {
        status: Some("upcoming"),
        attention: false,
        cursor: None,
        limit: Some(500),
    };
    let mut list = page(&s.ctx, svc::list(app, &s.actor, q).await)?.items;
    let q = svc::DepartureQuery {
        status: Some("overdue"),
        attention: false,
        cursor: None,
        limit: Some(500),
    };
    list.splice(0..0, page(&s.ctx, svc::list(app, &s.actor, q).await)?.items);
    let rows = rows(app, &s, list, &names).await?;
    let policy = page(&s.ctx, org.policy())?;
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = DeskPage {
        today: policy.today(app.now()).to_string(),
        rows,
        users: users
            .into_iter()
            .filter(|u| u.status == crate::domain::UserStatus::Active)
            .collect(),
        org,
        error: shown.message,
        error_field: shown.field,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn desk(State(app): State<App>, s: Session) -> Result<Response, Response> {
    desk_page(&app, s, None).await
}

#[derive(Deserialize)]
struct RegisterForm {
    user_id: String,
    kind: String,
    retirement_date: String,
    last_working_day: String,
    successor_id: String,
    #[serde(default)]
    suspend_at: String,
}

async fn register(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: RegisterForm = form(&s, &headers, &body).await?;
    let n = svc::NewDeparture {
        user_id: f.user_id,
        kind: Some(if f.kind == "secondment" {
            DepartureKind::Secondment
        } else {
            DepartureKind::Retirement
        }),
        retirement_date: f.retirement_date,
        last_working_day: f.last_working_day,
        successor_id: f.successor_id,
        suspend_at: Some(f.suspend_at).filter(|s| !s.trim().is_empty()),
    };
    match svc::create(&app, &s.actor, n).await {
        Ok(d) => Ok(Redirect::to(&format!("/departures/{}", d.id)).into_response()),
        Err(e) => desk_page(&app, s, Some(e)).await,
    }
}

#[derive(Template)]
#[template(path = "departure.html")]
pub struct DetailPage {
    ctx: Ctx,
    row: Row,
    plan: Plan,
    user_names: Names,
    tag_names: Names,
    transfers: Vec<Transfer>,
    preview: Option<Execution>,
    notice: Option<String>,
    error: Option<String>,
}

impl DetailPage {
    fn counts(&self, t: &Transfer) -> String {
        self.ctx
            .t("transfers.counts_short")
            .replace("%{cards}", &t.cards.to_string())
            .replace("%{contacts}", &t.contacts.to_string())
            .replace("%{tags}", &t.tags.to_string())
    }
    fn undone(&self, t: &Transfer) -> String {
        self.ctx
            .t("transfers.undone")
            .replace("%{restored}", &t.restored.unwrap_or(0).to_string())
            .replace("%{skipped}", &t.skipped.unwrap_or(0).to_string())
    }
    fn line_label(&self, position: &Option<i64>) -> String {
        match position {
            Some(p) => self.ctx.t("handover.line").replace("%{n}", &(p + 1).to_string()),
            None => self.ctx.t("departures.rest"),
        }
    }
    fn plan_line(&self, item: &crate::domain::departure::PlanItem) -> String {
        describe_selection(&self.ctx, &item.selection, &self.tag_names)
    }
}

pub fn describe_selection(ctx: &Ctx, sel: &crate::domain::transfer::SelectionInput, tags: &Names) -> String {
    if let Some(t) = &sel.tag_id {
        format!("{}: {}", ctx.t("transfers.by_tag"), tags.get(t))
    } else if let Some(c) = &sel.company {
        format!("{}: {c}", ctx.t("transfers.by_company"))
    } else if let Some(ids) = &sel.card_ids {
        format!("{} ({})", ctx.t("nav.cards"), ids.len())
    } else {
        ctx.t("transfers.all")
    }
}

async fn detail_page(
    app: &App,
    s: Session,
    id: &str,
    preview: Option<Execution>,
    notice: Option<String>,
    error: Option<Error>,
) -> Result<Response, Response> {
    admin(&s)?;
    let s = s.with_nav("departures");
    let d = page(&s.ctx, svc::get(app, &s.actor, id).await)?;
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let names = Names::of_users(&users);
    let tags = page(&s.ctx, visible_tags(app, &s.actor).await)?;
    let plan = page(&s.ctx, svc::plan(app, &s.actor, id).await)?;
    // The departing user's transfer history: the plan's batches and any other.
    let all = page(&s.ctx, transfers::list(app, &s.actor, None, Some(500)).await)?.items;
    let batches: Vec<Transfer> = all.into_iter().filter(|t| t.from_user_id == d.user_id).collect();
    let row = rows(app, &s, vec![d], &names).await?.remove(0);
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = DetailPage {
        row,
        plan,
        user_names: names,
        tag_names: Names::of_tags(&tags),
        transfers: batches,
        preview,
        notice,
        error: shown.message,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn show(State(app): State<App>, s: Session, Path(id): Path<String>) -> Result<Response, Response> {
    detail_page(&app, s, &id, None, None, None).await
}

async fn act(
    State(app): State<App>,
    s: Session,
    Path((id, action)): Path<(String, String)>,
    Query(_q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: HashMap<String, String> = form(&s, &headers, &body).await?;
    match action.as_str() {
        "approve" => match svc::approve_plan(&app, &s.actor, &id).await {
            Ok(_) => Ok(Redirect::to(&format!("/departures/{id}")).into_response()),
            Err(e) => detail_page(&app, s, &id, None, None, Some(e)).await,
        },
        "preview" => match svc::execute_plan(&app, &s.actor, &id, true).await {
            Ok(x) => detail_page(&app, s, &id, Some(x), None, None).await,
            Err(e) => detail_page(&app, s, &id, None, None, Some(e)).await,
        },
        "execute" => match svc::execute_plan(&app, &s.actor, &id, false).await {
            Ok(_) => {
                let notice = s.ctx.t("departures.executed_notice");
                detail_page(&app, s, &id, None, Some(notice), None).await
            }
            Err(e) => detail_page(&app, s, &id, None, None, Some(e)).await,
        },
        "cancel" => match svc::cancel(&app, &s.actor, &id).await {
            Ok(_) => Ok(Redirect::to("/departures").into_response()),
            Err(e) => detail_page(&app, s, &id, None, None, Some(e)).await,
        },
        "undo" => {
            let batch = f.get("transfer_id").cloned().unwrap_or_default();
            match transfers::undo(&app, &s.actor, &batch, &|_| {}).await {
                Ok(_) => Ok(Redirect::to(&format!("/departures/{id}")).into_response()),
                Err(e) => detail_page(&app, s, &id, None, None, Some(e)).await,
            }
        }
        _ => Err(super::error_page(&s.ctx, &Error::not_found("action"))),
    }
}
