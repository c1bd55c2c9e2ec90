//! メール (issue 14): mail templates (mine and the shared ones; only the creator edits or
//! deletes one, anyone who sees it copies it), the One to One send form and its preview
//! (messages per sender, the skipped cards by name and why, senders who leave before the send,
//! the skipped list as CSV), the history of sends and one send's messages, and the
//! organisation's mail settings and suppression lists (admins). The rules are `service::mail`'s;
//! without an SMTP server (`MEISHI_SMTP_URL`) every page says so before anyone fills a form.

use super::cards::{Names, all_users, visible_tags};
use super::{Ctx, Lang, Session, flash_error_redirect, flash_redirect, form, page, render, urlencode};
use crate::domain::mail::{PLACEHOLDERS, SendKind, SendStatus, SkipReason};
use crate::domain::model::{Tag, User};
use crate::domain::{Error, ErrorKind};
use crate::http::api::mail::csv_response;
use crate::service::App;
use crate::service::mail::{
    self, RecipientsInput, SendInput, SendRow, SettingsPatch, SkippedCard, SuppressionInput, TemplateInput, TemplateRow,
};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<App> {
    Router::new()
        .route("/mail", get(|| async { Redirect::to("/mail/templates") }))
        .route("/mail/templates", get(templates).post(create_template))
        .route("/mail/templates/new", get(new_template))
        .route("/mail/templates/{id}", get(show_template).post(update_template))
        .route("/mail/templates/{id}/copy", post(copy_template))
        .route("/mail/templates/{id}/delete", post(delete_template))
        .route("/mail/new", get(new_send))
        .route("/mail/new/skipped.csv", get(preview_csv))
        .route("/mail/sends", get(sends).post(create_send))
        .route("/mail/sends/{id}", get(show_send))
        .route("/mail/sends/{id}/skipped.csv", get(send_csv))
        .route("/mail/sends/{id}/cancel", post(cancel_send))
        .route("/mail/settings", get(settings).post(save_settings))
        .route("/mail/suppressions", post(add_suppression))
        .route("/mail/suppressions/remove", post(remove_suppression))
}

/// The placeholders as the help box lists them: `{{氏名}}`.
fn placeholders() -> Vec<String> {
    PLACEHOLDERS.iter().map(|p| format!("{{{{{p}}}}}")).collect()
}

/// Whether this server can send (an SMTP URL was given).
fn configured(app: &App) -> bool {
    app.mail.is_some()
}

