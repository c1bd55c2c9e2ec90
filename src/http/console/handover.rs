//! 私の引き継ぎ: the leaving employee's page. What I hold, the plan I report (successors per
//! tag, per company, the rest to the default successor) with each line's card count as I
//! edit it, the plan's status (and an admin's comment if it was sent back), my open duties.

use super::cards::{Names, all_users, visible_tags};
use super::departures::describe_selection;
use super::plan_form::{self, LineForm};
use super::users::counts_text;
use super::{Ctx, Session, flash_redirect, form, page, render};
use crate::domain::departure::{Departure, Plan, Readiness};
use crate::domain::model::{Tag, User};
use crate::domain::{Error, UserStatus};
use crate::service::App;
use crate::service::departures as svc;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;

pub fn router() -> Router<App> {
    Router::new()
        .route("/me/handover", get(show))
        .route("/me/handover/plan", post(report))
        .route("/me/handover/count", get(count))
}

#[derive(Template)]
#[template(path = "handover.html")]
struct HandoverPage {
    ctx: Ctx,
    departure: Option<Departure>,
    moment: String,
    readiness: Option<Readiness>,
    plan: Option<Plan>,
    owned: String,
    successors: Vec<User>,
    tags: Vec<Tag>,
    user_names: Names,
    tag_names: Names,
    error: Option<String>,
    error_field: String,
    error_text: String,
    // The plan form (plan_form.html).
    plan_action: String,
    plan_departure_id: String,
    plan_lines: Vec<LineForm>,
}

impl HandoverPage {
    fn explain(&self) -> String {
        let name = self
            .departure
            .as_ref()
            .map(|d| self.user_names.get(&d.successor_id))
            .unwrap_or_default();
        self.ctx.t("handover.explain").replace("%{name}", &name)
    }
    fn plan_line(&self, item: &crate::domain::departure::PlanItem) -> String {
        describe_selection(&self.ctx, &item.selection, &self.tag_names)
    }
    fn frozen(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| p.status.frozen())
    }
}

async fn handover_page(
    app: &App,
    s: Session,
    edited: Option<Vec<LineForm>>,
    error: Option<Error>,
) -> Result<Response, Response> {
    let s = s.with_nav("handover");
    let q = svc::DepartureQuery {
        status: None,
        attention: false,
        cursor: None,
        limit: Some(50),
    };
    let mine = page(&s.ctx, svc::list(app, &s.actor, q).await)?
        .items
        .into_iter()
        .find(|d| d.user_id == s.actor.user_id && d.status.is_open());
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let tags = page(&s.ctx, visible_tags(app, &s.actor).await)?;
    let own = page(
        &s.ctx,
        crate::service::lifecycle::holdings(app, &s.actor, &s.actor.user_id).await,
    )?;
    let (readiness, plan, moment) = match &mine {
        Some(d) => (
            Some(page(&s.ctx, svc::readiness(app, &s.actor, &d.id).await)?),
            Some(page(&s.ctx, svc::plan(app, &s.actor, &d.id).await)?),
            s.ctx.moment(d.suspend_moment),
        ),
        None => (None, None, String::new()),
    };
    let departure_id = mine.as_ref().map(|d| d.id.to_string()).unwrap_or_default();
    let lines = edited.unwrap_or_else(|| plan_form::lines_of_plan(plan.as_ref()));
    let lines = if departure_id.is_empty() {
        lines
    } else {
        plan_form::counted(app, &s, &departure_id, lines).await
    };
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = HandoverPage {
        owned: counts_text(&s.ctx, own.cards, own.contacts, own.tags),
        successors: users
            .iter()
            .filter(|u| u.status == UserStatus::Active && u.id != s.actor.user_id && !u.is_archive)
            .cloned()
            .collect(),
        user_names: Names::of_users(&users),
        tag_names: Names::of_tags(&tags),
        tags: tags
            .into_iter()
            .filter(|t| t.creator_id.as_deref() == Some(s.actor.user_id.as_str()) || t.shared)
            .collect(),
        departure: mine,
        moment,
        readiness,
        plan,
        error_text: shown.message.clone().unwrap_or_default(),
        error: shown.message,
        error_field: shown.field,
        plan_action: "/me/handover/plan".into(),
        plan_departure_id: departure_id,
        plan_lines: lines,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn show(State(app): State<App>, s: Session) -> Result<Response, Response> {
    handover_page(&app, s, None, None).await
}

async fn report(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: HashMap<String, String> = form(&s, &headers, &body).await?;
    let departure = f.get("departure_id").cloned().unwrap_or_default();
    let lines = plan_form::lines_of(&f);
    match svc::report_plan(&app, &s.actor, &departure, plan_form::plan_input(&lines)).await {
        Ok(_) => Ok(flash_redirect("/me/handover", &s.ctx.t("handover.reported"))),
        Err(e) => handover_page(&app, s, Some(lines), Some(e)).await,
    }
}

/// One plan line's card count, for htmx while the line is edited.
async fn count(State(app): State<App>, s: Session, Query(q): Query<HashMap<String, String>>) -> Response {
    Html(plan_form::count_fragment(&app, &s, &q).await).into_response()
}
