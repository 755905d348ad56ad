//! One running statutory clock: its period, its start, its pauses, and what they make of the
//! deadline and of a given "now". The rules it follows are in the parent module's docs; in
//! short, with S the Tallinn date of the start and P, R the dates of a pause and of its
//! resumption, the days that count are those after S, except the days after P up to and
//! including R.

use chrono::{DateTime, NaiveDate, Utc};

use super::{ClockError, Period, check, next, overdue_from, to_working_day};
use crate::calendar::Calendar;
use crate::tallinn;

/// An event in a clock's history, as a procedure's history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockEvent {
    Started(DateTime<Utc>),
    Paused(DateTime<Utc>),
    Resumed(DateTime<Utc>),
}

/// A pause: from when, until when (`None`: still paused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

/// A statutory clock: a period started at an instant, paused and resumed any number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    period: Period,
    started_at: DateTime<Utc>,
    pauses: Vec<Pause>,
}

/// Days left until a deadline, from the Tallinn date of "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaysLeft {
    /// Deadline minus today in days: 0 on the last day, 1 the day before, −1 the day after.
    pub calendar: i64,
    /// Working days after today up to and including the deadline (0 on the last day); once
    /// overdue, minus the working days after the deadline up to and including today.
    pub working: i64,
}

/// Where a clock stands at a given "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockStatus {
    /// The clock's last event is a pause.
    pub paused: bool,
    /// The last day, once known: `None` while paused before the period's last day was reached.
    pub deadline: Option<NaiveDate>,
    /// The first moment the deadline is missed (00:00 Tallinn time of the day after it).
    pub overdue_from: Option<DateTime<Utc>>,
    /// "Now" is past the deadline (on a later Tallinn date).
    pub overdue: bool,
    /// Until the deadline, when there is one.
    pub days_left: Option<DaysLeft>,
    /// Days of the period counted up to and including today (at most the period's days).
    pub days_counted: u16,
}

impl Clock {
    /// A clock of `period` started by an event at `at`.
    pub fn start(period: Period, at: DateTime<Utc>) -> Result<Clock, ClockError> {
        check(tallinn::date(at))?;
        Ok(Clock {
            period,
            started_at: at,
            pauses: Vec::new(),
        })
    }

    /// The clock a recorded history makes: a start, then pauses and resumptions in order.
    pub fn replay(
        period: Period,
        events: impl IntoIterator<Item = ClockEvent>,
    ) -> Result<Clock, ClockError> {
        let mut events = events.into_iter();
        let mut clock = match events.next() {
            Some(ClockEvent::Started(at)) => Clock::start(period, at)?,
            _ => return Err(ClockError::NotStarted),
        };
        for e in events {
            match e {
                ClockEvent::Started(_) => return Err(ClockError::StartedTwice),
                ClockEvent::Paused(at) => clock.pause(at)?,
                ClockEvent::Resumed(at) => clock.resume(at)?,
            }
        }
        Ok(clock)
    }

    /// Pauses the clock at `at` (not before its last event).
    pub fn pause(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if let Some(p) = self.open_pause() {
            return Err(ClockError::AlreadyPaused(p.from));
        }
        self.in_order(at)?;
        self.pauses.push(Pause {
            from: at,
            until: None,
        });
        Ok(())
    }

    /// Resumes the paused clock at `at` (not before the pause).
    pub fn resume(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        self.in_order(at)?;
        match self.pauses.last_mut() {
            Some(p) if p.until.is_none() => {
                p.until = Some(at);
                Ok(())
            }
            _ => Err(ClockError::NotPaused),
        }
    }

