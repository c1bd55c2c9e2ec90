//! 名刺: list with search and filters, a card's page with contacts and tags, create and edit.

use super::news::NewsRow;
use super::{Ctx, Session, flash_error_redirect, flash_redirect, form, page, render};
use crate::domain::model::{Card, Contact, Tag, User};
use crate::domain::person::CareerStep;
use crate::domain::{ContactKind, Result};
use crate::service::people::{self, Candidate, HeldCard, HistoryEntry};
use crate::service::{Actor, App, cards, users};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<App> {
    Router::new()
        .route("/cards", get(list).post(create))
        .route("/cards/new", get(new_form))
        .route("/cards/{id}", get(show).post(update))
        .route("/cards/{id}/delete", post(delete))
        .route("/cards/{id}/contacts", post(add_contact))
        .route("/cards/{id}/tags", post(attach))
        .route("/cards/{id}/tags/{tag}/detach", post(detach))
        .route("/cards/{id}/split", post(split))
        .route("/cards/{id}/candidates/{cid}/{decision}", post(decide))
}

/// Every user of the organisation, for names and pickers.
pub async fn all_users(app: &App, actor: &Actor) -> Result<Vec<User>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = users::list(app, actor, cursor.as_deref(), Some(500)).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

pub async fn visible_tags(app: &App, actor: &Actor) -> Result<Vec<Tag>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = cards::list_tags(app, actor, cursor.as_deref(), Some(500)).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

pub struct Names(HashMap<String, String>);

