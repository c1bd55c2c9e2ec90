//! The web console (ja/en): server-rendered pages (askama) with htmx for partial updates.
//! Every page works without JavaScript. Forms carry a per-session CSRF token and are also
//! refused when their Origin names another site.

// Handlers answer `Result<_, Response>`: the error is the finished error page, whose size
// does not matter on this path.
#![allow(clippy::result_large_err)]

mod audit;
mod cards;
mod departures;
mod handover;
mod imports;
mod mail;
mod news;
mod plan_form;
mod scim;
mod settings;
mod transfers;
mod users;

use crate::domain::{Error, ErrorKind};
use crate::service::{Actor, App, auth, orgs, users as user_svc};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub const LANG_COOKIE: &str = "meishi_lang";
/// The one-time message a post leaves for the page it redirects to (`flash_redirect`).
pub const FLASH_COOKIE: &str = "meishi_flash";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The `meishi_lang` cookie, else the first of ja/en in Accept-Language, else Japanese.
    pub fn detect(headers: &HeaderMap) -> Lang {
        match crate::http::extract::cookie(headers, LANG_COOKIE) {
            Some("en") => return Lang::En,
            Some("ja") => return Lang::Ja,
            _ => {}
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut ranked: Vec<(f32, &str)> = accept
            .split(',')
            .filter_map(|part| {
                let mut it = part.trim().split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, tag) in ranked {
            let tag = tag.to_ascii_lowercase();
            if tag.starts_with("ja") {
                return Lang::Ja;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Ja
    }
}

/// Looks a text up; a missing translation shows as `⚠key`, which the tests look for.
pub fn tr(lang: Lang, key: &str) -> String {
    let text = rust_i18n::t!(key, locale = lang.code()).to_string();
    if text == key || text == format!("{}.{key}", lang.code()) {
        format!("⚠{key}")
    } else {
        text
    }
}

/// What every page knows: the language, who is signed in, the CSRF token, where we are.
pub struct Ctx {
    pub lang: Lang,
    pub user_name: String,
    pub user_id: String,
    pub admin: bool,
    pub csrf: String,
    pub nav: &'static str,
    pub path: String,
    /// The organisation's time zone (Asia/Tokyo before anyone signs in).
    pub zone: chrono_tz::Tz,
    /// What the last post did, shown once at the top of the page it redirected to.
    pub flash: Option<String>,
    /// Whether that message tells of a failure (shown as an alert, not a notice).
    pub flash_error: bool,
    /// Open news on the signed-in user's cards: the badge beside ニュース in the menu.
    pub news_open: i64,
    /// For a user with a departure on the desk: the days left and the open duties.
    pub banner: Option<String>,
}

impl Ctx {
    /// Today in the organisation's zone.
    pub fn today(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        crate::domain::Policy::today_in(self.zone, now)
    }
    /// A moment in the organisation's zone, to the minute: `2026-03-31 23:59`.
    pub fn minute(&self, t: chrono::DateTime<chrono::Utc>) -> String {
        t.with_timezone(&self.zone).format("%Y-%m-%d %H:%M").to_string()
    }
    /// A moment in the organisation's zone with the zone's name: `2026-03-31 23:59 JST`.
    pub fn moment(&self, t: chrono::DateTime<chrono::Utc>) -> String {
        t.with_timezone(&self.zone).format("%Y-%m-%d %H:%M %Z").to_string()
    }
    pub fn t(&self, key: &str) -> String {
        tr(self.lang, key)
    }
    /// `prefix.key`, e.g. a field's label or a contact kind's name.
    pub fn tk(&self, prefix: &str, key: &str) -> String {
        tr(self.lang, &format!("{prefix}.{key}"))
    }
    pub fn same(&self, a: &str, b: &str) -> bool {
        a == b
    }
    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }
    pub fn other_lang(&self) -> &'static str {
        if self.lang == Lang::Ja { "en" } else { "ja" }
    }
    pub fn is(&self, nav: &str) -> bool {
        self.nav == nav
    }
    /// This page's address, for `?next=` after a language switch.
    pub fn here(&self) -> String {
        urlencode(&self.path)
    }
}

fn csrf_for(session: &str) -> String {
    let digest = Sha256::digest(format!("csrf:{session}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A signed-in console user; anyone else is sent to the sign-in page.
pub struct Session {
    pub actor: Actor,
    pub ctx: Ctx,
}

impl Session {
    fn with_nav(mut self, nav: &'static str) -> Self {
        self.ctx.nav = nav;
        self
    }
}

impl FromRequestParts<App> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "/".into());
        let login = || Redirect::to(&format!("/login?next={}", urlencode(&path))).into_response();
        let Some(secret) = crate::http::extract::cookie(&parts.headers, auth::SESSION_COOKIE).map(str::to_string)
        else {
            return Err(login());
        };
        let actor = auth::actor_from_session(app, &secret).await.map_err(|_| login())?;
        let user = user_svc::get(app, &actor, &actor.user_id).await.map_err(|_| login())?;
        let zone = match orgs::get(app, &actor).await.and_then(|o| o.policy()) {
            Ok(p) => p.zone,
            Err(e) => return Err(error_page(&anonymous(&parts.headers, ""), &e)),
        };
        let flash = crate::http::extract::cookie(&parts.headers, FLASH_COOKIE)
            .and_then(|v| {
                form_urlencoded::parse(format!("m={v}").as_bytes())
                    .next()
                    .map(|(_, m)| m.into_owned())
            })
            .filter(|m| !m.is_empty());
        let (flash_error, flash) = match flash {
            Some(m) if m.starts_with(ERROR_MARK) => (true, Some(m[ERROR_MARK.len_utf8()..].to_string())),
            other => (false, other),
        };
        let lang = Lang::detect(&parts.headers);
        let banner = leaving_banner(app, &actor, lang, zone).await;
        // A badge never stops a page: on an error it is just not shown.
        let news_open = crate::service::people::open_count(app, &actor).await.unwrap_or(0);
        let ctx = Ctx {
            banner,
            flash,
            flash_error,
            news_open,
            zone,
            lang,
            user_name: user.display_name,
            user_id: user.id,
            admin: actor.is_admin(),
            csrf: csrf_for(&secret),
            nav: "",
            path,
        };
        Ok(Session { actor, ctx })
    }
}

/// Ends a successful form post: a redirect (303, so a reload of the next page never posts
/// again) that carries `message` to that page, which shows it once (`clear_flash` removes it
/// after the first page that is not itself a redirect).
pub fn flash_redirect(to: &str, message: &str) -> Response {
    let cookie = format!(
        "{FLASH_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=120",
        urlencode(message)
    );
    // Normalised like `next=`: a target built from a form's field is always a valid Location.
    ([(header::SET_COOKIE, cookie)], Redirect::to(&safe_next(Some(to)))).into_response()
}

/// Marks a flash message as a failure (`flash_error_redirect`); never shown.
const ERROR_MARK: char = '\u{1}';

/// Ends a form post that failed and whose page cannot show the error beside a field (an
/// inline button on a list or a card): back to `to`, which shows `message` once as an alert.
/// A reload of that page never posts again.
pub fn flash_error_redirect(to: &str, message: &str) -> Response {
    flash_redirect(to, &format!("{ERROR_MARK}{message}"))
}

/// Middleware: a response that shows a page (not a redirect) to a request that carried a
/// flash message removes that message, so that it is seen once.
pub async fn clear_flash(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let had = crate::http::extract::cookie(req.headers(), FLASH_COOKIE).is_some_and(|v| !v.is_empty());
    let mut res = next.run(req).await;
    if had && !res.status().is_redirection() {
        let clear = format!("{FLASH_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
        if let Ok(v) = clear.parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The banner a user with a scheduled departure sees on every page: their last working day,
/// the days left and how many duties are still open. None for everyone else (and on any
/// error: a banner never stops a page).
async fn leaving_banner(app: &App, actor: &Actor, lang: Lang, zone: chrono_tz::Tz) -> Option<String> {
    use crate::domain::departure::{DepartureStatus, ItemState};
    use crate::service::departures;
    let d = departures::open_for_user(app, actor, &actor.user_id).await.ok()??;
    if d.status != DepartureStatus::Scheduled {
        return None;
    }
    let r = departures::readiness(app, actor, &d.id).await.ok()?;
    let open = r
        .items
        .iter()
        .filter(|i| i.state == ItemState::Open && !i.optional)
        .count();
    let today = crate::domain::Policy::today_in(zone, app.now());
    let days = (d.last_working_day - today).num_days().max(0);
    let key = if open == 0 {
        "banner.leaving_ready"
    } else {
        "banner.leaving"
    };
    Some(
        tr(lang, key)
            .replace("%{day}", &d.last_working_day.to_string())
            .replace("%{n}", &days.to_string())
            .replace("%{open}", &open.to_string()),
    )
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A form post: the CSRF token must match the session's and the Origin, when sent, must be
/// this server. The rest of the fields deserialize into `T`.
pub async fn form<T: serde::de::DeserializeOwned>(s: &Session, headers: &HeaderMap, body: &str) -> Result<T, Response> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let token = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
            origin.split_once("://").map(|(_, h)| h) == Some(host)
        }
    };
    if token != Some(s.ctx.csrf.as_str()) || !origin_ok {
        return Err(error_page(&s.ctx, &Error::forbidden("csrf")));
    }
    for (k, v) in &pairs {
        crate::domain::no_control(k, v).map_err(|e| error_page(&s.ctx, &e))?;
    }
    let rest: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "csrf").collect();
    let encoded = serde_urlencoded::to_string(&rest).unwrap_or_default();
    serde_urlencoded::from_str(&encoded).map_err(|e| error_page(&s.ctx, &Error::bad_input("form", e.to_string())))
}

/// A domain error in the page's language. The English text of a service is shown only on
/// English pages; Japanese pages get a translation by kind and field.
pub fn message(lang: Lang, e: &Error) -> String {
    if e.kind == ErrorKind::Internal {
        return tr(lang, "error.internal");
    }
    if lang == Lang::En {
        return e.message.clone();
    }
    if e.message == "csrf" {
        return tr(lang, "error.csrf");
    }
    if let Some(field) = &e.field {
        let key = format!(
            "error.field.{}",
            field
                .split('.')
                .next()
                .unwrap_or(field)
                .split('[')
                .next()
                .unwrap_or(field)
        );
        let text = tr(lang, &key);
        if !text.starts_with('⚠') {
            return text;
        }
    }
    tr(lang, &format!("error.kind.{}", e.kind.code()))
}

/// What a page shows for the error of its last action, if any: the status, the message in
/// the page's language, and the field to mark.
pub struct Shown {
    pub status: StatusCode,
    pub message: Option<String>,
    pub field: String,
}

pub fn shown(lang: Lang, error: Option<&Error>) -> Shown {
    Shown {
        status: error.map_or(StatusCode::OK, |e| crate::http::error::status(e.kind)),
        message: error.map(|e| message(lang, e)),
        field: error.and_then(|e| e.field.clone()).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ctx: &'a Ctx,
    status: u16,
    message: String,
}

pub fn error_page(ctx: &Ctx, e: &Error) -> Response {
    if e.kind == ErrorKind::Internal {
        tracing::error!(error = %e.message, "internal error");
    }
    let status = crate::http::error::status(e.kind);
    let page = ErrorPage {
        ctx,
        status: status.as_u16(),
        message: message(ctx.lang, e),
    };
    (status, render(&page)).into_response()
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    ctx: Ctx,
}

/// The console's answer to a URL it does not know: a 404 page in the page's language (with
/// the menu when signed in). The API's unknown URLs keep their JSON 404 (`http::router`).
pub async fn not_found(app: &App, req: axum::extract::Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let ctx = match Session::from_request_parts(&mut parts, app).await {
        Ok(s) => s.ctx,
        Err(_) => {
            let mut ctx = anonymous(&parts.headers, "");
            ctx.path = parts.uri.path().to_string();
            ctx
        }
    };
    (StatusCode::NOT_FOUND, render(&NotFoundPage { ctx })).into_response()
}

pub fn render(t: &impl Template) -> Html<String> {
    Html(t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template");
        "internal error".into()
    }))
}

