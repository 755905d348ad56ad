//! Estonian public holidays and working days: what the statutory clocks count with.
//!
//! The holidays are data, a list of [`HolidayRule`]s — a fixed day of the year or an offset from
//! Easter Sunday, each with its names and the years it applies — and [`Calendar::estonia`] is
//! the list of the Public Holidays and Days of National Importance Act (Pühade ja tähtpäevade
//! seadus), which took effect in 1998: 1 January, 24 February, Good Friday, Easter Sunday,
//! 1 May, Pentecost, 23 and 24 June, 20 August, 25 and 26 December, and Christmas Eve
//! (24 December), a public holiday since 2005 by an amendment of that act. The calendar knows no
//! holidays before 1998 (kovgis runs no procedure that old); a future change of the law is a new
//! rule with its first year, and an end year on the rule it replaces.
//!
//! The list lives in code, not in a table: it is national law, the same for every municipality
//! (nothing to configure per tenant, unlike the clock rules); a change comes by an act of the
//! Riigikogu months ahead and moves the deadlines of running procedures, which deserves a
//! reviewed release, not a row edited at run time; and deadlines are computed here and stored
//! as dates, so SQL never needs the calendar. [`Calendar::new`] takes any list, should a source
//! of holidays from data ever be wanted.
//!
//! Easter Sunday is computed with the Gregorian computus ([`easter_sunday`]). A working day is a
//! Monday to Friday that is not a public holiday; Estonia moves no holiday that falls on a
//! weekend, so no "substitute" days exist. Not here: the shortened working days before some
//! holidays (they are working days).

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// When in a year a holiday falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayDate {
    /// The same month and day every year.
    Fixed { month: u32, day: u32 },
    /// Days after (or, negative, before) Easter Sunday.
    Easter { offset: i8 },
}

/// One public holiday of a calendar, and the years it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolidayRule {
    /// The name in Estonian (as in the act) and in English.
    pub name_et: &'static str,
    pub name_en: &'static str,
    pub date: HolidayDate,
    /// The first year it is a holiday.
    pub from_year: i32,
    /// The last year it is a holiday (inclusive); `None`: still in force.
    pub until_year: Option<i32>,
}

impl HolidayRule {
    /// The date of this holiday in `year`, if it applies that year.
    pub fn date_in(&self, year: i32) -> Option<NaiveDate> {
        if year < self.from_year || self.until_year.is_some_and(|last| year > last) {
            return None;
        }
        match self.date {
            HolidayDate::Fixed { month, day } => NaiveDate::from_ymd_opt(year, month, day),
            HolidayDate::Easter { offset } => {
                let easter = easter_sunday(year)?;
                easter.checked_add_signed(chrono::TimeDelta::days(offset.into()))
            }
        }
    }
}

/// The year the Pühade ja tähtpäevade seadus took effect: the first year of [`ESTONIAN_HOLIDAYS`].
pub const HOLIDAYS_ACT_YEAR: i32 = 1998;

const fn rule(name_et: &'static str, name_en: &'static str, date: HolidayDate) -> HolidayRule {
    HolidayRule {
        name_et,
        name_en,
        date,
        from_year: HOLIDAYS_ACT_YEAR,
        until_year: None,
    }
}

const fn fixed(month: u32, day: u32) -> HolidayDate {
    HolidayDate::Fixed { month, day }
}

/// The public holidays (riigipühad) of the Pühade ja tähtpäevade seadus, in calendar order.
pub const ESTONIAN_HOLIDAYS: &[HolidayRule] = &[
    rule("uusaasta", "New Year's Day", fixed(1, 1)),
    rule(
        "iseseisvuspäev, Eesti Vabariigi aastapäev",
        "Independence Day",
        fixed(2, 24),
    ),
    rule(
        "suur reede",
        "Good Friday",
        HolidayDate::Easter { offset: -2 },
    ),
    rule(
        "ülestõusmispühade 1. püha",
        "Easter Sunday",
        HolidayDate::Easter { offset: 0 },
    ),
    rule("kevadpüha", "Spring Day", fixed(5, 1)),
    rule(
        "nelipühade 1. püha",
        "Pentecost",
        HolidayDate::Easter { offset: 49 },
    ),
    rule("võidupüha", "Victory Day", fixed(6, 23)),
    rule("jaanipäev", "Midsummer Day", fixed(6, 24)),
    rule(
        "taasiseseisvumispäev",
        "Day of Restoration of Independence",
        fixed(8, 20),
    ),
    HolidayRule {
        from_year: 2005,
        ..rule("jõululaupäev", "Christmas Eve", fixed(12, 24))
    },
    rule("esimene jõulupüha", "Christmas Day", fixed(12, 25)),
    rule("teine jõulupüha", "Boxing Day", fixed(12, 26)),
];

