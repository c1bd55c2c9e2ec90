//! `POST /api/v1/imports` (the file as the body, or as the first file of a multipart form) and
//! `GET /api/v1/exports` (streamed). Both stream: the upload is read as it arrives, the
//! download is written as it is read from the database.

use crate::domain::{Error, Result};
use crate::formats::csv::HeaderLang;
use crate::formats::vcard::VcardVersion;
use crate::formats::{Format, ImportMode, OnDuplicate, TextEncoding};
use crate::http::edge::EdgeConfig;
use crate::http::error::ErrorBody;
use crate::http::extract::{Auth, Params};
use crate::service::App;
use crate::service::exports::{self, ExportOptions};
use crate::service::imports::{self, ImportOptions, ImportReport};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use std::pin::Pin;
use tokio_util::io::{StreamReader, SyncIoBridge};
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// Owner of rows that name none (default: you; admins may name anyone).
    pub owner_id: Option<String>,
    /// `all_or_nothing` (default) or `valid_rows`.
    pub mode: Option<ImportMode>,
    /// Exact duplicates of cards already there (same owner, same person, same fields):
    /// `skip` (default; listed in the answer) or `keep`.
    pub on_duplicate: Option<OnDuplicate>,
    /// `vcard` or `csv`; told by the content type, else by the content.
    pub format: Option<Format>,
    /// `utf-8`, `shift_jis` or `auto` (default; also taken from the content type's charset).
    #[param(schema_with = crate::http::document::encoding)]
    pub encoding: Option<String>,
    /// Owners named in the file (another organisation's or server's export) → users here:
    /// `old@example.jp=new@example.jp` pairs, comma-separated (the right side an e-mail or a
    /// user id). An owner in the file who is not a user here and is not mapped: their cards go
    /// to `owner_id` (default: you), with one warning per such owner.
    pub owner_mapping: Option<String>,
}

type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<axum::body::Bytes>> + Send>>;

fn format_of(content_type: &str) -> Option<Format> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match ct.as_str() {
        "text/vcard" | "text/x-vcard" | "text/directory" => Some(Format::Vcard),
        "text/csv" | "application/csv" | "text/comma-separated-values" => Some(Format::Csv),
        _ => None,
    }
}

