//! Request extractors: who is calling (bearer token or session cookie), and JSON bodies and
//! query strings whose errors name the field.

use crate::domain::{Error, Result};
use crate::service::{Actor, App, auth};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{Method, request::Parts};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The signed-in caller.
pub struct Auth(pub Actor);

pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A cookie-authenticated change (and a sign-in) must come from our own pages: an `Origin`
/// that names another host, or a browser's `Sec-Fetch-Site: cross-site`, is refused (the
/// SameSite=Strict cookie is the first line of defence). Without either header (a script,
/// curl) the request is not a browser's cross-site one.
pub fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return false;
    }
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").map(|(_, h)| h) == Some(host)
}

impl FromRequestParts<App> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self> {
        if let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = h
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .ok_or_else(Error::unauthenticated)?;
            return Ok(Auth(auth::actor_from_token(app, token.trim()).await?));
        }
        if let Some(session) = cookie(&parts.headers, auth::SESSION_COOKIE) {
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if !safe && !same_origin(&parts.headers) {
                return Err(Error::forbidden("cross-site request refused"));
            }
            return Ok(Auth(auth::actor_from_session(app, session).await?));
        }
        Err(Error::unauthenticated())
    }
}

/// Finds the field name in a serde message such as "missing field `email`".
fn field_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

fn bad_json(path: String, message: String) -> Error {
    let field = if path.is_empty() || path == "." {
        field_in(&message)
    } else {
        Some(path)
    };
    let mut e = Error::new(
        crate::domain::ErrorKind::BadInput,
        format!("invalid request body: {message}"),
    );
    e.field = field;
    e
}

/// A JSON body; a wrong content type, bad JSON or a bad field is a 400 naming the field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !json {
            return Err(Error::bad_input("content-type", "send the body as application/json"));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(
                    crate::domain::ErrorKind::TooLarge,
                    format!("the body is too large: {e}"),
                )
                .with_field("body")
            } else {
                Error::bad_input("body", format!("cannot read the body: {e}"))
            }
        })?;
        // The whole body is one JSON value: anything after it (`{…} xx`) is refused.
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_json::Value::deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v))
            .map_err(|e| bad_json(String::new(), e.to_string()))?;
        control_in_json(&value, &mut String::new())?;
        let value = integral(value);
        serde_path_to_error::deserialize(value)
            .map(Body)
            .map_err(|e| bad_json(e.path().to_string(), e.inner().to_string()))
    }
}

/// A number without a fraction written with one (`5.0`, `1e3`) is that integer, as JSON Schema
/// reads it (the document's `integer`); serde would refuse it for an integer field.
fn integral(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
    }
}

/// Refuses a control character (NUL…) in any string or key of a JSON body, naming its path
/// (`items[2].name`).
fn control_in_json(v: &serde_json::Value, path: &mut String) -> Result<()> {
    let here = |path: &str| {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.to_string()
        }
    };
    match v {
        serde_json::Value::String(s) => crate::domain::no_control(&here(path), s),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                control_in_json(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                crate::domain::no_control(&here(path), k)?;
                control_in_json(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Middleware: a control character (NUL…) in the path or in a query parameter, decoded, is a
/// 400 naming it, before any handler or the database sees it (also unauthenticated).
pub async fn refuse_control(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Err(e) = crate::domain::no_control("path", &percent_decoded(req.uri().path())) {
        return e.into_response();
    }
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        let field = if k.chars().any(char::is_control) { "query" } else { &k };
        if let Err(e) = crate::domain::no_control(field, &k).and_then(|()| crate::domain::no_control(field, &v)) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// Query-string parameters; unknown or malformed ones are a 400 naming the parameter.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
        serde_path_to_error::deserialize(de).map(Params).map_err(|e| {
            let mut err = bad_json(e.path().to_string(), e.inner().to_string());
            err.message = err.message.replace("invalid request body", "invalid query parameter");
            err
        })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// `%XX` decoded (a path; `+` stays), invalid UTF-8 replaced.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
