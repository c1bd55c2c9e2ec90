use crate::domain::Result;
use crate::domain::departure::Departure;
use crate::domain::departure::Plan;
use crate::domain::departure::Readiness;
use crate::domain::model::Page;
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, Params};
use crate::service::App;
use crate::service::departures::{self as svc, DeparturePatch, Execution, NewDeparture, PlanInput};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DepartureParams {
    /// upcoming (scheduled, suspension ahead), planned (upcoming and not flagged), overdue
    /// (scheduled, suspension passed), needs_action (suspended while still holding, flagged, or
    /// overdue: the desk's 要対応), done or cancelled
    #[param(schema_with = crate::http::document::departure_status)]
    pub status: Option<String>,
    /// Only departures flagged as not ready close to their last working day.
    #[serde(default)]
    pub attention: bool,
    #[param(schema_with = crate::http::document::offset_cursor)]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExecuteParams {
    /// Report what would be transferred, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Register a departure (退職・出向) (admins).
#[utoipa::path(operation_id = "departures_create", post, path = "/api/v1/departures", tag = "departures", request_body = NewDeparture,
    responses((status = 201, body = Departure), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<NewDeparture>,
) -> Result<(StatusCode, Json<Departure>)> {
    Ok((StatusCode::CREATED, Json(svc::create(&app, &a, b).await?)))
}

/// Departures, soonest suspension first (admins: all; members: their own).
#[utoipa::path(operation_id = "departures_list", get, path = "/api/v1/departures", tag = "departures", params(DepartureParams),
    responses((status = 200, body = Page<Departure>), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    Auth(a): Auth,
    Params(q): Params<DepartureParams>,
) -> Result<Json<Page<Departure>>> {
    let q = svc::DepartureQuery {
        status: q.status.as_deref(),
        attention: q.attention,
        cursor: q.cursor.as_deref(),
        limit: q.limit,
    };
    Ok(Json(svc::list(&app, &a, q).await?))
}

/// One departure (admins, or the departing user).
#[utoipa::path(operation_id = "departures_get", get, path = "/api/v1/departures/{id}", tag = "departures",
    responses((status = 200, body = Departure), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Departure>> {
    Ok(Json(svc::get(&app, &a, &id).await?))
}

/// Change a scheduled departure's dates, kind, default successor or suspension time (admins).
#[utoipa::path(operation_id = "departures_update", patch, path = "/api/v1/departures/{id}", tag = "departures", request_body = DeparturePatch,
    responses((status = 200, body = Departure), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Body(b): Body<DeparturePatch>,
) -> Result<Json<Departure>> {
    Ok(Json(svc::update(&app, &a, &id, b).await?))
}

/// Cancel a scheduled departure (admins).
#[utoipa::path(operation_id = "departures_cancel", delete, path = "/api/v1/departures/{id}", tag = "departures",
    responses((status = 200, body = Departure), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn cancel(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Departure>> {
    Ok(Json(svc::cancel(&app, &a, &id).await?))
}

/// The handover plan (引き継ぎ計画).
#[utoipa::path(operation_id = "departures_get_plan", get, path = "/api/v1/departures/{id}/plan", tag = "departures",
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_plan(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Plan>> {
    Ok(Json(svc::plan(&app, &a, &id).await?))
}

/// Report the handover plan: which successor takes which cards (the departing user or an
/// admin; until approved).
#[utoipa::path(operation_id = "departures_report_plan", put, path = "/api/v1/departures/{id}/plan", tag = "departures", request_body = PlanInput,
    responses((status = 200, body = Plan), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report_plan(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Body(b): Body<PlanInput>,
) -> Result<Json<Plan>> {
    Ok(Json(svc::report_plan(&app, &a, &id, b).await?))
}

/// Approve the reported plan; it is frozen from then on (admins).
#[utoipa::path(operation_id = "departures_approve_plan", post, path = "/api/v1/departures/{id}/plan/approve", tag = "departures",
    responses((status = 200, body = Plan), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn approve_plan(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Plan>> {
    Ok(Json(svc::approve_plan(&app, &a, &id).await?))
}

/// Why a reported plan goes back to the user.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    /// Shown to the user on their handover page.
    #[schema(min_length = 1, max_length = 1000)]
    pub comment: String,
}

/// Send the reported plan back (差し戻し) with a comment the user sees (admins).
#[utoipa::path(operation_id = "departures_return_plan", post, path = "/api/v1/departures/{id}/plan/return", tag = "departures", request_body = ReturnInput,
    responses((status = 200, body = Departure), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn return_plan(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Body(b): Body<ReturnInput>,
) -> Result<Json<Departure>> {
    Ok(Json(svc::return_plan(&app, &a, &id, &b.comment).await?))
}

/// Ask the departing user to report their plan; they see it on every page (admins).
#[utoipa::path(operation_id = "departures_request_plan", post, path = "/api/v1/departures/{id}/plan/request", tag = "departures",
    responses((status = 200, body = Departure), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_plan(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Departure>> {
    Ok(Json(svc::request_plan(&app, &a, &id).await?))
}

/// Execute the approved plan's transfers now, each an undoable batch (admins): before the
/// suspension, or after it while the departure needs action (again, for what the user holds
/// since the plan ran).
#[utoipa::path(operation_id = "departures_execute_plan", post, path = "/api/v1/departures/{id}/plan/execute", tag = "departures", params(ExecuteParams),
    responses((status = 200, body = Execution), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn execute_plan(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Params(q): Params<ExecuteParams>,
) -> Result<Json<Execution>> {
    Ok(Json(svc::execute_plan(&app, &a, &id, q.dry_run).await?))
}

/// Readiness (引き継ぎ状況): what still blocks a clean departure, with counts.
#[utoipa::path(operation_id = "departures_readiness", get, path = "/api/v1/departures/{id}/readiness", tag = "departures",
    responses((status = 200, body = Readiness), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn readiness(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Readiness>> {
    Ok(Json(svc::readiness(&app, &a, &id).await?))
}

/// The customer handover notice (引き継ぎのご挨拶) of a departure: the customers (one per
/// person) with their successors, those who had it, those left out and why.
#[utoipa::path(operation_id = "departures_notice_preview", get, path = "/api/v1/departures/{id}/notice",
    tag = "departures", responses((status = 200, body = crate::service::mail::NoticePreview), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn notice_preview(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<Json<crate::service::mail::NoticePreview>> {
    Ok(Json(crate::service::mail::notice_preview(&app, &a, &id).await?))
}

/// Send the handover notice of an approved plan to every customer who has not had it (never twice).
#[utoipa::path(operation_id = "departures_notice_send", post, path = "/api/v1/departures/{id}/notice",
    tag = "departures", request_body = crate::service::mail::NoticeInput,
    responses((status = 200, body = crate::service::mail::NoticeResult), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn send_notice(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Body(b): Body<crate::service::mail::NoticeInput>,
) -> Result<Json<crate::service::mail::NoticeResult>> {
    Ok(Json(crate::service::mail::send_notice(&app, &a, &id, b).await?))
}
