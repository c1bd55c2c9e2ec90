//! Same person (名寄せ), news (人事異動・連絡先変更) and card history.

use crate::domain::Result;
use crate::domain::model::Page;
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, Params};
use crate::service::App;
use crate::service::people::{self, BulkNews, BulkNewsResult, HistoryEntry, News, NewsAction, PersonView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NewsParams {
    /// Administrators: the news of this user's cards (default: your own cards).
    pub owner_id: Option<String>,
    /// Administrators: the news of this card.
    pub card_id: Option<String>,
    /// `personnel` (人事異動) or `contact` (連絡先変更).
    #[param(schema_with = crate::http::document::news_kind)]
    pub kind: Option<String>,
    /// `open` (default), `applied`, `dismissed` or `all`.
    #[param(schema_with = crate::http::document::news_status)]
    pub status: Option<String>,
    #[param(schema_with = crate::http::document::id_cursor)]
    pub cursor: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// The news of your cards (administrators: of a user's or a card's), open ones unless asked.
#[utoipa::path(operation_id = "news_list", get, path = "/api/v1/news", tag = "news", params(NewsParams),
    responses((status = 200, body = Page<News>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(app): State<App>, Auth(a): Auth, Params(q): Params<NewsParams>) -> Result<Json<Page<News>>> {
    let q = people::NewsQuery {
        owner_id: q.owner_id,
        card_id: q.card_id,
        kind: q.kind,
        status: q.status,
        cursor: q.cursor,
        limit: q.limit,
    };
    Ok(Json(people::list_news(&app, &a, q).await?))
}

/// Apply a news item: its new values are copied onto the card (the old ones go to the card's history).
#[utoipa::path(operation_id = "news_apply", post, path = "/api/v1/news/{id}/apply", tag = "news",
    responses((status = 200, body = News), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn apply(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<News>> {
    Ok(Json(people::act_on_news(&app, &a, &id, NewsAction::Apply).await?))
}

/// Dismiss a news item (the card stays as it is).
#[utoipa::path(operation_id = "news_dismiss", post, path = "/api/v1/news/{id}/dismiss", tag = "news",
    responses((status = 200, body = News), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn dismiss(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<News>> {
    Ok(Json(people::act_on_news(&app, &a, &id, NewsAction::Dismiss).await?))
}

/// Apply or dismiss several news items at once: all of them or none.
#[utoipa::path(operation_id = "news_bulk", post, path = "/api/v1/news/bulk", tag = "news", request_body = BulkNews,
    responses((status = 200, body = BulkNewsResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn bulk(State(app): State<App>, Auth(a): Auth, Body(b): Body<BulkNews>) -> Result<Json<BulkNewsResult>> {
    Ok(Json(people::bulk_news(&app, &a, b).await?))
}

/// The person a card is of: their cards (any owner), open candidates, career (経歴).
#[utoipa::path(operation_id = "cards_person", get, path = "/api/v1/cards/{id}/person", tag = "people",
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn person(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<PersonView>> {
    Ok(Json(people::person(&app, &a, &id).await?))
}

/// Take a card out of its person (a wrong match); the two stay apart through later imports.
#[utoipa::path(operation_id = "cards_person_split", post, path = "/api/v1/cards/{id}/person/split", tag = "people",
    responses((status = 200, body = PersonView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn split(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<PersonView>> {
    Ok(Json(people::split(&app, &a, &id).await?))
}

/// Confirm a candidate: the two people are one.
#[utoipa::path(operation_id = "candidates_confirm", post, path = "/api/v1/person-candidates/{id}/confirm", tag = "people",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn confirm(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    people::decide(&app, &a, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reject a candidate: the two people stay apart, for good.
#[utoipa::path(operation_id = "candidates_reject", post, path = "/api/v1/person-candidates/{id}/reject", tag = "people",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reject(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    people::decide(&app, &a, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A card's changes (manual edits, news applied): who, when, why, before and after.
#[utoipa::path(operation_id = "cards_history", get, path = "/api/v1/cards/{id}/history", tag = "people",
    responses((status = 200, body = Vec<HistoryEntry>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn history(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Vec<HistoryEntry>>> {
    Ok(Json(people::history(&app, &a, &id).await?))
}
