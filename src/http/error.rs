//! The domain error as a JSON response: `{"error":{"code","message","field"}}`.
//! Internal errors are logged here and answered with a generic message.

use crate::domain::{Error, ErrorKind};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// bad_request, unauthenticated, forbidden, not_found, conflict, unprocessable,
    /// too_many_requests, payload_too_large, internal; for answers made before a handler runs
    /// also method_not_allowed, uri_too_long, unsupported_media_type, request_timeout …
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
        ErrorKind::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after();
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
        if let Some(secs) = retry_after.filter(|_| self.kind == ErrorKind::TooManyAttempts) {
            res.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        res
    }
}

/// The code of an error answer by its status, for answers that no handler made (an unknown
/// method, a body over its limit, a request line too long, an extractor's rejection).
pub fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        409 => "conflict",
        411 => "length_required",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "too_many_requests",
        431 => "headers_too_large",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "bad_request",
    }
}

/// The JSON error body for `status` with `message` (no field).
pub fn body_for(status: StatusCode, message: &str) -> String {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code_of(status).into(),
            message: message.into(),
            field: None,
            details: None,
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// Middleware: an error answer that is neither JSON nor a console page (axum's plain-text
/// rejections, an empty 405, a body over its limit) is given the JSON error shape, keeping
/// its status and headers (`Allow`, `Retry-After`). A 5xx's text is never shown.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Already an answer in a shape: JSON (SCIM's `application/scim+json` included) or a page.
    let media = ct.split(';').next().unwrap_or("").trim();
    if media == "application/json" || media.ends_with("+json") || media == "text/html" {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(b) if status.is_client_error() => String::from_utf8_lossy(&b).trim().to_string(),
        _ => String::new(),
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_ascii_lowercase()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, "application/json".parse().expect("static header"));
    Response::from_parts(parts, axum::body::Body::from(body_for(status, &message)))
}