fn charset_of(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

/// Import cards from a vCard or CSV file.
///
/// The body is the file (`Content-Type: text/vcard` or `text/csv`, a `charset=` is honoured),
/// or a `multipart/form-data` form whose first file is. All or nothing by default: one bad row
/// and nothing is imported, every error listed in the error's `details` (up to 100, with the
/// total) as `{"line","field","message"}`; with `mode=valid_rows` the good rows are imported and
/// the bad ones listed in the answer. Tags in a `タグ`/`tags` column (`;`-separated) or vCard
/// `CATEGORIES` become the owner's personal tags (created when missing); an owner column
/// (`名刺所有者ユーザID`/`owner`, an email) or vCard `X-MEISHI-OWNER` assigns owners per row.
#[utoipa::path(operation_id = "imports_import", post, path = "/api/v1/imports", tag = "import and export", params(ImportParams),
    request_body(description = "the file: CSV or vCard, as the body or as multipart/form-data",
        content((String = "text/csv"), (String = "text/vcard"), (String = "multipart/form-data"))),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, description = "the upload is larger than the server's import limit (`MEISHI_IMPORT_LIMIT_MIB`)", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import(
    State(app): State<App>,
    Auth(a): Auth,
    Extension(edge): Extension<std::sync::Arc<EdgeConfig>>,
    Params(q): Params<ImportParams>,
    req: Request,
) -> Result<Json<ImportReport>> {
    let limit = edge.import_body_limit;
    let too_large = || {
        Error::new(
            crate::domain::ErrorKind::TooLarge,
            format!(
                "the upload is larger than this server's import limit ({} MiB)",
                limit / (1024 * 1024)
            ),
        )
        .with_field("body")
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // The body is counted as it arrives: past the limit the reader gets an error (and the
    // answer is 413), whatever the client declared.
    let exceeded = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let body = {
        let exceeded = exceeded.clone();
        let mut seen = 0u64;
        req.into_body().into_data_stream().map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            seen += chunk.len() as u64;
            if seen > limit {
                exceeded.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(std::io::Error::other("the upload is larger than the import limit"));
            }
            Ok(chunk)
        })
    };
    let (stream, part_type): (ByteStream, String) =
        if content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
            let boundary = multer::parse_boundary(&content_type)
                .map_err(|e| Error::bad_input("content-type", format!("bad multipart form: {e}")))?;
            let mut form = multer::Multipart::new(body, boundary);
            let field = loop {
                match form.next_field().await {
                    Ok(Some(f)) if f.file_name().is_some() || f.name() == Some("file") => break f,
                    Ok(Some(_)) => continue,
                    Ok(None) => return Err(Error::bad_input("file", "the form has no file")),
                    Err(e) => return Err(Error::bad_input("body", format!("bad multipart form: {e}"))),
                }
            };
            let part_type = field.content_type().map(|m| m.to_string()).unwrap_or_default();
            (Box::pin(field.map_err(std::io::Error::other)), part_type)
        } else {
            (Box::pin(body), content_type.clone())
        };
    let encoding = match q.encoding.or_else(|| charset_of(&part_type)) {
        Some(e) => TextEncoding::parse("encoding", &e)?,
        None => TextEncoding::Auto,
    };
    let opts = ImportOptions {
        format: q.format.or_else(|| format_of(&part_type)),
        encoding,
        mode: q.mode.unwrap_or_default(),
        on_duplicate: q.on_duplicate.unwrap_or_default(),
        owner_mapping: q.owner_mapping,
        ..ImportOptions::new(q.owner_id)
    };
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    match imports::import(&app, &a, Box::new(reader), opts, None).await {
        Err(_) if exceeded.load(std::sync::atomic::Ordering::Relaxed) => Err(too_large()),
        other => Ok(Json(other?)),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `vcard` (default) or `csv`.
    pub format: Option<Format>,
    /// Only this user's cards (members: only themselves, the default for them).
    pub owner_id: Option<String>,
    /// Only cards with this tag.
    pub tag_id: Option<String>,
    /// CSV only: `utf-8` (default) or `shift_jis`.
    #[param(schema_with = crate::http::document::encoding)]
    pub encoding: Option<String>,
    /// vCard only: `4.0` (default) or `3.0`.
    pub version: Option<VcardVersion>,
    /// CSV only: `en` (meishi's header, default) or `ja` (会社名, 氏名, …).
    pub header: Option<HeaderLang>,
    /// CSV only: `false` writes cells that begin with `=`, `+`, `-`, `@`, tab or CR as they
    /// are; by default they get a leading `'` so a spreadsheet does not run them as formulas.
    pub formula_guard: Option<bool>,
}

/// Export cards as vCard or CSV, streamed as a download.
#[utoipa::path(operation_id = "imports_export", get, path = "/api/v1/exports", tag = "import and export", params(ExportParams),
    responses((status = 200, description = "the file (text/vcard or text/csv), as an attachment",
        content((String = "text/vcard"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "`encoding=shift_jis` with a vCard export", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(State(app): State<App>, Auth(a): Auth, Params(q): Params<ExportParams>) -> Result<Response> {
    let encoding = match q.encoding.as_deref() {
        None => TextEncoding::Utf8,
        Some(e) => match TextEncoding::parse("encoding", e)? {
            TextEncoding::Auto => TextEncoding::Utf8,
            other => other,
        },
    };
    let opts = ExportOptions {
        format: q.format.unwrap_or(Format::Vcard),
        owner_id: q.owner_id,
        tag_id: q.tag_id,
        encoding,
        version: q.version.unwrap_or_default(),
        header: q.header.unwrap_or_default(),
        formula_guard: q.formula_guard.unwrap_or(true),
    };
    let ex = exports::export(&app, &a, opts).await?;
    let stream = tokio_stream_of(ex.body).map(|r| r.map_err(|e| std::io::Error::other(e.message)));
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ex.content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", ex.filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&ex.cards.to_string()) {
        h.insert("x-meishi-cards", v);
    }
    Ok(res)
}

fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
