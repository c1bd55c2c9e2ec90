//! Card import (vCard 2.1/3.0/4.0, CSV in UTF-8 or Shift_JIS), streamed.
//!
//! A blocking thread reads the file and checks each card with the card-creation rules
//! (`CardFields::parse`, through `formats::check`), and hands batches to this task, which
//! resolves owners and tags and prepares each batch (`store::imports::CardBatch`) while the
//! previous one is being written (`CardWriter`), all in one bulk transaction
//! (`Store::bulk_write`): nothing is half-imported, and a failed import rolls back at once.
//! Memory stays flat whatever the file's size: at most a few batches are in flight.
//! `all_or_nothing` stops inserting at the first bad row but reads on, to list every error
//! (the first `MAX_LISTED_ERRORS`, and the total); `valid_rows` imports the good rows. A
//! problem with the file itself (not a card file, truncated, wrong encoding) imports nothing
//! in either mode. One audit event per import, with the counts.

use super::{Actor, App, Who, audit};
use crate::domain::model::Tag;
use crate::domain::{Email, Error, Result, UserStatus};
use crate::formats::csv::CsvCards;
use crate::formats::vcard::{self, VcardFile};
use crate::formats::{
    self, CheckedCard, FileError, Format, ImportMode, LineError, MAX_LISTED_ERRORS, OnDuplicate, TextEncoding,
};
use crate::store::{self, cards as st_cards, imports as st, users};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use utoipa::ToSchema;

/// Cards per batch between the reading thread and the inserting task.
const BATCH: usize = 5000;
/// How much of the file is looked at to tell its format and encoding.
const SNIFF: usize = 64 * 1024;

pub struct ImportOptions {
    /// None: told by the content (a file that starts with BEGIN:VCARD is a vCard).
    pub format: Option<Format>,
    pub encoding: TextEncoding,
    pub mode: ImportMode,
    /// The owner of rows that name none; None only for the system actor.
    pub owner_id: Option<String>,
    /// Exact duplicates of cards already there: skipped (default) or kept.
    pub on_duplicate: OnDuplicate,
    /// Same-person matching and news (on; `meishi bench import` measures it off too, and cards
    /// imported without it get their person when the server next starts).
    pub same_person: bool,
    /// Owners named in the file (an export of another organisation or server) → who owns
    /// their cards here: `old@example.jp=new@example.jp` pairs, comma-separated; the right
    /// side is a user's e-mail or id here. An owner named in the file who is not a user here
    /// and not mapped falls back to the default owner, with a warning per such owner.
    pub owner_mapping: Option<String>,
}

impl ImportOptions {
    /// An import with the defaults: format and encoding told by the content, all or nothing,
    /// duplicates skipped, matching on.
    pub fn new(owner_id: Option<String>) -> Self {
        Self {
            format: None,
            encoding: TextEncoding::Auto,
            mode: ImportMode::AllOrNothing,
            owner_id,
            on_duplicate: OnDuplicate::Skip,
            same_person: true,
            owner_mapping: None,
        }
    }
}

/// Counters a caller can watch while an import runs (the command line's progress bar).
#[derive(Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    pub rows: AtomicU64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub format: Format,
    /// The encoding used (detected when `auto`).
    pub encoding: String,
    pub mode: ImportMode,
    /// Cards (vCard) or data rows (CSV) read.
    pub rows: u64,
    pub imported: u64,
    pub skipped: u64,
    /// Exact duplicates of cards already there (or earlier in the file): the same owner, the
    /// same person, every field the same. Skipped unless `on_duplicate=keep`.
    pub on_duplicate: OnDuplicate,
    pub duplicates: u64,
    /// The first duplicates (at most 100): the line and the card it duplicates.
    pub duplicate_lines: Vec<DuplicateLine>,
    pub tags_created: u64,
    /// The first problems, by line (at most 100); `error_count` is the total.
    pub errors: Vec<LineError>,
    pub error_count: u64,
    /// The first warnings (at most 100; unknown CSV columns, kept with each card as `extra`);
    /// `warning_count` is the total.
    pub warnings: Vec<LineError>,
    pub warning_count: u64,
    /// The import's id (the target of its `cards.import` audit event); none when nothing was
    /// imported.
    pub id: Option<String>,
}

