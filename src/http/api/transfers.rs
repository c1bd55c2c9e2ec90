use super::users::PageQuery;
use crate::domain::Result;
use crate::domain::model::Page;
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, Params};
use crate::service::App;
use crate::service::transfers::{self, Outcome, Preview, Transfer, TransferRequest, UndoResult};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Transfer cards (所有者変更), or preview with `dry_run: true` (admins).
///
/// Moves the selected cards of `from_user_id` with their contacts to `to_user_id` in one
/// transaction, attaches the previous-owner tag and records an undoable batch.
#[utoipa::path(operation_id = "transfers_create", post, path = "/api/v1/transfers", tag = "transfers", request_body = TransferRequest,
    responses(
        (status = 201, description = "Transferred", body = Transfer),
        (status = 200, description = "Dry run: what would move", body = Preview),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(State(app): State<App>, Auth(a): Auth, Body(b): Body<TransferRequest>) -> Result<Response> {
    Ok(match transfers::transfer(&app, &a, b, &|_| {}).await? {
        Outcome::Preview(p) => (StatusCode::OK, Json(p)).into_response(),
        Outcome::Done(t) => (StatusCode::CREATED, Json(t)).into_response(),
    })
}

/// Transfer batches, newest first (admins).
#[utoipa::path(operation_id = "transfers_list", get, path = "/api/v1/transfers", tag = "transfers", params(PageQuery),
    responses((status = 200, body = Page<Transfer>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(State(app): State<App>, Auth(a): Auth, Params(q): Params<PageQuery>) -> Result<Json<Page<Transfer>>> {
    Ok(Json(transfers::list(&app, &a, q.cursor.as_deref(), q.limit).await?))
}

/// One transfer batch (admins).
#[utoipa::path(operation_id = "transfers_get", get, path = "/api/v1/transfers/{id}", tag = "transfers",
    responses((status = 200, body = Transfer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Transfer>> {
    Ok(Json(transfers::get(&app, &a, &id).await?))
}

/// Undo a transfer: its cards go back, except those moved again since (admins; once).
#[utoipa::path(operation_id = "transfers_undo", post, path = "/api/v1/transfers/{id}/undo", tag = "transfers",
    responses((status = 200, body = UndoResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn undo(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<UndoResult>> {
    Ok(Json(transfers::undo(&app, &a, &id, &|_| {}).await?))
}
