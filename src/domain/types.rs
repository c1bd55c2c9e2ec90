//! Parse-don't-validate newtypes and the small rules that belong to them.

use super::error::{Error, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An email address, trimmed and lower-cased. Only the shape is checked: one `@`, a dot in the
/// domain, no spaces or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        let s = raw.trim().to_lowercase();
        let bad = || Error::bad_input(field, format!("'{raw}' is not an email address"));
        if s.is_empty() || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(bad());
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Text from outside that no field may hold: NUL and the other control characters except tab,
/// line feed and carriage return (PostgreSQL cannot store a NUL; the rest are never data).
/// Refused at the edge, naming the field.
pub fn no_control(field: &str, raw: &str) -> Result<()> {
    if raw.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(Error::bad_input(
            field,
            format!("{field} contains a control character (such as NUL)"),
        ));
    }
    Ok(())
}

/// A non-empty, trimmed text of bounded length (names, labels).
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Error::bad_input(field, format!("{field} must not be empty")));
    }
    optional_text(field, s, max)
}

/// A trimmed text of bounded length; may be empty.
pub fn optional_text(field: &str, raw: &str, max: usize) -> Result<String> {
    let s = raw.trim();
    if s.chars().count() > max {
        return Err(Error::bad_input(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    // Line ends of either kind (a browser's textarea sends CR LF) and tabs are text.
    if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Error::bad_input(field, format!("{field} contains control characters")));
    }
    Ok(s.to_string())
}

/// An organisation's short name used at sign-in: lower-case ASCII letters, digits and `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim().to_lowercase();
        let ok = (2..=40).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(Error::bad_input(
                "slug",
                format!("'{raw}' is not a valid organisation slug (2-40 of a-z, 0-9, '-')"),
            ));
        }
        Ok(Self(s))
    }
    /// The slug an organisation name suggests, when it has ASCII letters or digits in it.
    pub fn derive(name: &str) -> Option<Self> {
        let mut s = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c.to_ascii_lowercase());
            } else if !s.ends_with('-') && !s.is_empty() {
                s.push('-');
            }
        }
        Self::parse(s.trim_end_matches('-')).ok()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone name, such as `Asia/Tokyo`.
pub fn time_zone(field: &str, raw: &str) -> Result<chrono_tz::Tz> {
    raw.trim().parse::<chrono_tz::Tz>().map_err(|_| {
        Error::bad_input(
            field,
            format!("'{raw}' is not a known time zone (for example Asia/Tokyo)"),
        )
    })
}

pub fn date(field: &str, raw: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| Error::bad_input(field, format!("'{raw}' is not a date (YYYY-MM-DD)")))
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(field: &str, raw: &str) -> Result<Self> {
                match raw.trim() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::bad_input(field, format!(
                        "'{}' is not one of: {}", raw, [$($text),+].join(", ")))),
                }
            }
        }
    };
}

text_enum!(
    /// What a user may do: admins manage users; members their own cards, contacts and tags.
    Role { Admin = "admin", Member = "member" }
);
text_enum!(
    /// 利用中 / 停止中 / 削除済み.
    UserStatus { Active = "active", Suspended = "suspended", Deleted = "deleted" }
);
text_enum!(
    /// The kind of a recorded interaction.
    ContactKind { Meeting = "meeting", Call = "call", Mail = "mail", Note = "note" }
);

impl UserStatus {
    /// The user status machine. Deletion is final except for restore from the trash,
    /// which brings a user back suspended.
    pub fn can_become(self, next: UserStatus) -> bool {
        use UserStatus::*;
        matches!(
            (self, next),
            (Active, Suspended) | (Suspended, Active) | (Active | Suspended, Deleted) | (Deleted, Suspended)
        )
    }

    /// `next`, if the machine allows the step from `self`; else a conflict naming both.
    pub fn step(self, next: UserStatus) -> Result<UserStatus> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(Error::conflict(format!(
                "a user who is {} cannot become {}",
                self.as_str(),
                next.as_str()
            )))
        }
    }
}

/// The text fields of a card, checked. At least a name or a company is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFields {
    pub full_name: String,
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
    pub exchanged_on: Option<NaiveDate>,
}

impl CardFields {
    /// Checks and tidies every field; the error names the first bad field.
    pub fn parse(raw: CardFields) -> Result<Self> {
        let t = optional_text;
        let email = if raw.email.trim().is_empty() {
            String::new()
        } else {
            Email::parse("email", &raw.email)?.as_str().to_string()
        };
        let phone_like = |field: &str, v: &str| -> Result<String> {
            let v = t(field, v, 40)?;
            if v.chars().any(|c| c.is_alphabetic() && !c.is_ascii_alphabetic()) {
                // Letters beyond ASCII: a rule on the text the document does not state
                // (JSON Schema has no portable "letter"), so 422.
                return Err(Error::unprocessable(format!("'{v}' is not a phone number")).with_field(field));
            }
            Ok(v)
        };
        let card = CardFields {
            full_name: t("full_name", &raw.full_name, 200)?,
            name_reading: t("name_reading", &raw.name_reading, 200)?,
            company: t("company", &raw.company, 200)?,
            department: t("department", &raw.department, 200)?,
            title: t("title", &raw.title, 200)?,
            email,
            phone: phone_like("phone", &raw.phone)?,
            mobile: phone_like("mobile", &raw.mobile)?,
            fax: phone_like("fax", &raw.fax)?,
            postal_code: t("postal_code", &raw.postal_code, 20)?,
            address: t("address", &raw.address, 500)?,
            url: t("url", &raw.url, 500)?,
            exchanged_on: raw.exchanged_on,
        };
        if card.full_name.is_empty() && card.company.is_empty() {
            return Err(Error::bad_input("full_name", "a card needs a name or a company"));
        }
        Ok(card)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_shapes() {
        assert_eq!(
            Email::parse("email", " Yamada@Example.co.jp ").unwrap().as_str(),
            "yamada@example.co.jp"
        );
        for bad in [
            "",
            "yamada",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@example.com",
            "a@example.",
        ] {
            let err = Email::parse("email", bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("email"), "{bad}");
        }
    }

    #[test]
    fn status_machine() {
        use UserStatus::*;
        assert!(Active.can_become(Suspended));
        assert!(Suspended.can_become(Active));
        assert!(Deleted.can_become(Suspended));
        assert!(!Deleted.can_become(Active));
        assert!(!Active.can_become(Active));
    }

    #[test]
    fn card_needs_name_or_company() {
        let err = CardFields::parse(CardFields::default()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("full_name"));
        let ok = CardFields::parse(CardFields {
            company: " 株式会社サンプル ".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.company, "株式会社サンプル");
        let err = CardFields::parse(CardFields {
            full_name: "a".into(),
            email: "nope".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("email"));
    }

    #[test]
    fn slugs() {
        assert_eq!(
            OrgSlug::derive("Example Trading Co., Ltd.").unwrap().as_str(),
            "example-trading-co-ltd"
        );
        assert!(OrgSlug::derive("株式会社サンプル").is_none());
        assert!(OrgSlug::parse("-x").is_err());
    }
}