/// A holiday on its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub rule: &'static HolidayRule,
}

/// A list of public holidays, and the working days it leaves.
#[derive(Debug, Clone, Copy)]
pub struct Calendar {
    rules: &'static [HolidayRule],
}

impl Calendar {
    /// A calendar of the given holidays.
    pub const fn new(rules: &'static [HolidayRule]) -> Calendar {
        Calendar { rules }
    }

    /// Estonia's public holidays ([`ESTONIAN_HOLIDAYS`]).
    pub const fn estonia() -> Calendar {
        Calendar::new(ESTONIAN_HOLIDAYS)
    }

    /// The holiday rules of this calendar.
    pub fn rules(&self) -> &'static [HolidayRule] {
        self.rules
    }

    /// The public holiday on `date`, if any.
    pub fn holiday(&self, date: NaiveDate) -> Option<&'static HolidayRule> {
        self.rules
            .iter()
            .find(|r| r.date_in(date.year()) == Some(date))
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holiday(date).is_some()
    }

    /// Monday to Friday and not a public holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.is_holiday(date)
    }

    /// The public holidays of `year`, by date.
    pub fn holidays(&self, year: i32) -> Vec<Holiday> {
        let mut out: Vec<Holiday> = self
            .rules
            .iter()
            .filter_map(|rule| {
                Some(Holiday {
                    date: rule.date_in(year)?,
                    rule,
                })
            })
            .collect();
        out.sort_by_key(|h| h.date);
        out
    }

    /// `date` if it is a working day, else the next working day (`None` past chrono's last
    /// date).
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> Option<NaiveDate> {
        let mut d = date;
        while !self.is_working_day(d) {
            d = d.checked_add_days(Days::new(1))?;
        }
        Some(d)
    }

    /// `date` if it is a working day, else the previous working day.
    pub fn working_day_on_or_before(&self, date: NaiveDate) -> Option<NaiveDate> {
        let mut d = date;
        while !self.is_working_day(d) {
            d = d.checked_sub_days(Days::new(1))?;
        }
        Some(d)
    }
}

/// Whether `date` is a working day in Estonia (Monday to Friday, not a public holiday).
pub fn is_working_day(date: NaiveDate) -> bool {
    Calendar::estonia().is_working_day(date)
}

/// Estonia's public holidays of `year`, by date.
pub fn holidays(year: i32) -> Vec<Holiday> {
    Calendar::estonia().holidays(year)
}

