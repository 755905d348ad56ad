//! The clocks against dates worked out by hand. Weekdays of 2026, from 1 January, a Thursday:
//! the first of each month is Jan Thu, Feb Sun, Mar Sun, Apr Wed, May Fri, Jun Mon, Jul Wed,
//! Aug Sat, Sep Tue, Oct Thu, Nov Sun, Dec Tue; 1 January 2027 is a Friday. Holidays of 2026
//! (the calendar's own test lists them): Good Friday 3 April, Easter Sunday 5 April (Easter
//! Monday is a working day in Estonia), 23 and 24 June, 24–26 December; 1 January 2027. Summer
//! time in 2026 runs from 29 March to 25 October (Tallinn = UTC+3), else UTC+2.

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::calendar::Calendar;

const CAL: Calendar = Calendar::estonia();

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    day(y, mo, d).and_hms_opt(h, mi, s).unwrap().and_utc()
}

fn deadline(p: Period, event: NaiveDate) -> NaiveDate {
    p.deadline(&CAL, event).unwrap()
}

#[test]
fn calendar_periods_ending_on_a_weekend_move_to_monday() {
    // From Monday 2 March 2026: +11 = Friday 13 March stays; +12 = Saturday 14 and +13 = Sunday
    // 15 March move to Monday 16 March.
    assert_eq!(
        deadline(Period::calendar(11), day(2026, 3, 2)),
        day(2026, 3, 13)
    );
    assert_eq!(
        deadline(Period::calendar(12), day(2026, 3, 2)),
        day(2026, 3, 16)
    );
    assert_eq!(
        deadline(Period::calendar(13), day(2026, 3, 2)),
        day(2026, 3, 16)
    );
    // Working days skip the weekend: 5 working days from Wednesday 4 March are Thu 5, Fri 6,
    // Mon 9, Tue 10, Wed 11.
    assert_eq!(
        deadline(Period::working(5), day(2026, 3, 4)),
        day(2026, 3, 11)
    );
}

#[test]
fn a_calendar_period_ending_on_good_friday_moves_to_easter_monday() {
    // 4 March + 30 days = 3 April 2026, Good Friday; Saturday 4 and Easter Sunday 5 are days off,
    // Monday 6 April is a working day.
    assert_eq!(
        deadline(Period::calendar(30), day(2026, 3, 4)),
        day(2026, 4, 6)
    );
    // One day from Good Friday: Saturday 4 April, moved to Monday 6 April.
    assert_eq!(
        deadline(Period::calendar(1), day(2026, 4, 3)),
        day(2026, 4, 6)
    );
}

#[test]
fn working_days_from_the_thursday_before_good_friday() {
    // From Thursday 2 April 2026: Good Friday 3, Saturday 4, Easter Sunday 5 do not count;
    // Mon 6 (1), Tue 7 (2), Wed 8 (3), Thu 9 (4), Fri 10 (5), Mon 13 (6), 14 (7), 15 (8),
    // 16 (9), Fri 17 (10).
    assert_eq!(
        deadline(Period::working(1), day(2026, 4, 2)),
        day(2026, 4, 6)
    );
    assert_eq!(
        deadline(Period::working(3), day(2026, 4, 2)),
        day(2026, 4, 8)
    );
    assert_eq!(
        deadline(Period::working(10), day(2026, 4, 2)),
        day(2026, 4, 17)
    );
    // An event on a day off: from Saturday 4 April, 1 working day is Monday 6 April.
    assert_eq!(
        deadline(Period::working(1), day(2026, 4, 4)),
        day(2026, 4, 6)
    );
}

#[test]
fn midsummer() {
    // Victory Day Tuesday 23 and Midsummer Day Wednesday 24 June 2026.
    // One calendar day from Monday 22 June is the 23rd, a holiday, then the 24th: Thursday 25.
    assert_eq!(
        deadline(Period::calendar(1), day(2026, 6, 22)),
        day(2026, 6, 25)
    );
    assert_eq!(
        deadline(Period::working(1), day(2026, 6, 22)),
        day(2026, 6, 25)
    );
    // 5 working days from Friday 19 June: Mon 22 (1), Thu 25 (2), Fri 26 (3), Mon 29 (4),
    // Tue 30 (5).
    assert_eq!(
        deadline(Period::working(5), day(2026, 6, 19)),
        day(2026, 6, 30)
    );
}

