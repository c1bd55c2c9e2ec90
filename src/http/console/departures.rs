//! 退職・出向の管理 (admins): the offboarding desk. Tabs (予定, 要対応, 完了, 取消) with
//! counts, one row per departure with its next step; the detail page with readiness, the plan
//! (approve, send back, write it for the user, preview and execute), the batches (undo), and
//! cancel. Every post ends in a redirect with a one-time message.

use super::cards::{Names, all_users, visible_tags};
use super::plan_form::{self, LineForm};
use super::{Ctx, Session, flash_redirect, form, page, render};
use crate::domain::departure::{Departure, DepartureKind, DepartureStatus, ItemState, Plan, PlanStatus, Readiness};
use crate::domain::model::{Organization, Tag, User};
use crate::domain::transfer::Transfer;
use crate::domain::{Error, ErrorKind, UserStatus};
use crate::service::departures::{self as svc, Execution};
use crate::service::{App, lifecycle, orgs, transfers};
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
        .route("/departures", get(desk).post(register))
        .route("/departures/{id}", get(show))
        .route("/departures/{id}/readiness.csv", get(readiness_csv))
        .route("/departures/{id}/{action}", post(act))
}

/// What an admin does next for a departure: one button per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// No plan yet (or sent back): ask the user for it.
    Request,
    Approve,
    /// Approved, or suspended with something still held: preview and execute.
    Execute,
    Check,
}

impl Next {
    fn of(d: &Departure, r: &Readiness) -> Next {
        match (d.status, d.plan_status) {
            (DepartureStatus::Done | DepartureStatus::Cancelled, _) => Next::Check,
            (_, PlanStatus::Reported) => Next::Approve,
            (_, PlanStatus::None | PlanStatus::Returned) if d.status == DepartureStatus::Scheduled => Next::Request,
            (_, PlanStatus::Approved) if !r.ready || d.status == DepartureStatus::NeedsAction => Next::Execute,
            (DepartureStatus::NeedsAction, PlanStatus::Executed) => Next::Execute,
            _ => Next::Check,
        }
    }
}

/// A departure with what the desk shows next to it.
pub struct Row {
    pub d: Departure,
    pub name: String,
    pub successor: String,
    pub readiness: Readiness,
    pub moment: String,
    /// Days from today to the last working day (negative once past).
    pub days_left: i64,
    pub next: Next,
}

impl Row {
    pub fn done_of(&self) -> String {
        let (done, of) = self.readiness.done_of();
        format!("{done}/{of}")
    }
}

fn admin(s: &Session) -> Result<(), Response> {
    if s.actor.is_admin() {
        Ok(())
    } else {
        Err(super::error_page(&s.ctx, &Error::forbidden("admins only")))
    }
}

const TABS: [&str; 4] = ["upcoming", "needs_action", "done", "cancelled"];

/// The service's listing filter behind each tab.
fn tab_filter(tab: &str) -> &'static str {
    match tab {
        "needs_action" => "needs_action",
        "done" => "done",
        "cancelled" => "cancelled",
        _ => "planned",
    }
}

/// The registration form as typed, kept after an error.
#[derive(Deserialize, Default)]
struct RegisterForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    retirement_date: String,
    #[serde(default)]
    last_working_day: String,
    #[serde(default)]
    successor_id: String,
    #[serde(default)]
    suspend_at: String,
}

