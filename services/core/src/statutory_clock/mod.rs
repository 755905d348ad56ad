//! Statutory clocks: the legal deadlines of a procedure, as pure functions of the clock rules,
//! the clock's events and an injected "now" — no clock is ever read here.
//!
//! The rules (general part of the Civil Code, Tsiviilseadustiku üldosa seadus §§ 135–136, read
//! for administrative periods):
//! - Every instant is taken as its date in Europe/Tallinn ([`crate::tallinn`]): an event at
//!   23:30 Tallinn time happens on that date, one at 00:30 on the next.
//! - A period of N days runs from the day after the event: day 1 is the day after. For a
//!   [`DayKind::Calendar`] period every day counts and the last day is the N-th after the event;
//!   for a [`DayKind::Working`] period only working days count ([`crate::calendar`]) and the
//!   last day is the N-th working day after the event.
//! - A last day that is not a working day (a weekend or a public holiday) moves to the next
//!   working day. (A working-day period ends on a working day anyway.)
//! - The deadline is a whole day: the act is in time on any moment of it, Tallinn time, and
//!   late from 00:00 Tallinn time of the next day ([`overdue_from`]).
//!
//! Pauses (waiting for the applicant) — the choice made here, the usual administrative
//! reading ([`Clock`]): the period does not run while paused. The day the clock is paused still
//! counts (the period ran that day); the days after it up to and including the day of
//! resumption do not; the resumption is an event like the start, and the remainder runs again
//! from the day after it. Hence a pause and resumption on the same day change nothing, and a
//! clock paused for good has no deadline, only the days it has used. A pause after the last day
//! has been reached does not move the deadline: time already lost is not given back.
//!
//! Public display ([`display_last_day`], [`latest_notice_day`]): a display that must last at
//! least N days and starts on day S may end no earlier than the deadline of an N-day period
//! from S (the Civil Code reading: the display's start is the event, and the period runs from
//! the next day; the display then covers S to that day, N + 1 days or more). A notice due at
//! least N days before a display starting on S must leave N whole days (of the period's kind)
//! between the day of the notice and S, neither counted; the latest day to publish is the
//! working day before those N days. Both err on the long side — a display or notice longer
//! than the minimum is always lawful, a shorter one is not.
//!
//! Days that a period's arithmetic can reach are kept to years 1900–9999
//! ([`ClockError::OutOfRange`] otherwise), so no date arithmetic here can overflow.

mod clock;
mod display;
mod rule;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};

use crate::calendar::Calendar;
use crate::tallinn;

pub use clock::{Clock, ClockEvent, ClockStatus, DaysLeft, Pause};
pub use display::{display_last_day, earliest_display_start, latest_notice_day};
pub use rule::{ClockRule, clock_name, rule_in_force, rules_in_force};

/// What a clock cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the date {0} is outside the years 1900 to 9999 that clocks count in")]
    OutOfRange(NaiveDate),
    #[error("the clock is already paused (since {0})")]
    AlreadyPaused(DateTime<Utc>),
    #[error("the clock is not paused")]
    NotPaused,
    #[error("a clock event at {at} comes before the previous one at {previous}")]
    OutOfOrder {
        at: DateTime<Utc>,
        previous: DateTime<Utc>,
    },
    #[error("a clock's history must begin with its start")]
    NotStarted,
    #[error("a clock's history has more than one start")]
    StartedTwice,
    #[error("unknown day kind {0:?} (calendar or working)")]
    UnknownDayKind(String),
}

/// Which days a period counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayKind {
    /// Every day.
    Calendar,
    /// Working days only (Monday to Friday, not public holidays).
    Working,
}

impl DayKind {
    /// The name in the clock-rule table (`calendar`, `working`).
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Calendar => "calendar",
            DayKind::Working => "working",
        }
    }
}

impl std::str::FromStr for DayKind {
    type Err = ClockError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "calendar" => Ok(DayKind::Calendar),
            "working" => Ok(DayKind::Working),
            _ => Err(ClockError::UnknownDayKind(s.to_owned())),
        }
    }
}

/// A statutory period: N calendar or working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub days: u16,
    pub kind: DayKind,
}

impl Period {
    pub const fn calendar(days: u16) -> Period {
        Period {
            days,
            kind: DayKind::Calendar,
        }
    }

    pub const fn working(days: u16) -> Period {
        Period {
            days,
            kind: DayKind::Working,
        }
    }

    /// Whether `d` is a day this period counts.
    pub(crate) fn counts(self, cal: &Calendar, d: NaiveDate) -> bool {
        match self.kind {
            DayKind::Calendar => true,
            DayKind::Working => cal.is_working_day(d),
        }
    }

    /// The last day of this period started by an event on `event` (a Tallinn date): the N-th
    /// counted day after it, moved to the next working day if it is a day off.
    pub fn deadline(self, cal: &Calendar, event: NaiveDate) -> Result<NaiveDate, ClockError> {
        check(event)?;
        let mut d = event;
        let mut counted = 0;
        while counted < self.days {
            d = next(d)?;
            if self.counts(cal, d) {
                counted += 1;
            }
        }
        to_working_day(cal, d)
    }

    /// The last day of this period started by an event at the instant `at`.
    pub fn deadline_after(
        self,
        cal: &Calendar,
        at: DateTime<Utc>,
    ) -> Result<NaiveDate, ClockError> {
        self.deadline(cal, tallinn::date(at))
    }
}

/// The first moment a deadline on `deadline` is missed: 00:00 Tallinn time of the next day.
pub fn overdue_from(deadline: NaiveDate) -> Result<DateTime<Utc>, ClockError> {
    tallinn::start_of_day(next(deadline)?).ok_or(ClockError::OutOfRange(deadline))
}

/// Whether a deadline on `deadline` has passed at `now`: `now` is on a later Tallinn date.
pub fn is_overdue(deadline: NaiveDate, now: DateTime<Utc>) -> bool {
    tallinn::date(now) > deadline
}

/// Refuses dates outside the years clocks count in.
pub(crate) fn check(d: NaiveDate) -> Result<NaiveDate, ClockError> {
    if (1900..=9999).contains(&d.year()) {
        Ok(d)
    } else {
        Err(ClockError::OutOfRange(d))
    }
}

/// The next day, within the years clocks count in (plus the few hundred years a period can
/// reach past 9999: checked, never overflowing).
pub(crate) fn next(d: NaiveDate) -> Result<NaiveDate, ClockError> {
    d.checked_add_days(Days::new(1))
        .filter(|n| n.year() <= 10_999)
        .ok_or(ClockError::OutOfRange(d))
}

/// The day before.
pub(crate) fn prev(d: NaiveDate) -> Result<NaiveDate, ClockError> {
    d.checked_sub_days(Days::new(1))
        .filter(|n| n.year() >= 1800)
        .ok_or(ClockError::OutOfRange(d))
}

/// `d`, or the next working day if it is a day off.
pub(crate) fn to_working_day(cal: &Calendar, d: NaiveDate) -> Result<NaiveDate, ClockError> {
    let mut d = d;
    while !cal.is_working_day(d) {
        d = next(d)?;
    }
    Ok(d)
}