    pub fn period(&self) -> Period {
        self.period
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    pub fn pauses(&self) -> &[Pause] {
        &self.pauses
    }

    pub fn is_paused(&self) -> bool {
        self.open_pause().is_some()
    }

    fn open_pause(&self) -> Option<&Pause> {
        self.pauses.last().filter(|p| p.until.is_none())
    }

    fn in_order(&self, at: DateTime<Utc>) -> Result<(), ClockError> {
        check(tallinn::date(at))?;
        let previous = self
            .pauses
            .last()
            .map(|p| p.until.unwrap_or(p.from))
            .unwrap_or(self.started_at);
        if at < previous {
            return Err(ClockError::OutOfOrder { at, previous });
        }
        Ok(())
    }

    /// Calls `f` with each day the clock runs, in order, while it returns true; the days after
    /// the start's date, minus those after a pause's date up to its resumption's date; the
    /// days end at an open pause's date.
    fn each_running_day(&self, mut f: impl FnMut(NaiveDate) -> bool) -> Result<(), ClockError> {
        let mut from = tallinn::date(self.started_at);
        for p in &self.pauses {
            // The segment (from, pause date].
            let to = tallinn::date(p.from);
            let mut d = from;
            while d < to {
                d = next(d)?;
                if !f(d) {
                    return Ok(());
                }
            }
            match p.until {
                Some(r) => from = tallinn::date(r),
                None => return Ok(()),
            }
        }
        // Running since the last resumption (or the start): unbounded, `f` stops it.
        let mut d = from;
        loop {
            d = next(d)?;
            if !f(d) {
                return Ok(());
            }
        }
    }

    /// The day the period's last counted day falls on, before moving off a day off: `None` while
    /// paused before it is reached.
    fn last_counted_day(&self, cal: &Calendar) -> Result<Option<NaiveDate>, ClockError> {
        if self.period.days == 0 {
            return Ok(Some(tallinn::date(self.started_at)));
        }
        let (mut counted, mut reached) = (0, None);
        self.each_running_day(|d| {
            if self.period.counts(cal, d) {
                counted += 1;
                if counted == self.period.days {
                    reached = Some(d);
                    return false;
                }
            }
            true
        })?;
        Ok(reached)
    }

    /// The deadline: the last counted day, moved to the next working day if it is a day off;
    /// `None` while paused before the last day was reached.
    pub fn deadline(&self, cal: &Calendar) -> Result<Option<NaiveDate>, ClockError> {
        self.last_counted_day(cal)?
            .map(|d| to_working_day(cal, d))
            .transpose()
    }

    /// Days counted up to and including `day` (at most the period's days).
    pub fn days_counted(&self, cal: &Calendar, day: NaiveDate) -> Result<u16, ClockError> {
        let mut counted = 0;
        if self.period.days == 0 {
            return Ok(0);
        }
        self.each_running_day(|d| {
            if d > day {
                return false;
            }
            if self.period.counts(cal, d) {
                counted += 1;
            }
            counted < self.period.days
        })?;
        Ok(counted)
    }

    /// Where the clock stands at `now` (injected: the caller's clock, never the system's).
    pub fn status(&self, cal: &Calendar, now: DateTime<Utc>) -> Result<ClockStatus, ClockError> {
        let today = check(tallinn::date(now))?;
        let deadline = self.deadline(cal)?;
        let days_left = deadline.map(|d| days_left(cal, today, d)).transpose()?;
        Ok(ClockStatus {
            paused: self.is_paused(),
            deadline,
            overdue_from: deadline.map(overdue_from).transpose()?,
            overdue: deadline.is_some_and(|d| today > d),
            days_left,
            days_counted: self.days_counted(cal, today)?,
        })
    }
}

/// Calendar and working days from `today` to `deadline` (see [`DaysLeft`]).
fn days_left(
    cal: &Calendar,
    today: NaiveDate,
    deadline: NaiveDate,
) -> Result<DaysLeft, ClockError> {
    let (from, to, sign) = if today <= deadline {
        (today, deadline, 1)
    } else {
        (deadline, today, -1)
    };
    // Working days in (from, to].
    let mut working = 0;
    let mut d = from;
    while d < to {
        d = next(d)?;
        working += i64::from(cal.is_working_day(d));
    }
    Ok(DaysLeft {
        calendar: (deadline - today).num_days(),
        working: sign * working,
    })
}