impl Names {
    pub fn of_users(users: &[User]) -> Self {
        Names(users.iter().map(|u| (u.id.clone(), u.display_name.clone())).collect())
    }
    pub fn of_tags(tags: &[Tag]) -> Self {
        Names(tags.iter().map(|t| (t.id.clone(), t.name.clone())).collect())
    }
    pub fn get(&self, id: &str) -> String {
        self.0.get(id).cloned().unwrap_or_default()
    }
    pub fn known(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    owner: Option<String>,
    tag: Option<String>,
    company: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    /// Cards per page, 50 unless given (1–500).
    limit: Option<u64>,
}

/// The orders the list offers, the default first.
const SORTS: [cards::CardSort; 3] = [
    cards::CardSort::Exchanged,
    cards::CardSort::Company,
    cards::CardSort::Name,
];

#[derive(Template)]
#[template(path = "cards.html")]
struct ListPage {
    ctx: Ctx,
    cards: Vec<Card>,
    users: Vec<User>,
    tags: Vec<Tag>,
    user_names: Names,
    tag_names: Names,
    q: String,
    owner: String,
    tag: String,
    company: String,
    sort: &'static str,
    sorts: Vec<&'static str>,
    total: u64,
    limit: Option<u64>,
    next: Option<String>,
}

impl ListPage {
    fn next_href(&self, cursor: &str) -> String {
        let e = super::urlencode;
        format!(
            "/cards?q={}&owner={}&tag={}&company={}&sort={}&cursor={}{}",
            e(&self.q),
            e(&self.owner),
            e(&self.tag),
            e(&self.company),
            self.sort,
            e(cursor),
            self.limit.map(|l| format!("&limit={l}")).unwrap_or_default()
        )
    }
    fn total_text(&self) -> String {
        self.ctx.t("cards.total").replace("%{n}", &self.total.to_string())
    }
    fn date(&self, c: &Card) -> String {
        c.exchanged_on.map(|d| d.to_string()).unwrap_or_default()
    }
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

async fn list(State(app): State<App>, s: Session, Query(q): Query<ListQuery>) -> Result<Response, Response> {
    let s = s.with_nav("cards");
    let sort = match nonempty(&q.sort) {
        None => SORTS[0],
        Some(raw) => page(&s.ctx, cards::CardSort::parse("sort", raw))?,
    };
    let query = cards::CardQuery {
        owner_id: nonempty(&q.owner),
        tag_id: nonempty(&q.tag),
        company: nonempty(&q.company),
        q: nonempty(&q.q),
        sort,
        cursor: nonempty(&q.cursor),
        limit: Some(q.limit.unwrap_or(50)),
    };
    let total = page(&s.ctx, cards::count(&app, &s.actor, &query).await)?;
    let result = page(&s.ctx, cards::list(&app, &s.actor, query).await)?;
    let users = page(&s.ctx, all_users(&app, &s.actor).await)?;
    let tags = page(&s.ctx, visible_tags(&app, &s.actor).await)?;
    let p = ListPage {
        user_names: Names::of_users(&users),
        tag_names: Names::of_tags(&tags),
        users,
        tags,
        cards: result.items,
        next: result.next_cursor,
        q: q.q.unwrap_or_default(),
        owner: q.owner.unwrap_or_default(),
        tag: q.tag.unwrap_or_default(),
        company: q.company.unwrap_or_default(),
        sort: sort.as_str(),
        sorts: SORTS.iter().map(|s| s.as_str()).collect(),
        total,
        limit: q.limit,
        ctx: s.ctx,
    };
    Ok(render(&p).into_response())
}

#[derive(Template)]
#[template(path = "card_new.html")]
struct NewPage {
    ctx: Ctx,
    error: Option<String>,
    error_field: String,
}

async fn new_form(s: Session) -> impl IntoResponse {
    render(&NewPage {
        ctx: s.with_nav("cards").ctx,
        error: None,
        error_field: String::new(),
    })
}

#[derive(Deserialize)]
struct CardForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    name_reading: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    fax: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    exchanged_on: String,
}

async fn create(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let s = s.with_nav("cards");
    let f: CardForm = form(&s, &headers, &body).await?;
    let n = cards::NewCard {
        owner_id: None,
        full_name: f.full_name,
        name_reading: f.name_reading,
        company: f.company,
        department: f.department,
        title: f.title,
        email: f.email,
        phone: f.phone,
        mobile: f.mobile,
        fax: f.fax,
        postal_code: f.postal_code,
        address: f.address,
        url: f.url,
        exchanged_on: Some(f.exchanged_on),
    };
    match cards::create(&app, &s.actor, n).await {
        Ok(card) => Ok(flash_redirect(
            &format!("/cards/{}", card.id),
            &s.ctx.t("cards.created"),
        )),
        Err(e) => {
            let page = NewPage {
                error: Some(super::message(s.ctx.lang, &e)),
                error_field: e.field.unwrap_or_default(),
                ctx: s.ctx,
            };
            Ok((crate::http::error::status(e.kind), render(&page)).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    ctx: Ctx,
    card: Card,
    owner: String,
    contacts: Vec<Contact>,
    authors: Names,
    tags: Vec<Tag>,
    tag_names: Names,
    editable: bool,
    error: Option<String>,
    error_field: String,
    kinds: Vec<&'static str>,
    /// The person's other cards (newest first), with who holds them.
    others: Vec<HeldCard>,
    career: Vec<CareerStep>,
    candidates: Vec<Candidate>,
    /// The admin or the card's owner: may confirm, reject and split.
    may_decide: bool,
    /// The split button was pressed: ask before splitting.
    confirm_split: bool,
    history: Vec<Changed>,
    news: Vec<NewsRow>,
}

/// One change of the card as the history shows it: when, who, why, and each field's
/// value before and after.
struct Changed {
    when: String,
    who: String,
    why: String,
    fields: Vec<(String, String, String)>,
}

impl Changed {
    fn of(ctx: &Ctx, names: &Names, h: HistoryEntry) -> Self {
        let text = |v: &serde_json::Value, f: &str| match &v[f] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        let fields = h
            .after
            .as_object()
            .map(|after| {
                after
                    .keys()
                    .map(|f| (ctx.tk("field", f), text(&h.before, f), text(&h.after, f)))
                    .collect()
            })
            .unwrap_or_default();
        let why = ctx.tk("history.reason", &h.reason);
        Changed {
            when: ctx.minute(h.at),
            who: h
                .actor_id
                .as_deref()
                .map(|a| names.get(a))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| ctx.t("history.system")),
            why: if why.starts_with('⚠') { h.reason } else { why },
            fields,
        }
    }
}

impl CardPage {
    fn reason(&self, c: &Candidate) -> String {
        self.ctx.tk("person.reason", c.reason.as_str())
    }
    fn held_date(&self, h: &HeldCard) -> String {
        h.card.exchanged_on.map(|d| d.to_string()).unwrap_or_default()
    }
    fn date(&self) -> String {
        self.card.exchanged_on.map(|d| d.to_string()).unwrap_or_default()
    }
    fn when(&self, c: &Contact) -> String {
        self.ctx.minute(c.occurred_at)
    }
}

async fn card_page(app: &App, s: Session, id: &str, error: Option<crate::domain::Error>) -> Result<Response, Response> {
    card_page_with(app, s, id, error, false).await
}

async fn card_page_with(
    app: &App,
    s: Session,
    id: &str,
    error: Option<crate::domain::Error>,
    confirm_split: bool,
) -> Result<Response, Response> {
    let s = s.with_nav("cards");
    let card = page(&s.ctx, cards::get(app, &s.actor, id).await)?;
    let person = page(&s.ctx, people::person(app, &s.actor, id).await)?;
    let history = page(&s.ctx, people::history(app, &s.actor, id).await)?;
    let editable = s.actor.is_admin() || card.owner_id == s.actor.user_id;
    // The card's open news, for whoever may act on it (its owner, an administrator).
    let news = if editable {
        let q = people::NewsQuery {
            card_id: Some(id.to_string()),
            limit: Some(100),
            ..Default::default()
        };
        let items = page(&s.ctx, people::list_news(app, &s.actor, q).await)?.items;
        items
            .into_iter()
            .map(|n| NewsRow {
                selectable: false,
                ..NewsRow::of(&s.ctx, n)
            })
            .collect()
    } else {
        Vec::new()
    };
    let contacts = page(&s.ctx, cards::list_contacts(app, &s.actor, id, None, Some(500)).await)?.items;
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let tags = page(&s.ctx, visible_tags(app, &s.actor).await)?;
    let names = Names::of_users(&users);
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let mut history: Vec<Changed> = history.into_iter().map(|h| Changed::of(&s.ctx, &names, h)).collect();
    history.reverse(); // newest first
    let others: Vec<HeldCard> = person.cards.into_iter().filter(|h| h.card.id != card.id).collect();
    let p = CardPage {
        owner: names.get(&card.owner_id),
        editable,
        may_decide: editable,
        confirm_split: confirm_split && editable && !others.is_empty(),
        others,
        career: person.career,
        candidates: person.candidates,
        history,
        news,
        tag_names: Names::of_tags(&tags),
        tags,
        authors: names,
        contacts,
        card,
        error: shown.message,
        error_field: shown.field,
        kinds: ContactKind::ALL.iter().map(|k| k.as_str()).collect(),
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn show(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let confirm_split = q.get("confirm").is_some_and(|c| c == "split");
    card_page_with(&app, s, &id, None, confirm_split).await
}

/// A person decision failed: back to the card with the reason (forbidden and not found are
/// the error page).
fn decision_failed(s: &Session, id: &str, e: &crate::domain::Error) -> Result<Response, Response> {
    use crate::domain::ErrorKind;
    if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Forbidden) {
        return Err(super::error_page(&s.ctx, e));
    }
    let message = if e.kind == ErrorKind::Conflict && s.ctx.lang == super::Lang::Ja {
        s.ctx.t("person.already_decided")
    } else {
        super::message(s.ctx.lang, e)
    };
    Ok(flash_error_redirect(&format!("/cards/{id}#person"), &message))
}

/// この名刺を別人として分ける (after the confirm step on the card page).
async fn split(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    form::<HashMap<String, String>>(&s, &headers, &body).await?;
    match people::split(&app, &s.actor, &id).await {
        Ok(_) => Ok(flash_redirect(
            &format!("/cards/{id}#person"),
            &s.ctx.t("person.split_done"),
        )),
        Err(e) => decision_failed(&s, &id, &e),
    }
}

/// 同一人物としてまとめる (`confirm`) or 別人として扱う (`reject`) a candidate of the card's person.
async fn decide(
    State(app): State<App>,
    s: Session,
    Path((id, cid, decision)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    form::<HashMap<String, String>>(&s, &headers, &body).await?;
    let confirm = match decision.as_str() {
        "confirm" => true,
        "reject" => false,
        _ => return Err(super::error_page(&s.ctx, &crate::domain::Error::not_found("decision"))),
    };
    match people::decide(&app, &s.actor, &cid, confirm).await {
        Ok(()) => {
            let key = if confirm { "person.confirmed" } else { "person.rejected" };
            Ok(flash_redirect(&format!("/cards/{id}#person"), &s.ctx.t(key)))
        }
        Err(e) => decision_failed(&s, &id, &e),
    }
}

async fn update(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: CardForm = form(&s, &headers, &body).await?;
    let p = cards::CardPatch {
        full_name: Some(f.full_name),
        name_reading: Some(f.name_reading),
        company: Some(f.company),
        department: Some(f.department),
        title: Some(f.title),
        email: Some(f.email),
        phone: Some(f.phone),
        mobile: Some(f.mobile),
        fax: Some(f.fax),
        postal_code: Some(f.postal_code),
        address: Some(f.address),
        url: Some(f.url),
        exchanged_on: Some(Some(f.exchanged_on).filter(|d| !d.trim().is_empty())),
    };
    match cards::update(&app, &s.actor, &id, p).await {
        Ok(_) => Ok(flash_redirect(&format!("/cards/{id}"), &s.ctx.t("cards.saved"))),
        Err(e) => card_page(&app, s, &id, Some(e)).await,
    }
}

async fn delete(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    form::<HashMap<String, String>>(&s, &headers, &body).await?;
    page(&s.ctx, cards::delete(&app, &s.actor, &id).await)?;
    Ok(flash_redirect("/cards", &s.ctx.t("cards.deleted")))
}

#[derive(Deserialize)]
struct ContactForm {
    kind: String,
    #[serde(default)]
    body: String,
}

async fn add_contact(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: ContactForm = form(&s, &headers, &body).await?;
    let result = match ContactKind::parse("kind", &f.kind) {
        Ok(kind) => cards::add_contact(
            &app,
            &s.actor,
            &id,
            cards::NewContact {
                kind,
                occurred_at: None,
                body: f.body,
            },
        )
        .await
        .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(flash_redirect(
            &format!("/cards/{id}#contacts"),
            &s.ctx.t("cards.contact_added"),
        )),
        Err(e) => card_page(&app, s, &id, Some(e)).await,
    }
}

#[derive(Deserialize)]
struct TagForm {
    #[serde(default)]
    tag_id: String,
    #[serde(default)]
    new_tag: String,
}

async fn attach(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let f: TagForm = form(&s, &headers, &body).await?;
    let result = async {
        let tag_id = if f.new_tag.trim().is_empty() {
            f.tag_id
        } else {
            cards::create_tag(
                &app,
                &s.actor,
                cards::NewTag {
                    name: f.new_tag,
                    shared: false,
                },
            )
            .await?
            .id
        };
        cards::attach_tag(&app, &s.actor, &id, &tag_id).await
    }
    .await;
    match result {
        Ok(_) => Ok(flash_redirect(&format!("/cards/{id}"), &s.ctx.t("cards.tag_attached"))),
        Err(e) => card_page(&app, s, &id, Some(e)).await,
    }
}

async fn detach(
    State(app): State<App>,
    s: Session,
    Path((id, tag)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    form::<HashMap<String, String>>(&s, &headers, &body).await?;
    page(&s.ctx, cards::detach_tag(&app, &s.actor, &id, &tag).await)?;
    Ok(flash_redirect(&format!("/cards/{id}"), &s.ctx.t("cards.tag_detached")))
}
