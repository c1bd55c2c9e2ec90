use crate::domain::model::User;
use crate::domain::{Error, Result};
use crate::http::edge;
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Body, cookie, same_origin};
use crate::service::{App, auth, users};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The organisation's slug; may be left out on a server with a single organisation.
    pub organization: Option<String>,
    #[schema(format = Email)]
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

/// Over TLS (a trusted proxy's `X-Forwarded-Proto: https`, or an https public URL) the cookie
/// is marked Secure.
fn over_tls(parts: &axum::http::Extensions) -> bool {
    edge::client_of(parts).https
}

/// Sign in with a password; sets the session cookie used by the console. Throttled per
/// account and per client address: while one must wait, 429 with `Retry-After` (the same for
/// an account that does not exist). A cross-site `Origin` is refused (login CSRF).
#[utoipa::path(operation_id = "session_sign_in", post, path = "/api/v1/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = User), (status = 401, body = ErrorBody),
        (status = 403, description = "a sign-in from another site's page (login CSRF)", body = ErrorBody),
        (status = 429, description = "too many attempts: wait `Retry-After` seconds", body = ErrorBody,
            headers(("Retry-After" = i64, description = "seconds to wait")))))]
pub async fn sign_in(
    State(app): State<App>,
    Extension(client): Extension<edge::Client>,
    headers: HeaderMap,
    Body(b): Body<SignIn>,
) -> Result<Response> {
    if !same_origin(&headers) {
        return Err(Error::forbidden("cross-site sign-in refused"));
    }
    let attempt = auth::Attempt {
        org_slug: b.organization.as_deref(),
        email: &b.email,
        password: &b.password,
        client: client.ip,
    };
    let (secret, actor) = auth::sign_in(&app, attempt).await?;
    let user = users::get(&app, &actor, &actor.user_id).await?;
    let cookie = session_cookie(&secret, 14 * 24 * 3600, client.https);
    Ok(([(header::SET_COOKIE, cookie)], Json(user)).into_response())
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(operation_id = "session_sign_out", delete, path = "/api/v1/session", tag = "session", responses((status = 204)))]
pub async fn sign_out(State(app): State<App>, parts: Parts) -> Result<Response> {
    if let Some(s) = cookie(&parts.headers, auth::SESSION_COOKIE) {
        auth::sign_out(&app, s).await?;
    }
    let cookie = session_cookie("", 0, over_tls(&parts.extensions));
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

/// The organisation's sign-in locks and waits now in force (admins).
#[utoipa::path(operation_id = "session_locks", get, path = "/api/v1/sign-in-locks", tag = "session",
    responses((status = 200, body = Vec<auth::SignInLock>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn locks(State(app): State<App>, Auth(actor): Auth) -> Result<Json<Vec<auth::SignInLock>>> {
    Ok(Json(auth::locks(&app, &actor).await?))
}

/// Lift a sign-in lock (admins): its failures are forgotten. Audited (`sign_in.unlock`).
#[utoipa::path(operation_id = "session_lift_lock", delete, path = "/api/v1/sign-in-locks/{id}", tag = "session",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn lift_lock(State(app): State<App>, Auth(actor): Auth, Path(id): Path<String>) -> Result<StatusCode> {
    auth::lift_lock(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
