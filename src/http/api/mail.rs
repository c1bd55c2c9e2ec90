//! Mail: templates, One to One sends (preview, send, history, cancel), the organisation's mail
//! settings and suppression lists; and the recipients' opt-out link (no sign-in, not under
//! `/api`).

use crate::domain::Result;
use crate::domain::model::Page;
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, Params};
use crate::service::App;
use crate::service::mail::{
    self, HandedOver, MessageRow, PreviewView, SendInput, SendRow, SendView, Settings, SettingsPatch, SkippedCard,
    Suppression, SuppressionInput, TemplateInput, TemplateRow,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TemplateParams {
    /// Only this user's templates (administrators, or yourself).
    pub creator_id: Option<String>,
    #[param(schema_with = crate::http::document::id_cursor)]
    pub cursor: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Your templates and the shared ones.
#[utoipa::path(operation_id = "mail_templates_list", get, path = "/api/v1/mail/templates", tag = "mail",
    params(TemplateParams), responses((status = 200, body = Page<TemplateRow>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_templates(
    State(app): State<App>,
    Auth(a): Auth,
    Params(q): Params<TemplateParams>,
) -> Result<Json<Page<TemplateRow>>> {
    Ok(Json(
        mail::list_templates(&app, &a, q.creator_id.as_deref(), q.cursor.as_deref(), q.limit).await?,
    ))
}

/// Create a template (yours). Placeholders: {{氏名}} {{会社名}} {{部署名}} {{役職}} {{差出人氏名}}
/// {{差出人メール}} {{後任者氏名}} {{後任者メール}}; any other is refused.
#[utoipa::path(operation_id = "mail_templates_create", post, path = "/api/v1/mail/templates", tag = "mail",
    request_body = TemplateInput, responses((status = 201, body = TemplateRow), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_template(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<TemplateInput>,
) -> Result<(StatusCode, Json<TemplateRow>)> {
    Ok((StatusCode::CREATED, Json(mail::create_template(&app, &a, b).await?)))
}

#[utoipa::path(operation_id = "mail_templates_get", get, path = "/api/v1/mail/templates/{id}", tag = "mail",
    responses((status = 200, body = TemplateRow), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_template(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<TemplateRow>> {
    Ok(Json(mail::get_template(&app, &a, &id).await?))
}

/// Change a template: its creator only (not even an administrator).
#[utoipa::path(operation_id = "mail_templates_update", put, path = "/api/v1/mail/templates/{id}", tag = "mail",
    request_body = TemplateInput,
    responses((status = 200, body = TemplateRow), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_template(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Body(b): Body<TemplateInput>,
) -> Result<Json<TemplateRow>> {
    Ok(Json(mail::update_template(&app, &a, &id, b).await?))
}

/// Delete a template: its creator only.
#[utoipa::path(operation_id = "mail_templates_delete", delete, path = "/api/v1/mail/templates/{id}", tag = "mail",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_template(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    mail::delete_template(&app, &a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Copy a template you can see; the copy is yours.
#[utoipa::path(operation_id = "mail_templates_copy", post, path = "/api/v1/mail/templates/{id}/copy", tag = "mail",
    responses((status = 201, body = TemplateRow), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn copy_template(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<TemplateRow>)> {
    Ok((StatusCode::CREATED, Json(mail::copy_template(&app, &a, &id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverInput {
    pub from_user_id: String,
    pub to_user_id: String,
    #[serde(default)]
    pub dry_run: bool,
}

/// Hand a user's templates to another (administrators): re-created under the successor, linked
/// to the originals, which are removed.
#[utoipa::path(operation_id = "mail_templates_hand_over", post, path = "/api/v1/mail/templates/hand-over",
    tag = "mail", request_body = HandOverInput,
    responses((status = 200, body = HandedOver), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn hand_over(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<HandOverInput>,
) -> Result<Json<HandedOver>> {
    Ok(Json(
        mail::hand_over_templates(&app, &a, &b.from_user_id, &b.to_user_id, b.dry_run).await?,
    ))
}

/// The organisation's mail settings (administrators).
#[utoipa::path(operation_id = "mail_settings_get", get, path = "/api/v1/mail/settings", tag = "mail",
    responses((status = 200, body = Settings), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_settings(State(app): State<App>, Auth(a): Auth) -> Result<Json<Settings>> {
    Ok(Json(mail::settings(&app, &a).await?))
}

#[utoipa::path(operation_id = "mail_settings_update", patch, path = "/api/v1/mail/settings", tag = "mail",
    request_body = SettingsPatch,
    responses((status = 200, body = Settings), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_settings(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<SettingsPatch>,
) -> Result<Json<Settings>> {
    Ok(Json(mail::update_settings(&app, &a, b).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SuppressionParams {
    /// block, opt_out or bounce.
    #[param(schema_with = crate::http::document::suppression_kind)]
    pub kind: Option<String>,
}

/// The block, opt-out (配信停止) and bounce (不達) lists (administrators).
#[utoipa::path(operation_id = "mail_suppressions_list", get, path = "/api/v1/mail/suppressions", tag = "mail",
    params(SuppressionParams), responses((status = 200, body = Vec<Suppression>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_suppressions(
    State(app): State<App>,
    Auth(a): Auth,
    Params(q): Params<SuppressionParams>,
) -> Result<Json<Vec<Suppression>>> {
    Ok(Json(mail::suppressions(&app, &a, q.kind.as_deref()).await?))
}

/// Add an address (or, on the block list, a company) to a list.
#[utoipa::path(operation_id = "mail_suppressions_add", post, path = "/api/v1/mail/suppressions", tag = "mail",
    request_body = SuppressionInput,
    responses((status = 201, body = Suppression), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_suppression(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<SuppressionInput>,
) -> Result<(StatusCode, Json<Suppression>)> {
    Ok((StatusCode::CREATED, Json(mail::add_suppression(&app, &a, b).await?)))
}

#[utoipa::path(operation_id = "mail_suppressions_remove", delete, path = "/api/v1/mail/suppressions/{kind}/{value}",
    tag = "mail", responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_suppression(
    State(app): State<App>,
    Auth(a): Auth,
    Path((kind, value)): Path<(String, String)>,
) -> Result<StatusCode> {
    mail::remove_suppression(&app, &a, &kind, &value).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a One to One send would do: messages per sender, and every card left out by name and
/// why (the first 100; all in the CSV).
#[utoipa::path(operation_id = "mail_preview", post, path = "/api/v1/mail/preview", tag = "mail",
    request_body = SendInput,
    responses((status = 200, body = PreviewView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn preview(State(app): State<App>, Auth(a): Auth, Body(b): Body<SendInput>) -> Result<Json<PreviewView>> {
    Ok(Json(mail::preview(&app, &a, &b).await?))
}

/// A CSV download (UTF-8): the API's and the console's.
pub(crate) fn csv_response(bytes: Vec<u8>, name: &str) -> Response {
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// The cards a One to One send would leave out, as CSV (UTF-8 with BOM).
#[utoipa::path(operation_id = "mail_preview_skipped", post, path = "/api/v1/mail/preview/skipped", tag = "mail",
    request_body = SendInput, responses((status = 200, content_type = "text/csv", body = String),
        (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn preview_skipped(State(app): State<App>, Auth(a): Auth, Body(b): Body<SendInput>) -> Result<Response> {
    let rows = mail::preview_skipped(&app, &a, &b).await?;
    Ok(csv_response(mail::skipped_csv(&rows), "skipped.csv"))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    #[param(schema_with = crate::http::document::id_cursor)]
    pub cursor: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Sends, newest first (yours; administrators: all).
#[utoipa::path(operation_id = "mail_sends_list", get, path = "/api/v1/mail/sends", tag = "mail", params(PageParams),
    responses((status = 200, body = Page<SendRow>)), security(("bearer" = [])))]
pub async fn list_sends(
    State(app): State<App>,
    Auth(a): Auth,
    Params(q): Params<PageParams>,
) -> Result<Json<Page<SendRow>>> {
    Ok(Json(mail::list_sends(&app, &a, q.cursor.as_deref(), q.limit).await?))
}

/// Send One to One mail: each message from its card's owner, at `scheduled_at` (default now),
/// cancellable until then. 422 when mail is not configured or nothing can be sent.
#[utoipa::path(operation_id = "mail_sends_create", post, path = "/api/v1/mail/sends", tag = "mail",
    request_body = SendInput,
    responses((status = 201, body = SendView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_send(
    State(app): State<App>,
    Auth(a): Auth,
    Body(b): Body<SendInput>,
) -> Result<(StatusCode, Json<SendView>)> {
    Ok((StatusCode::CREATED, Json(mail::send(&app, &a, b).await?)))
}

#[utoipa::path(operation_id = "mail_sends_get", get, path = "/api/v1/mail/sends/{id}", tag = "mail",
    responses((status = 200, body = SendView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_send(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<SendView>> {
    Ok(Json(mail::get_send(&app, &a, &id).await?))
}

/// Cancel a send that has not started.
#[utoipa::path(operation_id = "mail_sends_cancel", post, path = "/api/v1/mail/sends/{id}/cancel", tag = "mail",
    responses((status = 200, body = SendView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel_send(State(app): State<App>, Auth(a): Auth, Path(id): Path<String>) -> Result<Json<SendView>> {
    Ok(Json(mail::cancel(&app, &a, &id).await?))
}

/// A send's messages and their state (queued, sending, sent, failed, bounced, cancelled).
#[utoipa::path(operation_id = "mail_sends_messages", get, path = "/api/v1/mail/sends/{id}/messages", tag = "mail",
    params(PageParams), responses((status = 200, body = Page<MessageRow>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send_messages(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Params(q): Params<PageParams>,
) -> Result<Json<Page<MessageRow>>> {
    Ok(Json(
        mail::send_messages(&app, &a, &id, q.cursor.as_deref(), q.limit).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SkippedParams {
    /// `json` (default) or `csv`.
    #[param(schema_with = crate::http::document::json_or_csv)]
    pub format: Option<String>,
}

/// The cards a send left out, by name and why.
#[utoipa::path(operation_id = "mail_sends_skipped", get, path = "/api/v1/mail/sends/{id}/skipped", tag = "mail",
    params(SkippedParams), responses((status = 200, body = Vec<SkippedCard>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send_skipped(
    State(app): State<App>,
    Auth(a): Auth,
    Path(id): Path<String>,
    Params(q): Params<SkippedParams>,
) -> Result<Response> {
    let rows = mail::send_skipped(&app, &a, &id).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(rows).into_response()),
        Some("csv") => Ok(csv_response(mail::skipped_csv(&rows), "skipped.csv")),
        Some(_) => Err(crate::domain::Error::bad_input("format", "format is json or csv")),
    }
}

#[derive(Deserialize)]
pub struct OptOutQuery {
    #[serde(default)]
    t: String,
}

fn page(title: &str, text: &str, form: Option<&str>) -> Html<String> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let form = form
        .map(|action| {
            format!(
                "<form method=\"post\" action=\"{}\"><button type=\"submit\">配信を停止する / Unsubscribe</button></form>",
                esc(action)
            )
        })
        .unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><main><h1>{}</h1><p>{}</p>{form}</main></body></html>",
        esc(title),
        esc(title),
        esc(text)
    ))
}

/// The opt-out link's page: asks to confirm (a link checker that follows it changes nothing).
pub async fn opt_out_page(Path(id): Path<String>, Query(q): Query<OptOutQuery>) -> Html<String> {
    let action = format!("/mail/opt-out/{id}?t={}", q.t);
    page(
        "配信停止 / Unsubscribe",
        "このアドレスへのメール配信を停止します。 / Stop mail to this address.",
        Some(&action),
    )
}

/// The opt-out itself (the page's button, or a mail client's one-click POST, RFC 8058).
pub async fn opt_out(State(app): State<App>, Path(id): Path<String>, Query(q): Query<OptOutQuery>) -> Response {
    match mail::opt_out(&app, &id, &q.t).await {
        Ok(addr) => page(
            "配信停止しました / Unsubscribed",
            &format!("{addr} へのメール配信を停止しました。 / Mail to {addr} has been stopped."),
            None,
        )
        .into_response(),
        Err(e) if e.kind == crate::domain::ErrorKind::NotFound => (
            StatusCode::NOT_FOUND,
            page(
                "リンクが無効です / Invalid link",
                "この配信停止リンクは無効です。 / This link is not valid.",
                None,
            ),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
