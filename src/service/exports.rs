//! Card export as vCard (4.0, or 3.0) or CSV (meishi's or the Japanese header; UTF-8 or
//! Shift_JIS), streamed: a task reads the selection a page at a time (keyset on the id) and
//! sends chunks through a small bounded channel, so memory stays flat whatever the size and a
//! slow client slows the reading down. Members export their own cards; admins anyone's.
//! One audit event per export, written before the first byte goes out.

use super::{Actor, App, audit};
use crate::domain::{Error, Result};
use crate::formats::csv::{CsvOut, HeaderLang};
use crate::formats::vcard::{VcardVersion, write_card};
use crate::formats::{ExportRow, Format, TextEncoding, to_shift_jis};
use crate::store::{self, cards as st_cards, exports as st};
use std::collections::HashMap;

/// Cards read per query.
const PAGE: usize = 5000;

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub format: Format,
    pub owner_id: Option<String>,
    pub tag_id: Option<String>,
    /// UTF-8 (default) or Shift_JIS (CSV only).
    pub encoding: TextEncoding,
    pub version: VcardVersion,
    pub header: HeaderLang,
    /// CSV: a cell that begins like a spreadsheet formula (`=`, `+`, `-`, `@`, tab, CR) is
    /// written after a `'` (on unless turned off).
    pub formula_guard: bool,
}

pub struct Export {
    pub content_type: &'static str,
    pub filename: String,
    pub cards: i64,
    /// The file, in chunks; an `Err` means the export broke off (the stream must be aborted).
    pub body: tokio::sync::mpsc::Receiver<std::result::Result<Vec<u8>, Error>>,
}

