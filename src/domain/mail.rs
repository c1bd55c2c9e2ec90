//! Mail (issue 14): templates and their placeholders, who a One to One mail leaves out and
//! why, the outbox's states and its retry schedule. Pure: the resolution itself is one SQL
//! statement in `store::mail`, which applies exactly the order of `SkipReason::ALL`.

use super::error::{Error, Result};
use super::types::optional_text;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// The placeholders a template may use, in the order the help text lists them.
pub const PLACEHOLDERS: [&str; 8] = [
    "氏名",
    "会社名",
    "部署名",
    "役職",
    "差出人氏名",
    "差出人メール",
    "後任者氏名",
    "後任者メール",
];

/// A template's text, checked: a subject on one line, a body, an optional HTML body, and no
/// placeholder meishi cannot fill (refused at save time, naming it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateText {
    pub name: String,
    pub subject: String,
    pub body: String,
    pub html_body: Option<String>,
}

impl TemplateText {
    pub fn parse(name: &str, subject: &str, body: &str, html_body: Option<&str>) -> Result<Self> {
        let name = super::types::required_text("name", name, 200)?;
        let subject = super::types::required_text("subject", subject, 500)?;
        if subject.contains('\n') || subject.contains('\r') {
            return Err(Error::bad_input("subject", "the subject must be one line"));
        }
        let body_text = optional_text("body", body, 100_000)?;
        if body_text.is_empty() {
            return Err(Error::bad_input("body", "body must not be empty"));
        }
        let html_body = match html_body.map(str::trim).filter(|h| !h.is_empty()) {
            Some(h) => Some(optional_text("html_body", h, 200_000)?),
            None => None,
        };
        for (field, text) in [("subject", &subject), ("body", &body_text)] {
            check_placeholders(field, text)?;
        }
        if let Some(h) = &html_body {
            check_placeholders("html_body", h)?;
        }
        Ok(Self {
            name,
            subject,
            body: body_text,
            html_body,
        })
    }
}

