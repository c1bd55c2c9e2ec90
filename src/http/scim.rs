//! SCIM 2.0 under `/scim/v2` (RFC 7644): discovery (ServiceProviderConfig, ResourceTypes,
//! Schemas) and Users. Authenticated by an organisation's SCIM token only (an API token or a
//! session is refused here, and a SCIM token is refused everywhere else: the tokens live in
//! different tables). Every answer is `application/scim+json`; errors are SCIM errors with
//! their `scimType`, never the API's JSON; every authenticated request is noted in the
//! organisation's log (the console's SCIM page). Groups are not offered (ResourceTypes says so).

use crate::domain::scim::{self as rules, CORE, ENTERPRISE, ERROR, Kind, LIST, Projection, SCHEMA};
use crate::domain::{Error, ErrorKind};
use crate::service::App;
use crate::service::scim::{self as svc, Idp, ListQuery};
use crate::store::scim::LoggedRequest;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

pub const CONTENT_TYPE: &str = "application/scim+json";

pub fn router(app: &App) -> Router<App> {
    Router::new()
        .route("/scim/v2/ServiceProviderConfig", get(service_provider_config))
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema))
        .route("/scim/v2/Users", get(list_users).post(create_user))
        .route("/scim/v2/Users/.search", axum::routing::post(search_users))
        // Users are the only resource type: a search at the root is a search of Users.
        .route("/scim/v2/.search", axum::routing::post(search_users))
        .route(
            "/scim/v2/Users/{id}",
            get(get_user).put(replace_user).patch(patch_user).delete(delete_user),
        )
        .route("/scim/v2", get(not_offered))
        .route("/scim/v2/{*rest}", axum::routing::any(not_offered))
        .layer(axum::middleware::from_fn_with_state(app.clone(), authenticate_and_log))
}

/// An answer in SCIM's media type.
fn scim(status: StatusCode, body: Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    res
}

/// What a failed request's log line says.
#[derive(Clone)]
struct Detail(String);

/// A domain error as a SCIM error (RFC 7644 §3.12). 500s are logged and never leaked.
pub fn error_response(e: Error) -> Response {
    let status = match e.kind {
        // A rule's refusal (the last admin, a deleted user) is a 400 in SCIM's terms.
        ErrorKind::Unprocessable => StatusCode::BAD_REQUEST,
        k => crate::http::error::status(k),
    };
    let detail = if e.kind == ErrorKind::Internal {
        tracing::error!(error = %e.message, "internal error");
        "internal error; the server log has the details".to_string()
    } else {
        e.message.clone()
    };
    let mut body = json!({"schemas": [ERROR], "status": status.as_u16().to_string(), "detail": detail});
    let scim_type = rules::scim_type(&e).map(str::to_string).or_else(|| match e.kind {
        ErrorKind::BadInput => Some("invalidValue".to_string()),
        _ => None,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    let mut res = scim(status, body);
    if e.kind == ErrorKind::Unauthenticated {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res.extensions_mut().insert(Detail(detail));
    res
}

type Answer = Result<Response, Response>;

fn fail(e: Error) -> Response {
    error_response(e)
}

/// The bearer token of an organisation's identity provider; every authenticated request is
/// noted in the organisation's log after it is answered.
async fn authenticate_and_log(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    let Some(token) = token else {
        return error_response(Error::new(
            ErrorKind::Unauthenticated,
            "send the organisation's SCIM token as a bearer token",
        ));
    };
    let idp = match svc::idp_from_token(&app, &token).await {
        Ok(idp) => idp,
        Err(e) if e.kind == ErrorKind::Unauthenticated => {
            return error_response(Error::new(
                ErrorKind::Unauthenticated,
                "not a SCIM token of any organisation (API tokens do not work here), or revoked",
            ));
        }
        Err(e) => return error_response(e),
    };
    let method = req.method().clone();
    let path = req
        .uri()
        .path()
        .strip_prefix("/scim/v2")
        .unwrap_or(req.uri().path())
        .to_string();
    let query = req.uri().query().map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    req.extensions_mut().insert(idp.clone());
    let res = next.run(req).await;
    let operation = match &query {
        Some(q) if !q.is_empty() => format!("{method} {path}?{q}"),
        _ => format!("{method} {path}"),
    };
    let operation: String = operation.chars().take(300).collect();
    let detail = res
        .extensions()
        .get::<Detail>()
        .map(|d| d.0.chars().take(300).collect::<String>())
        .unwrap_or_default();
    let logged = LoggedRequest {
        token_id: &idp.token_id,
        method: method.as_str(),
        path: &path,
        operation: &operation,
        status: res.status().as_u16() as i64,
        detail: &detail,
    };
    if let Err(e) = svc::log_request(&app, &idp, logged).await {
        tracing::warn!(error = %e, "could not note a SCIM request");
    }
    res
}

/// The `/scim/v2` URL as the caller reached it (for `meta.location`, and the console's page).
pub(crate) fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{proto}://{host}/scim/v2")
}

/// A JSON body (`application/scim+json` or `application/json`); anything else is `invalidSyntax`.
fn json_body(bytes: &Bytes) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|e| rules::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}

async fn not_offered() -> Response {
    error_response(Error::new(
        ErrorKind::NotFound,
        "meishi's SCIM service offers Users only (see ResourceTypes)",
    ))
}

async fn service_provider_config(headers: HeaderMap) -> Response {
    let base = base(&headers);
    scim(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": rules::MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The organisation's SCIM token (組織設定 → SCIM, or `meishi scim-token create`)",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
        }),
    )
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A meishi user account; active=false suspends it and opens a departure, DELETE moves what it holds to the archive account",
        "schema": CORE,
        "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
    })
}