/// A line that duplicates a card already there.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateLine {
    pub line: u64,
    pub card_id: String,
}

enum Msg {
    Batch {
        cards: Vec<CheckedCard>,
        errors: Vec<LineError>,
        rows: u64,
        /// The column or property that names owners, for owner errors.
        owner_field: String,
    },
    Done {
        format: Format,
        encoding: TextEncoding,
        warnings: Vec<LineError>,
        warning_count: u64,
    },
    Fatal(FileError),
}

/// Counts bytes (for progress) and `"` (an odd count means a quoted CSV field never closed:
/// a truncated file).
struct Counting<R> {
    inner: R,
    progress: Arc<Progress>,
    quotes: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.quotes += buf[..n].iter().filter(|b| **b == b'"').count() as u64;
        Ok(n)
    }
}

fn sniff(
    prefix: &[u8],
    complete: bool,
    opts_format: Option<Format>,
    enc: TextEncoding,
) -> Result<(Format, TextEncoding), FileError> {
    if prefix.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FileError::new(0, "", "the file is empty"));
    }
    if prefix.contains(&0) {
        return Err(FileError::new(
            0,
            "",
            "not a vCard or CSV file (binary data; UTF-16 is not supported either)",
        ));
    }
    let body = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let format = opts_format.unwrap_or_else(|| {
        let t = body.trim_ascii_start();
        if t.len() >= 11 && t[..11].eq_ignore_ascii_case(b"BEGIN:VCARD") {
            Format::Vcard
        } else {
            Format::Csv
        }
    });
    let encoding = match enc {
        TextEncoding::Auto if prefix.starts_with(b"\xEF\xBB\xBF") => TextEncoding::Utf8,
        TextEncoding::Auto if formats::looks_utf8(prefix, complete) => TextEncoding::Utf8,
        // vCard decides per property (CHARSET=, or UTF-8 unless not valid).
        TextEncoding::Auto if format == Format::Vcard => TextEncoding::Auto,
        TextEncoding::Auto => TextEncoding::ShiftJis,
        TextEncoding::ShiftJis if prefix.starts_with(b"\xEF\xBB\xBF") => {
            return Err(FileError::new(
                1,
                "encoding",
                "the file starts with a UTF-8 byte-order mark but encoding=shift_jis was given",
            ));
        }
        e => e,
    };
    Ok((format, encoding))
}