#[test]
fn christmas_and_the_year_boundary() {
    // From Wednesday 23 December 2026, 5 working days: 24–27 off, Mon 28 (1), Tue 29 (2),
    // Wed 30 (3), Thu 31 (4), Fri 1 January 2027 off, Sat 2, Sun 3, Mon 4 January (5).
    assert_eq!(
        deadline(Period::working(5), day(2026, 12, 23)),
        day(2027, 1, 4)
    );
    // 9 calendar days from 23 December: 1 January 2027, a holiday, then the weekend: Monday 4.
    assert_eq!(
        deadline(Period::calendar(9), day(2026, 12, 23)),
        day(2027, 1, 4)
    );
    // 1 calendar day: Christmas Eve, then 25, 26, 27: Monday 28 December.
    assert_eq!(
        deadline(Period::calendar(1), day(2026, 12, 23)),
        day(2026, 12, 28)
    );
    // 30 days (a building permit) from Tuesday 1 December: Thursday 31 December, a working day;
    // from 2 December: 1 January 2027, moved to Monday 4 January.
    assert_eq!(
        deadline(Period::calendar(30), day(2026, 12, 1)),
        day(2026, 12, 31)
    );
    assert_eq!(
        deadline(Period::calendar(30), day(2026, 12, 2)),
        day(2027, 1, 4)
    );
}

#[test]
fn the_event_date_is_the_tallinn_date_of_the_instant() {
    let p = Period::calendar(10);
    // Summer (UTC+3): 23:30 Tallinn on Friday 5 June 2026 is 20:30 UTC, still the 5th: + 10 =
    // Monday 15 June. 00:30 Tallinn on Saturday 6 June is 21:30 UTC on the 5th, but the 6th in
    // Tallinn: + 10 = Tuesday 16 June.
    assert_eq!(
        p.deadline_after(&CAL, utc(2026, 6, 5, 20, 30, 0)).unwrap(),
        day(2026, 6, 15)
    );
    assert_eq!(
        p.deadline_after(&CAL, utc(2026, 6, 5, 21, 30, 0)).unwrap(),
        day(2026, 6, 16)
    );
    // Winter (UTC+2): 23:30 Tallinn on Thursday 10 December is 21:30 UTC: + 7 = Thursday 17;
    // 00:30 Tallinn on Friday 11 December is 22:30 UTC on the 10th: + 7 = Friday 18.
    let p = Period::calendar(7);
    assert_eq!(
        p.deadline_after(&CAL, utc(2026, 12, 10, 21, 30, 0))
            .unwrap(),
        day(2026, 12, 17)
    );
    assert_eq!(
        p.deadline_after(&CAL, utc(2026, 12, 10, 22, 30, 0))
            .unwrap(),
        day(2026, 12, 18)
    );
}

/// A 30-calendar-day clock (a building-permit decision) started on Monday 2 March 2026 at 10:00
/// Tallinn (08:00 UTC); without pauses its deadline is 2 March + 30 = Wednesday 1 April.
fn march_clock() -> Clock {
    Clock::start(Period::calendar(30), utc(2026, 3, 2, 8, 0, 0)).unwrap()
}

#[test]
fn one_pause() {
    let mut c = march_clock();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 4, 1)));
    // Paused Monday 9 March, resumed Monday 16 March. Counted: 3–9 March (7 days, the day of
    // the pause included); not counted: 10–16 March; the other 23 run from the 17th:
    // 16 March + 23 = 8 April (Wednesday).
    c.pause(utc(2026, 3, 9, 9, 0, 0)).unwrap();
    // While paused there is no deadline; the days used stay at 7.
    let s = c.status(&CAL, utc(2026, 3, 12, 10, 0, 0)).unwrap();
    assert!(s.paused);
    assert_eq!(
        (s.deadline, s.days_counted, s.overdue, s.days_left),
        (None, 7, false, None)
    );
    c.resume(utc(2026, 3, 16, 9, 0, 0)).unwrap();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 4, 8)));
    // On Friday 20 March: 7 days before the pause, 17–20 March after it: 11.
    let s = c.status(&CAL, utc(2026, 3, 20, 10, 0, 0)).unwrap();
    assert_eq!((s.paused, s.days_counted), (false, 11));
}