/// Every `{{…}}` in `text` must name a known placeholder; a `{{` without its `}}` is refused too.
fn check_placeholders(field: &str, text: &str) -> Result<()> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(Error::bad_input(
                field,
                "a placeholder is opened with {{ but not closed with }}",
            ));
        };
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(Error::bad_input(
                field,
                format!(
                    "unknown placeholder {{{{{name}}}}}; the known ones are {}",
                    PLACEHOLDERS.map(|p| format!("{{{{{p}}}}}")).join(" ")
                ),
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// What the placeholders of one message are filled with.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub name: String,
    pub company: String,
    pub department: String,
    pub title: String,
    pub sender_name: String,
    pub sender_email: String,
    pub successor_name: String,
    pub successor_email: String,
}

impl Values {
    fn get(&self, placeholder: &str) -> &str {
        match placeholder {
            "氏名" => &self.name,
            "会社名" => &self.company,
            "部署名" => &self.department,
            "役職" => &self.title,
            "差出人氏名" => &self.sender_name,
            "差出人メール" => &self.sender_email,
            "後任者氏名" => &self.successor_name,
            "後任者メール" => &self.successor_email,
            _ => "",
        }
    }
}

/// Fills the placeholders of a checked text (`escape` for an HTML body). A subject never gets
/// a line break from a value.
pub fn render(text: &str, v: &Values, escape: bool) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let value = v.get(after[..end].trim());
        if escape {
            out.push_str(&html_escape(value));
        } else {
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

pub fn render_subject(text: &str, v: &Values) -> String {
    render(text, v, false).replace(['\r', '\n'], " ")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Why a selected card gets no message. The first that applies is the card's reason; the
/// order is `ALL`'s (the owner first: a suspended owner's card is never given to another
/// sender; the person's latest card next; the address last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The owner is suspended or deleted.
    OwnerSuspended,
    /// The owner's departure suspends them before the send goes.
    OwnerLeaving,
    /// The card is held by the archive account.
    OwnerArchive,
    /// The owner's address is outside the sending domain.
    SenderDomain,
    /// A newer card of the same person is in the selection.
    OlderCard,
    NoEmail,
    Blocked,
    OptedOut,
    Bounced,
    /// Another selected card with the same address is newer.
    DuplicateAddress,
    /// The customer had this handover notice already.
    AlreadySent,
}

impl SkipReason {
    pub const ALL: [SkipReason; 11] = [
        SkipReason::OwnerSuspended,
        SkipReason::OwnerLeaving,
        SkipReason::OwnerArchive,
        SkipReason::SenderDomain,
        SkipReason::OlderCard,
        SkipReason::NoEmail,
        SkipReason::Blocked,
        SkipReason::OptedOut,
        SkipReason::Bounced,
        SkipReason::DuplicateAddress,
        SkipReason::AlreadySent,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::OwnerSuspended => "owner_suspended",
            SkipReason::OwnerLeaving => "owner_leaving",
            SkipReason::OwnerArchive => "owner_archive",
            SkipReason::SenderDomain => "sender_domain",
            SkipReason::OlderCard => "older_card",
            SkipReason::NoEmail => "no_email",
            SkipReason::Blocked => "blocked",
            SkipReason::OptedOut => "opted_out",
            SkipReason::Bounced => "bounced",
            SkipReason::DuplicateAddress => "duplicate_address",
            SkipReason::AlreadySent => "already_sent",
        }
    }
    pub fn from_stored(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::internal(format!("unknown skip reason '{s}' in the database")))
    }
    /// The reason as the preview and its CSV say it, in Japanese.
    pub fn label_ja(self) -> &'static str {
        match self {
            SkipReason::OwnerSuspended => "所有者が利用停止・削除済み",
            SkipReason::OwnerLeaving => "所有者が送信時刻までに利用停止",
            SkipReason::OwnerArchive => "アーカイブアカウントの名刺",
            SkipReason::SenderDomain => "所有者のアドレスが送信ドメイン外",
            SkipReason::OlderCard => "同じ人物の新しい名刺あり",
            SkipReason::NoEmail => "メールアドレスなし",
            SkipReason::Blocked => "ブロックリスト",
            SkipReason::OptedOut => "配信停止",
            SkipReason::Bounced => "不達",
            SkipReason::DuplicateAddress => "同じアドレスの新しい名刺あり",
            SkipReason::AlreadySent => "送信済み",
        }
    }
}

/// A send's state: scheduled (cancellable), sending (the worker started it), done, cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    Scheduled,
    Sending,
    Done,
    Cancelled,
}

impl SendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Scheduled => "scheduled",
            SendStatus::Sending => "sending",
            SendStatus::Done => "done",
            SendStatus::Cancelled => "cancelled",
        }
    }
    pub fn from_stored(s: &str) -> Result<Self> {
        [Self::Scheduled, Self::Sending, Self::Done, Self::Cancelled]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Error::internal(format!("unknown send status '{s}' in the database")))
    }
}

/// What kind of mail a send is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendKind {
    /// One to One mail: one message per recipient card, from its owner.
    OneToOne,
    /// 引き継ぎのご挨拶: one per customer of an approved plan.
    Handover,
    /// Reminders to leavers and admins.
    Reminder,
}

impl SendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SendKind::OneToOne => "one_to_one",
            SendKind::Handover => "handover",
            SendKind::Reminder => "reminder",
        }
    }
    pub fn from_stored(s: &str) -> Result<Self> {
        [Self::OneToOne, Self::Handover, Self::Reminder]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Error::internal(format!("unknown send kind '{s}' in the database")))
    }
}

/// How many times a message is tried before a transient failure becomes permanent.
pub const MAX_ATTEMPTS: i64 = 6;

/// When a message whose `attempts`-th try failed transiently is tried again: one minute,
/// doubling (1, 2, 4, 8, 16 minutes); None once the attempts are used up.
pub fn retry_at(attempts: i64, failed_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (attempts < MAX_ATTEMPTS).then(|| failed_at + Duration::minutes(1 << (attempts - 1).clamp(0, 10)))
}