/// The reading thread: parse, check, batch.
fn read_file(
    input: Box<dyn Read + Send>,
    format: Option<Format>,
    enc: TextEncoding,
    progress: Arc<Progress>,
    tx: tokio::sync::mpsc::Sender<Msg>,
) {
    let fatal = |tx: &tokio::sync::mpsc::Sender<Msg>, e: FileError| {
        let _ = tx.blocking_send(Msg::Fatal(e));
    };
    let mut counting = Counting {
        inner: input,
        progress,
        quotes: 0,
    };
    let mut prefix = Vec::with_capacity(SNIFF);
    let complete = loop {
        let mut buf = [0u8; 8192];
        match counting.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => prefix.extend_from_slice(&buf[..n]),
            Err(e) => return fatal(&tx, FileError::new(0, "", format!("cannot read the upload: {e}"))),
        }
        if prefix.len() >= SNIFF {
            break false;
        }
    };
    let (format, enc) = match sniff(&prefix, complete, format, enc) {
        Ok(x) => x,
        Err(e) => return fatal(&tx, e),
    };
    let input = std::io::Cursor::new(prefix).chain(counting);
    let mut batch = Vec::with_capacity(BATCH);
    let mut errors = Vec::new();
    let mut rows = 0u64;
    let flush = |batch: &mut Vec<CheckedCard>, errors: &mut Vec<LineError>, rows: &mut u64, owner: &str| -> bool {
        let msg = Msg::Batch {
            cards: std::mem::replace(batch, Vec::with_capacity(BATCH)),
            errors: std::mem::take(errors),
            rows: std::mem::take(rows),
            owner_field: owner.to_string(),
        };
        tx.blocking_send(msg).is_ok()
    };
    match format {
        Format::Csv => {
            let mut csv = match CsvCards::new(input, enc) {
                Ok(c) => c,
                Err(e) => return fatal(&tx, e),
            };
            let owner = csv.column_name("owner");
            while let Some(next) = csv.next_card() {
                rows += 1;
                match next {
                    Err(e) => return fatal(&tx, e),
                    Ok(Err(e)) => errors.push(e),
                    Ok(Ok(raw)) => match formats::check(raw, |f| csv.column_name(f)) {
                        Ok(c) => batch.push(c),
                        Err(e) => errors.push(e),
                    },
                }
                if batch.len() + errors.len() >= BATCH && !flush(&mut batch, &mut errors, &mut rows, &owner) {
                    return;
                }
            }
            if csv.input().get_ref().1.quotes % 2 == 1 {
                return fatal(
                    &tx,
                    FileError::new(0, "", "the file is truncated: a quoted field (\"…) is never closed"),
                );
            }
            if !flush(&mut batch, &mut errors, &mut rows, &owner) {
                return;
            }
            let warnings = std::mem::take(&mut csv.warnings);
            let _ = tx.blocking_send(Msg::Done {
                format,
                encoding: enc,
                warnings,
                warning_count: csv.warning_count,
            });
        }
        Format::Vcard => {
            let owner = "X-MEISHI-OWNER".to_string();
            let mut file = VcardFile::new(BufReader::with_capacity(256 * 1024, input));
            let (mut warnings, mut warning_count) = (Vec::new(), 0u64);
            while let Some(next) = file.next_card() {
                rows += 1;
                let lines = match next {
                    Err(e) => return fatal(&tx, e),
                    Ok(l) => l,
                };
                match vcard::parse_card(&lines, enc) {
                    Err(e) => return fatal(&tx, e),
                    Ok(Err(e)) => errors.push(e),
                    Ok(Ok(mut vc)) => {
                        // Values read with replacement characters: the card comes in, the
                        // report names the line.
                        for w in std::mem::take(&mut vc.warnings) {
                            warning_count += 1;
                            if warnings.len() < MAX_LISTED_ERRORS {
                                warnings.push(w);
                            }
                        }
                        match formats::check(vc.card.clone(), str::to_string) {
                            Ok(c) => batch.push(c),
                            Err(e) => errors.push(vc.locate(e)),
                        }
                    }
                }
                if batch.len() + errors.len() >= BATCH && !flush(&mut batch, &mut errors, &mut rows, &owner) {
                    return;
                }
            }
            if !flush(&mut batch, &mut errors, &mut rows, &owner) {
                return;
            }
            let _ = tx.blocking_send(Msg::Done {
                format,
                encoding: if enc == TextEncoding::Auto {
                    TextEncoding::Utf8
                } else {
                    enc
                },
                warnings,
                warning_count,
            });
        }
    }
}

/// Who may own imported cards, by email; cached per import. `mapped`: the file's owners
/// given to a user here (`owner_mapping`, checked before the import starts).
struct Owners {
    by_email: HashMap<String, Owner>,
    mapped: HashMap<String, String>,
}

/// An owner named in a file, as this organisation sees them.
#[derive(Clone)]
enum Owner {
    /// A user here who may own the cards (or the one `owner_mapping` names).
    User(String),
    /// Nobody here by that e-mail (another organisation's or server's export).
    Stranger,
    /// A user here who may not own them (not active; another member, for a member's import).
    Refused(String),
}

/// Reads `owner_mapping` (`old=new` pairs, comma-separated) into old e-mail (lower case) →
/// the id of an active user here (`new`: an e-mail or an id). A pair that names nobody who
/// may own cards is an error for the whole import, before anything is read.
async fn owner_mapping(c: &impl store::Conn, actor: &Actor, text: Option<&str>) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let bad = |m: String| Error::bad_input("owner_mapping", m);
    for pair in text.unwrap_or("").split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((old, new)) = pair.split_once('=') else {
            return Err(bad(format!(
                "'{pair}' is not old=new (an owner in the file = a user here)"
            )));
        };
        let (old, new) = (old.trim().to_lowercase(), new.trim());
        let old = Email::parse("owner_mapping", &old)?.as_str().to_string();
        let user = match users::by_email(c, &actor.org_id, new).await? {
            Some(u) => Some(u),
            None => users::by_id(c, &actor.org_id, new).await?,
        };
        // Well-formed, but naming nobody who may own cards here: 422.
        let refused = |m: String| Error::unprocessable(m).with_field("owner_mapping");
        let Some(user) = user else {
            return Err(refused(format!("{new} (for {old}) is not a user in this organisation")));
        };
        if user.user.status != UserStatus::Active || user.user.is_archive {
            return Err(refused(format!(
                "{new} (for {old}) is not an active user: cards can only be registered for active users"
            )));
        }
        if !actor.is_admin() && user.user.id != actor.user_id {
            return Err(Error::forbidden("members import cards for themselves only").with_field("owner_mapping"));
        }
        out.insert(old, user.user.id);
    }
    Ok(out)
}