fn list_of(items: Vec<Value>) -> Value {
    json!({"schemas": [LIST], "totalResults": items.len(), "startIndex": 1, "itemsPerPage": items.len(), "Resources": items})
}

async fn resource_types(headers: HeaderMap) -> Response {
    scim(StatusCode::OK, list_of(vec![user_resource_type(&base(&headers))]))
}

async fn resource_type(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if id == "User" {
        scim(StatusCode::OK, user_resource_type(&base(&headers)))
    } else {
        error_response(Error::not_found("resource type"))
    }
}

fn sub_attribute(parent: &str, name: &str) -> Value {
    let (kind, mutability, extra) = match (parent, name) {
        (_, "primary") => ("boolean", "readWrite", json!({})),
        ("manager", "displayName") => ("string", "readOnly", json!({})),
        ("manager", "$ref") => ("reference", "readWrite", json!({"referenceTypes": ["User"]})),
        _ => ("string", "readWrite", json!({})),
    };
    let mut v = json!({
        "name": name, "type": kind, "multiValued": false, "description": "", "required": false,
        "caseExact": false, "mutability": mutability, "returned": "default", "uniqueness": "none"
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

fn schema_document(urn: &str, base: &str) -> Value {
    let attributes: Vec<Value> = SCHEMA
        .iter()
        .filter(|a| a.schema == urn && a.writable && a.name != "externalId")
        .map(|a| {
            let (kind, multi, subs) = match a.kind {
                Kind::Text => ("string", false, None),
                Kind::Bool => ("boolean", false, None),
                Kind::Complex(s) => ("complex", false, Some(s)),
                Kind::Multi(s) => ("complex", true, Some(s)),
            };
            let mut v = json!({
                "name": a.name, "type": kind, "multiValued": multi, "description": a.description,
                "required": matches!(a.name, "userName" | "active"), "caseExact": false, "mutability": "readWrite",
                "returned": "default", "uniqueness": if a.name == "userName" { "server" } else { "none" }
            });
            if let Some(subs) = subs {
                v["subAttributes"] = Value::Array(subs.iter().map(|s| sub_attribute(a.name, s)).collect());
            }
            v
        })
        .collect();
    let (name, description) = if urn == CORE {
        ("User", "User Account")
    } else {
        ("EnterpriseUser", "Enterprise User")
    };
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": urn, "name": name, "description": description, "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{urn}")}
    })
}

async fn schemas(headers: HeaderMap) -> Response {
    let base = base(&headers);
    scim(
        StatusCode::OK,
        list_of(vec![schema_document(CORE, &base), schema_document(ENTERPRISE, &base)]),
    )
}

async fn schema(headers: HeaderMap, Path(id): Path<String>) -> Response {
    match [CORE, ENTERPRISE].into_iter().find(|u| u.eq_ignore_ascii_case(&id)) {
        Some(urn) => scim(StatusCode::OK, schema_document(urn, &base(&headers))),
        None => error_response(Error::not_found("schema")),
    }
}

/// The list parameters, by name without regard to case (RFC 7644 §3.4.2).
struct ListParams {
    projection: Projection,
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    descending: bool,
}

/// A comma-separated list of attribute names.
fn names(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// `attributes` / `excludedAttributes` of a query string.
fn projection(query: Option<&str>) -> Projection {
    let mut p = Projection::default();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.to_ascii_lowercase().as_str() {
            "attributes" => p.attributes.extend(names(&v)),
            "excludedattributes" => p.excluded.extend(names(&v)),
            _ => {}
        }
    }
    p
}

/// A resource as answered, with the attribute selection applied.
fn shown(u: &svc::ScimUser, base: &str, p: &Projection) -> Value {
    let mut v = u.to_json(base);
    p.apply(&mut v);
    v
}

fn number(name: &str, v: &str) -> Result<i64, Error> {
    v.trim()
        .parse()
        .map_err(|_| rules::bad("invalidValue", format!("{name} must be an integer")))
}

fn list_params(pairs: impl Iterator<Item = (String, String)>) -> Result<ListParams, Error> {
    let mut p = ListParams {
        projection: Projection::default(),
        filter: None,
        start_index: None,
        count: None,
        sort_by: None,
        descending: false,
    };
    for (k, v) in pairs {
        match k.to_ascii_lowercase().as_str() {
            "filter" => p.filter = Some(v),
            "startindex" => p.start_index = Some(number("startIndex", &v)?),
            "count" => p.count = Some(number("count", &v)?),
            "sortby" => p.sort_by = Some(v),
            "sortorder" => p.descending = v.eq_ignore_ascii_case("descending"),
            "attributes" => p.projection.attributes.extend(names(&v)),
            "excludedattributes" => p.projection.excluded.extend(names(&v)),
            _ => {}
        }
    }
    Ok(p)
}

async fn listing(app: &App, idp: &Idp, headers: &HeaderMap, p: ListParams) -> Answer {
    let q = ListQuery {
        filter: p.filter.as_deref(),
        start_index: p.start_index,
        count: p.count,
        sort_by: p.sort_by.as_deref(),
        descending: p.descending,
    };
    let listed = svc::list(app, idp, q).await.map_err(fail)?;
    let base = base(headers);
    let items: Vec<Value> = listed.users.iter().map(|u| shown(u, &base, &p.projection)).collect();
    Ok(scim(
        StatusCode::OK,
        json!({
            "schemas": [LIST],
            "totalResults": listed.total,
            "startIndex": listed.start_index,
            "itemsPerPage": items.len(),
            "Resources": items,
        }),
    ))
}

async fn list_users(
    State(app): State<App>,
    Extension(idp): Extension<Idp>,
    headers: HeaderMap,
    req: Request,
) -> Answer {
    let q = req.uri().query().unwrap_or("");
    let p = list_params(form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())))
        .map_err(fail)?;
    listing(&app, &idp, &headers, p).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): the list parameters in a body.
