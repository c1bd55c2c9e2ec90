//! 組織設定 → SCIM (admins): the endpoint to paste into the identity provider, its tokens
//! (create: the secret is shown once, on the page the post redirects to; revoke), and the
//! last requests the providers made (time in the organisation's zone, operation, result).

use super::{Ctx, Session, form, page, render};
use crate::domain::Error;
use crate::service::App;
use crate::service::scim as svc;
use crate::store::scim::{ScimRequest, ScimToken};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub fn router() -> Router<App> {
    Router::new()
        .route("/settings/scim", get(show))
        .route("/settings/scim/tokens", post(create))
        .route("/settings/scim/tokens/{id}/revoke", post(revoke))
}

/// The new token's secret travels to the page once, in a cookie that page clears.
const SECRET_COOKIE: &str = "meishi_scim_secret";
/// How many recent requests the page lists.
const SHOWN_REQUESTS: i64 = 30;

#[derive(Template)]
#[template(path = "scim.html")]
struct ScimPage {
    ctx: Ctx,
    endpoint: String,
    tokens: Vec<ScimToken>,
    requests: Vec<ScimRequest>,
    secret: Option<String>,
    name: String,
    error: Option<String>,
    error_field: String,
}

impl ScimPage {
    fn ok(&self, r: &ScimRequest) -> bool {
        r.status < 400
    }
    /// A moment in the organisation's zone, to the minute.
    fn when(&self, t: impl std::borrow::Borrow<chrono::DateTime<chrono::Utc>>) -> String {
        self.ctx.minute(*t.borrow())
    }
}

async fn scim_page(
    app: &App,
    s: Session,
    headers: &HeaderMap,
    name: String,
    error: Option<Error>,
) -> Result<Response, Response> {
    if !s.actor.is_admin() {
        return Err(super::error_page(&s.ctx, &Error::forbidden("admins only")));
    }
    let s = s.with_nav("settings");
    let tokens = page(&s.ctx, svc::tokens(app, &s.actor).await)?;
    let requests = page(&s.ctx, svc::recent_requests(app, &s.actor, SHOWN_REQUESTS).await)?;
    let secret = crate::http::extract::cookie(headers, SECRET_COOKIE)
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let shown = super::shown(s.ctx.lang, error.as_ref());
    let status = shown.status;
    let cleared = secret.is_some();
    let p = ScimPage {
        endpoint: crate::http::scim::base(headers),
        tokens,
        requests,
        secret,
        name,
        error: shown.message,
        error_field: shown.field,
        ctx: s.ctx,
    };
    let mut res = (status, render(&p)).into_response();
    if cleared {
        let clear = format!("{SECRET_COOKIE}=; Path=/settings/scim; HttpOnly; SameSite=Strict; Max-Age=0");
        if let Ok(v) = clear.parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

async fn show(State(app): State<App>, s: Session, headers: HeaderMap) -> Result<Response, Response> {
    scim_page(&app, s, &headers, String::new(), None).await
}

#[derive(Deserialize)]
struct TokenForm {
    name: String,
}

async fn create(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Result<Response, Response> {
    let f: TokenForm = form(&s, &headers, &body).await?;
    match svc::create_token(&app, &s.actor, &f.name).await {
        Ok((_, secret)) => {
            let mut res = super::flash_redirect("/settings/scim", &s.ctx.t("scim.token_created"));
            let cookie =
                format!("{SECRET_COOKIE}={secret}; Path=/settings/scim; HttpOnly; SameSite=Strict; Max-Age=120");
            if let Ok(v) = cookie.parse() {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(res)
        }
        Err(e) => scim_page(&app, s, &headers, f.name, Some(e)).await,
    }
}

async fn revoke(
    State(app): State<App>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<Response, Response> {
    form::<std::collections::HashMap<String, String>>(&s, &headers, &body).await?;
    match svc::revoke_token(&app, &s.actor, &id).await {
        Ok(t) => Ok(super::flash_redirect(
            "/settings/scim",
            &s.ctx.t("scim.token_revoked").replace("%{name}", &t.name),
        )),
        Err(e) => Ok(super::flash_error_redirect(
            "/settings/scim",
            &super::message(s.ctx.lang, &e),
        )),
    }
}
