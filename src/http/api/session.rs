use crate::domain::model::User;
use crate::domain::{Error, Result};
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, cookie};
use crate::service::{App, auth, users};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The organisation's slug; may be left out on a server with a single organisation.
    pub organization: Option<String>,
    pub email: String,
    pub password: String,
}

fn session_cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        auth::SESSION_COOKIE
    )
}

/// Behind a TLS-terminating proxy the cookie is marked Secure.
fn over_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

/// Sign in with a password; sets the session cookie used by the console.
#[utoipa::path(operation_id = "session_sign_in", post, path = "/api/v1/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn sign_in(State(app): State<App>, headers: HeaderMap, Body(b): Body<SignIn>) -> Result<Response> {
    let (secret, actor) = auth::sign_in(&app, b.organization.as_deref(), &b.email, &b.password).await?;
    let user = users::get(&app, &actor, &actor.user_id).await?;
    let cookie = session_cookie(&secret, 14 * 24 * 3600, over_tls(&headers));
    Ok(([(header::SET_COOKIE, cookie)], Json(user)).into_response())
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(operation_id = "session_sign_out", delete, path = "/api/v1/session", tag = "session", responses((status = 204)))]
pub async fn sign_out(State(app): State<App>, parts: Parts) -> Result<Response> {
    if let Some(s) = cookie(&parts.headers, auth::SESSION_COOKIE) {
        auth::sign_out(&app, s).await?;
    }
    let cookie = session_cookie("", 0, over_tls(&parts.headers));
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The signed-in user.
#[utoipa::path(operation_id = "session_me", get, path = "/api/v1/me", tag = "session",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(State(app): State<App>, Auth(actor): Auth) -> Result<Json<User>> {
    users::get(&app, &actor, &actor.user_id)
        .await
        .map(Json)
        .map_err(|e: Error| e)
}