#[test]
fn two_pauses() {
    let mut c = march_clock();
    // Paused 9–16 March as above, and again Friday 20 to Wednesday 25 March. Counted: 3–9
    // (7) and 17–20 (4) = 11; not counted 21–25; 19 left from the 26th: 25 March + 19 =
    // 13 April (Monday).
    c.pause(utc(2026, 3, 9, 9, 0, 0)).unwrap();
    c.resume(utc(2026, 3, 16, 9, 0, 0)).unwrap();
    c.pause(utc(2026, 3, 20, 12, 0, 0)).unwrap();
    c.resume(utc(2026, 3, 25, 7, 0, 0)).unwrap();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 4, 13)));
    // The same history replayed.
    let replayed = Clock::replay(
        Period::calendar(30),
        [
            ClockEvent::Started(utc(2026, 3, 2, 8, 0, 0)),
            ClockEvent::Paused(utc(2026, 3, 9, 9, 0, 0)),
            ClockEvent::Resumed(utc(2026, 3, 16, 9, 0, 0)),
            ClockEvent::Paused(utc(2026, 3, 20, 12, 0, 0)),
            ClockEvent::Resumed(utc(2026, 3, 25, 7, 0, 0)),
        ],
    )
    .unwrap();
    assert_eq!(replayed, c);
}

#[test]
fn a_pause_and_resumption_on_the_same_day_change_nothing() {
    let mut c = march_clock();
    c.pause(utc(2026, 3, 9, 9, 0, 0)).unwrap();
    c.resume(utc(2026, 3, 9, 13, 0, 0)).unwrap();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 4, 1)));
}

#[test]
fn a_pause_on_the_day_of_the_start() {
    // Paused on 2 March itself, resumed Thursday 5 March: no day counted before; 30 from the
    // 6th: 5 March + 30 = Saturday 4 April, Easter Sunday 5, so Monday 6 April.
    let mut c = march_clock();
    c.pause(utc(2026, 3, 2, 12, 0, 0)).unwrap();
    c.resume(utc(2026, 3, 5, 8, 0, 0)).unwrap();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 4, 6)));
}

#[test]
fn a_pause_of_a_working_day_clock() {
    // 10 working days from Thursday 2 April 2026 (deadline 17 April without pause), paused
    // Tuesday 7 and resumed Thursday 9 April: Mon 6 (1), Tue 7 (2, the day of the pause); Wed 8
    // and Thu 9 not counted; Fri 10 (3), Mon 13 (4) … Fri 17 (8), Mon 20 (9), Tue 21 (10).
    let mut c = Clock::start(Period::working(10), utc(2026, 4, 2, 7, 0, 0)).unwrap();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 4, 17)));
    c.pause(utc(2026, 4, 7, 7, 0, 0)).unwrap();
    c.resume(utc(2026, 4, 9, 7, 0, 0)).unwrap();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 4, 21)));
}

#[test]
fn a_pause_after_the_deadline_does_not_move_it() {
    let mut c = march_clock();
    c.pause(utc(2026, 4, 2, 8, 0, 0)).unwrap();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 4, 1)));
    let s = c.status(&CAL, utc(2026, 4, 3, 8, 0, 0)).unwrap();
    assert!(s.paused && s.overdue);
    assert_eq!(s.days_counted, 30);
}

#[test]
fn overdue_from_midnight_tallinn_after_the_deadline() {
    let c = march_clock();
    // Deadline Wednesday 1 April 2026, in summer time: 23:59 Tallinn is 20:59 UTC, not late;
    // 00:00 Tallinn on 2 April is 21:00 UTC on 1 April, late.
    let s = c.status(&CAL, utc(2026, 4, 1, 20, 59, 0)).unwrap();
    assert!(!s.overdue);
    assert_eq!(
        s.days_left,
        Some(DaysLeft {
            calendar: 0,
            working: 0
        })
    );
    assert!(!c.status(&CAL, utc(2026, 4, 1, 20, 59, 59)).unwrap().overdue);
    let s = c.status(&CAL, utc(2026, 4, 1, 21, 0, 0)).unwrap();
    assert!(s.overdue);
    assert_eq!(s.overdue_from, Some(utc(2026, 4, 1, 21, 0, 0)));
    // In winter: 7 days from Thursday 10 December = Thursday 17 December; late from 00:00
    // Tallinn on the 18th = 22:00 UTC on the 17th.
    let w = Clock::start(Period::calendar(7), utc(2026, 12, 10, 10, 0, 0)).unwrap();
    assert!(
        !w.status(&CAL, utc(2026, 12, 17, 21, 59, 59))
            .unwrap()
            .overdue
    );
    let s = w.status(&CAL, utc(2026, 12, 17, 22, 0, 0)).unwrap();
    assert!(s.overdue);
    assert_eq!(s.overdue_from, Some(utc(2026, 12, 17, 22, 0, 0)));
    assert!(is_overdue(day(2026, 12, 17), utc(2026, 12, 17, 22, 0, 0)));
    assert!(!is_overdue(
        day(2026, 12, 17),
        utc(2026, 12, 17, 21, 59, 59)
    ));
}