pub async fn export(app: &App, actor: &Actor, o: ExportOptions) -> Result<Export> {
    let c = app.store.conn();
    let owner_id = match (&o.owner_id, actor.is_admin()) {
        (Some(id), false) if id != &actor.user_id => {
            return Err(Error::forbidden("members export their own cards only").with_field("owner_id"));
        }
        (None, false) => Some(actor.user_id.clone()),
        (Some(id), _) => {
            if store::users::by_id(c, &actor.org_id, id).await?.is_none() {
                return Err(Error::not_found("user").with_field("owner_id"));
            }
            Some(id.clone())
        }
        (None, true) => None,
    };
    if let Some(t) = &o.tag_id {
        let tag = st_cards::get_tag(c, &actor.org_id, t).await?;
        let visible = tag.is_some_and(|t| t.visible_to(&actor.user_id, actor.is_admin()));
        if !visible {
            return Err(Error::not_found("tag").with_field("tag_id"));
        }
    }
    // Two well-formed parameters that do not go together: 422.
    if o.format == Format::Vcard && o.encoding == TextEncoding::ShiftJis {
        return Err(Error::unprocessable("vCard exports are UTF-8; Shift_JIS is for CSV").with_field("encoding"));
    }
    let cards = st::count_selection(c, &actor.org_id, owner_id.as_deref(), o.tag_id.as_deref()).await?;
    let summary = serde_json::json!({
        "format": o.format, "owner_id": owner_id, "tag_id": o.tag_id, "cards": cards,
        "encoding": if o.encoding == TextEncoding::ShiftJis { "shift_jis" } else { "utf-8" },
    });
    let now = app
        .write(actor, async |tx, who| {
            let export_id = store::new_id();
            audit(tx, who, "cards.export", ("export", &export_id), None, Some(summary)).await?;
            Ok(who.at)
        })
        .await?;

    let (content_type, ext) = match (o.format, o.encoding) {
        (Format::Vcard, _) => ("text/vcard; charset=utf-8", "vcf"),
        (Format::Csv, TextEncoding::ShiftJis) => ("text/csv; charset=shift_jis", "csv"),
        (Format::Csv, _) => ("text/csv; charset=utf-8", "csv"),
    };
    let filename = format!("meishi-cards-{}.{ext}", now.format("%Y%m%d"));
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let app = app.clone();
    let actor = actor.clone();
    tokio::spawn(async move {
        if let Err(e) = produce(&app, &actor, owner_id, &o, &tx).await {
            tracing::error!(error = %e, "export broke off");
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(Export {
        content_type,
        filename,
        cards,
        body: rx,
    })
}

/// One page of one owner's cards.
struct Page {
    owner: usize,
    cards: st::ExportPage,
}

/// Reads the selection a page at a time, owner by owner, ahead of the writer: the next page
/// is read while the previous one is being written, so the database and the formatting run
/// side by side. The channel holds at most two pages.
async fn read_pages(
    app: App,
    org_id: String,
    owners: Vec<String>,
    tag_id: Option<String>,
    viewer: Option<String>,
    tx: tokio::sync::mpsc::Sender<Result<Page>>,
) {
    let c = app.store.conn();
    for (i, owner) in owners.iter().enumerate() {
        let sel = st::Selection {
            owner_id: owner.clone(),
            tag_id: tag_id.clone(),
        };
        let mut after: Option<String> = None;
        loop {
            let page = match st::export_page(c, &org_id, &sel, after.as_deref(), PAGE, viewer.as_deref()).await {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => return drop(tx.send(Err(e)).await),
            };
            after = Some(page.last.clone());
            let full = page.rows == PAGE;
            let msg = Page { owner: i, cards: page };
            if tx.send(Ok(msg)).await.is_err() {
                return; // the writer stopped
            }
            if !full {
                break;
            }
        }
    }
}

async fn produce(
    app: &App,
    actor: &Actor,
    owner_id: Option<String>,
    o: &ExportOptions,
    tx: &tokio::sync::mpsc::Sender<std::result::Result<Vec<u8>, Error>>,
) -> Result<()> {
    let emails: HashMap<String, String> = st::user_emails(app.store.conn(), &actor.org_id).await?;
    let viewer = (!actor.is_admin()).then(|| actor.user_id.clone());
    let mut csv = CsvOut::new(o.header, o.formula_guard);
    if o.format == Format::Csv {
        csv.header();
    }
    // Owner by owner (all of them, in id order, for an admin's export of everything).
    let owners: Vec<String> = match owner_id {
        Some(o) => vec![o],
        None => {
            let mut all: Vec<String> = emails.keys().cloned().collect();
            all.sort();
            all
        }
    };
    let (pages_tx, mut pages) = tokio::sync::mpsc::channel(2);
    let reader = tokio::spawn(read_pages(
        app.clone(),
        actor.org_id.clone(),
        owners.clone(),
        o.tag_id.clone(),
        viewer,
        pages_tx,
    ));
    // One row value, refilled for each card: the owner's email is not copied per card.
    let mut row = ExportRow::default();
    let mut current_owner = usize::MAX;
    let mut capacity = 0;
    while let Some(page) = pages.recv().await {
        let Page { owner, cards } = page?;
        if owner != current_owner {
            row.owner = emails.get(&owners[owner]).cloned().unwrap_or_default();
            current_owner = owner;
        }
        let mut text = String::with_capacity(capacity);
        for card in cards.cards()? {
            row.fields = card.fields;
            row.tags = card.tags;
            row.extra = card.extra;
            match o.format {
                Format::Vcard => write_card(&mut text, &card.id, &row, o.version),
                Format::Csv => csv.row(&row),
            }
        }
        let chunk = match o.format {
            Format::Vcard => text.into_bytes(),
            Format::Csv => csv.take(),
        };
        capacity = capacity.max(chunk.len());
        if !send(tx, chunk, o.encoding).await {
            reader.abort();
            return Ok(()); // the client went away
        }
    }
    if o.format == Format::Csv {
        let rest = csv.take();
        if !rest.is_empty() {
            send(tx, rest, o.encoding).await;
        }
    }
    Ok(())
}

async fn send(
    tx: &tokio::sync::mpsc::Sender<std::result::Result<Vec<u8>, Error>>,
    utf8: Vec<u8>,
    enc: TextEncoding,
) -> bool {
    let bytes = if enc == TextEncoding::ShiftJis {
        let mut out = Vec::with_capacity(utf8.len());
        to_shift_jis(&String::from_utf8_lossy(&utf8), &mut out);
        out
    } else {
        utf8
    };
    tx.send(Ok(bytes)).await.is_ok()
}
