//! Clock rules as configuration: which period a clock of a procedure type has in a
//! municipality, and from when — the rows of the `statutory_clock_rule` table (migration 0011),
//! and the choice of the version in force on a date.
//!
//! A rule is national (`municipality_code` `None`, valid for all) or a municipality's own. Rules
//! are versioned: a new version is a new rule with a later `valid_from`, never an edit. On a
//! date, the rule of a clock is the municipality's version in force that day (the latest
//! `valid_from` among those whose validity covers it), else the national default in force.

use chrono::NaiveDate;

use super::{ClockStatus, Period};

/// The clock names the seeded rules use.
pub mod clock_name {
    /// The authority's decision on the application.
    pub const DECISION: &str = "decision";
    /// An authority's answer to a coordination request.
    pub const COORDINATION_ANSWER: &str = "coordination_answer";
    /// The minimum length of a public display.
    pub const PUBLIC_DISPLAY_MIN: &str = "public_display_min";
    /// The minimum length of a detailed plan's display when the plan would change the
    /// comprehensive plan.
    pub const PUBLIC_DISPLAY_MIN_COMPREHENSIVE_CHANGE: &str =
        "public_display_min_comprehensive_change";
    /// How long before a public display its notice must be published.
    pub const PUBLIC_DISPLAY_NOTICE: &str = "public_display_notice";
}

/// One version of a clock rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockRule {
    /// EHAK code; `None`: the national default.
    pub municipality_code: Option<String>,
    /// `detailed_plan`, `design_criteria`, `design_criteria_open`, `building_permit`,
    /// `excavation_permit`, `felling_permit`.
    pub procedure_type: String,
    /// Which clock of the procedure ([`clock_name`]).
    pub clock: String,
    /// The version of this rule (per municipality, procedure type and clock), from 1.
    pub version: i32,
    pub period: Period,
    /// When the period ends without an answer, the answer counts as agreement (coordination).
    pub silence_counts_as_agreement: bool,
    /// The law (and section) the period comes from, or a note that it is an example default.
    pub legal_basis: String,
    /// The first day the version applies.
    pub valid_from: NaiveDate,
    /// The first day it no longer applies (exclusive); `None`: open-ended.
    pub valid_to: Option<NaiveDate>,
}

impl ClockRule {
    /// Whether the version's validity covers `on`.
    pub fn valid_on(&self, on: NaiveDate) -> bool {
        self.valid_from <= on && self.valid_to.is_none_or(|to| on < to)
    }

    /// Whether a clock of this rule, standing at `status`, has run out in silence so that its
    /// answer is deemed an agreement: the rule says silence counts, and the deadline has passed.
    /// (The caller knows whether an answer came; this only reads the clock.)
    pub fn silence_is_agreement(&self, status: &ClockStatus) -> bool {
        self.silence_counts_as_agreement && status.overdue
    }
}

/// The rule of `clock` for a procedure type in `municipality` on `on`: the municipality's
/// version valid that day with the latest `valid_from` (then the highest version), else the
/// national one chosen the same way.
pub fn rule_in_force<'a>(
    rules: &'a [ClockRule],
    municipality: &str,
    procedure_type: &str,
    clock: &str,
    on: NaiveDate,
) -> Option<&'a ClockRule> {
    let candidates = |own: bool| {
        rules
            .iter()
            .filter(move |r| {
                r.procedure_type == procedure_type
                    && r.clock == clock
                    && r.valid_on(on)
                    && if own {
                        r.municipality_code.as_deref() == Some(municipality)
                    } else {
                        r.municipality_code.is_none()
                    }
            })
            .max_by_key(|r| (r.valid_from, r.version))
    };
    candidates(true).or_else(|| candidates(false))
}

/// The rules of every clock of a procedure type in force in `municipality` on `on`
/// ([`rule_in_force`] for each clock named in `rules`), by clock name.
pub fn rules_in_force<'a>(
    rules: &'a [ClockRule],
    municipality: &str,
    procedure_type: &str,
    on: NaiveDate,
) -> Vec<&'a ClockRule> {
    let mut clocks: Vec<&str> = rules
        .iter()
        .filter(|r| r.procedure_type == procedure_type)
        .map(|r| r.clock.as_str())
        .collect();
    clocks.sort_unstable();
    clocks.dedup();
    clocks
        .into_iter()
        .filter_map(|c| rule_in_force(rules, municipality, procedure_type, c, on))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn rule(
        m: Option<&str>,
        clock: &str,
        version: i32,
        days: u16,
        from: NaiveDate,
        to: Option<NaiveDate>,
    ) -> ClockRule {
        ClockRule {
            municipality_code: m.map(str::to_owned),
            procedure_type: "excavation_permit".into(),
            clock: clock.into(),
            version,
            period: Period::working(days),
            silence_counts_as_agreement: false,
            legal_basis: String::new(),
            valid_from: from,
            valid_to: to,
        }
    }

    #[test]
    fn the_municipal_version_applies_only_within_its_dates() {
        let rules = vec![
            rule(None, "decision", 1, 10, day(2000, 1, 1), None),
            // Tartu: 5 working days from 1 March to 1 July 2026 (exclusive), then 7 from 2027.
            rule(
                Some("0793"),
                "decision",
                1,
                5,
                day(2026, 3, 1),
                Some(day(2026, 7, 1)),
            ),
            rule(Some("0793"), "decision", 2, 7, day(2027, 1, 1), None),
            // Another municipality's rule never applies to Tartu.
            rule(Some("0784"), "decision", 1, 3, day(2020, 1, 1), None),
        ];
        let days = |on| {
            rule_in_force(&rules, "0793", "excavation_permit", "decision", on)
                .map(|r| r.period.days)
        };
        assert_eq!(days(day(2026, 2, 28)), Some(10));
        assert_eq!(days(day(2026, 3, 1)), Some(5));
        assert_eq!(days(day(2026, 6, 30)), Some(5));
        assert_eq!(days(day(2026, 7, 1)), Some(10));
        assert_eq!(days(day(2027, 1, 1)), Some(7));
        assert_eq!(
            rule_in_force(
                &rules,
                "0784",
                "excavation_permit",
                "decision",
                day(2026, 3, 1)
            )
            .map(|r| r.period.days),
            Some(3)
        );
        assert_eq!(
            rule_in_force(
                &rules,
                "0793",
                "felling_permit",
                "decision",
                day(2026, 3, 1)
            ),
            None
        );
        assert_eq!(
            rule_in_force(
                &rules,
                "0793",
                "excavation_permit",
                "decision",
                day(1999, 1, 1)
            ),
            None
        );
    }

    #[test]
    fn a_later_national_version_takes_over_from_its_start() {
        let rules = vec![
            rule(None, "decision", 1, 10, day(2000, 1, 1), None),
            rule(None, "decision", 2, 15, day(2026, 1, 1), None),
            rule(None, "coordination_answer", 1, 5, day(2000, 1, 1), None),
        ];
        let in_force = rules_in_force(&rules, "0793", "excavation_permit", day(2026, 5, 5));
        let got: Vec<(&str, u16)> = in_force
            .iter()
            .map(|r| (r.clock.as_str(), r.period.days))
            .collect();
        assert_eq!(got, [("coordination_answer", 5), ("decision", 15)]);
        let before = rules_in_force(&rules, "0793", "excavation_permit", day(2025, 12, 31));
        assert_eq!(
            before.iter().map(|r| r.period.days).collect::<Vec<_>>(),
            [5, 10]
        );
    }
}
