//! Estonian civil time (Europe/Tallinn): the UTC offset in force at a moment and the calendar
//! date there. Dates in kovgis — a rule version's validity, a procedure's deadline — are dates in
//! Estonia, so a moment (always kept in UTC) is turned into a date here, never with
//! `date_naive()` on the UTC time: 22:30 UTC on 31 December is already 1 January in Tallinn.
//!
//! The rule, kept here rather than pulling in a time-zone database crate for one zone:
//! - Estonia keeps Eastern European Time, EET = UTC+2, and summer time, EEST = UTC+3.
//! - Summer time follows the EU rule of Directive 2000/84/EC of 19 January 2001 on summer-time
//!   arrangements (Articles 2 and 3): "from 2002 onwards" it begins at 1.00 a.m. GMT (01:00 UTC)
//!   on the last Sunday in March and ends at 01:00 UTC on the last Sunday in October.
//! - Estonia kept no summer time from 31 October 1999 until 2002 and has applied the EU rule
//!   since (IANA tz database, file `europe`, zone Europe/Tallinn: `2:00 - EET 2002 Feb 21`, then
//!   `2:00 EU EE%sT`).
//!
//! Moments before 2002 are taken as EET throughout: right from 31 October 1999 on, an hour off on
//! summer days before that. kovgis holds no rule version or dataset older than 2000 whose date
//! could turn on that hour. Should the EU end the clock changes, this module is where it changes.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Utc};

/// Eastern European Time, seconds east of UTC.
pub const EET_SECONDS: i32 = 2 * 3600;
/// Eastern European Summer Time, seconds east of UTC.
pub const EEST_SECONDS: i32 = 3 * 3600;

/// The first year Estonia applies the EU summer-time rule (see the module docs).
const EU_RULE_FROM: i32 = 2002;

/// The offset from UTC in force in Estonia at `at`, in seconds (EET or EEST).
pub fn offset_seconds(at: DateTime<Utc>) -> i32 {
    // The changes are in March and October, so the UTC year is the year that counts.
    let year = at.year();
    if year < EU_RULE_FROM {
        return EET_SECONDS;
    }
    match (change_at(year, 3), change_at(year, 10)) {
        (Some(start), Some(end)) if start <= at && at < end => EEST_SECONDS,
        _ => EET_SECONDS,
    }
}

/// The calendar date in Estonia at `at`.
pub fn date(at: DateTime<Utc>) -> NaiveDate {
    let local = at.naive_utc() + TimeDelta::seconds(offset_seconds(at).into());
    local.date()
}

/// The moment `date` begins in Estonia (00:00 local time), in UTC: 22:00 UTC of the day before in
/// winter, 21:00 UTC in summer. Midnight is never ambiguous or skipped: the clocks change at
/// 03:00 and 04:00 local time. `None` only at the ends of chrono's range.
pub fn start_of_day(date: NaiveDate) -> Option<DateTime<Utc>> {
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc();
    // If local midnight is in summer time it is 21:00 UTC, a moment that is itself in summer
    // time (the change is at 01:00 UTC, never between 21:00 and 22:00); otherwise 22:00 UTC.
    let summer = midnight.checked_sub_signed(TimeDelta::seconds(EEST_SECONDS.into()))?;
    if offset_seconds(summer) == EEST_SECONDS {
        Some(summer)
    } else {
        midnight.checked_sub_signed(TimeDelta::seconds(EET_SECONDS.into()))
    }
}

