//! 私の引き継ぎ: the leaving employee's page. What I own, the plan I report (successors per
//! tag, per company, the rest to the default successor), its status, my open duties.

use super::cards::{Names, all_users, visible_tags};
use super::departures::describe_selection;
use super::users::counts_text;
use super::{Ctx, Session, form, page, render};
use crate::domain::departure::Departure;
use crate::domain::departure::Plan;
use crate::domain::departure::Readiness;
use crate::domain::model::{Tag, User};
use crate::domain::transfer::SelectionInput;
use crate::domain::{Error, UserStatus};
use crate::service::App;
use crate::service::departures::{self as svc, PlanInput, PlanItemInput};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub fn router() -> Router<App> {
    Router::new()
        .route("/me/handover", get(show))
        .route("/me/handover/plan", post(report))
}

/// Plan lines offered on the form.
const LINES: usize = 4;

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
    lines: Vec<usize>,
    notice: Option<String>,
    error: Option<String>,
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
    fn line_no(&self, i: &usize) -> String {
        self.ctx.t("handover.line").replace("%{n}", &(i + 1).to_string())
    }
    fn plan_line(&self, item: &crate::domain::departure::PlanItem) -> String {
        describe_selection(&self.ctx, &item.selection, &self.tag_names)
    }
    fn frozen(&self) -> bool {
        self.plan
            .as_ref()
            .is_some_and(|p| matches!(p.status.as_str(), "approved" | "executed"))
    }
}

async fn handover_page(
    app: &App,
    s: Session,
    notice: Option<String>,
    error: Option<Error>,
) -> Result<Response, Response> {
    let s = s.with_nav("handover");
    let q = svc::DepartureQuery {
        status: Some("upcoming"),
        attention: false,
        cursor: None,
        limit: Some(50),
    };
    let mine = page(&s.ctx, svc::list(app, &s.actor, q).await)?
        .items
        .into_iter()
        .find(|d| d.user_id == s.actor.user_id);
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
        lines: (0..LINES).collect(),
        notice,
        error: shown.message,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn show(State(app): State<App>, s: Session) -> Result<Response, Response> {
    handover_page(&app, s, None, None).await
}

async fn report(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: std::collections::HashMap<String, String> = form(&s, &headers, &body).await?;
    let departure = f.get("departure_id").cloned().unwrap_or_default();
    let mut items = Vec::new();
    for i in 0..LINES {
        let get = |k: &str| {
            f.get(&format!("{k}_{i}"))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(to) = get("to") else { continue };
        let selection = match (get("tag"), get("company")) {
            (Some(tag), _) => SelectionInput {
                tag_id: Some(tag),
                ..Default::default()
            },
            (None, Some(company)) => SelectionInput {
                company: Some(company),
                ..Default::default()
            },
            (None, None) => continue,
        };
        items.push(PlanItemInput {
            selection,
            successor_id: to,
        });
    }
    match svc::report_plan(&app, &s.actor, &departure, PlanInput { items }).await {
        Ok(_) => {
            let notice = s.ctx.t("handover.reported");
            let _ = Redirect::to("/me/handover");
            handover_page(&app, s, Some(notice), None).await
        }
        Err(e) => handover_page(&app, s, None, Some(e)).await,
    }
}
