//! HTTP adapters: the REST API, its OpenAPI document and reference page, SCIM 2.0, health.

pub mod api;
pub mod console;
pub mod document;
pub mod edge;
pub mod error;
pub mod extract;
pub mod observe;
pub mod scim;

use crate::domain::Error;
use crate::service::App;
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use edge::EdgeConfig;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "meishi", description = "Business cards and contacts, with offboarding (退職者対応) built in."),
    modifiers(&BearerAuth),
    // Types that only query parameters name, which the paths alone do not register.
    components(schemas(crate::formats::vcard::VcardVersion, crate::formats::csv::HeaderLang)),
    tags(
        (name = "session", description = "Sign-in for the console"),
        (name = "users", description = "ユーザー"),
        (name = "cards", description = "名刺"),
        (name = "contacts", description = "コンタクト"),
        (name = "tags", description = "タグ"),
        (name = "transfers", description = "所有者変更"),
        (name = "departures", description = "退職・出向: departures, handover plans, readiness"),
        (name = "organization", description = "組織 settings"),
        (name = "audit", description = "Audit log"),
        (name = "news", description = "ニュース: 人事異動・連絡先変更 on your cards"),
        (name = "people", description = "名寄せ: the person of a card, candidates, card history"),
        (name = "mail", description = "メール: templates, One to One mail (preview, send, history), lists, settings"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's routes and their document, finished once every path is in it
/// (`document::finish`: the answers every operation shares, input strings, rules between
/// fields).
fn api_and_document() -> (Router<App>, serde_json::Value) {
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::router())
        .split_for_parts();
    let doc = serde_json::to_value(&doc).expect("OpenAPI document serialises");
    (api, document::finish(doc))
}

/// The document served at `/api/openapi.json`.
pub fn openapi() -> serde_json::Value {
    api_and_document().1
}

pub fn router(app: App) -> Router {
    router_with(app, Arc::new(EdgeConfig::default()))
}

/// The whole site with its edge: every answer gets its request id and is counted
/// (`observe::observe`, outermost), the security headers (`edge::client`),
/// every error the JSON shape unless it is a console page (`error::json_errors`), a control
/// character in the path or query is refused (`extract::refuse_control`), request bodies
/// have an idle limit, and handlers find the `EdgeConfig` (the import's body limit).
pub fn router_with(app: App, config: Arc<EdgeConfig>) -> Router {
    let (api, doc) = api_and_document();
    let doc_json = doc.to_string();
    let docs_html = utoipa_scalar::Scalar::new(doc)
        .title("meishi API")
        .custom_html(SCALAR_PAGE)
        .to_html();
    let mut site = api
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(observe::readyz));
    if let Some(token) = config.metrics_token.clone() {
        site = site.route(
            "/metrics",
            get(move |state, headers| observe::metrics_with_token(token.clone(), state, headers)),
        );
    }
    let observed = app.clone();
    site.route(
        "/api/openapi.json",
        get(move || async move { ([("content-type", "application/json")], doc_json) }),
    )
    .route("/api/docs", get(move || async move { Html(docs_html) }))
    .route("/api/docs/scalar.js", get(scalar_js))
    .route(
        "/mail/opt-out/{id}",
        get(api::mail::opt_out_page).post(api::mail::opt_out),
    )
    .merge(scim::router(&app))
    .merge(console::router())
    .fallback(fallback)
    .layer(axum::middleware::from_fn(extract::refuse_control))
    .layer(axum::middleware::from_fn(error::json_errors))
    .layer(axum::middleware::from_fn({
        let limit = config.body_timeout;
        move |req, next| edge::body_timeout(limit, req, next)
    }))
    .layer(axum::Extension(config.clone()))
    .layer(axum::middleware::from_fn(move |req, next| {
        edge::client(config.clone(), req, next)
    }))
    .layer(axum::middleware::from_fn(move |req, next| {
        observe::observe(observed.clone(), req, next)
    }))
    .with_state(app)
}

/// An unknown URL: the API's (and the machine-read paths') JSON 404, else the console's page.
async fn fallback(State(app): State<App>, req: axum::extract::Request) -> Response {
    let path = req.uri().path();
    let machine = ["/api", "/scim", "/healthz", "/readyz", "/metrics"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if machine {
        return Error::not_found("page").into_response();
    }
    console::not_found(&app, req).await
}

/// The Scalar reference page, with its script served from here rather than from a CDN (and
/// without Scalar's web fonts, which the CSP would refuse anyway: nothing loads from elsewhere).
const SCALAR_PAGE: &str = r#"<!doctype html>
<html><head><title>$title</title><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><script id="api-reference" type="application/json" data-configuration="{&quot;withDefaultFonts&quot;:false}">$spec</script><script src="/api/docs/scalar.js"></script></body></html>"#;

async fn scalar_js() -> impl IntoResponse {
    let headers = [
        ("content-type", "text/javascript; charset=utf-8"),
        ("content-encoding", "gzip"),
        ("cache-control", "public, max-age=86400"),
    ];
    (headers, &include_bytes!("../../vendor/scalar/standalone.js.gz")[..])
}

/// Serves until Ctrl-C or SIGTERM, with the default edge (`EdgeConfig::default`).
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_with(app, listener, EdgeConfig::default()).await
}

/// Serves until Ctrl-C or SIGTERM with these limits and timeouts.
pub async fn serve_with(app: App, listener: tokio::net::TcpListener, config: EdgeConfig) -> std::io::Result<()> {
    let config = Arc::new(config);
    edge::serve(router_with(app, config.clone()), listener, &config, shutdown()).await
}

/// Serves `/metrics` (no token), `/readyz` and `/healthz` on a listener of their own
/// (`meishi serve --metrics-addr`) until Ctrl-C or SIGTERM.
pub async fn serve_metrics(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let config = EdgeConfig::default();
    edge::serve(observe::metrics_router(app), listener, &config, shutdown()).await
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}
