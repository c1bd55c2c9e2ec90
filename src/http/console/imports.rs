//! インポート・エクスポート: upload a vCard or CSV and see the result (counts, errors with line
//! numbers); download exports. The work is the import and export services the API uses.
//!
//! An import that imported something redirects (303) to `/imports?result=<id>` with a
//! one-time message: the result page reads the import's counts and listed line errors from
//! its audit event (`imports::result`), so it survives the redirect and any reload without
//! posting the file again. An import that imported nothing changed nothing: its page (422)
//! is the answer to the post, with every error listed.

use super::cards::all_users;
use super::{Ctx, Session, page, render};
use crate::domain::Error;
use crate::domain::model::User;
use crate::formats::{ImportMode, OnDuplicate, TextEncoding};
use crate::service::App;
use crate::service::imports::{self, ImportOptions};
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;

/// Uploads through the console are read whole; larger files go through the API or the CLI,
/// which stream.
const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

pub fn router() -> Router<App> {
    Router::new().route(
        "/imports",
        get(show).post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
    )
}

/// One problem, as the page shows it.
pub struct Problem {
    pub line: u64,
    pub field: String,
    pub message: String,
}

pub struct Outcome {
    pub ok: bool,
    pub rows: u64,
    pub imported: u64,
    pub error_count: u64,
    pub problems: Vec<Problem>,
    pub summary: String,
    /// Exact duplicates of cards already there: how many, whether they were skipped, and
    /// the first lines with the card each duplicates.
    pub duplicates: u64,
    pub duplicates_skipped: bool,
    pub duplicate_lines: Vec<(u64, String)>,
}

#[derive(Template)]
#[template(path = "imports.html")]
struct ImportsPage {
    ctx: Ctx,
    users: Vec<User>,
    outcome: Option<Outcome>,
    /// The duplicates option as last sent (checked on a fresh page).
    skip_duplicates: bool,
}

impl ImportsPage {
    fn n(&self, key: &str, v: &u64) -> String {
        self.ctx.t(key).replace("%{n}", &v.to_string())
    }
}

async fn imports_page(
    app: &App,
    s: Session,
    outcome: Option<Outcome>,
    status: axum::http::StatusCode,
    skip_duplicates: bool,
) -> Result<Response, Response> {
    let s = s.with_nav("imports");
    let users = if s.actor.is_admin() {
        page(&s.ctx, all_users(app, &s.actor).await)?
    } else {
        Vec::new()
    };
    Ok((
        status,
        render(&ImportsPage {
            users,
            outcome,
            skip_duplicates,
            ctx: s.ctx,
        }),
    )
        .into_response())
}

async fn show(
    State(app): State<App>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let outcome = match q.get("result").filter(|id| !id.is_empty()) {
        Some(id) => {
            let r = page(&s.ctx, imports::result(&app, &s.actor, id).await)?;
            Some(Outcome {
                ok: r.error_count == 0,
                rows: r.rows,
                imported: r.imported,
                error_count: r.error_count,
                problems: r
                    .errors
                    .iter()
                    .map(|e| problem(&s.ctx, e.line, &e.field, &e.message))
                    .collect(),
                summary: s.ctx.t("imports.stored").replace("%{at}", &s.ctx.minute(r.at)),
                duplicates: r.duplicates,
                duplicates_skipped: r.on_duplicate == OnDuplicate::Skip,
                duplicate_lines: r.duplicate_lines.into_iter().map(|d| (d.line, d.card_id)).collect(),
            })
        }
        None => None,
    };
    imports_page(&app, s, outcome, StatusCode::OK, true).await
}

/// Nothing was imported: the page answers the post (422), with every problem.
async fn failed(app: &App, s: Session, outcome: Outcome, skip_duplicates: bool) -> Result<Response, Response> {
    imports_page(app, s, Some(outcome), StatusCode::UNPROCESSABLE_ENTITY, skip_duplicates).await
}

