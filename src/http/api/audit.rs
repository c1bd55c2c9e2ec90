use crate::domain::Result;
use crate::domain::model::{AuditEvent, Page};
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Params};
use crate::service::{App, audit};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only events of this action, e.g. `card.create`.
    pub action: Option<String>,
    /// Only events of this kind of target, e.g. `card`, `user`, `departure`, `import`.
    pub target_type: Option<String>,
    /// Only events on this target (its id).
    pub target_id: Option<String>,
    /// Only events of this user (an id), or `system` for those the system wrote (scheduler,
    /// command line).
    pub actor_id: Option<String>,
    /// Only events from this day on (`YYYY-MM-DD`, in the organisation's time zone).
    pub from: Option<NaiveDate>,
    /// Only events up to and including this day (`YYYY-MM-DD`, in the organisation's time zone).
    pub to: Option<NaiveDate>,
    #[param(schema_with = crate::http::document::id_cursor)]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// The audit log, newest first (admins).
#[utoipa::path(operation_id = "audit_list", get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = Page<AuditEvent>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "`to` is before `from`", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    Auth(a): Auth,
    Params(q): Params<AuditParams>,
) -> Result<Json<Page<AuditEvent>>> {
    let q = audit::AuditQuery {
        action: q.action.as_deref(),
        actor_id: q.actor_id.as_deref(),
        target_type: q.target_type.as_deref(),
        target_id: q.target_id.as_deref(),
        from: q.from,
        to: q.to,
        cursor: q.cursor.as_deref(),
        limit: q.limit,
    };
    Ok(Json(audit::list(&app, &a, q).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ArchiveParams {
    /// `jsonl` (default: one event a line) or `csv` (UTF-8, a header line).
    #[param(inline)]
    pub format: Option<audit::ArchiveFormat>,
}

/// The organisation's whole audit log for archiving (admins), oldest first in chain order,
/// streamed: every stored field with `seq`, `prev_hash` and `hash`, up to the chain's head as
/// it was when the download began (its seq and hash are in `X-Meishi-Audit-Head`).
#[utoipa::path(operation_id = "audit_export", get, path = "/api/v1/audit/export", tag = "audit", params(ArchiveParams),
    responses((status = 200, description = "the log as JSON Lines or CSV, as an attachment",
        content((String = "application/jsonl"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(State(app): State<App>, Auth(a): Auth, Params(q): Params<ArchiveParams>) -> Result<Response> {
    let format = q.format.unwrap_or(audit::ArchiveFormat::Jsonl);
    let archive = audit::archive(&app, &a, format).await?;
    let head = format!("{} {}", archive.head_seq, archive.head_hash);
    let today = app.now().format("%Y%m%d");
    let stream = futures_util::stream::unfold(Some(archive), |state| async move {
        let mut archive = state?;
        match archive.next_chunk().await {
            Ok(Some(bytes)) => Some((Ok::<_, std::io::Error>(bytes), Some(archive))),
            Ok(None) => None,
            Err(e) => {
                // The answer has begun: it can only stop short, and the log says why.
                tracing::error!(error = %e.message, "audit export");
                Some((Err(std::io::Error::other(e.message)), None))
            }
        }
    });
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let name = format!("attachment; filename=\"audit-{today}.{}\"", format.extension());
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&head) {
        h.insert("x-meishi-audit-head", v);
    }
    Ok(res)
}
