//! 組織設定 (admins): time zone, retired suffix, suspension time, trash retention, the
//! previous-owner tag format, automatic plan execution; the archive account.

use super::{Ctx, Session, form, page, render};
use crate::domain::Error;
use crate::domain::model::{Organization, User};
use crate::service::{App, lifecycle, orgs};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub fn router() -> Router<App> {
    Router::new()
        .route("/settings", get(show).post(save))
        .route("/settings/archive", post(archive))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    ctx: Ctx,
    org: Organization,
    archive: Option<User>,
    error: Option<String>,
    error_field: String,
}

/// The page, with the error of a post that changed nothing (a post that changed something
/// redirects here with its message: `super::flash_redirect`).
async fn settings_page(app: &App, s: Session, error: Option<Error>) -> Result<Response, Response> {
    if !s.actor.is_admin() {
        return Err(super::error_page(&s.ctx, &Error::forbidden("admins only")));
    }
    let s = s.with_nav("settings");
    let org = page(&s.ctx, orgs::get(app, &s.actor).await)?;
    let archive = lifecycle::get_archive_account(app, &s.actor).await.ok();
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let p = SettingsPage {
        org,
        archive,
        error: shown.message,
        error_field: shown.field,
        ctx: s.ctx,
    };
    Ok((status, render(&p)).into_response())
}

async fn show(State(app): State<App>, s: Session) -> Result<Response, Response> {
    settings_page(&app, s, None).await
}

#[derive(Deserialize)]
struct SettingsForm {
    name: String,
    time_zone: String,
    retired_suffix: String,
    suspend_at: String,
    trash_days: String,
    previous_owner_tag_format: String,
    execute_plan_before_suspension: Option<String>,
}

async fn save(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: SettingsForm = form(&s, &headers, &body).await?;
    let trash_days = match f.trash_days.trim().parse::<i64>() {
        Ok(d) => d,
        Err(_) => return settings_page(&app, s, Some(Error::bad_input("trash_days", "not a number"))).await,
    };
    let patch = orgs::SettingsPatch {
        name: Some(f.name),
        time_zone: Some(f.time_zone),
        retired_suffix: Some(f.retired_suffix),
        suspend_at: Some(f.suspend_at),
        trash_days: Some(trash_days),
        previous_owner_tag_format: Some(f.previous_owner_tag_format),
        execute_plan_before_suspension: Some(f.execute_plan_before_suspension.is_some()),
    };
    match orgs::update(&app, &s.actor, patch).await {
        Ok(_) => Ok(super::flash_redirect("/settings", &s.ctx.t("settings.saved"))),
        Err(e) => settings_page(&app, s, Some(e)).await,
    }
}

async fn archive(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    form::<std::collections::HashMap<String, String>>(&s, &headers, &body).await?;
    match lifecycle::archive_account(&app, &s.actor).await {
        Ok(_) => Ok(super::flash_redirect("/settings", &s.ctx.t("settings.archive_created"))),
        Err(e) => settings_page(&app, s, Some(e)).await,
    }
}