impl Owners {
    async fn resolve(&mut self, c: &impl store::Conn, actor: &Actor, email: &str) -> Result<Owner> {
        if let Some(r) = self.by_email.get(email) {
            return Ok(r.clone());
        }
        if let Some(id) = self.mapped.get(&email.to_lowercase()) {
            return Ok(Owner::User(id.clone()));
        }
        let r = match users::by_email(c, &actor.org_id, email).await? {
            None => Owner::Stranger,
            Some(u) if !actor.is_admin() && u.user.id != actor.user_id => {
                Owner::Refused("members import cards for themselves only".to_string())
            }
            Some(u) if u.user.status != UserStatus::Active || u.user.is_archive => Owner::Refused(format!(
                "{email} is not an active user: cards can only be registered for active users"
            )),
            Some(u) => Owner::User(u.user.id),
        };
        self.by_email.insert(email.to_string(), r.clone());
        Ok(r)
    }
}

/// The default owner: the caller, or for admins any active user of the organisation.
pub async fn default_owner(c: &impl store::Conn, actor: &Actor, owner_id: Option<&str>) -> Result<Option<String>> {
    let Some(owner_id) = owner_id.filter(|o| *o != actor.user_id) else {
        return Ok(actor.user_id().map(str::to_string));
    };
    if !actor.is_admin() {
        return Err(Error::forbidden("members import cards for themselves only").with_field("owner_id"));
    }
    let owner = users::by_id(c, &actor.org_id, owner_id).await?.ok_or_else(|| {
        Error::unprocessable(format!("no user {owner_id} in this organisation")).with_field("owner_id")
    })?;
    if owner.user.status != UserStatus::Active || owner.user.is_archive {
        return Err(Error::unprocessable("cards can only be registered for active users").with_field("owner_id"));
    }
    Ok(Some(owner.user.id))
}

#[derive(Default)]
struct Errors {
    listed: Vec<LineError>,
    total: u64,
}

impl Errors {
    fn push(&mut self, e: LineError) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_ERRORS {
            self.listed.push(e);
        }
    }
}

/// What an import counted while preparing its batches.
#[derive(Default)]
struct Tally {
    rows: u64,
    imported: u64,
    duplicates: u64,
    duplicate_lines: Vec<DuplicateLine>,
    tags_created: u64,
    errors: Errors,
    done: Option<(Format, TextEncoding, Vec<LineError>, u64)>,
    /// Owners in the file who are not users here (warnings: the first listed, all counted).
    strangers: Vec<LineError>,
    stranger_count: u64,
}