#[test]
fn days_left_in_calendar_and_working_days() {
    let c = march_clock();
    // Deadline Wednesday 1 April. On Friday 27 March (12:00 UTC): 5 calendar days; working days
    // after the 27th up to 1 April: Mon 30, Tue 31, Wed 1 = 3. Counted by then: 3–27 March = 25.
    let s = c.status(&CAL, utc(2026, 3, 27, 12, 0, 0)).unwrap();
    assert_eq!(
        s.days_left,
        Some(DaysLeft {
            calendar: 5,
            working: 3
        })
    );
    assert_eq!(s.days_counted, 25);
    // Monday 30 March: 2 and 2.
    let s = c.status(&CAL, utc(2026, 3, 30, 12, 0, 0)).unwrap();
    assert_eq!(
        s.days_left,
        Some(DaysLeft {
            calendar: 2,
            working: 2
        })
    );
    // Monday 6 April, late: −5 calendar days; working days after 1 April up to 6 April: Thu 2
    // and Mon 6 (Good Friday and the weekend are off) = −2.
    let s = c.status(&CAL, utc(2026, 4, 6, 12, 0, 0)).unwrap();
    assert_eq!(
        s.days_left,
        Some(DaysLeft {
            calendar: -5,
            working: -2
        })
    );
    assert!(s.overdue);
    assert_eq!(s.days_counted, 30);
}

#[test]
fn public_display_last_day() {
    let dp = Period::calendar(14);
    // Starting Monday 1 June 2026: + 14 = Monday 15 June; Friday 5 June: Friday 19 June;
    // Tuesday 9 June: 23 June (Victory Day), 24 (Midsummer), so Thursday 25 June.
    assert_eq!(
        display_last_day(&CAL, day(2026, 6, 1), dp).unwrap(),
        day(2026, 6, 15)
    );
    assert_eq!(
        display_last_day(&CAL, day(2026, 6, 5), dp).unwrap(),
        day(2026, 6, 19)
    );
    assert_eq!(
        display_last_day(&CAL, day(2026, 6, 9), dp).unwrap(),
        day(2026, 6, 25)
    );
    // Starting Friday 11 December: 25 December, then 26, 27: Monday 28 December.
    assert_eq!(
        display_last_day(&CAL, day(2026, 12, 11), dp).unwrap(),
        day(2026, 12, 28)
    );
    // 30 days when the plan changes the comprehensive plan: 1 June + 30 = Wednesday 1 July.
    assert_eq!(
        display_last_day(&CAL, day(2026, 6, 1), Period::calendar(30)).unwrap(),
        day(2026, 7, 1)
    );
}

#[test]
fn latest_day_of_the_notice() {
    let n = Period::calendar(14);
    // Display from Tuesday 16 June 2026: the notice days are 2–15 June, so the notice goes out
    // on Monday 1 June at the latest.
    assert_eq!(
        latest_notice_day(&CAL, day(2026, 6, 16), n).unwrap(),
        day(2026, 6, 1)
    );
    // From Monday 15 June: 1–14 June, so 31 May — a Sunday — back to Friday 29 May.
    assert_eq!(
        latest_notice_day(&CAL, day(2026, 6, 15), n).unwrap(),
        day(2026, 5, 29)
    );
    // Five working days before a display from Monday 29 June: Fri 26, Thu 25, (23 and 24
    // off) Mon 22, (weekend) Fri 19, Thu 18; the notice on Wednesday 17 June.
    assert_eq!(
        latest_notice_day(&CAL, day(2026, 6, 29), Period::working(5)).unwrap(),
        day(2026, 6, 17)
    );
    // And the other way round: a notice on Monday 1 June allows a display from 16 June; a
    // notice on Wednesday 17 June, 5 working days: Thu 18 (1), Fri 19 (2), Mon 22 (3), Thu 25
    // (4), Fri 26 (5), so a display from Saturday 27 June, whose latest notice day is the 17th.
    assert_eq!(
        earliest_display_start(&CAL, day(2026, 6, 1), n).unwrap(),
        day(2026, 6, 16)
    );
    assert_eq!(
        earliest_display_start(&CAL, day(2026, 6, 17), Period::working(5)).unwrap(),
        day(2026, 6, 27)
    );
    assert_eq!(
        latest_notice_day(&CAL, day(2026, 6, 27), Period::working(5)).unwrap(),
        day(2026, 6, 17)
    );
}

