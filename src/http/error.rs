//! The domain error as a JSON response: `{"error":{"code","message","field"}}`.
//! Internal errors are logged here and answered with a generic message.

use crate::domain::{Error, ErrorKind};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// bad_request, unauthenticated, forbidden, not_found, conflict, unprocessable, internal
    pub code: String,
    pub message: String,
    /// The input field at fault, when there is one.
    pub field: Option<String>,
    /// Extra detail, such as the counts that block a deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let message = if self.kind == ErrorKind::Internal {
            tracing::error!(error = %self.message, "internal error");
            "internal error; the server log has the details".to_string()
        } else {
            self.message
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.kind.code().into(),
                message,
                field: self.field,
                details: self.details,
            },
        };
        let mut res = (status(self.kind), axum::Json(body)).into_response();
        if self.kind == ErrorKind::Unauthenticated {
            res.headers_mut()
                .insert("www-authenticate", "Bearer".parse().expect("static header"));
        }
        res
    }
}