/// Imports a file. `input` is read on a blocking thread (an HTTP body through `SyncIoBridge`,
/// or a file).
pub async fn import(
    app: &App,
    actor: &Actor,
    input: Box<dyn Read + Send>,
    opts: ImportOptions,
    progress: Option<Arc<Progress>>,
) -> Result<ImportReport> {
    let default_owner = default_owner(app.store.conn(), actor, opts.owner_id.as_deref()).await?;
    let mapped = owner_mapping(app.store.conn(), actor, opts.owner_mapping.as_deref()).await?;
    let progress = progress.unwrap_or_default();
    let (reader, rx) = start_reader(input, &opts, progress.clone());
    app.bulk_write(actor, async |txn, feed, who| {
        // One batch waits while one is written: each in flight is 5,000 cards (about 10 MB).
        let (batches_tx, batches_rx) = tokio::sync::mpsc::channel::<st::CardBatch>(1);
        // Inserting runs beside preparing: while the database writes one batch, the next one's
        // owners and tags are resolved and its rows made ready. Both use the one transaction.
        let insert = insert_batches(txn, feed, &actor.org_id, batches_rx, store::to_micros(who.at));
        let placer = opts
            .same_person
            .then(|| super::people::Placer::new(&actor.org_id, true));
        let prepare = Preparer::new(txn, actor, default_owner.as_ref(), who.at, placer, mapped).run(
            rx,
            batches_tx,
            opts.mode,
            opts.on_duplicate,
            &progress,
        );
        let (prepared, inserted) = tokio::join!(prepare, insert);
        let (t, writer) = settle(prepared, inserted, reader.await)?;
        let mut report = into_report(t, opts.mode, opts.on_duplicate)?;
        if opts.mode == ImportMode::AllOrNothing && report.error_count > 0 {
            return Err(nothing_imported(report));
        }
        report.id = Some(finish(txn, who, writer, &report, default_owner.as_deref()).await?);
        Ok(report)
    })
    .await
}

/// Starts the reading thread (format and encoding told, cards parsed, checked and batched).
fn start_reader(
    input: Box<dyn Read + Send>,
    opts: &ImportOptions,
    progress: Arc<Progress>,
) -> (tokio::task::JoinHandle<()>, tokio::sync::mpsc::Receiver<Msg>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(2);
    let (format, enc) = (opts.format, opts.encoding);
    let reader = tokio::task::spawn_blocking(move || read_file(input, format, enc, progress, tx));
    (reader, rx)
}

/// Writes the prepared batches as they come, in the import's transaction.
async fn insert_batches(
    txn: &store::Tx,
    feed: Option<store::row_feed::RowFeed>,
    org_id: &str,
    mut batches_rx: tokio::sync::mpsc::Receiver<st::CardBatch>,
    now_us: i64,
) -> Result<st::CardWriter> {
    let mut writer = st::CardWriter::start(txn, feed).await?;
    while let Some(b) = batches_rx.recv().await {
        writer.write(txn, org_id, b, now_us).await?;
    }
    Ok(writer)
}

/// Prepares the reader's batches for inserting: what it keeps from one batch to the next.
struct Preparer<'a> {
    c: &'a store::Tx,
    actor: &'a Actor,
    default_owner: Option<&'a String>,
    now: DateTime<Utc>,
    owners: Owners,
    /// Owners named in the file who are not users here, each with its first line (their cards
    /// went to the default owner; a warning each).
    strangers: Vec<LineError>,
    strangers_seen: HashSet<String>,
    /// (owner, tag name) → tag id.
    tags: HashMap<(String, String), String>,
    /// Same-person matching (None: off).
    placer: Option<super::people::Placer>,
}

impl<'a> Preparer<'a> {
    fn new(
        c: &'a store::Tx,
        actor: &'a Actor,
        default_owner: Option<&'a String>,
        now: DateTime<Utc>,
        placer: Option<super::people::Placer>,
        mapped: HashMap<String, String>,
    ) -> Self {
        Self {
            c,
            actor,
            default_owner,
            now,
            owners: Owners {
                by_email: HashMap::new(),
                mapped,
            },
            strangers: Vec::new(),
            strangers_seen: HashSet::new(),
            tags: HashMap::new(),
            placer,
        }
    }

