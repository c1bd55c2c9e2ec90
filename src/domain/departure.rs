//! Departures (退職・出向): when a departing user's account is suspended, which departures
//! need attention, and what readiness (引き継ぎ状況) means. Pure: the time is passed in.

use super::error::{Error, Result};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The organisation's default suspension time: the end of the last working day.
pub const DEFAULT_SUSPEND_AT: &str = "23:59";
/// Days before the last working day on which a departure that is not ready is flagged.
pub const ATTENTION_DAYS: [i64; 2] = [7, 1];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepartureKind {
    /// 退職
    Retirement,
    /// 出向
    Secondment,
}

impl DepartureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DepartureKind::Retirement => "retirement",
            DepartureKind::Secondment => "secondment",
        }
    }
    pub fn parse(s: &str) -> Self {
        if s == "secondment" {
            DepartureKind::Secondment
        } else {
            DepartureKind::Retirement
        }
    }
}

/// A departure is scheduled until its suspension has run (done) or it is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepartureStatus {
    Scheduled,
    Done,
    Cancelled,
}

impl DepartureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DepartureStatus::Scheduled => "scheduled",
            DepartureStatus::Done => "done",
            DepartureStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "done" => DepartureStatus::Done,
            "cancelled" => DepartureStatus::Cancelled,
            _ => DepartureStatus::Scheduled,
        }
    }
}

/// The handover plan (引き継ぎ計画): none yet, reported by the user, approved (frozen) by an
/// admin, executed (its transfers ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    None,
    Reported,
    Approved,
    Executed,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::None => "none",
            PlanStatus::Reported => "reported",
            PlanStatus::Approved => "approved",
            PlanStatus::Executed => "executed",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "reported" => PlanStatus::Reported,
            "approved" => PlanStatus::Approved,
            "executed" => PlanStatus::Executed,
            _ => PlanStatus::None,
        }
    }
}

/// `HH:MM`, a time of day in the organisation's time zone.
pub fn parse_time_of_day(field: &str, raw: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M").map_err(|_| {
        Error::bad_input(
            field,
            format!("'{raw}' is not a time of day (HH:MM, for example 23:59)"),
        )
    })
}

/// The moment the account stops: the last working day at `at`, in the organisation's zone.
/// A local time that does not exist (a daylight-saving gap) moves forward to the next that does.
pub fn suspension_moment(last_working_day: NaiveDate, at: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let mut local = last_working_day.and_time(at);
    for _ in 0..180 {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&last_working_day.and_time(at))
}

/// Checks a departure's dates against today (in the organisation's zone).
pub fn check_dates(retirement_date: NaiveDate, last_working_day: NaiveDate, today: NaiveDate) -> Result<()> {
    if last_working_day > retirement_date {
        return Err(Error::bad_input(
            "last_working_day",
            format!("the last working day {last_working_day} is after the retirement date {retirement_date}"),
        ));
    }
    if last_working_day < today {
        return Err(Error::bad_input(
            "last_working_day",
            format!("the last working day {last_working_day} is in the past (today is {today})"),
        ));
    }
    Ok(())
}

/// The attention threshold (7 or 1 days before) that `today` has reached, if any.
pub fn attention_threshold(last_working_day: NaiveDate, today: NaiveDate) -> Option<i64> {
    let days_left = (last_working_day - today).num_days();
    ATTENTION_DAYS.iter().copied().filter(|d| days_left <= *d).min()
}

/// One line of the readiness checklist.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessItem {
    /// cards, plan, contacts, tags, templates, news
    pub key: String,
    /// False when the feature it depends on is not part of this server yet.
    pub available: bool,
    /// Nothing is left to do for this item.
    pub done: bool,
    /// What is still open (cards not covered, tags still owned, …); none when not available.
    pub count: Option<i64>,
    pub label_ja: String,
    pub label_en: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub plan_status: PlanStatus,
    pub items: Vec<ReadinessItem>,
}

/// What the user still owns, as the store counts it.
pub struct Owned {
    pub cards: i64,
    pub contacts: i64,
    pub tags: i64,
}