/// 01:00 UTC on the last Sunday of `month` (March or October: both have 31 days) of `year`.
fn change_at(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let last = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = u64::from(last.weekday().num_days_from_sunday());
    let sunday = last.checked_sub_days(Days::new(back))?;
    Some(sunday.and_hms_opt(1, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    //! Every expected value below is worked out by hand from the rule in the module docs
    //! (weekdays counted from 1 January 2024, a Monday, and 1 January 2026, a Thursday).

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn new_year_comes_two_hours_before_utc() {
        // 22:30 UTC on 31 December 2029 is 00:30 EET on 1 January 2030; 21:30 UTC is 23:30.
        assert_eq!(date(utc(2029, 12, 31, 22, 30, 0)), day(2030, 1, 1));
        assert_eq!(date(utc(2029, 12, 31, 21, 30, 0)), day(2029, 12, 31));
        assert_eq!(date(utc(2029, 12, 31, 21, 59, 59)), day(2029, 12, 31));
        assert_eq!(date(utc(2029, 12, 31, 22, 0, 0)), day(2030, 1, 1));
    }

    #[test]
    fn a_summer_midnight_comes_three_hours_before_utc() {
        // 1 July is in summer time: 21:00 UTC on 30 June is midnight, 20:59:59 is still 30 June.
        assert_eq!(date(utc(2026, 6, 30, 21, 30, 0)), day(2026, 7, 1));
        assert_eq!(date(utc(2026, 6, 30, 21, 0, 0)), day(2026, 7, 1));
        assert_eq!(date(utc(2026, 6, 30, 20, 59, 59)), day(2026, 6, 30));
        assert_eq!(offset_seconds(utc(2026, 7, 1, 12, 0, 0)), 3 * 3600);
        assert_eq!(offset_seconds(utc(2026, 1, 15, 12, 0, 0)), 2 * 3600);
    }

    #[test]
    fn summer_time_2026_runs_from_29_march_to_25_october_at_one_utc() {
        // 2026: 1 March is a Sunday, so 29 March is the last Sunday of March; 1 October is a
        // Thursday, so 25 October is the last Sunday of October.
        assert_eq!(offset_seconds(utc(2026, 3, 29, 0, 59, 59)), 7200);
        assert_eq!(offset_seconds(utc(2026, 3, 29, 1, 0, 0)), 10800);
        assert_eq!(offset_seconds(utc(2026, 10, 25, 0, 59, 59)), 10800);
        assert_eq!(offset_seconds(utc(2026, 10, 25, 1, 0, 0)), 7200);
        // A week earlier is winter time, a week later summer time, and back.
        assert_eq!(offset_seconds(utc(2026, 3, 22, 12, 0, 0)), 7200);
        assert_eq!(offset_seconds(utc(2026, 10, 18, 12, 0, 0)), 10800);
    }

    #[test]
    fn when_the_month_ends_on_a_sunday_that_is_the_day() {
        // 2024 (a leap year): 31 March is a Sunday; 27 October is the last Sunday of October.
        assert_eq!(offset_seconds(utc(2024, 3, 31, 0, 59, 59)), 7200);
        assert_eq!(offset_seconds(utc(2024, 3, 31, 1, 0, 0)), 10800);
        assert_eq!(offset_seconds(utc(2024, 3, 24, 12, 0, 0)), 7200);
        assert_eq!(offset_seconds(utc(2024, 10, 27, 0, 59, 59)), 10800);
        assert_eq!(offset_seconds(utc(2024, 10, 27, 1, 0, 0)), 7200);
    }

    #[test]
    fn the_date_changes_at_local_midnight_in_both_seasons() {
        // Spring-forward night 2026: 21:59:59 UTC on 28 March is 23:59:59 EET.
        assert_eq!(date(utc(2026, 3, 28, 21, 59, 59)), day(2026, 3, 28));
        assert_eq!(date(utc(2026, 3, 28, 22, 0, 0)), day(2026, 3, 29));
        // After the change back, midnight is 22:00 UTC again: 25 October 22:00 UTC is 26 October.
        assert_eq!(date(utc(2026, 10, 25, 21, 59, 59)), day(2026, 10, 25));
        assert_eq!(date(utc(2026, 10, 25, 22, 0, 0)), day(2026, 10, 26));
    }

    #[test]
    fn days_begin_at_local_midnight() {
        // Winter: 1 January 2027 begins at 22:00 UTC on 31 December; summer: 1 July 2026 at
        // 21:00 UTC on 30 June. Around the 2026 changes (29 March, 25 October): 29 March begins
        // before the change (EET, 22:00 UTC on the 28th), 30 March after it (EEST, 21:00 UTC on
        // the 29th); 25 October begins in summer time (21:00 UTC on the 24th), 26 October in
        // winter time (22:00 UTC on the 25th).
        assert_eq!(
            start_of_day(day(2027, 1, 1)),
            Some(utc(2026, 12, 31, 22, 0, 0))
        );
        assert_eq!(
            start_of_day(day(2026, 7, 1)),
            Some(utc(2026, 6, 30, 21, 0, 0))
        );
        assert_eq!(
            start_of_day(day(2026, 3, 29)),
            Some(utc(2026, 3, 28, 22, 0, 0))
        );
        assert_eq!(
            start_of_day(day(2026, 3, 30)),
            Some(utc(2026, 3, 29, 21, 0, 0))
        );
        assert_eq!(
            start_of_day(day(2026, 10, 25)),
            Some(utc(2026, 10, 24, 21, 0, 0))
        );
        assert_eq!(
            start_of_day(day(2026, 10, 26)),
            Some(utc(2026, 10, 25, 22, 0, 0))
        );
        // Every day of 2024 to 2027: the start is that date, a second earlier the day before.
        let mut d = day(2024, 1, 1);
        while d < day(2028, 1, 1) {
            let s = start_of_day(d).unwrap();
            assert_eq!(date(s), d);
            assert_eq!(date(s - TimeDelta::seconds(1)), d.pred_opt().unwrap());
            d = d.succ_opt().unwrap();
        }
    }

    #[test]
    fn before_2002_estonia_kept_eet_all_year() {
        assert_eq!(offset_seconds(utc(2000, 7, 1, 12, 0, 0)), 7200);
        assert_eq!(date(utc(2000, 6, 30, 21, 30, 0)), day(2000, 6, 30));
        assert_eq!(date(utc(2001, 12, 31, 22, 0, 0)), day(2002, 1, 1));
        // 2002: 1 January is a Tuesday, 31 March a Sunday — the first change.
        assert_eq!(offset_seconds(utc(2002, 3, 31, 0, 59, 59)), 7200);
        assert_eq!(offset_seconds(utc(2002, 3, 31, 1, 0, 0)), 10800);
    }
}