/// Easter Sunday of `year` in the Gregorian calendar (`None` before 1583, when the Gregorian
/// Easter did not exist yet).
///
/// The anonymous Gregorian computus (the "Meeus/Jones/Butcher" algorithm): the golden number
/// places the year in the 19-year lunar cycle, the century terms correct the lunar and solar
/// drift of the Gregorian reform, `h` is the epact-derived days from 21 March to the Paschal full
/// moon and `l` the days from that full moon to the following Sunday.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    if year < 1583 {
        return None;
    }
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    NaiveDate::from_ymd_opt(year, (n / 31) as u32, (n % 31 + 1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_matches_the_published_tables() {
        // From published tables of Western (Gregorian) Easter dates, not from this code.
        // 2038 (25 April) is the latest possible date, 2285 and 1818 (22 March) the earliest.
        let table = [
            (1818, 3, 22),
            (1943, 4, 25),
            (2000, 4, 23),
            (2005, 3, 27),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2022, 4, 17),
            (2023, 4, 9),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2028, 4, 16),
            (2029, 4, 1),
            (2030, 4, 21),
            (2038, 4, 25),
            (2285, 3, 22),
        ];
        for (y, m, d) in table {
            assert_eq!(easter_sunday(y), Some(day(y, m, d)), "Easter {y}");
        }
        assert_eq!(easter_sunday(1582), None);
    }

    #[test]
    fn easter_is_a_sunday_between_22_march_and_25_april() {
        for y in 1583..=4099 {
            let e = easter_sunday(y).unwrap();
            assert_eq!(e.weekday(), Weekday::Sun, "{e}");
            assert!(e >= day(y, 3, 22) && e <= day(y, 4, 25), "{e}");
        }
    }

    #[test]
    fn the_holidays_of_2026_listed_by_hand() {
        // 1 January 2026 is a Thursday. Easter Sunday is 5 April, so Good Friday is 3 April and
        // Pentecost 5 April + 49 days = 24 May (25 days to 30 April, 24 more in May). Weekdays:
        // 24 Feb Tue, 3 Apr Fri, 5 Apr Sun, 1 May Fri, 24 May Sun, 23 Jun Tue, 24 Jun Wed,
        // 20 Aug Thu, 24 Dec Thu, 25 Dec Fri, 26 Dec Sat.
        let expected = [
            (day(2026, 1, 1), "New Year's Day"),
            (day(2026, 2, 24), "Independence Day"),
            (day(2026, 4, 3), "Good Friday"),
            (day(2026, 4, 5), "Easter Sunday"),
            (day(2026, 5, 1), "Spring Day"),
            (day(2026, 5, 24), "Pentecost"),
            (day(2026, 6, 23), "Victory Day"),
            (day(2026, 6, 24), "Midsummer Day"),
            (day(2026, 8, 20), "Day of Restoration of Independence"),
            (day(2026, 12, 24), "Christmas Eve"),
            (day(2026, 12, 25), "Christmas Day"),
            (day(2026, 12, 26), "Boxing Day"),
        ];
        let got: Vec<(NaiveDate, &str)> = holidays(2026)
            .iter()
            .map(|h| (h.date, h.rule.name_en))
            .collect();
        assert_eq!(got, expected);
        // Nine of them fall on a weekday (Easter Sunday, Pentecost and 26 Dec do not).
        let weekday_holidays = expected
            .iter()
            .filter(|(d, _)| d.weekday().num_days_from_monday() < 5);
        assert_eq!(weekday_holidays.count(), 9);
    }

    #[test]
    fn working_days_around_easter_and_christmas_2026() {
        // Thursday 2 April is a working day, Good Friday 3 April not, Monday 6 April is.
        assert!(is_working_day(day(2026, 4, 2)));
        assert!(!is_working_day(day(2026, 4, 3)));
        assert!(!is_working_day(day(2026, 4, 4)));
        assert!(is_working_day(day(2026, 4, 6)));
        // Wednesday 23 December works; Thursday 24 to Sunday 27 do not; Monday 28 does.
        assert!(is_working_day(day(2026, 12, 23)));
        for d in 24..=27 {
            assert!(!is_working_day(day(2026, 12, d)), "{d} Dec");
        }
        assert!(is_working_day(day(2026, 12, 28)));
        // Friday 1 January 2027 is New Year's Day; Monday 4 January works.
        assert!(!is_working_day(day(2027, 1, 1)));
        assert!(is_working_day(day(2027, 1, 4)));
        let cal = Calendar::estonia();
        assert_eq!(
            cal.working_day_on_or_after(day(2026, 12, 24)),
            Some(day(2026, 12, 28))
        );
        assert_eq!(
            cal.working_day_on_or_before(day(2026, 4, 6)),
            Some(day(2026, 4, 6))
        );
        assert_eq!(
            cal.working_day_on_or_before(day(2026, 4, 5)),
            Some(day(2026, 4, 2))
        );
    }

    #[test]
    fn christmas_eve_is_a_holiday_from_2005_and_nothing_before_the_act() {
        // 24 December 2004 was a Friday (1 January 2004 a Thursday, a leap year), and a working
        // day; 24 December 2005 a Saturday, 24 December 2007 a Monday, a holiday.
        assert!(is_working_day(day(2004, 12, 24)));
        assert!(!is_working_day(day(2007, 12, 24)));
        assert_eq!(holidays(2004).len(), 11);
        assert_eq!(holidays(2005).len(), 12);
        assert!(holidays(1997).is_empty());
        assert_eq!(holidays(1998).len(), 11);
    }

    #[test]
    fn working_days_of_2026_are_weekdays_minus_weekday_holidays() {
        // 2026 has 365 days from a Thursday: 52 weeks and one day (a Thursday, 31 Dec), so
        // 52 × 5 + 1 = 261 weekdays; nine holidays fall on weekdays (above): 252 working days.
        let mut d = day(2026, 1, 1);
        let mut n = 0;
        while d.year() == 2026 {
            n += usize::from(is_working_day(d));
            d = d.succ_opt().unwrap();
        }
        assert_eq!(n, 252);
    }
}
