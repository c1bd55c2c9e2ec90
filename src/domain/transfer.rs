//! Ownership transfer (所有者変更): what a selection is, and the recorded batch. The
//! previous-owner tag's name is the organisation's policy (`policy.rs`); who may receive
//! cards is `lifecycle::check_recipient`.

use super::error::{Error, Result};
use super::ids::{CardId, TagId, TransferId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Explicit ids are bound as parameters; this keeps one statement under every engine's limit.
pub const MAX_CARD_IDS: usize = 10_000;

/// Which of `from`'s cards move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Tag(TagId),
    /// Matched on the normalised company name.
    Company(String),
    CardIds(Vec<CardId>),
}

/// The wire form: exactly one of `all: true`, `tag_id`, `company`, `card_ids`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_ids: Option<Vec<String>>,
}

impl Selection {
    pub fn parse(input: &SelectionInput) -> Result<Self> {
        let field = "selection";
        let given = [
            input.all == Some(true),
            input.tag_id.is_some(),
            input.company.is_some(),
            input.card_ids.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 || input.all == Some(false) {
            return Err(Error::bad_input(
                field,
                "give exactly one of {\"all\":true}, {\"tag_id\":…}, {\"company\":…}, {\"card_ids\":[…]}",
            ));
        }
        if input.all == Some(true) {
            return Ok(Selection::All);
        }
        if let Some(t) = &input.tag_id {
            return Ok(Selection::Tag(TagId::from(t.trim())));
        }
        if let Some(c) = &input.company {
            let key = super::normalize::company(c);
            if key.is_empty() {
                return Err(Error::bad_input("selection.company", "the company name is empty"));
            }
            return Ok(Selection::Company(c.trim().to_string()));
        }
        let ids = input.card_ids.clone().unwrap_or_default();
        if ids.is_empty() || ids.len() > MAX_CARD_IDS {
            return Err(Error::bad_input(
                "selection.card_ids",
                format!("give between 1 and {MAX_CARD_IDS} card ids"),
            ));
        }
        let mut ids: Vec<CardId> = ids.into_iter().map(|i| CardId::from(i.trim())).collect();
        ids.sort();
        ids.dedup();
        Ok(Selection::CardIds(ids))
    }

    pub fn to_input(&self) -> SelectionInput {
        match self {
            Selection::All => SelectionInput {
                all: Some(true),
                ..Default::default()
            },
            Selection::Tag(t) => SelectionInput {
                tag_id: Some(t.to_string()),
                ..Default::default()
            },
            Selection::Company(c) => SelectionInput {
                company: Some(c.clone()),
                ..Default::default()
            },
            Selection::CardIds(ids) => SelectionInput {
                card_ids: Some(ids.iter().map(|i| i.to_string()).collect()),
                ..Default::default()
            },
        }
    }
}

impl SelectionInput {
    /// Reads a selection the store kept as JSON; one that does not parse is an error.
    pub fn from_stored(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|e| Error::internal(format!("stored selection '{json}': {e}")))
    }
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A recorded transfer batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Transfer {
    #[schema(value_type = String)]
    pub id: TransferId,
    /// Who ran it; none when run from the command line or by the scheduler.
    #[schema(value_type = Option<String>)]
    pub actor_id: Option<UserId>,
    #[schema(value_type = String)]
    pub from_user_id: UserId,
    #[schema(value_type = String)]
    pub to_user_id: UserId,
    pub selection: SelectionInput,
    pub include_tags: bool,
    /// The previous-owner tag put on every moved card.
    #[schema(value_type = String)]
    pub tag_id: TagId,
    pub tag_name: String,
    pub cards: i64,
    pub contacts: i64,
    /// Tags handed over (with `include_tags`).
    pub tags: i64,
    pub created_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>)]
    pub undone_by: Option<UserId>,
    /// Cards given back by the undo.
    pub restored: Option<i64>,
    /// Cards the undo left alone because they had moved again or were deleted.
    pub skipped: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_selection() {
        let all = SelectionInput {
            all: Some(true),
            ..Default::default()
        };
        assert_eq!(Selection::parse(&all).unwrap(), Selection::All);
        let two = SelectionInput {
            all: Some(true),
            company: Some("x".into()),
            ..Default::default()
        };
        assert!(Selection::parse(&two).is_err());
        assert!(Selection::parse(&SelectionInput::default()).is_err());
        let empty = SelectionInput {
            card_ids: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(
            Selection::parse(&empty).unwrap_err().field.as_deref(),
            Some("selection.card_ids")
        );
        let blank = SelectionInput {
            company: Some("株式会社".into()),
            ..Default::default()
        };
        assert!(Selection::parse(&blank).is_err());
    }
}