    /// The preparing loop: owners, then tags, then rows, batch after batch, sent to the inserting side.
    async fn run(
        mut self,
        // Both dropped at the end: the inserting side then stops, and so does the reader,
        // were it still reading (this side stopped early: an error).
        mut rx: tokio::sync::mpsc::Receiver<Msg>,
        batches_tx: tokio::sync::mpsc::Sender<st::CardBatch>,
        mode: ImportMode,
        on_duplicate: OnDuplicate,
        progress: &Progress,
    ) -> Result<Tally> {
        let mut t = Tally::default();
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Fatal(e) => return Err(e.into_error()),
                Msg::Done {
                    format,
                    encoding,
                    warnings,
                    warning_count,
                } => t.done = Some((format, encoding, warnings, warning_count)),
                Msg::Batch {
                    cards,
                    errors: bad,
                    rows: n,
                    owner_field,
                } => {
                    t.rows += n;
                    progress.rows.fetch_add(n, Ordering::Relaxed);
                    for e in bad {
                        t.errors.push(e);
                    }
                    // Owners first: an unknown owner is a row error like any other.
                    let ready = self.owners_of(cards, &owner_field, &mut t.errors).await?;
                    if mode == ImportMode::AllOrNothing && t.errors.total > 0 {
                        continue; // nothing will be kept: read on only to list the errors
                    }
                    let ready = self.place(ready, on_duplicate, &mut t).await?;
                    t.tags_created += self.find_or_create_tags(&ready).await?;
                    let (insert, links) = self.rows_and_links(ready);
                    t.imported += insert.len() as u64;
                    if batches_tx
                        .send(st::CardBatch::new(self.c, insert, links)?)
                        .await
                        .is_err()
                    {
                        break; // the inserting side failed: its error is the import's
                    }
                }
            }
        }
        t.strangers = std::mem::take(&mut self.strangers);
        t.stranger_count = self.strangers_seen.len() as u64;
        Ok(t)
    }

    /// Each card with its owner's id; a card whose owner is unknown or not allowed is a row error.
    async fn owners_of(
        &mut self,
        cards: Vec<CheckedCard>,
        owner_field: &str,
        errors: &mut Errors,
    ) -> Result<Vec<(String, CheckedCard)>> {
        let mut ready = Vec::with_capacity(cards.len());
        for card in cards {
            let owner = if card.owner.is_empty() {
                match self.default_owner {
                    Some(o) => Ok(o.clone()),
                    None => Err("no owner: fill the owner column or give a default owner".to_string()),
                }
            } else {
                match self.owners.resolve(self.c, self.actor, &card.owner).await? {
                    Owner::User(id) => Ok(id),
                    Owner::Refused(m) => Err(m),
                    // Not a user here (a file from another organisation or server): the
                    // default owner takes the card, and the report says so once per owner.
                    Owner::Stranger => match self.default_owner {
                        Some(o) => {
                            let key = card.owner.to_lowercase();
                            if self.strangers_seen.insert(key.clone()) && self.strangers.len() < MAX_LISTED_ERRORS {
                                self.strangers.push(LineError::new(
                                    card.line,
                                    owner_field.to_string(),
                                    format!(
                                        "<{key}> is not a user here: their cards go to the import's owner \
                                         (owner_mapping gives them to someone else)"
                                    ),
                                ));
                            }
                            Ok(o.clone())
                        }
                        None => Err(format!("no user with the email {} in this organisation", card.owner)),
                    },
                }
            };
            match owner {
                Ok(o) => ready.push((o, card)),
                Err(m) => errors.push(LineError::new(card.line, owner_field.to_string(), m)),
            }
        }
        Ok(ready)
    }

    /// Tags by name: the owner's personal tags, created when missing. Returns how many were created.
    async fn find_or_create_tags(&mut self, ready: &[Ready]) -> Result<u64> {
        let mut created = 0;
        let mut wanted: HashMap<String, HashSet<String>> = HashMap::new();
        for Ready { owner: o, card, .. } in ready {
            for tag in &card.tags {
                if !self.tags.contains_key(&(o.clone(), tag.clone())) {
                    wanted.entry(o.clone()).or_default().insert(tag.clone());
                }
            }
        }
        for (owner, names) in wanted {
            let names: Vec<String> = names.into_iter().collect();
            let found = st::personal_tags(self.c, &self.actor.org_id, &owner, &names).await?;
            let mut new_tags = Vec::new();
            for name in names {
                let id = match found.get(&name) {
                    Some(id) => id.clone(),
                    None => {
                        let tag = Tag {
                            id: store::new_id(),
                            name: name.clone(),
                            creator_id: Some(owner.clone()),
                            shared: false,
                            created_at: self.now,
                        };
                        let id = tag.id.clone();
                        new_tags.push(tag);
                        id
                    }
                };
                self.tags.insert((owner.clone(), name), id);
            }
            created += new_tags.len() as u64;
            st_cards::insert_tags(self.c, &self.actor.org_id, &new_tags).await?;
        }
        Ok(created)
    }

    /// Each card's id and person (same-person matching, news and candidates, written as the
    /// batch is placed); exact duplicates counted and, unless kept, left out.
    async fn place(
        &mut self,
        ready: Vec<(String, CheckedCard)>,
        on_duplicate: OnDuplicate,
        t: &mut Tally,
    ) -> Result<Vec<Ready>> {
        let ids: Vec<String> = ready.iter().map(|_| store::new_id()).collect();
        let Some(placer) = &mut self.placer else {
            return Ok(ready
                .into_iter()
                .zip(ids)
                .map(|((owner, card), id)| Ready {
                    id,
                    owner,
                    card,
                    person_id: None,
                })
                .collect());
        };
        let arrivals: Vec<super::people::Arrival> = ready
            .iter()
            .zip(&ids)
            .map(|((owner, card), id)| super::people::Arrival {
                card_id: id.clone(),
                owner_id: owner.clone(),
                fields: card.fields.clone(),
                created_at: self.now,
            })
            .collect();
        let placed = placer
            .place(self.c, &arrivals, on_duplicate == OnDuplicate::Skip, self.now)
            .await?;
        let mut out = Vec::with_capacity(ready.len());
        for (((owner, card), id), p) in ready.into_iter().zip(ids).zip(placed) {
            if let Some(of) = p.duplicate_of {
                t.duplicates += 1;
                if t.duplicate_lines.len() < MAX_LISTED_ERRORS {
                    t.duplicate_lines.push(DuplicateLine {
                        line: card.line,
                        card_id: of,
                    });
                }
            }
            if p.person_id.is_some() {
                out.push(Ready {
                    id,
                    owner,
                    card,
                    person_id: p.person_id,
                });
            }
        }
        Ok(out)
    }

    /// The batch's rows to insert and their (card id, tag id) links.
    fn rows_and_links(&self, ready: Vec<Ready>) -> (Vec<st::ImportRow>, Vec<(String, String)>) {
        let mut links = Vec::new();
        let mut insert = Vec::with_capacity(ready.len());
        for Ready {
            id,
            owner,
            card,
            person_id,
        } in ready
        {
            for tag in &card.tags {
                links.push((id.clone(), self.tags[&(owner.clone(), tag.clone())].clone()));
            }
            insert.push(st::ImportRow {
                id,
                owner_id: owner,
                fields: card.fields,
                company_key: card.company_key,
                search: card.search,
                name_key: card.name_key,
                extra: card.extra,
                person_id,
            });
        }
        (insert, links)
    }
}