/// The checklist. An approved plan covers every owned card (what no item names goes to the
/// default successor) and hands the user's tags over with the last batch. Once it has run,
/// whatever the user owns again (a new card, an undone batch) is open.
pub fn readiness(plan: PlanStatus, owned: &Owned) -> Readiness {
    let covered = matches!(plan, PlanStatus::Approved | PlanStatus::Executed);
    let open = |n: i64| if plan == PlanStatus::Approved { 0 } else { n };
    let item = |key: &str, count: Option<i64>, ja: &str, en: &str| ReadinessItem {
        key: key.into(),
        available: count.is_some(),
        done: count == Some(0),
        count,
        label_ja: ja.into(),
        label_en: en.into(),
    };
    let items = vec![
        item(
            "plan",
            Some(if covered { 0 } else { 1 }),
            "引き継ぎ計画の承認",
            "Handover plan approved",
        ),
        item(
            "cards",
            Some(open(owned.cards)),
            "引き継ぎ先が決まっていない名刺",
            "Cards without a successor",
        ),
        item(
            "contacts",
            Some(open(owned.contacts)),
            "引き継ぎ先が決まっていないコンタクト",
            "Contacts without a successor",
        ),
        item(
            "tags",
            Some(open(owned.tags)),
            "引き継ぎ先が決まっていないタグ",
            "Tags without a successor",
        ),
        item(
            "templates",
            None,
            "メールテンプレートの再作成",
            "Mail templates re-created",
        ),
        item("news", None, "未処理のニュース", "Unprocessed news"),
    ];
    let ready = items.iter().all(|i| !i.available || i.done);
    Readiness {
        ready,
        plan_status: plan,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn suspension_is_the_end_of_the_last_working_day_in_tokyo() {
        let at = parse_time_of_day("suspend_at", DEFAULT_SUSPEND_AT).unwrap();
        let moment = suspension_moment(d("2026-03-31"), at, chrono_tz::Asia::Tokyo);
        assert_eq!(moment.to_rfc3339(), "2026-03-31T14:59:00+00:00");
    }

    #[test]
    fn a_time_in_a_daylight_saving_gap_moves_forward() {
        let at = parse_time_of_day("suspend_at", "02:30").unwrap();
        let moment = suspension_moment(d("2026-03-08"), at, chrono_tz::America::New_York);
        assert_eq!(moment.to_rfc3339(), "2026-03-08T07:00:00+00:00");
    }

    #[test]
    fn dates_are_checked() {
        assert!(check_dates(d("2026-03-31"), d("2026-03-31"), d("2026-03-01")).is_ok());
        assert_eq!(
            check_dates(d("2026-03-30"), d("2026-03-31"), d("2026-03-01"))
                .unwrap_err()
                .field
                .as_deref(),
            Some("last_working_day")
        );
        assert!(check_dates(d("2026-03-31"), d("2026-02-27"), d("2026-03-01")).is_err());
        assert!(parse_time_of_day("suspend_at", "24:00").is_err());
    }

    #[test]
    fn attention_at_seven_and_one_days() {
        assert_eq!(attention_threshold(d("2026-03-31"), d("2026-03-20")), None);
        assert_eq!(attention_threshold(d("2026-03-31"), d("2026-03-24")), Some(7));
        assert_eq!(attention_threshold(d("2026-03-31"), d("2026-03-30")), Some(1));
    }

    #[test]
    fn readiness_needs_an_approved_plan() {
        let owned = Owned {
            cards: 10,
            contacts: 4,
            tags: 2,
        };
        let r = readiness(PlanStatus::Reported, &owned);
        assert!(!r.ready);
        assert_eq!(r.items.iter().find(|i| i.key == "cards").unwrap().count, Some(10));
        assert!(
            r.items
                .iter()
                .any(|i| i.key == "news" && !i.available && i.count.is_none())
        );
        assert!(readiness(PlanStatus::Approved, &owned).ready);
        assert!(
            !readiness(PlanStatus::Executed, &owned).ready,
            "owned again after the plan ran"
        );
        assert!(
            readiness(
                PlanStatus::Executed,
                &Owned {
                    cards: 0,
                    contacts: 0,
                    tags: 0
                }
            )
            .ready
        );
        assert!(
            readiness(
                PlanStatus::None,
                &Owned {
                    cards: 0,
                    contacts: 0,
                    tags: 0
                }
            )
            .items[1]
                .done
        );
    }
}