/// The problem text in the page's language: Japanese pages name the line and the column and
/// ask to check it; English pages show the importer's own words.
fn problem(ctx: &Ctx, line: u64, field: &str, message: &str) -> Problem {
    let message = if ctx.lang == super::Lang::En {
        message.to_string()
    } else if field.is_empty() {
        ctx.t("imports.check_row")
    } else {
        ctx.t("imports.check_field").replace("%{field}", field)
    };
    Problem {
        line,
        field: field.to_string(),
        message,
    }
}

async fn upload(State(app): State<App>, s: Session, mut form: Multipart) -> Result<Response, Response> {
    let mut csrf = String::new();
    let mut valid_rows = false;
    // A checkbox sends nothing when unchecked: its absence is "keep" when the form said it
    // offered the choice (`duplicates_choice`), else the default (skip).
    let mut skip_duplicates = false;
    let mut offered = false;
    let mut owner = String::new();
    let mut file: Option<axum::body::Bytes> = None;
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.unwrap_or_default(),
            "valid_rows" => valid_rows = true,
            "skip_duplicates" => skip_duplicates = true,
            "duplicates_choice" => offered = true,
            "owner_id" => owner = field.text().await.unwrap_or_default(),
            "file" => file = field.bytes().await.ok(),
            _ => {}
        }
    }
    if csrf != s.ctx.csrf {
        return Err(super::error_page(&s.ctx, &Error::forbidden("csrf")));
    }
    let skip_duplicates = skip_duplicates || !offered;
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        let outcome = Outcome {
            ok: false,
            rows: 0,
            imported: 0,
            error_count: 1,
            problems: vec![],
            summary: s.ctx.t("imports.no_file"),
            duplicates: 0,
            duplicates_skipped: skip_duplicates,
            duplicate_lines: vec![],
        };
        return failed(&app, s, outcome, skip_duplicates).await;
    };
    let opts = ImportOptions {
        format: None,
        encoding: TextEncoding::Auto,
        mode: if valid_rows {
            ImportMode::ValidRows
        } else {
            ImportMode::AllOrNothing
        },
        on_duplicate: if skip_duplicates {
            OnDuplicate::Skip
        } else {
            OnDuplicate::Keep
        },
        ..ImportOptions::new(Some(owner).filter(|o| !o.is_empty()))
    };
    let result = imports::import(&app, &s.actor, Box::new(std::io::Cursor::new(bytes)), opts, None).await;
    let outcome = match result {
        Ok(r) => {
            let message = s
                .ctx
                .t("imports.imported_flash")
                .replace("%{n}", &r.imported.to_string());
            let to = match &r.id {
                Some(id) => format!("/imports?result={}", super::urlencode(id)),
                None => "/imports".to_string(),
            };
            return Ok(super::flash_redirect(&to, &message));
        }
        Err(e) => {
            let details = e.details.clone().unwrap_or_default();
            let listed: Vec<Problem> = details["errors"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            problem(
                                &s.ctx,
                                x["line"].as_u64().unwrap_or(0),
                                x["field"].as_str().unwrap_or(""),
                                x["message"].as_str().unwrap_or(""),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let file_problem = listed.is_empty() && e.field.as_deref() == Some("file");
            Outcome {
                ok: false,
                rows: details["rows"].as_u64().unwrap_or(0),
                imported: 0,
                error_count: details["error_count"].as_u64().unwrap_or(1),
                problems: if file_problem {
                    vec![problem(&s.ctx, 0, "", &e.message)]
                } else {
                    listed
                },
                summary: if details.is_null() && !file_problem {
                    super::message(s.ctx.lang, &e)
                } else {
                    s.ctx.t("imports.nothing_imported")
                },
                duplicates: 0,
                duplicates_skipped: skip_duplicates,
                duplicate_lines: vec![],
            }
        }
    };
    failed(&app, s, outcome, skip_duplicates).await
}
