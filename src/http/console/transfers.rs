//! 所有者変更 (admins): the form with a dry-run preview before the real run; history with undo.
//! A run and an undo redirect (303) with their message, so a reload never runs them again; a
//! run lands on `/transfers?done=<id>`, which shows that batch's result from its record.

use super::cards::{Names, all_users, visible_tags};
use super::{Ctx, Session, form, page, render};
use crate::domain::Error;
use crate::domain::model::{Card, Tag, User};
use crate::domain::transfer::SelectionInput;
use crate::service::transfers::{self, Outcome, Preview, Transfer, TransferRequest};
use crate::service::{App, cards};
use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<App> {
    Router::new()
        .route("/transfers", get(show).post(run))
        .route("/transfers/{id}/undo", post(undo))
}

#[derive(Deserialize, Default, Clone)]
struct TransferForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    company: String,
    /// Chosen on the cards list: card ids, comma-separated.
    #[serde(default)]
    card_ids: String,
    #[serde(default)]
    include_tags: Option<String>,
    #[serde(default)]
    confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "transfers.html")]
struct TransfersPage {
    ctx: Ctx,
    users: Vec<User>,
    tags: Vec<Tag>,
    names: Names,
    history: Vec<Transfer>,
    f: TransferForm,
    preview: Option<Preview>,
    done: Option<Transfer>,
    error: Option<String>,
    /// The cards chosen on the cards list, when the page was opened with them.
    chosen: Vec<Card>,
}

impl TransfersPage {
    fn chosen_count(&self) -> String {
        self.ctx.t("transfers.chosen_n").replace(
            "%{n}",
            &self.f.card_ids.split(',').filter(|i| !i.is_empty()).count().to_string(),
        )
    }
    fn counts(&self, cards: i64, contacts: i64, tags: i64, key: &str) -> String {
        self.ctx
            .t(key)
            .replace("%{cards}", &cards.to_string())
            .replace("%{contacts}", &contacts.to_string())
            .replace("%{tags}", &tags.to_string())
    }
    fn would_move(&self, p: &Preview) -> String {
        self.counts(p.cards, p.contacts, p.tags, "transfers.would_move")
            .replace("%{tag}", &p.tag_name)
    }
    fn moved(&self, t: &Transfer) -> String {
        self.counts(t.cards, t.contacts, t.tags, "transfers.moved")
    }
    fn short(&self, t: &Transfer) -> String {
        self.counts(t.cards, t.contacts, t.tags, "transfers.counts_short")
    }
    fn undone(&self, t: &Transfer) -> String {
        self.ctx
            .t("transfers.undone")
            .replace("%{restored}", &t.restored.unwrap_or(0).to_string())
            .replace("%{skipped}", &t.skipped.unwrap_or(0).to_string())
    }
    fn when(&self, t: &Transfer) -> String {
        self.ctx.minute(t.created_at)
    }
    fn checked(&self, mode: &str) -> bool {
        self.f.mode == mode || (self.f.mode.is_empty() && mode == "all")
    }
    fn owner_of(&self, c: &Card) -> String {
        self.names.get(&c.owner_id)
    }
}

async fn transfers_page(
    app: &App,
    s: Session,
    f: TransferForm,
    preview: Option<Preview>,
    done: Option<Transfer>,
    error: Option<Error>,
) -> Result<Response, Response> {
    transfers_page_with(app, s, f, preview, done, error, vec![]).await
}

