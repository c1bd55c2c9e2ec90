//! Use cases. Each public function is one transaction: it checks who may do it, does it,
//! writes the audit event in the same transaction, and commits.

pub mod audit;
pub mod auth;
pub mod bench;
pub mod cards;
pub mod demo;
pub mod departures;
pub mod exports;
pub mod imports;
pub mod lifecycle;
pub mod orgs;
pub mod scheduler;
pub mod transfers;
pub mod users;

use crate::domain::{Clock, Error, Result, Role};
use crate::store::{self, Store, audit::NewEvent};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// Everything a use case needs: the store and the clock.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl App {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// Who is acting: a signed-in user of one organisation, or the system itself (command line,
/// scheduler), which acts with an administrator's rights and an empty user id.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
}

impl Actor {
    pub fn system(org_id: &str) -> Self {
        Self {
            org_id: org_id.to_string(),
            user_id: String::new(),
            role: Role::Admin,
        }
    }
    /// The acting user, or None for the system.
    pub fn user_id(&self) -> Option<&str> {
        (!self.user_id.is_empty()).then_some(self.user_id.as_str())
    }
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    pub(crate) fn at(&self, at: DateTime<Utc>) -> Who<'_> {
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

/// Writes one audit event inside the caller's transaction.
pub(crate) async fn audit(
    tx: &store::Tx,
    who: Who<'_>,
    action: &str,
    target: (&str, &str),
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let event = NewEvent {
        actor_id: who.actor_id,
        action,
        target_type: target.0,
        target_id: target.1,
        before,
        after,
    };
    store::audit::insert(tx, who.org_id, event, who.at).await
}

/// Who acted, in which organisation, and when: the first half of every audit event.
#[derive(Clone, Copy)]
pub(crate) struct Who<'a> {
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