async fn search_users(
    State(app): State<App>,
    Extension(idp): Extension<Idp>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let v = json_body(&body).map_err(fail)?;
    let Value::Object(m) = v else {
        return Err(fail(rules::bad("invalidSyntax", "the body must be a JSON object")));
    };
    let pairs = m.into_iter().filter_map(|(k, v)| {
        let text = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            _ => return None,
        };
        Some((k, text))
    });
    let p = list_params(pairs).map_err(fail)?;
    listing(&app, &idp, &headers, p).await
}

async fn get_user(
    State(app): State<App>,
    Extension(idp): Extension<Idp>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let u = svc::get(&app, &idp, &id).await.map_err(fail)?;
    Ok(scim(
        StatusCode::OK,
        shown(&u, &base(&headers), &projection(q.as_deref())),
    ))
}

fn created(u: &svc::ScimUser, base: &str, p: &Projection) -> Response {
    let body = shown(u, base, p);
    let mut res = scim(StatusCode::CREATED, body);
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/Users/{}", u.user.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

async fn create_user(
    State(app): State<App>,
    Extension(idp): Extension<Idp>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    let v = json_body(&body).map_err(fail)?;
    let u = svc::create(&app, &idp, &v).await.map_err(fail)?;
    Ok(created(&u, &base(&headers), &projection(q.as_deref())))
}

async fn replace_user(
    State(app): State<App>,
    Extension(idp): Extension<Idp>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    let v = json_body(&body).map_err(fail)?;
    let u = svc::replace(&app, &idp, &id, &v).await.map_err(fail)?;
    Ok(scim(
        StatusCode::OK,
        shown(&u, &base(&headers), &projection(q.as_deref())),
    ))
}

async fn patch_user(
    State(app): State<App>,
    Extension(idp): Extension<Idp>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    let v = json_body(&body).map_err(fail)?;
    let op: scim_v2::models::others::PatchOp = serde_json::from_value(v).map_err(|e| {
        let message = e.to_string();
        let kind = if message.contains("invalid SCIM path") {
            "invalidPath"
        } else {
            "invalidSyntax"
        };
        fail(rules::bad(kind, format!("not a PATCH message: {message}")))
    })?;
    if !op.schemas.iter().any(|s| s.eq_ignore_ascii_case(rules::PATCH_OP)) {
        return Err(fail(rules::bad(
            "invalidSyntax",
            format!("a PATCH message names the schema {}", rules::PATCH_OP),
        )));
    }
    let u = svc::patch(&app, &idp, &id, &op.operations).await.map_err(fail)?;
    Ok(scim(
        StatusCode::OK,
        shown(&u, &base(&headers), &projection(q.as_deref())),
    ))
}

async fn delete_user(State(app): State<App>, Extension(idp): Extension<Idp>, Path(id): Path<String>) -> Answer {
    svc::delete(&app, &idp, &id).await.map_err(fail)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
