//! Public display: how long a display must last, and by when its notice must be published
//! (detailed plans, the open procedure of design criteria). The readings are in the parent
//! module's docs; both err on the long side.

use chrono::NaiveDate;

use super::{ClockError, Period, check, next, prev};
use crate::calendar::Calendar;

/// The earliest last day of a public display that starts on `first_day` and must last at least
/// `min` ("at least N days"): the deadline of the period `min` started on `first_day` — the N-th
/// counted day after the first day, moved to the next working day if it is a day off.
pub fn display_last_day(
    cal: &Calendar,
    first_day: NaiveDate,
    min: Period,
) -> Result<NaiveDate, ClockError> {
    min.deadline(cal, first_day)
}

/// The latest day to publish the notice of a display starting on `first_day` when the notice
/// must come at least `notice` before it ("at least N days before the display starts"): the N
/// counted days before `first_day` are left whole between the two, and the notice goes out on
/// the working day before them (a day off moves it earlier, never later).
pub fn latest_notice_day(
    cal: &Calendar,
    first_day: NaiveDate,
    notice: Period,
) -> Result<NaiveDate, ClockError> {
    let mut d = check(first_day)?;
    let mut counted = 0;
    while counted < notice.days {
        d = prev(d)?;
        if notice.counts(cal, d) {
            counted += 1;
        }
    }
    // The day before the N notice days, or the working day before that.
    d = prev(d)?;
    while !cal.is_working_day(d) {
        d = prev(d)?;
    }
    Ok(d)
}

/// The earliest day a display may start when its notice was published on `notice_day`: the day
/// after the N counted days that follow the notice (the other way round of
/// [`latest_notice_day`]: for a notice published on a working day, that function gives the
/// notice day back for this start).
pub fn earliest_display_start(
    cal: &Calendar,
    notice_day: NaiveDate,
    notice: Period,
) -> Result<NaiveDate, ClockError> {
    let mut d = check(notice_day)?;
    let mut counted = 0;
    while counted < notice.days {
        d = next(d)?;
        if notice.counts(cal, d) {
            counted += 1;
        }
    }
    next(d)
}
