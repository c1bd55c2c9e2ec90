//! The users list (ユーザー管理): what each user is shown as, and the list's filters.

use super::model::User;
use super::{Error, Result, UserStatus, normalize};

/// What the users list shows a user as. A scheduled departure makes an active user
/// `Departing` (still active: 利用中 lists them too); the archive account is `Archive`
/// whatever its stored status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    Departing,
    Suspended,
    Archive,
    Deleted,
}

impl Standing {
    pub fn of(user: &User, departing: bool) -> Self {
        if user.is_archive {
            return Standing::Archive;
        }
        match user.status {
            UserStatus::Deleted => Standing::Deleted,
            UserStatus::Suspended => Standing::Suspended,
            UserStatus::Active if departing => Standing::Departing,
            UserStatus::Active => Standing::Active,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Active => "active",
            Standing::Departing => "departing",
            Standing::Suspended => "suspended",
            Standing::Archive => "archive",
            Standing::Deleted => "deleted",
        }
    }
    /// The status badge: a departing user is active (the 退職予定 badge comes beside it).
    pub fn status(self) -> &'static str {
        match self {
            Standing::Departing => "active",
            other => other.as_str(),
        }
    }
}

/// The list's status filter: 利用中, 退職予定, 停止中, アーカイブ, ゴミ箱.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Active, departing or not.
    Active,
    Departing,
    Suspended,
    Archive,
    /// The trash: deleted users.
    Deleted,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 5] = [
        StatusFilter::Active,
        StatusFilter::Departing,
        StatusFilter::Suspended,
        StatusFilter::Archive,
        StatusFilter::Deleted,
    ];

    /// None for no filter (empty text).
    pub fn parse(field: &str, raw: &str) -> Result<Option<Self>> {
        Ok(Some(match raw.trim() {
            "" => return Ok(None),
            "active" => StatusFilter::Active,
            "departing" => StatusFilter::Departing,
            "suspended" => StatusFilter::Suspended,
            "archive" => StatusFilter::Archive,
            "deleted" => StatusFilter::Deleted,
            other => {
                return Err(Error::bad_input(
                    field,
                    format!("'{other}' is not one of: active, departing, suspended, archive, deleted"),
                ));
            }
        }))
    }
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Active => "active",
            StatusFilter::Departing => "departing",
            StatusFilter::Suspended => "suspended",
            StatusFilter::Archive => "archive",
            StatusFilter::Deleted => "deleted",
        }
    }
    pub fn admits(self, s: Standing) -> bool {
        match self {
            StatusFilter::Active => matches!(s, Standing::Active | Standing::Departing),
            StatusFilter::Departing => s == Standing::Departing,
            StatusFilter::Suspended => s == Standing::Suspended,
            StatusFilter::Archive => s == Standing::Archive,
            StatusFilter::Deleted => s == Standing::Deleted,
        }
    }
}

/// Whether a search text finds the user: in the display name (widths, spaces, hiragana and
/// katakana folded) or the email. An empty text finds everyone.
pub fn matches(user: &User, text: &str) -> bool {
    let key = normalize::search(text);
    key.is_empty()
        || normalize::search(&user.display_name).contains(&key)
        || normalize::search(&user.email).contains(&key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(name: &str, status: UserStatus, archive: bool) -> User {
        let mut u = User::new(
            "u".into(),
            "yamada.kenji@example.co.jp",
            name,
            Role::Member,
            chrono::Utc::now(),
        );
        u.status = status;
        u.is_archive = archive;
        u
    }

    #[test]
    fn standings_and_filters() {
        let active = user("山田 賢治", UserStatus::Active, false);
        assert_eq!(Standing::of(&active, false), Standing::Active);
        assert_eq!(Standing::of(&active, true), Standing::Departing);
        assert_eq!(Standing::of(&active, true).status(), "active");
        assert_eq!(
            Standing::of(&user("a", UserStatus::Active, true), false),
            Standing::Archive
        );
        assert!(StatusFilter::Active.admits(Standing::Departing));
        assert!(!StatusFilter::Departing.admits(Standing::Active));
        assert!(!StatusFilter::Active.admits(Standing::Archive));
        assert_eq!(StatusFilter::parse("status", "").unwrap(), None);
        assert!(StatusFilter::parse("status", "gone").is_err());
    }

    #[test]
    fn search_by_name_or_email() {
        let u = user("山田　賢治", UserStatus::Active, false);
        assert!(matches(&u, "山田賢治"));
        assert!(matches(&u, "YAMADA"));
        assert!(matches(&u, ""));
        assert!(!matches(&u, "佐藤"));
    }
}
