//! What the services hand out: the domain's view of stored rows.

use super::types::{ContactKind, Role, UserStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// IANA time zone, `Asia/Tokyo` unless set.
    pub time_zone: String,
    /// Appended to a suspended user's display name, `(退職済み)` unless set.
    pub retired_suffix: String,
    /// Name of the tag a transfer puts on moved cards; `{name}` and `{date}` are filled in.
    pub previous_owner_tag_format: String,
    /// When a departure's suspension runs on the last working day (HH:MM, local), `23:59` unless set.
    pub suspend_at: String,
    /// Days a deleted user stays in the trash before being purged.
    pub trash_days: i64,
    /// Run an approved handover plan automatically right before the suspension.
    pub execute_plan_before_suspension: bool,
    pub created_at: DateTime<Utc>,
}

impl Organization {
    /// The rules its settings make (zone, suspension time, suffix, tag format, trash).
    pub fn policy(&self) -> super::Result<super::Policy> {
        super::Policy::of(self)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub status: UserStatus,
    /// The archive account (退職者の名刺管理用アカウント): holds cards, never signs in.
    pub is_archive: bool,
    /// When the user was deleted (they stay in the trash for the organisation's retention).
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A new, active account.
    pub fn new(id: String, email: &str, display_name: &str, role: Role, now: DateTime<Utc>) -> Self {
        User {
            id,
            email: email.to_string(),
            display_name: display_name.to_string(),
            role,
            status: UserStatus::Active,
            is_archive: false,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Card {
    pub id: String,
    pub owner_id: String,
    pub full_name: String,
    /// Reading of the name in kana (フリガナ).
    pub name_reading: String,
    pub company: String,
    pub department: String,
    pub title: String,
    pub email: String,
    pub phone: String,
    pub mobile: String,
    pub fax: String,
    pub postal_code: String,
    pub address: String,
    pub url: String,
    /// The day the card was exchanged (名刺交換日).
    pub exchanged_on: Option<NaiveDate>,
    /// The ids of `tags` (kept for older clients).
    pub tag_ids: Vec<String>,
    /// The card's tags the caller may see: shared ones, the organisation's, their own personal
    /// ones (admins: every one).
    pub tags: Vec<CardTag>,
    /// What an imported file held beyond the card's fields (vCard lines, unknown CSV
    /// columns); exports write it back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
    /// The person (名寄せ) this card is of: cards of the same person share it.
    pub person_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    pub id: String,
    pub card_id: String,
    pub author_id: String,
    pub kind: ContactKind,
    pub occurred_at: DateTime<Utc>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A tag as a card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CardTag {
    pub id: String,
    pub name: String,
    /// Shared tags are visible to everyone in the organisation, personal ones to their creator.
    pub shared: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tag {
    pub id: String,
    pub name: String,
    /// The user who created it; none for tags the organisation owns (previous-owner tags).
    pub creator_id: Option<String>,
    /// Shared tags are visible to everyone in the organisation, personal ones to their creator.
    pub shared: bool,
    pub created_at: DateTime<Utc>,
}

impl Tag {
    /// Who sees a tag (its id and its name, on cards, in filters, in exports): everyone when
    /// it is shared or the organisation's (no creator: previous-owner tags), else its creator
    /// and the admins.
    pub fn visible_to(&self, user_id: &str, is_admin: bool) -> bool {
        self.shared || is_admin || self.creator_id.as_deref().is_none_or(|c| c == user_id)
    }

    /// The one rule for a tag named in words (the command line): among the organisation's tags
    /// of that name, `owner`'s own; else the single shared one. None is "not found", several
    /// shared ones are ambiguous.
    pub fn pick_named<'a>(tags: &'a [Tag], owner: Option<&str>, name: &str) -> super::Result<&'a Tag> {
        if let Some(own) = tags
            .iter()
            .find(|t| owner.is_some() && t.creator_id.as_deref() == owner)
        {
            return Ok(own);
        }
        let shared: Vec<&Tag> = tags.iter().filter(|t| t.shared).collect();
        match shared.as_slice() {
            [one] => Ok(one),
            [] => Err(super::Error::not_found(&format!("tag '{name}'")).with_field("tag")),
            _ => Err(super::Error::bad_input(
                "tag",
                format!("several shared tags are named '{name}'; use the API with a tag id"),
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: String,
    /// None when the system itself acted (scheduler, command line without a user).
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

/// One page of a listing; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
