use crate::domain::Result;
use crate::domain::model::{Page, User};
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, Params};
use crate::service::{App, users};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    #[param(schema_with = crate::http::document::id_cursor)]
    pub cursor: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Create a user (admins).
#[utoipa::path(operation_id = "users_create", post, path = "/api/v1/users", tag = "users", request_body = users::NewUser,
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<users::NewUser>,
) -> Result<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(users::create(&app, &a, b).await?)))
}

/// List the organisation's users.
#[utoipa::path(operation_id = "users_list", get, path = "/api/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = Page<User>)), security(("bearer" = [])))]
pub async fn list(State(app): State<App>, Auth(a): Auth, Params(q): Params<PageQuery>) -> Result<Json<Page<User>>> {
    Ok(Json(users::list(&app, &a, q.cursor.as_deref(), q.limit).await?))
}

/// One user.
#[utoipa::path(operation_id = "users_get", get, path = "/api/v1/users/{id}", tag = "users",
    responses((status = 200, body = User), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<User>> {
    Ok(Json(users::get(&app, &a, &id).await?))
}

/// Change a user: admins anything; members their own display name and password. Changing
/// one's own password needs `current_password` (wrong ones count like wrong sign-ins: 429
/// after a few); any password change ends every other session and API token of the user.
#[utoipa::path(operation_id = "users_update", patch, path = "/api/v1/users/{id}", tag = "users", request_body = users::UserPatch,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, description = "too many wrong current passwords: wait `Retry-After` seconds", body = ErrorBody,
            headers(("Retry-After" = i64, description = "seconds to wait")))),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Body(b): Body<users::UserPatch>,
) -> Result<Json<User>> {
    Ok(Json(users::update(&app, &a, &id, b).await?))
}
