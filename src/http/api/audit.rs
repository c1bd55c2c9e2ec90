use crate::domain::Result;
use crate::domain::model::{AuditEvent, Page};
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Params};
use crate::service::{App, audit};
use axum::Json;
use axum::extract::State;
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