async fn transfers_page_with(
    app: &App,
    s: Session,
    f: TransferForm,
    preview: Option<Preview>,
    done: Option<Transfer>,
    error: Option<Error>,
    chosen: Vec<Card>,
) -> Result<Response, Response> {
    if !s.actor.is_admin() {
        return Err(super::error_page(&s.ctx, &Error::forbidden("admins only")));
    }
    let s = s.with_nav("transfers");
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let tags = page(&s.ctx, visible_tags(app, &s.actor).await)?;
    let history = page(&s.ctx, transfers::list(app, &s.actor, None, Some(100)).await)?.items;
    let names = Names::of_users(&users);
    let mut shown = super::shown(s.ctx.lang, error.as_ref());
    match shown.field.as_str() {
        "selection.card_ids" => shown.message = Some(s.ctx.t("transfers.chosen_not_of_owner")),
        "chosen_missing" => shown.message = Some(s.ctx.t("transfers.chosen_missing")),
        "chosen_owners" => {
            // Each owner with how many of the chosen cards they hold.
            let mut owners: Vec<(String, usize)> = Vec::new();
            for c in &chosen {
                match owners.iter_mut().find(|(o, _)| *o == c.owner_id) {
                    Some((_, n)) => *n += 1,
                    None => owners.push((c.owner_id.clone(), 1)),
                }
            }
            let list: Vec<String> = owners.iter().map(|(o, n)| format!("{} ({n})", names.get(o))).collect();
            shown.message = Some(
                s.ctx
                    .t("transfers.chosen_owners")
                    .replace("%{owners}", &list.join(", ")),
            );
        }
        _ => {}
    }
    let status = shown.status;
    let p = TransfersPage {
        chosen,
        names,
        users,
        tags,
        history,
        f,
        preview,
        done,
        error: shown.message,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn show(State(app): State<App>, s: Session, RawQuery(raw): RawQuery) -> Result<Response, Response> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let from = pairs.iter().find(|(k, _)| k == "from").map(|(_, v)| v.clone());
    let done = pairs.iter().find(|(k, _)| k == "done").map(|(_, v)| v.clone());
    let mut ids: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "card")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    ids.dedup();
    let mut f = TransferForm {
        from: from.unwrap_or_default(),
        ..Default::default()
    };
    if ids.is_empty() {
        // After a run: its result, read back from the batch (a reload shows it again, runs nothing).
        let done = match done.filter(|id| !id.is_empty()) {
            Some(id) => Some(page(&s.ctx, transfers::get(&app, &s.actor, &id).await)?),
            None => None,
        };
        return transfers_page(&app, s, f, None, done, None).await;
    }
    // Cards chosen on the cards list: they move from their one owner.
    let chosen = page(&s.ctx, cards::get_many(&app, &s.actor, &ids).await)?;
    f.mode = "cards".into();
    f.card_ids = chosen.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(",");
    let mut owners: Vec<&str> = chosen.iter().map(|c| c.owner_id.as_str()).collect();
    owners.sort_unstable();
    owners.dedup();
    let error = if chosen.len() < ids.len() {
        Some(Error::unprocessable("some of the chosen cards no longer exist").with_field("chosen_missing"))
    } else if owners.len() > 1 {
        Some(Error::unprocessable("the chosen cards belong to several owners").with_field("chosen_owners"))
    } else {
        None
    };
    if let [owner] = owners.as_slice() {
        f.from = owner.to_string();
    }
    transfers_page_with(&app, s, f, None, None, error, chosen).await
}

async fn run(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: TransferForm = form(&s, &headers, &body).await?;
    let selection = match f.mode.as_str() {
        "tag" => SelectionInput {
            tag_id: Some(f.tag.clone()),
            ..Default::default()
        },
        "company" => SelectionInput {
            company: Some(f.company.clone()),
            ..Default::default()
        },
        "cards" => SelectionInput {
            card_ids: Some(
                f.card_ids
                    .split(',')
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            ..Default::default()
        },
        _ => SelectionInput {
            all: Some(true),
            ..Default::default()
        },
    };
    let dry_run = f.confirm.is_none();
    let req = TransferRequest {
        from_user_id: f.from.clone(),
        to_user_id: f.to.clone(),
        selection,
        include_tags: f.include_tags.is_some(),
        dry_run,
    };
    match transfers::transfer(&app, &s.actor, req, &|_| {}).await {
        Ok(Outcome::Preview(p)) => transfers_page(&app, s, f, Some(p), None, None).await,
        Ok(Outcome::Done(t)) => Ok(super::flash_redirect(
            &format!("/transfers?done={}", super::urlencode(&t.id)),
            &s.ctx.t("transfers.run_done"),
        )),
        Err(e) => transfers_page(&app, s, f, None, None, Some(e)).await,
    }
}

async fn undo(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    form::<HashMap<String, String>>(&s, &headers, &body).await?;
    match transfers::undo(&app, &s.actor, &id, &|_| {}).await {
        Ok(u) => {
            let message = s
                .ctx
                .t("transfers.undo_done")
                .replace("%{restored}", &u.restored.to_string())
                .replace("%{skipped}", &u.skipped.to_string());
            Ok(super::flash_redirect("/transfers", &message))
        }
        Err(e) => transfers_page(&app, s, TransferForm::default(), None, None, Some(e)).await,
    }
}