/// Turns a service result into a page or the error page.
pub fn page<T>(ctx: &Ctx, r: crate::domain::Result<T>) -> Result<T, Response> {
    r.map_err(|e| error_page(ctx, &e))
}

pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/lang/{code}", get(switch_lang))
        .route(
            "/static/console.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    include_str!("../../../static/console.css"),
                )
            }),
        )
        .route(
            "/static/console.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("../../../static/console.js"),
                )
            }),
        )
        .route(
            "/static/htmx.min.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    include_str!("../../../vendor/htmx/htmx.min.js"),
                )
            }),
        )
        .merge(cards::router())
        .merge(users::router())
        .merge(departures::router())
        .merge(handover::router())
        .merge(imports::router())
        .merge(news::router())
        .merge(mail::router())
        .merge(transfers::router())
        .merge(settings::router())
        .merge(scim::router())
        .merge(audit::router())
        .layer(axum::middleware::from_fn(clear_flash))
}

async fn home(s: Result<Session, Response>) -> Response {
    match s {
        Ok(s) if s.ctx.admin => Redirect::to("/departures").into_response(),
        Ok(_) => Redirect::to("/cards").into_response(),
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    next: String,
    email: String,
    organization: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn anonymous(headers: &HeaderMap, nav: &'static str) -> Ctx {
    Ctx {
        lang: Lang::detect(headers),
        user_name: String::new(),
        user_id: String::new(),
        admin: false,
        csrf: String::new(),
        nav,
        path: "/login".into(),
        zone: crate::domain::policy::DEFAULT_TIME_ZONE
            .parse()
            .unwrap_or(chrono_tz::Asia::Tokyo),
        flash: None,
        flash_error: false,
        news_open: 0,
        banner: None,
    }
}

/// Only paths of this site: never redirect off it after sign-in or a language switch. The
/// target is read as a browser reads it (tabs and line breaks dropped, `\\` as `/`, dots
/// resolved) against a placeholder origin; anything that leaves that origin, or is not a
/// path, becomes `/`. What is returned is the normalised, percent-encoded path and query, so
/// it is always a valid `Location`.
pub(super) fn safe_next(next: Option<&str>) -> String {
    const BASE: &str = "http://meishi.invalid/";
    let Some(n) = next.filter(|n| n.starts_with('/')) else {
        return "/".to_string();
    };
    let base = url::Url::parse(BASE).expect("static URL");
    match base.join(n) {
        Ok(u) if u.origin() == base.origin() && u.username().is_empty() && u.password().is_none() => {
            let mut out = u.path().to_string();
            if let Some(q) = u.query() {
                out.push('?');
                out.push_str(q);
            }
            if let Some(f) = u.fragment() {
                out.push('#');
                out.push_str(f);
            }
            // A path the browser would read as `//host` once more is still refused.
            if out.starts_with("//") || out.starts_with("/\\") {
                "/".to_string()
            } else {
                out
            }
        }
        _ => "/".to_string(),
    }
}

async fn login_form(headers: HeaderMap, Query(q): Query<NextQuery>) -> Html<String> {
    let ctx = anonymous(&headers, "login");
    render(&LoginPage {
        ctx,
        next: safe_next(q.next.as_deref()),
        email: String::new(),
        organization: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    organization: String,
    next: Option<String>,
}

async fn login(
    State(app): State<App>,
    axum::Extension(client): axum::Extension<crate::http::edge::Client>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    let ctx = anonymous(&headers, "login");
    // Login CSRF: a page of another site must not sign a browser in to an account of its choosing.
    if !crate::http::extract::same_origin(&headers) {
        return error_page(&ctx, &Error::forbidden("csrf"));
    }
    let org = Some(f.organization.trim()).filter(|o| !o.is_empty());
    let attempt = auth::Attempt {
        org_slug: org,
        email: &f.email,
        password: &f.password,
        client: client.ip,
    };
    match auth::sign_in(&app, attempt).await {
        Ok((secret, _)) => {
            let secure = client.https;
            let cookie = format!(
                "{}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                auth::SESSION_COOKIE,
                14 * 24 * 3600,
                if secure { "; Secure" } else { "" }
            );
            (
                [(header::SET_COOKIE, cookie)],
                Redirect::to(&safe_next(f.next.as_deref())),
            )
                .into_response()
        }
        Err(e) => {
            let error = match (e.kind, e.retry_after()) {
                (ErrorKind::Unauthenticated, _) => tr(ctx.lang, "login.wrong"),
                (ErrorKind::TooManyAttempts, Some(secs)) => {
                    tr(ctx.lang, "login.throttled").replace("%{n}", &secs.to_string())
                }
                _ => message(ctx.lang, &e),
            };
            let status = crate::http::error::status(e.kind);
            let retry = e.retry_after().filter(|_| e.kind == ErrorKind::TooManyAttempts);
            let page = LoginPage {
                next: safe_next(f.next.as_deref()),
                email: f.email,
                organization: f.organization,
                error: Some(error),
                ctx,
            };
            let mut res = (status, render(&page)).into_response();
            if let Some(secs) = retry {
                res.headers_mut().insert(header::RETRY_AFTER, secs.into());
            }
            res
        }
    }
}

async fn logout(State(app): State<App>, s: Session, headers: HeaderMap, body: String) -> Response {
    if let Err(r) = form::<std::collections::HashMap<String, String>>(&s, &headers, &body).await {
        return r;
    }
    if let Some(secret) = crate::http::extract::cookie(&headers, auth::SESSION_COOKIE) {
        let _ = auth::sign_out(&app, secret).await;
    }
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        auth::SESSION_COOKIE
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

async fn switch_lang(axum::extract::Path(code): axum::extract::Path<String>, Query(q): Query<NextQuery>) -> Response {
    let code = if code == "en" { "en" } else { "ja" };
    let cookie = format!("{LANG_COOKIE}={code}; Path=/; SameSite=Lax; Max-Age=31536000");
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(&safe_next(q.next.as_deref())),
    )
        .into_response()
}