fn nonempty(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Browsers send a textarea's line breaks as CRLF; a template keeps plain line feeds.
fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// A mail error in the page's language: the service's English on English pages; on Japanese
/// pages a translation that keeps what matters (the placeholder refused, the counts).
fn mail_message(lang: Lang, e: &Error) -> String {
    if lang == Lang::En || e.kind == ErrorKind::Internal || e.message == "csrf" {
        return super::message(lang, e);
    }
    let m = e.message.as_str();
    if m.contains("MEISHI_SMTP_URL") {
        return super::tr(lang, "mail.not_configured");
    }
    if let Some(rest) = m.strip_prefix("unknown placeholder ") {
        let name = rest.split(';').next().unwrap_or(rest).trim();
        return super::tr(lang, "mail.error.unknown_placeholder").replace("%{name}", name);
    }
    if m.contains("not closed with }}") {
        return super::tr(lang, "mail.error.unclosed_placeholder");
    }
    if m.starts_with("no card of the selection") {
        let n: String = m
            .split('(')
            .nth(1)
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return super::tr(lang, "mail.error.nothing_to_send").replace("%{n}", &n);
    }
    if m.contains("daily limit") {
        return super::tr(lang, "mail.error.daily_limit");
    }
    if m.starts_with("only its creator") {
        return super::tr(lang, "mail.error.creator_only");
    }
    if e.kind == ErrorKind::Conflict && m.contains("can no longer be cancelled") {
        return super::tr(lang, "mail.error.not_cancellable");
    }
    if let Some(field) = &e.field {
        let text = super::tr(lang, &format!("mail.error.field.{field}"));
        if !text.starts_with('⚠') {
            return text;
        }
    }
    super::message(lang, e)
}

/// The error of a post that changed nothing, as the page shows it: the message, and the field
/// it belongs beside (empty: above the form).
struct Failed {
    status: StatusCode,
    message: Option<String>,
    field: String,
}

impl Failed {
    fn none() -> Self {
        Failed {
            status: StatusCode::OK,
            message: None,
            field: String::new(),
        }
    }
    fn of(lang: Lang, e: Option<&Error>) -> Self {
        match e {
            None => Self::none(),
            Some(e) => Failed {
                status: crate::http::error::status(e.kind),
                message: Some(mail_message(lang, e)),
                field: e.field.clone().unwrap_or_default(),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

pub struct TemplateItem {
    pub id: String,
    pub name: String,
    pub subject: String,
    pub creator_name: String,
    pub shared: bool,
    pub mine: bool,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "mail_templates.html")]
struct TemplatesPage {
    ctx: Ctx,
    configured: bool,
    items: Vec<TemplateItem>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    cursor: Option<String>,
}

async fn templates(State(app): State<App>, s: Session, Query(q): Query<PageQuery>) -> Result<Response, Response> {
    let s = s.with_nav("mail");
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let result = page(
        &s.ctx,
        mail::list_templates(&app, &s.actor, None, cursor.as_deref(), Some(100)).await,
    )?;
    let items = result
        .items
        .into_iter()
        .map(|t| TemplateItem {
            mine: t.creator_id == s.actor.user_id,
            updated: s.ctx.minute(t.updated_at),
            id: t.id,
            name: t.name,
            subject: t.subject,
            creator_name: t.creator_name,
            shared: t.shared,
        })
        .collect();
    let p = TemplatesPage {
        configured: configured(&app),
        items,
        next: result.next_cursor,
        ctx: s.ctx,
    };
    Ok(render(&p).into_response())
}

/// The form's fields, as typed (kept when a save is refused).
#[derive(Deserialize, Default, Clone)]
struct TemplateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    html_body: String,
    shared: Option<String>,
}

impl TemplateForm {
    fn of(t: &TemplateRow) -> Self {
        TemplateForm {
            name: t.name.clone(),
            subject: t.subject.clone(),
            body: t.body.clone(),
            html_body: t.html_body.clone().unwrap_or_default(),
            shared: t.shared.then(|| "1".to_string()),
        }
    }
    fn input(&self) -> TemplateInput {
        TemplateInput {
            name: self.name.clone(),
            subject: self.subject.clone(),
            body: lf(&self.body),
            html_body: nonempty(&self.html_body).map(|h| lf(&h)),
            shared: self.shared.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "mail_template.html")]
struct TemplatePage {
    ctx: Ctx,
    /// None: a new template.
    id: Option<String>,
    f: TemplateForm,
    /// The signed-in user created it (or it is new): the form saves; otherwise it is read-only
    /// and offers a copy.
    editable: bool,
    creator_name: String,
    placeholders: Vec<String>,
    error: Option<String>,
    error_field: String,
}

impl TemplatePage {
    fn shared(&self) -> bool {
        self.f.shared.is_some()
    }
    fn action(&self) -> String {
        match &self.id {
            Some(id) => format!("/mail/templates/{id}"),
            None => "/mail/templates".into(),
        }
    }
}

fn template_page(
    s: Session,
    id: Option<String>,
    f: TemplateForm,
    editable: bool,
    creator_name: String,
    error: Option<&Error>,
) -> Response {
    let s = s.with_nav("mail");
    let failed = Failed::of(s.ctx.lang, error);
    let p = TemplatePage {
        id,
        f,
        editable,
        creator_name,
        placeholders: placeholders(),
        error: failed.message,
        error_field: failed.field,
        ctx: s.ctx,
    };
    (failed.status, render(&p)).into_response()
}

async fn new_template(s: Session) -> Response {
    let name = s.ctx.user_name.clone();
    template_page(s, None, TemplateForm::default(), true, name, None)
}

async fn create_template(
    State(app): State<App>,
    s: Session,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: TemplateForm = form(&s, &headers, &body).await?;
    match mail::create_template(&app, &s.actor, f.input()).await {
        Ok(t) => Ok(flash_redirect(
            "/mail/templates",
            &s.ctx.t("mail.template_created").replace("%{name}", &t.name),
        )),
        Err(e) => {
            let name = s.ctx.user_name.clone();
            Ok(template_page(s, None, f, true, name, Some(&e)))
        }
    }
}

async fn show_template(State(app): State<App>, s: Session, Path(id): Path<String>) -> Result<Response, Response> {
    let t = page(&s.ctx, mail::get_template(&app, &s.actor, &id).await)?;
    let editable = t.creator_id == s.actor.user_id;
    Ok(template_page(
        s,
        Some(t.id.clone()),
        TemplateForm::of(&t),
        editable,
        t.creator_name,
        None,
    ))
}

async fn update_template(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: TemplateForm = form(&s, &headers, &body).await?;
    let t = page(&s.ctx, mail::get_template(&app, &s.actor, &id).await)?;
    match mail::update_template(&app, &s.actor, &id, f.input()).await {
        Ok(t) => Ok(flash_redirect(
            &format!("/mail/templates/{id}"),
            &s.ctx.t("mail.template_saved").replace("%{name}", &t.name),
        )),
        Err(e) if e.kind == ErrorKind::Forbidden => Err(super::error_page(&s.ctx, &e)),
        Err(e) => {
            let editable = t.creator_id == s.actor.user_id;
            Ok(template_page(s, Some(id), f, editable, t.creator_name, Some(&e)))
        }
    }
}

async fn copy_template(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    form::<HashMap<String, String>>(&s, &headers, &body).await?;
    let t = page(&s.ctx, mail::copy_template(&app, &s.actor, &id).await)?;
    Ok(flash_redirect(
        &format!("/mail/templates/{}", t.id),
        &s.ctx.t("mail.template_copied").replace("%{name}", &t.name),
    ))
}

async fn delete_template(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    form::<HashMap<String, String>>(&s, &headers, &body).await?;
    let t = page(&s.ctx, mail::get_template(&app, &s.actor, &id).await)?;
    match mail::delete_template(&app, &s.actor, &id).await {
        Ok(()) => Ok(flash_redirect(
            "/mail/templates",
            &s.ctx.t("mail.template_deleted").replace("%{name}", &t.name),
        )),
        Err(e) => Ok(flash_error_redirect(
            &format!("/mail/templates/{id}"),
            &mail_message(s.ctx.lang, &e),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The send form and its preview

/// The send form's fields (the address of a preview carries them, so that a reload shows the
/// same preview and the send posts exactly what was previewed).
#[derive(Deserialize, Default, Clone)]
struct SendForm {
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    tag_id: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    owner_id: String,
    /// `datetime-local` in the organisation's zone; empty: now.
    #[serde(default)]
    scheduled_at: String,
    /// Show the preview.
    #[serde(default)]
    preview: String,
}

impl SendForm {
    /// The form as a query string (the CSV link, the preview's address).
    fn query(&self) -> String {
        format!(
            "template_id={}&tag_id={}&company={}&owner_id={}&scheduled_at={}",
            urlencode(&self.template_id),
            urlencode(&self.tag_id),
            urlencode(&self.company),
            urlencode(&self.owner_id),
            urlencode(&self.scheduled_at)
        )
    }

    /// The service's input; the scheduled time read in the organisation's zone.
    fn input(&self, ctx: &Ctx, template_required: bool) -> crate::domain::Result<SendInput> {
        if template_required && self.template_id.trim().is_empty() {
            return Err(Error::bad_input("template_id", "choose a template"));
        }
        Ok(SendInput {
            template_id: self.template_id.trim().to_string(),
            recipients: RecipientsInput {
                owner_id: nonempty(&self.owner_id),
                tag_id: nonempty(&self.tag_id),
                company: nonempty(&self.company),
                card_ids: Vec::new(),
            },
            scheduled_at: local_moment(ctx, &self.scheduled_at)?,
        })
    }
}

/// `2026-04-01T09:00` in the organisation's zone, as UTC (empty: none).
fn local_moment(ctx: &Ctx, s: &str) -> crate::domain::Result<Option<DateTime<Utc>>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Error::bad_input(
            "scheduled_at",
            format!("'{s}' is not a date and time (2026-04-01T09:00)"),
        )
    };
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| bad())?;
    let local = ctx.zone.from_local_datetime(&naive).earliest().ok_or_else(bad)?;
    Ok(Some(local.with_timezone(&Utc)))
}

pub struct SenderLine {
    pub name: String,
    pub email: String,
    pub messages: i64,
}

pub struct ReasonLine {
    pub label: String,
    pub cards: i64,
}

pub struct SkippedLine {
    pub name: String,
    pub company: String,
    pub email: String,
    pub owner: String,
    pub reason: String,
}

pub struct LeavingLine {
    pub name: String,
    pub when: String,
    pub cards: i64,
}

/// A preview as the page shows it.
pub struct Shown {
    pub messages: i64,
    pub skipped: i64,
    pub when: String,
    pub senders: Vec<SenderLine>,
    pub reasons: Vec<ReasonLine>,
    pub skipped_cards: Vec<SkippedLine>,
    pub leaving: Vec<LeavingLine>,
}

fn reason_label(ctx: &Ctx, r: SkipReason) -> String {
    let text = ctx.tk("mail.reason", r.as_str());
    if text.starts_with('⚠') {
        r.label_ja().to_string()
    } else {
        text
    }
}

fn skipped_line(ctx: &Ctx, c: SkippedCard) -> SkippedLine {
    SkippedLine {
        reason: reason_label(ctx, c.reason),
        name: c.full_name,
        company: c.company,
        email: c.email,
        owner: c.owner_name,
    }
}

#[derive(Template)]
#[template(path = "mail_new.html")]
struct NewSendPage {
    ctx: Ctx,
    configured: bool,
    templates: Vec<TemplateRow>,
    tags: Vec<Tag>,
    users: Vec<User>,
    f: SendForm,
    preview: Option<Shown>,
    error: Option<String>,
    error_field: String,
}

impl NewSendPage {
    fn csv_href(&self) -> String {
        format!("/mail/new/skipped.csv?{}", self.f.query())
    }
    fn more_skipped(&self, p: &Shown) -> bool {
        (p.skipped_cards.len() as i64) < p.skipped
    }
}

/// Every template the user sees (for the select).
async fn all_templates(app: &App, s: &Session) -> crate::domain::Result<Vec<TemplateRow>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = mail::list_templates(app, &s.actor, None, cursor.as_deref(), Some(500)).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

async fn send_page(app: &App, s: Session, f: SendForm, error: Option<&Error>) -> Result<Response, Response> {
    let s = s.with_nav("mail");
    let templates = page(&s.ctx, all_templates(app, &s).await)?;
    let tags = page(&s.ctx, visible_tags(app, &s.actor).await)?;
    let users = if s.actor.is_admin() {
        page(&s.ctx, all_users(app, &s.actor).await)?
            .into_iter()
            .filter(|u| !u.is_archive && u.deleted_at.is_none())
            .collect()
    } else {
        Vec::new()
    };
    let mut failed = Failed::of(s.ctx.lang, error);
    let mut preview = None;
    if !f.preview.is_empty() || error.is_some() {
        let result = match f.input(&s.ctx, true) {
            Ok(input) => mail::preview(app, &s.actor, &input).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(v) => {
                let p = v.preview;
                preview = Some(Shown {
                    messages: p.messages,
                    skipped: p.skipped,
                    when: s.ctx.moment(v.scheduled_at),
                    senders: p
                        .by_sender
                        .into_iter()
                        .map(|c| SenderLine {
                            name: c.display_name,
                            email: c.email,
                            messages: c.messages,
                        })
                        .collect(),
                    reasons: p
                        .by_reason
                        .into_iter()
                        .map(|r| ReasonLine {
                            label: reason_label(&s.ctx, r.reason),
                            cards: r.cards,
                        })
                        .collect(),
                    skipped_cards: p.skipped_cards.into_iter().map(|c| skipped_line(&s.ctx, c)).collect(),
                    leaving: p
                        .leaving_later
                        .into_iter()
                        .map(|l| LeavingLine {
                            name: l.display_name,
                            when: s.ctx.moment(l.suspends_at),
                            cards: l.cards,
                        })
                        .collect(),
                });
            }
            // A send's own error is the one shown; a preview's only when it was asked for.
            Err(e) if error.is_none() => failed = Failed::of(s.ctx.lang, Some(&e)),
            Err(_) => {}
        }
    }
    let p = NewSendPage {
        configured: configured(app),
        templates,
        tags,
        users,
        f,
        preview,
        error: failed.message,
        error_field: failed.field,
        ctx: s.ctx,
    };
    Ok((failed.status, render(&p)).into_response())
}

async fn new_send(State(app): State<App>, s: Session, Query(f): Query<SendForm>) -> Result<Response, Response> {
    send_page(&app, s, f, None).await
}

/// The preview's skipped cards, all of them, as CSV.
async fn preview_csv(State(app): State<App>, s: Session, Query(f): Query<SendForm>) -> Result<Response, Response> {
    let input = page(&s.ctx, f.input(&s.ctx, false))?;
    let rows = page(&s.ctx, mail::preview_skipped(&app, &s.actor, &input).await)?;
    Ok(csv_response(mail::skipped_csv(&rows), "skipped.csv"))
}

async fn create_send(
    State(app): State<App>,
    s: Session,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: SendForm = form(&s, &headers, &body).await?;
    let result = match f.input(&s.ctx, true) {
        Ok(input) => mail::send(&app, &s.actor, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => {
            let key = if v.send.status == SendStatus::Scheduled && v.send.scheduled_at > app.now() {
                "mail.send_scheduled"
            } else {
                "mail.send_queued"
            };
            let message = s
                .ctx
                .t(key)
                .replace("%{n}", &v.send.queued.to_string())
                .replace("%{skipped}", &v.send.skipped.to_string())
                .replace("%{when}", &s.ctx.minute(v.send.scheduled_at));
            Ok(flash_redirect(&format!("/mail/sends/{}", v.send.id), &message))
        }
        Err(e) => {
            let f = SendForm {
                preview: "1".into(),
                ..f
            };
            send_page(&app, s, f, Some(&e)).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// History

pub struct SendItem {
    pub id: String,
    pub kind: &'static str,
    pub subject: String,
    pub status: &'static str,
    pub scheduled: String,
    pub created: String,
    pub queued: i64,
    pub skipped: i64,
    pub cancellable: bool,
}

impl SendItem {
    fn of(ctx: &Ctx, s: &SendRow) -> Self {
        SendItem {
            id: s.id.clone(),
            kind: s.kind.as_str(),
            subject: s.subject.clone(),
            status: s.status.as_str(),
            scheduled: ctx.minute(s.scheduled_at),
            created: ctx.minute(s.created_at),
            queued: s.queued,
            skipped: s.skipped,
            cancellable: s.status == SendStatus::Scheduled,
        }
    }
}

#[derive(Template)]
#[template(path = "mail_sends.html")]
struct SendsPage {
    ctx: Ctx,
    configured: bool,
    rows: Vec<SendItem>,
    next: Option<String>,
}

async fn sends(State(app): State<App>, s: Session, Query(q): Query<PageQuery>) -> Result<Response, Response> {
    let s = s.with_nav("mail");
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let result = page(
        &s.ctx,
        mail::list_sends(&app, &s.actor, cursor.as_deref(), Some(50)).await,
    )?;
    let rows = result.items.iter().map(|r| SendItem::of(&s.ctx, r)).collect();
    let p = SendsPage {
        configured: configured(&app),
        rows,
        next: result.next_cursor,
        ctx: s.ctx,
    };
    Ok(render(&p).into_response())
}

pub struct MessageLine {
    pub to_name: String,
    pub recipient: String,
    pub from_name: String,
    pub from_addr: String,
    pub status: String,
    pub attempts: i64,
    pub error: String,
    pub sent: String,
}

#[derive(Template)]
#[template(path = "mail_send.html")]
struct SendPage {
    ctx: Ctx,
    send: SendItem,
    /// What the send selected, in words.
    selection: Vec<(String, String)>,
    /// Messages by state, in the states' order.
    counts: Vec<(String, i64)>,
    messages: Vec<MessageLine>,
    next: Option<String>,
    skipped: Vec<SkippedLine>,
    /// The page refreshes itself while the send goes out.
    live: bool,
}

const MESSAGE_STATES: [&str; 6] = ["queued", "sending", "sent", "failed", "bounced", "cancelled"];

async fn show_send(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, Response> {
    let s = s.with_nav("mail");
    let v = page(&s.ctx, mail::get_send(&app, &s.actor, &id).await)?;
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let msgs = page(
        &s.ctx,
        mail::send_messages(&app, &s.actor, &id, cursor.as_deref(), Some(500)).await,
    )?;
    let skipped = page(&s.ctx, mail::send_skipped(&app, &s.actor, &id).await)?;
    let mut selection = Vec::new();
    if v.send.kind == SendKind::OneToOne {
        let sel = &v.send.selection;
        let text = |k: &str| {
            sel.get(k)
                .and_then(|x| x.as_str())
                .filter(|x| !x.is_empty())
                .map(str::to_string)
        };
        if let Some(t) = text("tag_id") {
            let tags = visible_tags(&app, &s.actor).await.unwrap_or_default();
            let names = Names::of_tags(&tags);
            let name = if names.known(&t) { names.get(&t) } else { t };
            selection.push((s.ctx.t("mail.tag"), name));
        }
        if let Some(c) = text("company") {
            selection.push((s.ctx.t("mail.company"), c));
        }
        if let Some(o) = text("owner_id") {
            let users = all_users(&app, &s.actor).await.unwrap_or_default();
            let names = Names::of_users(&users);
            let name = if names.known(&o) { names.get(&o) } else { o };
            selection.push((s.ctx.t("mail.owner"), name));
        }
    }
    let mut counts: Vec<(String, i64)> = MESSAGE_STATES
        .iter()
        .filter_map(|st| v.messages.get(*st).map(|n| (s.ctx.tk("mail.message_status", st), *n)))
        .collect();
    for (st, n) in &v.messages {
        if !MESSAGE_STATES.contains(&st.as_str()) {
            counts.push((st.clone(), *n));
        }
    }
    let messages = msgs
        .items
        .into_iter()
        .map(|m| MessageLine {
            status: {
                let t = s.ctx.tk("mail.message_status", &m.status);
                if t.starts_with('⚠') { m.status.clone() } else { t }
            },
            to_name: m.to_name,
            recipient: m.recipient,
            from_name: m.from_name,
            from_addr: m.from_addr,
            attempts: m.attempts,
            error: m.last_error.unwrap_or_default(),
            sent: m.sent_at.map(|t| s.ctx.minute(t)).unwrap_or_default(),
        })
        .collect();
    let live = v.send.status == SendStatus::Sending
        || (v.send.status == SendStatus::Scheduled && v.send.scheduled_at <= app.now() && configured(&app));
    let p = SendPage {
        send: SendItem::of(&s.ctx, &v.send),
        selection,
        counts,
        messages,
        next: msgs.next_cursor,
        skipped: skipped.into_iter().map(|c| skipped_line(&s.ctx, c)).collect(),
        live,
        ctx: s.ctx,
    };
    Ok(render(&p).into_response())
}

async fn send_csv(State(app): State<App>, s: Session, Path(id): Path<String>) -> Result<Response, Response> {
    let rows = page(&s.ctx, mail::send_skipped(&app, &s.actor, &id).await)?;
    Ok(csv_response(mail::skipped_csv(&rows), "skipped.csv"))
}

async fn cancel_send(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    form::<HashMap<String, String>>(&s, &headers, &body).await?;
    let back = format!("/mail/sends/{id}");
    match mail::cancel(&app, &s.actor, &id).await {
        Ok(_) => Ok(flash_redirect(&back, &s.ctx.t("mail.send_cancelled"))),
        Err(e) if e.kind == ErrorKind::NotFound => Err(super::error_page(&s.ctx, &e)),
        Err(e) => Ok(flash_error_redirect(&back, &mail_message(s.ctx.lang, &e))),
    }
}

// ---------------------------------------------------------------------------------------------
// Settings and the suppression lists (admins)

/// One suppression list as the page shows it.
pub struct ListShown {
    pub kind: &'static str,
    pub entries: Vec<EntryShown>,
}

pub struct EntryShown {
    pub value: String,
    pub reason: String,
    pub added: String,
}

#[derive(Deserialize, Default)]
struct SettingsForm {
    #[serde(default)]
    handover_from: String,
    reminders: Option<String>,
    #[serde(default)]
    daily_limit: String,
    #[serde(default)]
    sending_domain: String,
}

#[derive(Deserialize, Default, Clone)]
struct SuppressionForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "mail_settings.html")]
struct SettingsPage {
    ctx: Ctx,
    configured: bool,
    handover_from: String,
    reminders: bool,
    daily_limit: String,
    sending_domain: String,
    /// The server's own sending domain (`MEISHI_MAIL_FROM_DOMAIN`), used when none is set here.
    server_domain: String,
    lists: Vec<ListShown>,
    add: SuppressionForm,
    error: Option<String>,
    error_field: String,
    /// Which form the error belongs to: "settings" or "suppression".
    error_form: &'static str,
}

async fn settings_page(
    app: &App,
    s: Session,
    typed: Option<SettingsForm>,
    add: SuppressionForm,
    error: Option<(&'static str, &Error)>,
) -> Result<Response, Response> {
    if !s.actor.is_admin() {
        return Err(super::error_page(&s.ctx, &Error::forbidden("admins only")));
    }
    let s = s.with_nav("mail");
    let saved = page(&s.ctx, mail::settings(app, &s.actor).await)?;
    let all = page(&s.ctx, mail::suppressions(app, &s.actor, None).await)?;
    let lists = ["block", "opt_out", "bounce"]
        .into_iter()
        .map(|kind| ListShown {
            kind,
            entries: all
                .iter()
                .filter(|x| x.kind == kind)
                .map(|x| EntryShown {
                    value: x.value.clone(),
                    reason: x.reason.clone(),
                    added: s.ctx.minute(x.created_at),
                })
                .collect(),
        })
        .collect();
    let failed = Failed::of(s.ctx.lang, error.map(|(_, e)| e));
    let (handover_from, reminders, daily_limit, sending_domain) = match typed {
        Some(f) => (f.handover_from, f.reminders.is_some(), f.daily_limit, f.sending_domain),
        None => (
            saved.handover_from,
            saved.reminders,
            saved.daily_limit.to_string(),
            saved.sending_domain.unwrap_or_default(),
        ),
    };
    let p = SettingsPage {
        configured: configured(app),
        handover_from,
        reminders,
        daily_limit,
        sending_domain,
        server_domain: app
            .mail
            .as_ref()
            .and_then(|m| m.config.from_domain.clone())
            .unwrap_or_default(),
        lists,
        add,
        error: failed.message,
        error_field: failed.field,
        error_form: error.map_or("", |(f, _)| f),
        ctx: s.ctx,
    };
    Ok((failed.status, render(&p)).into_response())
}

async fn settings(State(app): State<App>, s: Session) -> Result<Response, Response> {
    settings_page(&app, s, None, SuppressionForm::default(), None).await
}

async fn save_settings(
    State(app): State<App>,
    s: Session,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: SettingsForm = form(&s, &headers, &body).await?;
    let limit = match f.daily_limit.trim().replace(',', "").parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            let e = Error::bad_input("daily_limit", format!("'{}' is not a number", f.daily_limit));
            return settings_page(&app, s, Some(f), SuppressionForm::default(), Some(("settings", &e))).await;
        }
    };
    let patch = SettingsPatch {
        handover_from: Some(f.handover_from.clone()),
        reminders: Some(f.reminders.is_some()),
        daily_limit: Some(limit),
        sending_domain: Some(f.sending_domain.clone()),
    };
    match mail::update_settings(&app, &s.actor, patch).await {
        Ok(_) => Ok(flash_redirect("/mail/settings", &s.ctx.t("mail.settings_saved"))),
        Err(e) => settings_page(&app, s, Some(f), SuppressionForm::default(), Some(("settings", &e))).await,
    }
}

async fn add_suppression(
    State(app): State<App>,
    s: Session,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: SuppressionForm = form(&s, &headers, &body).await?;
    let input = SuppressionInput {
        kind: f.kind.clone(),
        value: f.value.trim().to_string(),
        reason: f.reason.clone(),
    };
    match mail::add_suppression(&app, &s.actor, input).await {
        Ok(x) => Ok(flash_redirect(
            &format!("/mail/settings#list-{}", x.kind),
            &s.ctx
                .t("mail.suppression_added")
                .replace("%{value}", &x.value)
                .replace("%{list}", &s.ctx.tk("mail.list", &x.kind)),
        )),
        Err(e) => settings_page(&app, s, None, f, Some(("suppression", &e))).await,
    }
}

async fn remove_suppression(
    State(app): State<App>,
    s: Session,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: SuppressionForm = form(&s, &headers, &body).await?;
    let back = format!("/mail/settings#list-{}", f.kind);
    match mail::remove_suppression(&app, &s.actor, &f.kind, &f.value).await {
        Ok(()) => Ok(flash_redirect(
            &back,
            &s.ctx
                .t("mail.suppression_removed")
                .replace("%{value}", &f.value)
                .replace("%{list}", &s.ctx.tk("mail.list", &f.kind)),
        )),
        Err(e) if e.kind == ErrorKind::Forbidden => Err(super::error_page(&s.ctx, &e)),
        Err(e) => Ok(flash_error_redirect(&back, &mail_message(s.ctx.lang, &e))),
    }
}
