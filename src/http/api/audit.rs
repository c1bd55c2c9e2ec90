use crate::domain::Result;
use crate::domain::model::{AuditEvent, Page};
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Params};
use crate::service::{App, audit};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only events of this action, e.g. `card.create`.
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub actor_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

/// The audit log, newest first (admins).
#[utoipa::path(operation_id = "audit_list", get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = Page<AuditEvent>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    Auth(a): Auth,
    Params(q): Params<AuditParams>,
) -> Result<Json<Page<AuditEvent>>> {
    let q = audit::AuditQuery {
        action: q.action.as_deref(),
        target_id: q.target_id.as_deref(),
        actor_id: q.actor_id.as_deref(),
        cursor: q.cursor.as_deref(),
        limit: q.limit,
    };
    Ok(Json(audit::list(&app, &a, q).await?))
}
