//! What an operator sees of the server (issue 17): every request's id, span and counts;
//! `/metrics` (Prometheus text, `crate::metrics`); `/readyz` (the database answers).
//!
//! - The request id: a client's (or proxy's) `X-Request-Id` when it is sane (1–128 of
//!   `A-Z a-z 0-9 . _ : @ / + = -`), else a new one; it is echoed in `X-Request-Id` on every
//!   answer the router gives (API, console, SCIM, errors) and is a field of the request's
//!   log span, so every line logged while serving it carries it. (hyper's own answers to a
//!   request it cannot parse, `edge::EdgeIo`, come before any of this and have none.)
//! - The metrics' route label is the matched route's template (`/api/v1/cards/{id}`), or
//!   `(unmatched)`: never the raw path.
//! - One access line per request (target `meishi::access`, level info: off by default,
//!   `RUST_LOG=meishi=info` or `meishi::access=info` turns it on).
//! - `/metrics` is served on the main listener only with a token (`MEISHI_METRICS_TOKEN`,
//!   sent as a bearer token), and without one on the separate `--metrics-addr` listener
//!   (`metrics_router`); with neither it is not served at all (404): the counts say what
//!   the server is busy with, which is nobody's business but its operator's.

use crate::service::{App, ops};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

/// The request's id (an extension handlers may read).
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Whether an incoming request id may be used as it is.
fn sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:@/+=".contains(&b))
}

/// Middleware (outermost): the request's id, its log span, its access line and its counts.
pub async fn observe(app: App, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id: Arc<str> = match req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
        Some(id) if sane(id) => id.into(),
        _ => uuid::Uuid::now_v7().simple().to_string().into(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| crate::metrics::UNMATCHED.to_string());
    let method = req.method().clone();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut res = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = res.status().as_u16();
    app.metrics.request(method.as_str(), &route, status, took);
    span.in_scope(|| {
        tracing::info!(
            target: "meishi::access",
            status,
            micros = took.as_micros() as u64,
            "answered"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

/// `GET /readyz`: 200 when the database answers a trivial query, else 503 with the JSON
/// error shape (the reason is logged, not shown). `/healthz` stays the process's liveness.
pub async fn readyz(State(app): State<App>) -> Response {
    match ops::ready(&app).await {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ready"}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            let body = serde_json::json!({"error": {
                "code": "unavailable",
                "message": "the database does not answer",
                "field": null,
            }});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// The exposition, with the database's figures read now.
async fn exposition(app: &App) -> Response {
    let gauges = ops::gauges(app).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        app.metrics.render(&gauges),
    )
        .into_response()
}

/// `GET /metrics` on the main listener: only with the configured bearer token.
pub async fn metrics_with_token(token: Arc<str>, State(app): State<App>, headers: HeaderMap) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        let body = serde_json::json!({"error": {
            "code": "unauthenticated",
            "message": "the metrics token is required (Authorization: Bearer …)",
            "field": null,
        }});
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(body),
        )
            .into_response();
    }
    exposition(&app).await
}

/// Compares without stopping at the first difference (a token's bytes are not timed out).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The separate metrics listener (`--metrics-addr`): `/metrics` without a token (whoever can
/// reach the address may read it: bind it to loopback or a management network), `/readyz`
/// and `/healthz`.
pub fn metrics_router(app: App) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(app): State<App>| async move { exposition(&app).await }),
        )
        .route("/readyz", get(readyz))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_used_only_when_sane() {
        assert!(sane("abc-123_DEF.4:5@6/7+8="));
        assert!(sane(&"a".repeat(128)));
        assert!(!sane(""));
        assert!(!sane(&"a".repeat(129)));
        assert!(!sane("a b"));
        assert!(!sane("a\"b"));
        assert!(!sane("日本"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
    }
}