#[derive(Template)]
#[template(path = "departures.html")]
struct DeskPage {
    ctx: Ctx,
    tab: String,
    counts: Vec<(&'static str, usize)>,
    rows: Vec<Row>,
    users: Vec<User>,
    lapsed: Vec<(User, String)>,
    org: Organization,
    reg: RegisterForm,
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
    fn days(&self, row: &Row) -> String {
        match row.days_left {
            0 => self.ctx.t("departures.today"),
            n if n > 0 => self.ctx.t("departures.days_left").replace("%{n}", &n.to_string()),
            n => self.ctx.t("departures.overdue_days").replace("%{n}", &(-n).to_string()),
        }
    }
    /// The error, shown beside `field` when it is the one at fault.
    fn error_at(&self, field: &str) -> Option<&str> {
        (self.error_field == field).then_some(self.error.as_deref()).flatten()
    }
    /// The error when no field of the form is at fault (shown above the form).
    fn general_error(&self) -> Option<&str> {
        let fields = [
            "user_id",
            "retirement_date",
            "last_working_day",
            "successor_id",
            "suspend_at",
        ];
        (!fields.contains(&self.error_field.as_str()))
            .then_some(self.error.as_deref())
            .flatten()
    }
}

async fn rows(app: &App, s: &Session, list: Vec<Departure>, names: &Names) -> Result<Vec<Row>, Response> {
    let today = s.ctx.today(app.now());
    let mut out = Vec::new();
    for d in list {
        let readiness = page(&s.ctx, svc::readiness(app, &s.actor, &d.id).await)?;
        out.push(Row {
            name: names.get(&d.user_id),
            // A departure an identity provider opened may have no successor yet.
            successor: if d.successor_id.as_str().is_empty() {
                s.ctx.t("departures.no_successor")
            } else {
                names.get(&d.successor_id)
            },
            moment: s.ctx.moment(d.suspend_moment),
            days_left: (d.last_working_day - today).num_days(),
            next: Next::of(&d, &readiness),
            readiness,
            d,
        });
    }
    Ok(out)
}

async fn list(app: &App, s: &Session, status: &str) -> Result<Vec<Departure>, Response> {
    let q = svc::DepartureQuery {
        status: Some(status),
        attention: false,
        cursor: None,
        limit: Some(500),
    };
    Ok(page(&s.ctx, svc::list(app, &s.actor, q).await)?.items)
}

async fn desk_page(
    app: &App,
    s: Session,
    tab: &str,
    reg: RegisterForm,
    error: Option<Error>,
) -> Result<Response, Response> {
    admin(&s)?;
    let s = s.with_nav("departures");
    let tab = if TABS.contains(&tab) { tab } else { "upcoming" };
    let org = page(&s.ctx, orgs::get(app, &s.actor).await)?;
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let names = Names::of_users(&users);
    let mut counts = Vec::new();
    let mut shown = Vec::new();
    for t in TABS {
        let items = list(app, &s, tab_filter(t)).await?;
        counts.push((t, items.len()));
        if t == tab {
            shown = items;
        }
    }
    let rows = rows(app, &s, shown, &names).await?;
    let lapsed = page(&s.ctx, lifecycle::purge_blocked(app, &s.actor).await)?
        .into_iter()
        .map(|(u, at)| (u, s.ctx.minute(at)))
        .collect();
    let mut message = super::shown(s.ctx.lang, error.as_ref());
    if let Some(e) = &error
        && e.kind == ErrorKind::Conflict
        && e.field.as_deref() == Some("user_id")
    {
        message.message = Some(
            s.ctx
                .t("departures.duplicate")
                .replace("%{name}", &names.get(&reg.user_id)),
        );
    }
    let p = DeskPage {
        today: s.ctx.today(app.now()).to_string(),
        tab: tab.to_string(),
        counts,
        rows,
        users: users
            .into_iter()
            .filter(|u| u.status == UserStatus::Active && !u.is_archive)
            .collect(),
        lapsed,
        org,
        reg,
        error: message.message,
        error_field: message.field,
        ctx: s.ctx,
    };
    Ok((message.status, render(&p)).into_response())
}

#[derive(Deserialize, Default)]
struct DeskQuery {
    tab: Option<String>,
}

async fn desk(State(app): State<App>, s: Session, Query(q): Query<DeskQuery>) -> Result<Response, Response> {
    desk_page(
        &app,
        s,
        q.tab.as_deref().unwrap_or("upcoming"),
        RegisterForm::default(),
        None,
    )
    .await
}

async fn register(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: RegisterForm = form(&s, &headers, &body).await?;
    let missing = [("user_id", &f.user_id), ("successor_id", &f.successor_id)]
        .into_iter()
        .find(|(_, v)| v.trim().is_empty());
    if let Some((field, _)) = missing {
        let e = Error::bad_input(field, "choose a user");
        return desk_page(&app, s, "upcoming", f, Some(e)).await;
    }
    let n = svc::NewDeparture {
        user_id: f.user_id.clone(),
        kind: Some(if f.kind == "secondment" {
            DepartureKind::Secondment
        } else {
            DepartureKind::Retirement
        }),
        retirement_date: f.retirement_date.clone(),
        last_working_day: f.last_working_day.clone(),
        successor_id: f.successor_id.clone(),
        suspend_at: Some(f.suspend_at.clone()).filter(|s| !s.trim().is_empty()),
    };
    match svc::create(&app, &s.actor, n).await {
        Ok(d) => Ok(flash_redirect(
            &format!("/departures/{}", d.id),
            &s.ctx.t("departures.registered"),
        )),
        Err(e) => desk_page(&app, s, "upcoming", f, Some(e)).await,
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
    /// Each plan line's condition with its successor and card count, for the preview.
    conditions: Vec<String>,
    /// The send-back comment as typed, kept after an error.
    comment: String,
    error: Option<String>,
    error_field: String,
    error_text: String,
    // The plan editor (plan_form.html).
    plan_action: String,
    plan_departure_id: String,
    plan_lines: Vec<LineForm>,
    tags: Vec<Tag>,
    successors: Vec<User>,
    // The customer handover notice (引き継ぎのご挨拶), once the plan is approved.
    notice: Option<crate::service::mail::NoticePreview>,
    notice_templates: Vec<crate::service::mail::TemplateRow>,
    mail_on: bool,
}

impl DetailPage {
    fn notice_counts(&self, n: &crate::service::mail::NoticePreview) -> String {
        self.ctx
            .t("departures.notice_counts")
            .replace("%{n}", &n.messages.to_string())
            .replace("%{sent}", &n.already_sent.to_string())
            .replace("%{skipped}", &n.skipped.to_string())
    }
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
    /// A previewed transfer's line: its condition as the plan says it (「タグ: 見込み客」),
    /// or the remainder.
    fn line_label(&self, position: &Option<i64>) -> String {
        let item = position.and_then(|p| self.plan.items.iter().find(|i| i.position == p));
        match item {
            Some(i) => describe_selection(&self.ctx, &i.selection, &self.tag_names),
            None => self.ctx.t("departures.rest"),
        }
    }
    fn can_execute(&self) -> bool {
        self.row.d.status.is_open()
            && (self.plan.status == PlanStatus::Approved
                || (self.plan.status == PlanStatus::Executed && !self.row.readiness.ready))
    }
    fn can_edit_plan(&self) -> bool {
        self.row.d.status.is_open() && !self.plan.status.frozen()
    }
    fn needs_action(&self) -> bool {
        self.row.d.status == DepartureStatus::NeedsAction
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

/// What the detail page's forms keep after an error: the plan's lines and the send-back
/// comment as typed.
#[derive(Default)]
struct Kept {
    lines: Option<Vec<LineForm>>,
    comment: String,
}

async fn detail_page(
    app: &App,
    s: Session,
    id: &str,
    preview: Option<Execution>,
    kept: Kept,
    error: Option<Error>,
) -> Result<Response, Response> {
    admin(&s)?;
    let s = s.with_nav("departures");
    let d = page(&s.ctx, svc::get(app, &s.actor, id).await)?;
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let names = Names::of_users(&users);
    let tags = page(&s.ctx, visible_tags(app, &s.actor).await)?;
    let tag_names = Names::of_tags(&tags);
    let plan = page(&s.ctx, svc::plan(app, &s.actor, id).await)?;
    // The departing user's transfer history: the plan's batches and any other.
    let all = page(&s.ctx, transfers::list(app, &s.actor, None, Some(500)).await)?.items;
    let batches: Vec<Transfer> = all.into_iter().filter(|t| t.from_user_id == d.user_id).collect();
    let user_id = d.user_id.to_string();
    let row = rows(app, &s, vec![d], &names).await?.remove(0);
    let lines = kept.lines.unwrap_or_else(|| plan_form::lines_of_plan(Some(&plan)));
    let lines = plan_form::counted(app, &s, id, lines).await;
    let mut conditions = Vec::new();
    for item in &plan.items {
        let n = page(&s.ctx, svc::count_line(app, &s.actor, id, &item.selection).await)?;
        conditions.push(
            s.ctx
                .t("departures.line_condition")
                .replace("%{condition}", &describe_selection(&s.ctx, &item.selection, &tag_names))
                .replace("%{to}", &names.get(&item.successor_id))
                .replace("%{n}", &n.to_string()),
        );
    }
    let (notice, notice_templates) = if plan.status.frozen() {
        let n = page(&s.ctx, crate::service::mail::notice_preview(app, &s.actor, id).await)?;
        let t = page(
            &s.ctx,
            crate::service::mail::list_templates(app, &s.actor, None, None, Some(500)).await,
        )?;
        (Some(n), t.items)
    } else {
        (None, Vec::new())
    };
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = DetailPage {
        notice,
        notice_templates,
        mail_on: app.mail.is_some(),
        row,
        plan,
        user_names: names,
        tag_names,
        transfers: batches,
        preview,
        conditions,
        comment: kept.comment,
        error_text: shown.message.clone().unwrap_or_default(),
        error: shown.message,
        error_field: shown.field,
        plan_action: format!("/departures/{id}/plan"),
        plan_departure_id: id.to_string(),
        plan_lines: lines,
        successors: users
            .iter()
            .filter(|u| u.status == UserStatus::Active && !u.is_archive && u.id != user_id)
            .cloned()
            .collect(),
        tags: tags
            .into_iter()
            .filter(|t| t.creator_id.as_deref() == Some(user_id.as_str()) || t.shared)
            .collect(),
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn show(State(app): State<App>, s: Session, Path(id): Path<String>) -> Result<Response, Response> {
    detail_page(&app, s, &id, None, Kept::default(), None).await
}

async fn act(
    State(app): State<App>,
    s: Session,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: HashMap<String, String> = form(&s, &headers, &body).await?;
    let here = format!("/departures/{id}");
    let done = |key: &str| Ok(flash_redirect(&here, &s.ctx.t(key)));
    let result = match action.as_str() {
        "approve" => svc::approve_plan(&app, &s.actor, &id)
            .await
            .map(|_| "departures.approved_notice"),
        "request" => svc::request_plan(&app, &s.actor, &id)
            .await
            .map(|_| "departures.requested_notice"),
        "return" => {
            let comment = f.get("comment").cloned().unwrap_or_default();
            svc::return_plan(&app, &s.actor, &id, &comment)
                .await
                .map(|_| "departures.returned_notice")
        }
        "plan" => {
            let lines = plan_form::lines_of(&f);
            match svc::report_plan(&app, &s.actor, &id, plan_form::plan_input(&lines)).await {
                Ok(_) => Ok("departures.plan_saved_notice"),
                Err(e) => {
                    let kept = Kept {
                        lines: Some(lines),
                        ..Kept::default()
                    };
                    return detail_page(&app, s, &id, None, kept, Some(e)).await;
                }
            }
        }
        "preview" => {
            return match svc::execute_plan(&app, &s.actor, &id, true).await {
                Ok(x) => detail_page(&app, s, &id, Some(x), Kept::default(), None).await,
                Err(e) => detail_page(&app, s, &id, None, Kept::default(), Some(e)).await,
            };
        }
        "execute" => svc::execute_plan(&app, &s.actor, &id, false)
            .await
            .map(|_| "departures.executed_notice"),
        "cancel" => match svc::cancel(&app, &s.actor, &id).await {
            Ok(_) => return Ok(flash_redirect("/departures", &s.ctx.t("departures.cancelled_notice"))),
            Err(e) => Err(e),
        },
        "notice" => {
            let input = crate::service::mail::NoticeInput {
                template_id: f.get("template_id").cloned().unwrap_or_default(),
                scheduled_at: None,
            };
            match crate::service::mail::send_notice(&app, &s.actor, &id, input).await {
                Ok(r) => {
                    let text = s
                        .ctx
                        .t("departures.notice_sent")
                        .replace("%{n}", &r.queued.to_string())
                        .replace("%{already}", &r.already_sent.to_string());
                    return Ok(flash_redirect(&here, &text));
                }
                Err(e) => Err(e),
            }
        }
        "undo" => {
            let batch = f.get("transfer_id").cloned().unwrap_or_default();
            transfers::undo(&app, &s.actor, &batch, &|_| {})
                .await
                .map(|_| "departures.undone_notice")
        }
        _ => return Err(super::error_page(&s.ctx, &Error::not_found("action"))),
    };
    match result {
        Ok(key) => done(key),
        Err(e) => {
            let kept = Kept {
                comment: f.get("comment").cloned().unwrap_or_default(),
                ..Kept::default()
            };
            detail_page(&app, s, &id, None, kept, Some(e)).await
        }
    }
}

#[derive(Deserialize, Default)]
struct CsvQuery {
    encoding: Option<String>,
}

/// The readiness checklist as CSV (admins): UTF-8 with a BOM, or Shift_JIS for Excel.
async fn readiness_csv(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<CsvQuery>,
) -> Result<Response, Response> {
    admin(&s)?;
    let d = page(&s.ctx, svc::get(&app, &s.actor, &id).await)?;
    let r = page(&s.ctx, svc::readiness(&app, &s.actor, &id).await)?;
    let users = page(&s.ctx, all_users(&app, &s.actor).await)?;
    let names = Names::of_users(&users);
    let ja = s.ctx.lang == super::Lang::Ja;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = if ja {
        ["ユーザー", "最終出社日", "停止日時", "項目", "状態", "件数"]
    } else {
        ["User", "Last working day", "Suspension", "Item", "State", "Count"]
    };
    let row_err = |e: csv::Error| super::error_page(&s.ctx, &Error::internal(e.to_string()));
    w.write_record(header).map_err(row_err)?;
    for item in &r.items {
        let state = match item.state {
            ItemState::Done => "done",
            ItemState::Planned => "planned",
            ItemState::Open => "open",
            ItemState::NotAvailable => "not_available",
        };
        w.write_record([
            names.get(&d.user_id),
            d.last_working_day.to_string(),
            s.ctx.moment(d.suspend_moment),
            if ja {
                item.label_ja.clone()
            } else {
                item.label_en.clone()
            },
            s.ctx.tk("readiness.state", state),
            item.count.map(|n| n.to_string()).unwrap_or_default(),
        ])
        .map_err(row_err)?;
    }
    let text = String::from_utf8(w.into_inner().map_err(|e| row_err(e.into_error().into()))?).unwrap_or_default();
    let sjis = q.encoding.as_deref() == Some("shift_jis");
    let (bytes, charset) = if sjis {
        let (b, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
        (b.into_owned(), "shift_jis")
    } else {
        let mut b = "\u{feff}".as_bytes().to_vec();
        b.extend(text.into_bytes());
        (b, "utf-8")
    };
    let filename = format!("readiness-{}.csv", d.last_working_day);
    Ok((
        [
            (header::CONTENT_TYPE, format!("text/csv; charset={charset}")),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
