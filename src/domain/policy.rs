//! The organisation's policy: its time zone and what follows from it (today, the suspension
//! moment, local times), the retired suffix, the previous-owner tag format and the trash's
//! retention. One type, so that each of these rules is written once.

use super::error::{Error, Result};
use super::model::Organization;
use super::types::{required_text, time_zone};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";
/// Appended to a suspended user's display name.
pub const DEFAULT_RETIRED_SUFFIX: &str = "(退職済み)";
/// The default suspension time: the end of the last working day.
pub const DEFAULT_SUSPEND_AT: &str = "23:59";
pub const DEFAULT_TRASH_DAYS: i64 = 30;
pub const DEFAULT_TAG_FORMAT: &str = "旧所有者: {name} ({date})";
/// An approved plan runs right before the suspension unless the organisation turns it off.
pub const DEFAULT_EXECUTE_PLAN_BEFORE_SUSPENSION: bool = true;

#[derive(Debug, Clone)]
pub struct Policy {
    pub zone: Tz,
    /// When departures suspend on the last working day (local time).
    pub suspend_at: NaiveTime,
    pub retired_suffix: String,
    pub tag_format: String,
    pub trash_days: i64,
    pub execute_plan_before_suspension: bool,
}

impl Policy {
    /// The policy an organisation's stored settings describe. Settings that do not parse are an
    /// error (they were checked when saved), never a silent default.
    pub fn of(org: &Organization) -> Result<Self> {
        let stored = |e: Error| Error::internal(format!("organisation {}: stored setting: {}", org.id, e.message));
        Ok(Self {
            zone: time_zone("time_zone", &org.time_zone).map_err(stored)?,
            suspend_at: parse_time_of_day("suspend_at", &org.suspend_at).map_err(stored)?,
            retired_suffix: org.retired_suffix.clone(),
            tag_format: org.previous_owner_tag_format.clone(),
            trash_days: org.trash_days,
            execute_plan_before_suspension: org.execute_plan_before_suspension,
        })
    }

    /// Today's date in the organisation's zone.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        Self::today_in(self.zone, now)
    }

    /// Today's date in `zone` (where only the zone is at hand, as in the console's context).
    pub fn today_in(zone: Tz, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&zone).date_naive()
    }

    /// The first moment of a day in the organisation's zone (its midnight, or the first
    /// minute after a daylight-saving gap): a day's events are those from its start to the
    /// next day's.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        suspension_moment(day, NaiveTime::MIN, self.zone)
    }

    /// A moment as the organisation's people read it: `2026-03-31 23:59 JST`.
    pub fn local_text(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    /// A moment's local date and time without the zone: `2026-03-31 23:59`.
    pub fn local_minute(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone).format("%Y-%m-%d %H:%M").to_string()
    }

    /// When a departure's account stops: its last working day at its own time if it has one,
    /// else at the organisation's. A local time that does not exist (a daylight-saving gap)
    /// moves forward to the next that does.
    pub fn suspension_moment(&self, last_working_day: NaiveDate, own: Option<NaiveTime>) -> DateTime<Utc> {
        suspension_moment(last_working_day, own.unwrap_or(self.suspend_at), self.zone)
    }

    /// `山田 賢治` → `山田 賢治(退職済み)`; an already suffixed name stays as it is.
    pub fn retired_name(&self, name: &str) -> String {
        with_retired_suffix(name, &self.retired_suffix)
    }

    /// Removes exactly the retired suffix and nothing else.
    pub fn active_name(&self, name: &str) -> String {
        without_retired_suffix(name, &self.retired_suffix)
    }

    /// `旧所有者: 山田 賢治 (2026-03-31)`: the previous owner's name without the retired
    /// suffix, and the day of the transfer in the organisation's zone.
    pub fn previous_owner_tag(&self, from_name: &str, now: DateTime<Utc>) -> String {
        let tag = self
            .tag_format
            .replace("{name}", self.active_name(from_name).trim())
            .replace("{date}", &self.today(now).format("%Y-%m-%d").to_string());
        tag.chars().take(100).collect()
    }

    /// What a handed-over tag's name gains when its new creator already has a tag of that
    /// name: ` (山田 賢治)`, the previous creator's name without the retired suffix.
    pub fn handed_over_tag_suffix(&self, from_name: &str) -> String {
        format!(" ({})", self.active_name(from_name))
    }

    /// Until when a deleted user stays in the trash.
    pub fn trash_end(&self, deleted_at: DateTime<Utc>) -> DateTime<Utc> {
        deleted_at + Duration::days(self.trash_days)
    }

    /// Users deleted at or before this moment are due for purge.
    pub fn purge_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(self.trash_days)
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

/// The last working day at `at`, in zone `tz`; a time in a daylight-saving gap moves forward.
fn suspension_moment(last_working_day: NaiveDate, at: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let mut local = last_working_day.and_time(at);
    for _ in 0..180 {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&last_working_day.and_time(at))
}

fn with_retired_suffix(name: &str, suffix: &str) -> String {
    if suffix.is_empty() || name.ends_with(suffix) {
        name.to_string()
    } else {
        format!("{name}{suffix}")
    }
}

fn without_retired_suffix(name: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        name.to_string()
    } else {
        name.strip_suffix(suffix).unwrap_or(name).to_string()
    }
}

/// Checks for the settings an administrator may change.
pub mod settings {
    use super::*;