/// A card ready to insert: its id, owner and person.
struct Ready {
    id: String,
    owner: String,
    card: CheckedCard,
    person_id: Option<i64>,
}

/// The first error of the three sides (preparing, inserting, reading), or the tally and the writer.
fn settle(
    prepared: Result<Tally>,
    inserted: Result<st::CardWriter>,
    read: std::result::Result<(), tokio::task::JoinError>,
) -> Result<(Tally, st::CardWriter)> {
    let t = prepared?;
    let writer = inserted?;
    read.map_err(|e| Error::internal(format!("import reader: {e}")))?;
    Ok((t, writer))
}

/// The report from the tally; an error if the reader stopped before the end of the file.
fn into_report(t: Tally, mode: ImportMode, on_duplicate: OnDuplicate) -> Result<ImportReport> {
    let Tally {
        rows,
        imported,
        duplicates,
        duplicate_lines,
        tags_created,
        mut errors,
        done,
        strangers,
        stranger_count,
    } = t;
    let Some((format, encoding, read_warnings, read_count)) = done else {
        return Err(Error::internal("the import reader stopped early"));
    };
    // The owners' warnings first, then the reader's; listed up to the cap, all counted.
    let warning_count = read_count + stranger_count;
    let mut warnings = strangers;
    warnings.extend(read_warnings);
    warnings.truncate(MAX_LISTED_ERRORS);
    errors.listed.sort_by_key(|e| e.line);
    Ok(ImportReport {
        format,
        encoding: encoding.as_str().to_string(),
        mode,
        rows,
        imported,
        skipped: rows.saturating_sub(imported),
        on_duplicate,
        duplicates,
        duplicate_lines,
        tags_created,
        errors: errors.listed,
        error_count: errors.total,
        warnings,
        warning_count,
        id: None,
    })
}

