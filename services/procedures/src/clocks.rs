//! A procedure's clocks as stored and as `kovgis-core` counts them: the rule a clock follows
//! (kept with the procedure, so that a later change of the rule does not move a running
//! deadline), the decision clock's start and pauses, and the deadlines they give.
//!
//! Stored forms: a rule is `{"clock", "version", "municipality_code", "days", "day_kind",
//! "silence_counts_as_agreement", "legal_basis"}`; the pauses are `[{"from_us", "until_us"}]`
//! (microseconds since 1970, `until_us` null while paused).

use chrono::{DateTime, NaiveDate, Utc};
use kovgis_core::calendar::Calendar;
use kovgis_core::statutory_clock::{Clock, ClockEvent, ClockRule, ClockStatus, Period};
use kovgis_store::procedures::ProcedureRow;
use serde_json::{Value, json};

/// The calendar every clock counts in.
pub const CALENDAR: Calendar = Calendar::estonia();

/// A rule as stored with a procedure or a coordination request.
pub fn rule_json(rule: &ClockRule) -> Value {
    json!({
        "clock": rule.clock,
        "version": rule.version,
        "municipality_code": rule.municipality_code,
        "days": rule.period.days,
        "day_kind": rule.period.kind.as_str(),
        "silence_counts_as_agreement": rule.silence_counts_as_agreement,
        "legal_basis": rule.legal_basis,
    })
}

/// The period of a stored rule.
pub fn period_of(rule: &Value) -> Option<Period> {
    let days = u16::try_from(rule["days"].as_u64()?).ok()?;
    let kind = rule["day_kind"].as_str()?.parse().ok()?;
    Some(Period { days, kind })
}

/// "10 working days (excavation_permit decision v1, national)".
pub fn describe(rule: &Value) -> String {
    let owner = rule["municipality_code"]
        .as_str()
        .map(|m| format!("municipality {m}"))
        .unwrap_or_else(|| "national".into());
    format!(
        "{} {} days ({} v{}, {owner})",
        rule["days"],
        rule["day_kind"].as_str().unwrap_or_default(),
        rule["clock"].as_str().unwrap_or_default(),
        rule["version"],
    )
}

fn micros(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().and_then(DateTime::from_timestamp_micros)
}

/// The decision clock of a procedure, when one was started.
pub fn decision_clock(row: &ProcedureRow) -> Option<Clock> {
    let period = period_of(row.clock_rule.as_ref()?)?;
    let mut events = vec![ClockEvent::Started(row.clock_started_at?)];
    for p in row.clock_pauses.as_array().into_iter().flatten() {
        events.push(ClockEvent::Paused(micros(&p["from_us"])?));
        if let Some(until) = micros(&p["until_us"]) {
            events.push(ClockEvent::Resumed(until));
        }
    }
    Clock::replay(period, events).ok()
}

/// Where the decision clock stands at `now`.
pub fn status(row: &ProcedureRow, now: DateTime<Utc>) -> Option<ClockStatus> {
    decision_clock(row)?.status(&CALENDAR, now).ok()
}

/// The pauses with a new one from `at`.
pub fn paused(row: &ProcedureRow, at: DateTime<Utc>) -> Value {
    let mut list = row.clock_pauses.as_array().cloned().unwrap_or_default();
    list.push(json!({"from_us": at.timestamp_micros(), "until_us": null}));
    Value::Array(list)
}

/// The pauses with the open one ended at `at`.
pub fn resumed(row: &ProcedureRow, at: DateTime<Utc>) -> Value {
    let mut list = row.clock_pauses.as_array().cloned().unwrap_or_default();
    if let Some(last) = list.last_mut()
        && last["until_us"].is_null()
    {
        last["until_us"] = json!(at.timestamp_micros());
    }
    Value::Array(list)
}

/// The deadline the decision clock gives with `pauses` (`None` while paused before its end).
pub fn deadline_with(row: &ProcedureRow, pauses: Value) -> Option<NaiveDate> {
    let r = ProcedureRow {
        clock_pauses: pauses,
        ..row.clone()
    };
    decision_clock(&r)?.deadline(&CALENDAR).ok().flatten()
}