    /// A zone of the server's time-zone database: a name it does not hold is well-formed but
    /// unknown here (422; the database, not the API document, lists the names).
    pub fn time_zone_name(raw: &str) -> Result<String> {
        let zone = time_zone("time_zone", raw).map_err(|e| Error::unprocessable(e.message).with_field("time_zone"))?;
        Ok(zone.name().to_string())
    }

    pub fn retired_suffix(raw: &str) -> Result<String> {
        let s = super::super::types::optional_text("retired_suffix", raw, 40)?;
        if s.is_empty() {
            return Err(Error::bad_input(
                "retired_suffix",
                "the retired suffix must not be empty",
            ));
        }
        Ok(s)
    }

    pub fn suspend_at(raw: &str) -> Result<String> {
        Ok(parse_time_of_day("suspend_at", raw)?.format("%H:%M").to_string())
    }

    pub fn trash_days(d: i64) -> Result<i64> {
        if !(1..=3650).contains(&d) {
            return Err(Error::bad_input(
                "trash_days",
                "the trash keeps users between 1 and 3650 days",
            ));
        }
        Ok(d)
    }

    /// A tag format must name the previous owner; the date is optional.
    pub fn tag_format(format: &str) -> Result<String> {
        let f = required_text("previous_owner_tag_format", format, 80)?;
        if !f.contains("{name}") {
            return Err(Error::bad_input(
                "previous_owner_tag_format",
                "the format must contain {name}",
            ));
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn tokyo() -> Policy {
        Policy {
            zone: chrono_tz::Asia::Tokyo,
            suspend_at: parse_time_of_day("suspend_at", DEFAULT_SUSPEND_AT).unwrap(),
            retired_suffix: DEFAULT_RETIRED_SUFFIX.into(),
            tag_format: DEFAULT_TAG_FORMAT.into(),
            trash_days: DEFAULT_TRASH_DAYS,
            execute_plan_before_suspension: false,
        }
    }

    #[test]
    fn suspension_is_the_end_of_the_last_working_day_in_tokyo() {
        let moment = tokyo().suspension_moment(d("2026-03-31"), None);
        assert_eq!(moment.to_rfc3339(), "2026-03-31T14:59:00+00:00");
        let own = parse_time_of_day("suspend_at", "18:00").unwrap();
        assert_eq!(
            tokyo().suspension_moment(d("2026-03-31"), Some(own)).to_rfc3339(),
            "2026-03-31T09:00:00+00:00"
        );
    }

    #[test]
    fn a_time_in_a_daylight_saving_gap_moves_forward() {
        let at = parse_time_of_day("suspend_at", "02:30").unwrap();
        let moment = suspension_moment(d("2026-03-08"), at, chrono_tz::America::New_York);
        assert_eq!(moment.to_rfc3339(), "2026-03-08T07:00:00+00:00");
        assert!(parse_time_of_day("suspend_at", "24:00").is_err());
    }

    #[test]
    fn a_day_starts_at_midnight_in_the_organisations_zone() {
        assert_eq!(
            tokyo().day_start(d("2026-04-01")).to_rfc3339(),
            "2026-03-31T15:00:00+00:00"
        );
        let mut santiago = tokyo();
        santiago.zone = chrono_tz::America::Santiago;
        // Chile moves its clocks forward at midnight: the day starts at 01:00.
        assert_eq!(
            santiago.day_start(d("2026-09-06")).to_rfc3339(),
            "2026-09-06T04:00:00+00:00"
        );
    }

    #[test]
    fn today_is_in_the_organisations_zone() {
        let late = "2026-03-31T15:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(tokyo().today(late), d("2026-04-01"));
        assert_eq!(tokyo().local_text(late), "2026-04-01 00:30 JST");
    }

    #[test]
    fn tag_name_drops_the_retired_suffix() {
        let now = "2026-03-31T03:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let p = tokyo();
        assert_eq!(
            p.previous_owner_tag("山田 賢治(退職済み)", now),
            "旧所有者: 山田 賢治 (2026-03-31)"
        );
        let p = Policy {
            tag_format: "前任 {name}".into(),
            ..tokyo()
        };
        assert_eq!(p.previous_owner_tag("佐藤", now), "前任 佐藤");
        assert_eq!(p.handed_over_tag_suffix("佐藤(退職済み)"), " (佐藤)");
    }

    #[test]
    fn retired_suffix_goes_on_once_and_comes_off_exactly() {
        let p = tokyo();
        assert_eq!(p.retired_name("山田 賢治"), "山田 賢治(退職済み)");
        assert_eq!(p.retired_name("山田 賢治(退職済み)"), "山田 賢治(退職済み)");
        assert_eq!(p.active_name("山田 賢治(退職済み)"), "山田 賢治");
        assert_eq!(p.active_name("(退職済み)山田"), "(退職済み)山田");
    }

    #[test]
    fn a_stored_setting_that_does_not_parse_is_an_error() {
        let org = Organization {
            id: "o".into(),
            slug: "o".into(),
            name: "o".into(),
            time_zone: "Mars/Olympus".into(),
            retired_suffix: DEFAULT_RETIRED_SUFFIX.into(),
            previous_owner_tag_format: DEFAULT_TAG_FORMAT.into(),
            suspend_at: DEFAULT_SUSPEND_AT.into(),
            trash_days: 30,
            execute_plan_before_suspension: false,
            created_at: Utc::now(),
        };
        assert!(Policy::of(&org).is_err());
    }
}
