use super::users::PageQuery;
use crate::domain::Result;
use crate::domain::model::{Card, Contact, Page, Tag};
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, Params};
use crate::service::{App, cards};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CardParams {
    pub owner_id: Option<String>,
    pub tag_id: Option<String>,
    /// Company name; `株式会社サンプル`, `(株)サンプル` and `ｻﾝﾌﾟﾙ株式会社` match alike.
    pub company: Option<String>,
    /// Free text, found in the name, its reading, company, department, title or email;
    /// hiragana and katakana alike (`やまもと` finds `ヤマモト`), widths folded.
    pub q: Option<String>,
    #[param(schema_with = crate::http::document::card_cursor)]
    pub cursor: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Register a card.
#[utoipa::path(operation_id = "cards_create", post, path = "/api/v1/cards", tag = "cards", request_body = cards::NewCard,
    responses((status = 201, body = Card), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<cards::NewCard>,
) -> Result<(StatusCode, Json<Card>)> {
    Ok((StatusCode::CREATED, Json(cards::create(&app, &a, b).await?)))
}

/// List the organisation's cards, filtered, in pages.
#[utoipa::path(operation_id = "cards_list", get, path = "/api/v1/cards", tag = "cards", params(CardParams),
    responses((status = 200, body = Page<Card>), (status = 400, body = ErrorBody),
        (status = 404, description = "tag_id names no tag the caller may see", body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(State(app): State<App>, Auth(a): Auth, Params(q): Params<CardParams>) -> Result<Json<Page<Card>>> {
    let q = cards::CardQuery {
        owner_id: q.owner_id.as_deref(),
        tag_id: q.tag_id.as_deref(),
        company: q.company.as_deref(),
        q: q.q.as_deref(),
        sort: cards::CardSort::Id,
        cursor: q.cursor.as_deref(),
        limit: q.limit,
    };
    Ok(Json(cards::list(&app, &a, q).await?))
}

/// One card.
#[utoipa::path(operation_id = "cards_get", get, path = "/api/v1/cards/{id}", tag = "cards",
    responses((status = 200, body = Card), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<Card>> {
    Ok(Json(cards::get(&app, &a, &id).await?))
}

/// Change a card's fields (owner or admin).
#[utoipa::path(operation_id = "cards_update", patch, path = "/api/v1/cards/{id}", tag = "cards", request_body = cards::CardPatch,
    responses((status = 200, body = Card), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Body(b): Body<cards::CardPatch>,
) -> Result<Json<Card>> {
    Ok(Json(cards::update(&app, &a, &id, b).await?))
}

/// Delete a card and its contacts (owner or admin).
#[utoipa::path(operation_id = "cards_delete", delete, path = "/api/v1/cards/{id}", tag = "cards",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    cards::delete(&app, &a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Record a contact (meeting, call, mail, note) on a card.
#[utoipa::path(operation_id = "cards_add_contact", post, path = "/api/v1/cards/{id}/contacts", tag = "contacts", request_body = cards::NewContact,
    responses((status = 201, body = Contact), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_contact(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Body(b): Body<cards::NewContact>,
) -> Result<(StatusCode, Json<Contact>)> {
    Ok((StatusCode::CREATED, Json(cards::add_contact(&app, &a, &id, b).await?)))
}

/// The contacts on a card, oldest first.
#[utoipa::path(operation_id = "cards_list_contacts", get, path = "/api/v1/cards/{id}/contacts", tag = "contacts", params(PageQuery),
    responses((status = 200, body = Page<Contact>), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_contacts(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Page<Contact>>> {
    Ok(Json(
        cards::list_contacts(&app, &a, &id, q.cursor.as_deref(), q.limit).await?,
    ))
}

/// Create a tag (personal unless `shared`).
#[utoipa::path(operation_id = "cards_create_tag", post, path = "/api/v1/tags", tag = "tags", request_body = cards::NewTag,
    responses((status = 201, body = Tag), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_tag(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<cards::NewTag>,
) -> Result<(StatusCode, Json<Tag>)> {
    Ok((StatusCode::CREATED, Json(cards::create_tag(&app, &a, b).await?)))
}

/// Tags you can see: shared ones and your own (admins: all).
#[utoipa::path(operation_id = "cards_list_tags", get, path = "/api/v1/tags", tag = "tags", params(PageQuery),
    responses((status = 200, body = Page<Tag>)), security(("bearer" = [])))]
pub async fn list_tags(State(app): State<App>, Auth(a): Auth, Params(q): Params<PageQuery>) -> Result<Json<Page<Tag>>> {
    Ok(Json(cards::list_tags(&app, &a, q.cursor.as_deref(), q.limit).await?))
}

/// Attach a tag to a card (idempotent).
#[utoipa::path(operation_id = "cards_attach_tag", put, path = "/api/v1/cards/{id}/tags/{tag_id}", tag = "tags",
    responses((status = 200, body = Card), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn attach_tag(
    State(app): State<App>,
    Auth(a): Auth,
    Path((id, tag_id)): Path<(String, String)>,
) -> Result<Json<Card>> {
    Ok(Json(cards::attach_tag(&app, &a, &id, &tag_id).await?))
}

/// Detach a tag from a card.
#[utoipa::path(operation_id = "cards_detach_tag", delete, path = "/api/v1/cards/{id}/tags/{tag_id}", tag = "tags",
    responses((status = 200, body = Card), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn detach_tag(
    State(app): State<App>,
    Auth(a): Auth,
    Path((id, tag_id)): Path<(String, String)>,
) -> Result<Json<Card>> {
    Ok(Json(cards::detach_tag(&app, &a, &id, &tag_id).await?))
}