/// The error of an `all_or_nothing` import with bad rows: the first error, and the report (nothing imported).
fn nothing_imported(mut report: ImportReport) -> Error {
    let first = &report.errors[0];
    let message = format!(
        "nothing was imported: {} of {} rows have errors (the first: line {}, {}: {})",
        report.error_count,
        report.rows,
        first.line,
        if first.field.is_empty() { "row" } else { &first.field },
        first.message
    );
    report.imported = 0;
    report.skipped = report.rows;
    report.tags_created = 0;
    // A well-formed upload whose rows the rules refuse: 422.
    Error::unprocessable(message)
        .with_field("file")
        .with_details(serde_json::to_value(&report).unwrap_or_default())
}

/// Builds the deferred indexes and writes the audit event with the counts and the listed
/// line errors (what `valid_rows` skipped, at most `MAX_LISTED_ERRORS`); returns the
/// import's id, the event's target.
async fn finish(
    txn: &store::Tx,
    who: Who<'_>,
    writer: st::CardWriter,
    report: &ImportReport,
    default_owner: Option<&str>,
) -> Result<String> {
    let summary = serde_json::json!({
        "format": report.format, "encoding": report.encoding, "mode": report.mode,
        "rows": report.rows, "imported": report.imported, "skipped": report.skipped,
        "tags_created": report.tags_created, "error_count": report.error_count,
        "owner_id": default_owner, "errors": report.errors,
        "on_duplicate": report.on_duplicate, "duplicates": report.duplicates,
        "duplicate_lines": report.duplicate_lines,
    });
    writer.finish(txn).await?;
    let import_id = store::new_id();
    audit(
        txn,
        who,
        IMPORT_ACTION,
        (IMPORT_TARGET, &import_id),
        None,
        Some(summary),
    )
    .await?;
    Ok(import_id)
}

const IMPORT_ACTION: &str = "cards.import";
const IMPORT_TARGET: &str = "import";

/// A finished import as its audit event recorded it: when, by whom, the counts and the
/// listed line errors.
#[derive(Debug, Clone)]
pub struct ImportResult {
    pub id: String,
    pub at: DateTime<Utc>,
    pub rows: u64,
    pub imported: u64,
    pub error_count: u64,
    pub errors: Vec<LineError>,
    /// Exact duplicates found, whether they were skipped or kept, and the first of them
    /// (imports recorded before duplicates were reported read as none).
    pub duplicates: u64,
    pub on_duplicate: OnDuplicate,
    pub duplicate_lines: Vec<DuplicateLine>,
}

/// The result of an earlier import (the console's page after the upload). Admins see every
/// import of their organisation; a member sees only their own, anything else is not found.
pub async fn result(app: &App, actor: &Actor, id: &str) -> Result<ImportResult> {
    let not_found = || Error::not_found("import");
    let event = store::audit::by_target(app.read(), &actor.org_id, IMPORT_ACTION, IMPORT_TARGET, id)
        .await?
        .ok_or_else(not_found)?;
    if !actor.is_admin() && event.actor_id.as_deref() != actor.user_id() {
        return Err(not_found());
    }
    let after = event.after.unwrap_or_default();
    let count = |k: &str| after[k].as_u64().unwrap_or(0);
    Ok(ImportResult {
        id: event.target_id,
        at: event.at,
        rows: count("rows"),
        imported: count("imported"),
        error_count: count("error_count"),
        duplicates: count("duplicates"),
        on_duplicate: serde_json::from_value(after["on_duplicate"].clone()).unwrap_or_default(),
        duplicate_lines: after["duplicate_lines"]
            .as_array()
            .map(|listed| {
                listed
                    .iter()
                    .map(|d| DuplicateLine {
                        line: d["line"].as_u64().unwrap_or(0),
                        card_id: d["card_id"].as_str().unwrap_or("").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        errors: after["errors"]
            .as_array()
            .map(|listed| {
                listed
                    .iter()
                    .map(|e| {
                        let text = |k: &str| e[k].as_str().unwrap_or("").to_string();
                        LineError::new(e["line"].as_u64().unwrap_or(0), text("field"), text("message"))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}
