//! The account lifecycle's rules: the status transitions with what they do to the display
//! name, what a user holds, the deletion guard, who may be removed, and the archive account.

use super::error::{Error, Result};
use super::ids::UserId;
use super::model::User;
use super::policy::Policy;
use super::types::{Role, UserStatus};
use serde::Serialize;
use utoipa::ToSchema;

/// The archive account's display name (退職者の名刺管理用アカウント).
pub const ARCHIVE_NAME: &str = "退職者の名刺管理用アカウント";

/// What a user holds: cards, the contacts on those cards, the tags they created, and (once
/// they exist) the mail templates they created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Holdings {
    pub cards: i64,
    pub contacts: i64,
    pub tags: i64,
    pub templates: i64,
}

impl Holdings {
    pub fn is_empty(&self) -> bool {
        self.cards == 0 && self.contacts == 0 && self.tags == 0 && self.templates == 0
    }

    /// Whether a transfer to the archive account has anything to move (contacts go with cards).
    pub fn movable(&self) -> bool {
        self.cards > 0 || self.tags > 0 || self.templates > 0
    }

    /// The deletion guard: a user who holds anything is not deleted, and the refusal counts
    /// what would be lost and says the way through.
    pub fn guard_deletion(&self, user: &User) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        Err(Error::conflict(format!(
            "{} still owns {} cards, {} contacts, {} tags and {} mail templates. Nothing is deleted silently: \
             transfer them to a successor (POST /api/v1/transfers, POST /api/v1/mail/templates/hand-over) or to \
             the archive account (DELETE /api/v1/users/{}?archive=true) first",
            user.display_name, self.cards, self.contacts, self.tags, self.templates, user.id
        ))
        .with_details(serde_json::to_value(self).unwrap_or_default()))
    }
}

/// A status change as decided: where from, where to, and the display name after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: UserStatus,
    pub to: UserStatus,
    pub display_name: String,
}

/// Every status change goes through here: the machine allows it or refuses it, and the
/// retired suffix goes on with a suspension (or a restore) and comes off with a reactivation.
pub fn transition(user: &User, to: UserStatus, policy: &Policy) -> Result<Transition> {
    let to = user.status.step(to)?;
    let display_name = match to {
        UserStatus::Suspended => policy.retired_name(&user.display_name),
        UserStatus::Active => policy.active_name(&user.display_name),
        UserStatus::Deleted => user.display_name.clone(),
    };
    Ok(Transition {
        from: user.status,
        to,
        display_name,
    })
}

/// A suspended user's name when the organisation changes its retired suffix from `before`'s
/// to `after`'s.
pub fn renamed_for_new_suffix(name: &str, before: &Policy, after: &Policy) -> String {
    after.retired_name(&before.active_name(name))
}

/// An admin may not lock themself out, nor remove the archive account or the last active
/// administrator. `verb` names what is being done (suspend, delete).
pub fn guard_removal(actor: Option<&UserId>, user: &User, active_admins: u64, verb: &str) -> Result<()> {
    if actor.is_some_and(|a| *a == user.id) {
        return Err(Error::unprocessable(format!("you cannot {verb} yourself")));
    }
    if user.is_archive {
        return Err(Error::unprocessable(format!("the archive account cannot be {verb}ed")));
    }
    if user.role == Role::Admin && user.status == UserStatus::Active && active_admins <= 1 {
        return Err(Error::unprocessable(format!(
            "you cannot {verb} the last active administrator"
        )));
    }
    Ok(())
}

/// What a transfer is for: handing over to a successor, or (deleting a user) to the archive
/// account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    ToSuccessor,
    ToArchive,
}

/// The one rule for who may receive cards (a transfer's recipient, a plan's successor, a
/// departure's default successor): an active user other than the one the cards come from,
/// not leaving themself (`leaving`: they have a departure on the desk), and not the archive
/// account except for a move to the archive.
pub fn check_recipient(to: &User, leaving: bool, from: &UserId, field: &str, purpose: Move) -> Result<()> {
    if *from == to.id {
        return Err(Error::unprocessable("cards cannot go to the user they come from").with_field(field));
    }
    if to.status != UserStatus::Active {
        return Err(Error::unprocessable(format!(
            "{} is {} and cannot receive cards",
            to.display_name,
            to.status.as_str()
        ))
        .with_field(field));
    }
    if to.is_archive && purpose != Move::ToArchive {
        return Err(Error::unprocessable(
            "the archive account keeps the cards of deleted users only: delete the user with archive=true",
        )
        .with_field(field));
    }
    if leaving {
        return Err(Error::unprocessable(format!(
            "{} is leaving too and cannot take anything over",
            to.display_name
        ))
        .with_field(field));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{DEFAULT_RETIRED_SUFFIX, DEFAULT_TAG_FORMAT, parse_time_of_day};
    use chrono::Utc;

    fn policy() -> Policy {
        Policy {
            zone: chrono_tz::Asia::Tokyo,
            suspend_at: parse_time_of_day("t", "23:59").unwrap(),
            retired_suffix: DEFAULT_RETIRED_SUFFIX.into(),
            tag_format: DEFAULT_TAG_FORMAT.into(),
            trash_days: 30,
            execute_plan_before_suspension: false,
        }
    }

    fn user(status: UserStatus) -> User {
        User {
            status,
            ..User::new("u1".into(), "a@example.com", "山田 賢治", Role::Member, Utc::now())
        }
    }

    #[test]
    fn transitions_follow_the_machine_and_carry_the_suffix() {
        let t = transition(&user(UserStatus::Active), UserStatus::Suspended, &policy()).unwrap();
        assert_eq!(t.display_name, "山田 賢治(退職済み)");
        let mut s = user(UserStatus::Suspended);
        s.display_name = t.display_name;
        assert_eq!(
            transition(&s, UserStatus::Active, &policy()).unwrap().display_name,
            "山田 賢治"
        );
        assert!(transition(&user(UserStatus::Deleted), UserStatus::Active, &policy()).is_err());
        assert!(transition(&user(UserStatus::Active), UserStatus::Active, &policy()).is_err());
    }

    #[test]
    fn deletion_is_refused_with_the_counts() {
        let h = Holdings {
            cards: 1,
            ..Default::default()
        };
        let e = h.guard_deletion(&user(UserStatus::Active)).unwrap_err();
        assert!(e.message.contains("still owns 1 cards"));
        assert_eq!(e.details.unwrap()["templates"], 0);
        assert!(Holdings::default().guard_deletion(&user(UserStatus::Active)).is_ok());
    }

    #[test]
    fn recipients_are_active_and_someone_else() {
        let from = UserId::from("u0");
        let s = Move::ToSuccessor;
        assert!(check_recipient(&user(UserStatus::Active), false, &from, "to", s).is_ok());
        assert!(check_recipient(&user(UserStatus::Suspended), false, &from, "to", s).is_err());
        assert!(check_recipient(&user(UserStatus::Active), false, &UserId::from("u1"), "to", s).is_err());
        assert!(
            check_recipient(&user(UserStatus::Active), true, &from, "to", s).is_err(),
            "leaving"
        );
        let archive = User {
            is_archive: true,
            ..user(UserStatus::Active)
        };
        assert!(check_recipient(&archive, false, &from, "to", s).is_err());
        assert!(check_recipient(&archive, false, &from, "to", Move::ToArchive).is_ok());
    }
}
