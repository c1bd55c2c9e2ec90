//! Ownership transfer (所有者変更) rules: what a selection is, and what the previous-owner
//! tag is called.

use super::error::{Error, Result};
use super::types::without_retired_suffix;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const DEFAULT_TAG_FORMAT: &str = "旧所有者: {name} ({date})";
/// Explicit ids are bound as parameters; this keeps one statement under every engine's limit.
pub const MAX_CARD_IDS: usize = 10_000;

/// Which of `from`'s cards move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Tag(String),
    /// Matched on the normalised company name.
    Company(String),
    CardIds(Vec<String>),
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
            return Ok(Selection::Tag(t.trim().to_string()));
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
        let mut ids: Vec<String> = ids.into_iter().map(|i| i.trim().to_string()).collect();
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
                tag_id: Some(t.clone()),
                ..Default::default()
            },
            Selection::Company(c) => SelectionInput {
                company: Some(c.clone()),
                ..Default::default()
            },
            Selection::CardIds(ids) => SelectionInput {
                card_ids: Some(ids.clone()),
                ..Default::default()
            },
        }
    }
}

/// `旧所有者: 山田 賢治 (2026-03-31)`: the previous owner's name without the retired suffix,
/// and the day of the transfer in the organisation's time zone.
pub fn previous_owner_tag(format: &str, from_name: &str, retired_suffix: &str, day: NaiveDate) -> String {
    let name = without_retired_suffix(from_name, retired_suffix);
    let tag = format
        .replace("{name}", name.trim())
        .replace("{date}", &day.format("%Y-%m-%d").to_string());
    tag.chars().take(100).collect()
}

/// A tag format must name the previous owner; the date is optional.
pub fn check_tag_format(format: &str) -> Result<String> {
    let f = super::types::required_text("previous_owner_tag_format", format, 80)?;
    if !f.contains("{name}") {
        return Err(Error::bad_input(
            "previous_owner_tag_format",
            "the format must contain {name}",
        ));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_name_drops_the_retired_suffix() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let tag = previous_owner_tag(DEFAULT_TAG_FORMAT, "山田 賢治(退職済み)", "(退職済み)", day);
        assert_eq!(tag, "旧所有者: 山田 賢治 (2026-03-31)");
        assert_eq!(
            previous_owner_tag("前任 {name}", "佐藤", "(退職済み)", day),
            "前任 佐藤"
        );
    }

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