#[test]
fn silence_counts_as_agreement_only_where_the_rule_says_so_and_only_when_late() {
    // A building-permit coordination: 10 days from Monday 2 March 2026 = Thursday 12 March.
    let rule = ClockRule {
        municipality_code: None,
        procedure_type: "building_permit".into(),
        clock: clock_name::COORDINATION_ANSWER.into(),
        version: 1,
        period: Period::calendar(10),
        silence_counts_as_agreement: true,
        legal_basis: String::new(),
        valid_from: day(2000, 1, 1),
        valid_to: None,
    };
    let c = Clock::start(rule.period, utc(2026, 3, 2, 8, 0, 0)).unwrap();
    assert_eq!(c.deadline(&CAL).unwrap(), Some(day(2026, 3, 12)));
    // 23:59 Tallinn (winter, 21:59 UTC) on the 12th: not yet; 22:00 UTC: deemed agreed.
    let on_time = c.status(&CAL, utc(2026, 3, 12, 21, 59, 0)).unwrap();
    let late = c.status(&CAL, utc(2026, 3, 12, 22, 0, 0)).unwrap();
    assert!(!rule.silence_is_agreement(&on_time));
    assert!(rule.silence_is_agreement(&late));
    let strict = ClockRule {
        silence_counts_as_agreement: false,
        ..rule
    };
    assert!(!strict.silence_is_agreement(&late));
}

#[test]
fn clock_histories_out_of_order_are_refused() {
    let mut c = march_clock();
    assert_eq!(
        c.resume(utc(2026, 3, 3, 0, 0, 0)),
        Err(ClockError::NotPaused)
    );
    assert!(matches!(
        c.pause(utc(2026, 3, 1, 0, 0, 0)),
        Err(ClockError::OutOfOrder { .. })
    ));
    c.pause(utc(2026, 3, 9, 9, 0, 0)).unwrap();
    assert!(matches!(
        c.pause(utc(2026, 3, 10, 0, 0, 0)),
        Err(ClockError::AlreadyPaused(_))
    ));
    assert!(matches!(
        c.resume(utc(2026, 3, 8, 0, 0, 0)),
        Err(ClockError::OutOfOrder { .. })
    ));
    assert_eq!(
        Clock::replay(
            Period::calendar(1),
            [ClockEvent::Paused(utc(2026, 3, 9, 9, 0, 0))]
        ),
        Err(ClockError::NotStarted)
    );
    let t = utc(2026, 3, 9, 9, 0, 0);
    assert_eq!(
        Clock::replay(
            Period::calendar(1),
            [ClockEvent::Started(t), ClockEvent::Started(t)]
        ),
        Err(ClockError::StartedTwice)
    );
    // Far outside the years clocks count in.
    let far = utc(12000, 1, 1, 0, 0, 0);
    assert!(matches!(
        Clock::start(Period::calendar(1), far),
        Err(ClockError::OutOfRange(_))
    ));
    assert!(matches!(
        march_clock().status(&CAL, far),
        Err(ClockError::OutOfRange(_))
    ));
}

#[test]
fn day_kinds_parse_from_the_table_names() {
    assert_eq!("calendar".parse::<DayKind>(), Ok(DayKind::Calendar));
    assert_eq!("working".parse::<DayKind>(), Ok(DayKind::Working));
    assert!("weekdays".parse::<DayKind>().is_err());
    assert_eq!(DayKind::Working.as_str(), "working");
}
