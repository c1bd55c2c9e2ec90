//! ユーザー管理 (admins): the list with status badges and what each owns; a user's page with
//! suspend / reactivate / delete (showing what blocks a deletion and the ways through).

use super::cards::all_users;
use super::{Ctx, Session, form, page, render};
use crate::domain::lifecycle::Holdings;
use crate::domain::model::User;
use crate::domain::{Error, Role};
use crate::service::{App, lifecycle, users};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;

pub fn router() -> Router<App> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(show))
        .route("/users/{id}/{action}", post(act))
}

fn admin(s: &Session) -> Result<(), Response> {
    if s.actor.is_admin() {
        Ok(())
    } else {
        Err(super::error_page(&s.ctx, &Error::forbidden("admins only")))
    }
}

#[derive(Template)]
#[template(path = "users.html")]
struct ListPage {
    ctx: Ctx,
    users: Vec<User>,
    owned: HashMap<String, Holdings>,
    error: Option<String>,
}

impl ListPage {
    fn counts(&self, id: &str) -> String {
        let o = self.owned.get(id);
        counts_text(
            &self.ctx,
            o.map_or(0, |o| o.cards),
            o.map_or(0, |o| o.contacts),
            o.map_or(0, |o| o.tags),
        )
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

async fn list_page(app: &App, s: Session, error: Option<Error>) -> Result<Response, Response> {
    admin(&s)?;
    let s = s.with_nav("users");
    let users = page(&s.ctx, all_users(app, &s.actor).await)?;
    let owned = page(&s.ctx, lifecycle::holdings_of_all(app, &s.actor).await)?;
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = ListPage {
        users,
        owned,
        error: shown.message,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn list(State(app): State<App>, s: Session) -> Result<Response, Response> {
    list_page(&app, s, None).await
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
        Ok(u) => Ok(Redirect::to(&format!("/users/{}", u.id)).into_response()),
        Err(e) => list_page(&app, s, Some(e)).await,
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    ctx: Ctx,
    user: User,
    owned: Holdings,
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
}

async fn user_page(app: &App, s: Session, id: &str, error: Option<Error>) -> Result<Response, Response> {
    admin(&s)?;
    let s = s.with_nav("users");
    let user = page(&s.ctx, users::get(app, &s.actor, id).await)?;
    let owned = page(&s.ctx, lifecycle::holdings(app, &s.actor, id).await)?;
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = UserPage {
        user,
        owned,
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
    let result = match action.as_str() {
        "suspend" => lifecycle::suspend(&app, &s.actor, &id).await,
        "reactivate" => lifecycle::reactivate(&app, &s.actor, &id).await,
        "restore" => lifecycle::restore(&app, &s.actor, &id).await,
        "delete" => lifecycle::delete(&app, &s.actor, &id, f.get("archive").is_some_and(|v| v == "1")).await,
        _ => Err(Error::not_found("action")),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/users/{id}")).into_response()),
        Err(e) => user_page(&app, s, &id, Some(e)).await,
    }
}