/// The organisation's daily limit on messages, unless it sets one (Sansan's).
pub const DEFAULT_DAILY_LIMIT: i64 = 100_000;

/// Whether `sender` may send under the sending domain (None: any).
pub fn in_domain(sender: &str, domain: Option<&str>) -> bool {
    match domain {
        None => true,
        Some(d) => sender
            .rsplit_once('@')
            .is_some_and(|(_, host)| host.eq_ignore_ascii_case(d)),
    }
}

/// How many days before the last working day a leaver without a reported plan is reminded.
pub const REMIND_DAYS_BEFORE: i64 = 7;

/// Whether a leaver gets today's reminder: the departure is scheduled, the plan is not
/// reported (none yet, or sent back), and the last working day is at most a week away.
pub fn leaver_reminder_due(d: &super::departure::Departure, today: chrono::NaiveDate) -> bool {
    use super::departure::{DepartureStatus, PlanStatus};
    let days = (d.last_working_day - today).num_days();
    d.status == DepartureStatus::Scheduled
        && matches!(d.plan_status, PlanStatus::None | PlanStatus::Returned)
        && (0..=REMIND_DAYS_BEFORE).contains(&days)
}

/// The outbox key that makes a reminder once a day: per departure and recipient.
pub fn reminder_key(departure_id: &str, recipient_id: &str, today: chrono::NaiveDate) -> String {
    format!("reminder:{departure_id}:{recipient_id}:{today}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_unclosed_placeholders_are_refused_by_name() {
        let e = TemplateText::parse("t", "{{氏名}}様", "{{会社名}} {{役職名}}", None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
        assert!(e.message.contains("{{役職名}}"), "{}", e.message);
        let e = TemplateText::parse("t", "{{氏名 様", "x", None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("subject"));
        let e = TemplateText::parse("t", "s", "x", Some("<p>{{Name}}</p>")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("html_body"));
        assert!(TemplateText::parse("t", "a\nb", "x", None).is_err());
        assert!(TemplateText::parse("t", "s", "  ", None).is_err());
        assert!(
            TemplateText::parse("t", "{{ 氏名 }}様", "{{後任者メール}}", Some(" "))
                .unwrap()
                .html_body
                .is_none()
        );
    }

    #[test]
    fn render_fills_every_placeholder_and_escapes_html() {
        let v = Values {
            name: "山田 太郎".into(),
            company: "A&B 株式会社".into(),
            sender_name: "鈴木".into(),
            successor_email: "sato@example.jp".into(),
            ..Default::default()
        };
        assert_eq!(
            render(
                "{{氏名}}様 ({{会社名}}) {{部署名}}-{{差出人氏名}} {{後任者メール}}",
                &v,
                false
            ),
            "山田 太郎様 (A&B 株式会社) -鈴木 sato@example.jp"
        );
        assert_eq!(render("<b>{{会社名}}</b>", &v, true), "<b>A&amp;B 株式会社</b>");
        let v = Values {
            name: "a\r\nBcc: x@y".into(),
            ..Default::default()
        };
        assert_eq!(render_subject("{{氏名}}", &v), "a  Bcc: x@y");
    }

    #[test]
    fn retries_double_then_stop() {
        let t = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        assert_eq!(retry_at(1, t), Some(t + Duration::minutes(1)));
        assert_eq!(retry_at(3, t), Some(t + Duration::minutes(4)));
        assert_eq!(retry_at(MAX_ATTEMPTS, t), None);
    }

    #[test]
    fn sending_domain() {
        assert!(in_domain("a@x.jp", None));
        assert!(in_domain("a@X.jp", Some("x.jp")));
        assert!(!in_domain("a@sub.x.jp", Some("x.jp")));
        for r in SkipReason::ALL {
            assert_eq!(SkipReason::from_stored(r.as_str()).unwrap(), r);
        }
    }
}
