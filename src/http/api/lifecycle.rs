use crate::domain::Result;
use crate::domain::model::{Organization, User};
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, Params};
use crate::service::{App, lifecycle, orgs};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

/// Suspend a user (停止): every session and token stops at once; the name gains the
/// retired suffix. Idempotent (admins).
#[utoipa::path(operation_id = "lifecycle_suspend", post, path = "/api/v1/users/{id}/suspend", tag = "users",
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn suspend(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<User>> {
    Ok(Json(lifecycle::suspend(&app, &a, &id).await?))
}

/// Reactivate a suspended user; removes exactly the retired suffix. Idempotent (admins).
#[utoipa::path(operation_id = "lifecycle_reactivate", post, path = "/api/v1/users/{id}/reactivate", tag = "users",
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reactivate(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<User>> {
    Ok(Json(lifecycle::reactivate(&app, &a, &id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteParams {
    /// First transfer everything the user owns to the archive account (created if missing).
    #[serde(default)]
    pub archive: bool,
}

/// Delete a user (to the trash). Refused with 409 and the counts while they own cards,
/// contacts or tags, unless `archive=true` (admins).
#[utoipa::path(operation_id = "lifecycle_delete", delete, path = "/api/v1/users/{id}", tag = "users", params(DeleteParams),
    responses((status = 200, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Params(q): Params<DeleteParams>,
) -> Result<Json<User>> {
    Ok(Json(lifecycle::delete(&app, &a, &id, q.archive).await?))
}

/// Bring a deleted user back from the trash, suspended (admins; within the retention period).
#[utoipa::path(operation_id = "lifecycle_restore", post, path = "/api/v1/users/{id}/restore", tag = "users",
    responses((status = 200, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn restore(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<User>> {
    Ok(Json(lifecycle::restore(&app, &a, &id).await?))
}

/// Everything the user owns: cards, contacts, tags, templates (admins, or the user).
#[utoipa::path(operation_id = "lifecycle_export", get, path = "/api/v1/users/{id}/export", tag = "users",
    responses((status = 200, body = lifecycle::UserExport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<lifecycle::UserExport>> {
    Ok(Json(lifecycle::export(&app, &a, &id).await?))
}

/// Create the archive account (退職者の名刺管理用アカウント) if there is none (admins).
#[utoipa::path(operation_id = "lifecycle_create_archive", post, path = "/api/v1/archive-account", tag = "users",
    responses((status = 201, description = "Created", body = User), (status = 200, description = "Already there", body = User)),
    security(("bearer" = [])))]
pub async fn create_archive(State(app): State<App>, Auth(a): Auth) -> Result<(StatusCode, Json<User>)> {
    let (user, created) = lifecycle::archive_account(&app, &a).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(user)))
}

/// The archive account, if the organisation has one.
#[utoipa::path(operation_id = "lifecycle_get_archive", get, path = "/api/v1/archive-account", tag = "users",
    responses((status = 200, body = User), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_archive(State(app): State<App>, Auth(a): Auth) -> Result<Json<User>> {
    Ok(Json(lifecycle::get_archive_account(&app, &a).await?))
}

/// The organisation and its settings.
#[utoipa::path(operation_id = "lifecycle_get_org", get, path = "/api/v1/organization", tag = "organization",
    responses((status = 200, body = Organization)), security(("bearer" = [])))]
pub async fn get_org(State(app): State<App>, Auth(a): Auth) -> Result<Json<Organization>> {
    Ok(Json(orgs::get(&app, &a).await?))
}

/// Change the organisation's settings (admins).
#[utoipa::path(operation_id = "lifecycle_update_org", patch, path = "/api/v1/organization", tag = "organization", request_body = orgs::SettingsPatch,
    responses((status = 200, body = Organization), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "a time zone the server's database lacks", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_org(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<orgs::SettingsPatch>,
) -> Result<Json<Organization>> {
    Ok(Json(orgs::update(&app, &a, b).await?))
}
