//! Use cases. Each public function that changes state is one unit of work (`App::write`):
//! it checks who may do it, loads what the decision needs, lets the domain decide, writes,
//! and records the audit event, all in one transaction that commits on success and is rolled
//! back explicitly on an error or a panic. Reads use `App::read` outside a transaction.

pub mod audit;
pub mod auth;
pub mod backup;
pub mod bench;
pub mod cards;
pub mod demo;
pub mod departures;
pub mod exports;
pub mod imports;
pub mod lifecycle;
pub mod mail;
pub mod ops;
pub mod org_archive;
pub mod orgs;
pub mod people;
pub mod scheduler;
pub mod scim;
pub mod transfers;
pub mod users;

use crate::domain::{Clock, Error, Result, Role};
use crate::store::{self, Store, audit::NewEvent};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use serde::Serialize;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// Everything a use case needs: the store, the clock, and the SMTP transport if mail is set up.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub mail: Option<Arc<mail::Mailer>>,
    /// Password verifications run (argon2), counted: a test checks that signing in to an
    /// unknown organisation does the same work as to a known one.
    pub password_checks: Arc<std::sync::atomic::AtomicU64>,
    /// This server's counters (`/metrics`): requests, scheduler runs, mail deliveries.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl App {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            mail: None,
            password_checks: Arc::default(),
            metrics: Arc::default(),
        }
    }
    /// The app sending mail through `mailer` (`meishi serve` with `MEISHI_SMTP_URL`).
    pub fn with_mail(mut self, mailer: mail::Mailer) -> Self {
        self.mail = Some(Arc::new(mailer));
        self
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Opens the database at `url` (SQLite file or PostgreSQL), brings its schema up to date,
    /// and returns the app on it.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(Self::new(store, clock))
    }

    /// Waits until the database file holds everything committed (after a bulk import on
    /// SQLite, whose checkpoint runs in the background); the command line calls it before it
    /// exits.
    pub async fn checkpoint_done(&self) {
        self.store.checkpoint_done().await
    }

    /// Connection for reads outside a unit of work.
    pub(crate) fn read(&self) -> &store::Db {
        self.store.conn()
    }

    /// The one way to change state: begins a write transaction (`BEGIN IMMEDIATE` on SQLite),
    /// reads the clock once, runs `work` with the transaction and who acts when, commits if
    /// it returns `Ok`, and rolls back explicitly if it returns `Err` or panics. No
    /// transaction is ever left to a drop (on PostgreSQL a dropped one kept its locks until
    /// its connection was next used).
    pub async fn write<T>(&self, actor: &Actor, work: impl AsyncFnOnce(&store::Tx, Who<'_>) -> Result<T>) -> Result<T> {
        self.unit(true, |now| actor.at(now), work).await
    }

    /// `write` for a use case with a dry run: with `dry_run` the same work runs, so its counts
    /// are exact, and is rolled back even when it succeeds.
    pub async fn write_or_rehearse<T>(
        &self,
        actor: &Actor,
        dry_run: bool,
        work: impl AsyncFnOnce(&store::Tx, Who<'_>) -> Result<T>,
    ) -> Result<T> {
        self.unit(!dry_run, |now| actor.at(now), work).await
    }

    /// `write` for the rare use case that learns who acts only inside the transaction (signing
    /// out a session): `work` gets the moment instead of a `Who`.
    pub async fn write_at<T>(&self, work: impl AsyncFnOnce(&store::Tx, DateTime<Utc>) -> Result<T>) -> Result<T> {
        self.unit(true, |now| now, work).await
    }

    /// The unit of work of a bulk load (an import of cards): `write`, on a connection of its
    /// own with the rows feed `store::Store::bulk_write` gives, committed with `commit_bulk`.
    pub async fn bulk_write<T>(
        &self,
        actor: &Actor,
        work: impl AsyncFnOnce(&store::Tx, Option<store::row_feed::RowFeed>, Who<'_>) -> Result<T>,
    ) -> Result<T> {
        let (tx, feed) = self.store.bulk_write().await?;
        let (outcome, events) =
            with_audit_queue(AssertUnwindSafe(work(&tx, feed, actor.at(self.now()))).catch_unwind()).await;
        self.end(tx, outcome, events, Commit::Bulk).await
    }

    async fn unit<A, T>(
        &self,
        commit: bool,
        arg: impl FnOnce(DateTime<Utc>) -> A,
        work: impl AsyncFnOnce(&store::Tx, A) -> Result<T>,
    ) -> Result<T> {
        let tx = self.store.write().await?;
        let (outcome, events) = with_audit_queue(AssertUnwindSafe(work(&tx, arg(self.now()))).catch_unwind()).await;
        self.end(tx, outcome, events, if commit { Commit::Yes } else { Commit::No })
            .await
    }

    /// Ends a unit of work: on success writes its audit events (`audit`) and commits if asked
    /// to; else rolls back explicitly (and lets a panic go on once the transaction is gone).
    async fn end<T>(
        &self,
        tx: store::Tx,
        outcome: std::thread::Result<Result<T>>,
        events: Vec<QueuedEvent>,
        commit: Commit,
    ) -> Result<T> {
        let outcome = match outcome {
            Ok(Ok(value)) if !matches!(commit, Commit::No) => match append_all(&tx, events).await {
                Ok(()) => Ok(Ok(value)),
                Err(e) => Ok(Err(e)),
            },
            other => other,
        };
        match (outcome, commit) {
            (Ok(Ok(value)), Commit::Yes) => {
                store::commit(tx).await?;
                Ok(value)
            }
            (Ok(Ok(value)), Commit::Bulk) => {
                self.store.commit_bulk(tx).await?;
                Ok(value)
            }
            (Ok(result), _) => {
                store::rollback(tx).await;
                result
            }
            (Err(panic), _) => {
                store::rollback(tx).await;
                std::panic::resume_unwind(panic)
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Commit {
    Yes,
    /// Roll back even on success (a dry run).
    No,
    /// `Store::commit_bulk`.
    Bulk,
}

/// Brings the schema of the database at `url` up to date; returns how many migrations ran.
pub async fn migrate(url: &str) -> Result<usize> {
    Store::connect(url).await?.migrate().await
}

/// Who is acting: a signed-in user of one organisation, or the system itself (command line,
/// scheduler), which acts with an administrator's rights and an empty user id.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
    /// The hash of the console session this actor came in by (kept when they change their
    /// password); None for a token, the command line and the system.
    pub session: Option<String>,
}

impl Actor {
    pub fn system(org_id: &str) -> Self {
        Self {
            org_id: org_id.to_string(),
            user_id: String::new(),
            role: Role::Admin,
            session: None,
        }
    }
    /// The acting user, or None for the system.
    pub fn user_id(&self) -> Option<&str> {
        (!self.user_id.is_empty()).then_some(self.user_id.as_str())
    }
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    pub fn at(&self, at: DateTime<Utc>) -> Who<'_> {
        Who {
            org_id: &self.org_id,
            actor_id: self.user_id(),
            at,
        }
    }
    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::forbidden("only administrators may do this"))
        }
    }
}

/// The organisation, read inside or outside a unit of work.
pub(crate) async fn org(c: &impl store::Conn, org_id: &str) -> Result<crate::domain::model::Organization> {
    store::orgs::by_id(c, org_id)
        .await?
        .ok_or_else(|| Error::not_found("organization"))
}

/// Records one audit event of the caller's unit of work: every audit event goes through here,
/// and is written in the unit's transaction, as the next link of its organisation's chain
/// (`store::audit::append`), when the unit's work is done, just before it commits.
///
/// Why at the end: the chain's head row is locked from the event's write to the commit
/// (PostgreSQL). Written where it is recorded, a unit that goes on to lock rows after an
/// event (a handover plan: a transfer, its event, the next transfer) would hold the head
/// while waiting for a row that another unit (a card edit) holds while waiting for the head:
/// a deadlock, which PostgreSQL breaks by failing one of them. Written last, the head is
/// every unit's last lock. Events of work a savepoint undoes are dropped with it
/// (`audit_mark`, `audit_undo`); outside a unit (none today) the event is written at once.
pub(crate) async fn audit(
    tx: &store::Tx,
    who: Who<'_>,
    action: &str,
    target: (&str, &str),
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let event = QueuedEvent {
        org_id: who.org_id.to_string(),
        actor_id: who.actor_id.map(str::to_string),
        action: action.to_string(),
        target: (target.0.to_string(), target.1.to_string()),
        before,
        after,
        at: who.at,
    };
    if AUDIT_QUEUE.try_with(|_| ()).is_err() {
        return append_all(tx, vec![event]).await;
    }
    AUDIT_QUEUE.with(|q| q.borrow_mut().push(event));
    Ok(())
}

/// An audit event recorded by a unit of work, written when the unit ends.
struct QueuedEvent {
    org_id: String,
    actor_id: Option<String>,
    action: String,
    target: (String, String),
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    at: DateTime<Utc>,
}

tokio::task_local! {
    /// The audit events of the unit of work running on this task, in the order recorded.
    static AUDIT_QUEUE: std::cell::RefCell<Vec<QueuedEvent>>;
}

/// Runs a unit's work with an audit queue of its own; gives its outcome and its events.
async fn with_audit_queue<T>(work: impl Future<Output = T>) -> (T, Vec<QueuedEvent>) {
    AUDIT_QUEUE
        .scope(std::cell::RefCell::new(Vec::new()), async {
            let outcome = work.await;
            (outcome, AUDIT_QUEUE.with(|q| q.take()))
        })
        .await
}

/// Where the unit's audit queue stands (before a savepoint).
pub(crate) fn audit_mark() -> usize {
    AUDIT_QUEUE.try_with(|q| q.borrow().len()).unwrap_or(0)
}

/// Drops the events recorded since `mark` (the savepoint that did their work was rolled back).
pub(crate) fn audit_undo(mark: usize) {
    let _ = AUDIT_QUEUE.try_with(|q| q.borrow_mut().truncate(mark));
}

/// Writes events as links of their organisations' chains, in the order they were recorded.
async fn append_all(tx: &store::Tx, events: Vec<QueuedEvent>) -> Result<()> {
    for e in events {
        let event = NewEvent {
            actor_id: e.actor_id.as_deref(),
            action: &e.action,
            target_type: &e.target.0,
            target_id: &e.target.1,
            before: e.before,
            after: e.after,
        };
        store::audit::append(tx, &e.org_id, event, e.at).await?;
    }
    Ok(())
}

/// Who acts, in which organisation, and when (the unit of work's one reading of the clock):
/// the first half of every audit event.
#[derive(Clone, Copy)]
pub struct Who<'a> {
    pub org_id: &'a str,
    /// None when the system acted (command line, scheduler).
    pub actor_id: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// A value as it goes into an audit event.
pub(crate) fn snap(v: &impl Serialize) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

/// Page size rule shared by every listing: default 50, at most 500.
pub fn page_limit(limit: Option<u64>) -> Result<u64> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(Error::bad_input("limit", "limit must be between 1 and 500")),
    }
}

/// Fetches one more than asked so that the page knows whether another follows.
pub fn paginate<T>(mut items: Vec<T>, limit: u64, id: impl Fn(&T) -> String) -> crate::domain::model::Page<T> {
    let next_cursor = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(&id)
    } else {
        None
    };
    crate::domain::model::Page { items, next_cursor }
}
