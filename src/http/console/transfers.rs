//! 所有者変更 (admins): the form with a dry-run preview before the real run; history with undo.
//! A run and an undo redirect (303) with their message, so a reload never runs them again; a
//! run lands on `/transfers?done=<id>`, which shows that batch's result from its record.

use super::cards::{Names, all_users, visible_tags};
use super::{Ctx, Session, form, page, render};
use crate::domain::Error;
use crate::domain::model::{Tag, User};
use crate::domain::transfer::SelectionInput;
use crate::service::App;
use crate::service::transfers::{self, Outcome, Preview, Transfer, TransferRequest};
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
}

impl TransfersPage {
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
}

async fn transfers_page(
    app: &App,
    s: Session,
    f: TransferForm,
    preview: Option<Preview>,
    done: Option<Transfer>,
    error: Option<Error>,
) -> Result<Response, Response> {
    if !s.actor.is_admin() {
        return Err(super::error_page(&s.ctx, &Error::forbidden("admins only")));
    }
    let s = s.with_nav("transfers");
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let tags = page(&s.ctx, visible_tags(app, &s.actor).await)?;
    let history = page(&s.ctx, transfers::list(app, &s.actor, None, Some(100)).await)?.items;
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = TransfersPage {
        names: Names::of_users(&users),
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

async fn show(
    State(app): State<App>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let f = TransferForm {
        from: q.get("from").cloned().unwrap_or_default(),
        ..Default::default()
    };
    let done = match q.get("done").filter(|id| !id.is_empty()) {
        Some(id) => Some(page(&s.ctx, transfers::get(&app, &s.actor, id).await)?),
        None => None,
    };
    transfers_page(&app, s, f, None, done, None).await
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
