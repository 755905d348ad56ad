//! The rule catalogue: which rules there are ([`RuleCode`], in report order), the outcome codes
//! their findings carry ([`Outcome`]), why a rule was not applied or not checked ([`Reason`]), the
//! severities, and the rule versions as data ([`RuleDef`], [`RuleSet`]) with the choice of the
//! version in force.
//!
//! Codes are enums in the engine and strings only on the wire and in the database: `as_str()` gives
//! the stable string (`"WITHIN_PARCEL"`, `"OUTSIDE_PARCEL"`, …) that API clients and stored rule
//! rows use. What a rule checks is in its own module, not here.

use chrono::NaiveDate;

/// The rules, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleCode {
    GeometryValid,
    WithinParcel,
    Setback,
    ZoneUse,
    Coverage,
    RestrictionOverlap,
    DpRequired,
    ConflictsWithProcedure,
}

impl RuleCode {
    /// Every rule, in report order.
    pub const ALL: [RuleCode; 8] = [
        RuleCode::GeometryValid,
        RuleCode::WithinParcel,
        RuleCode::Setback,
        RuleCode::ZoneUse,
        RuleCode::Coverage,
        RuleCode::RestrictionOverlap,
        RuleCode::DpRequired,
        RuleCode::ConflictsWithProcedure,
    ];

    /// The code as stored (`validation_rule.code`) and reported (`Finding.rule`).
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleCode::GeometryValid => "GEOMETRY_VALID",
            RuleCode::WithinParcel => "WITHIN_PARCEL",
            RuleCode::Setback => "SETBACK",
            RuleCode::ZoneUse => "ZONE_USE",
            RuleCode::Coverage => "COVERAGE",
            RuleCode::RestrictionOverlap => "RESTRICTION_OVERLAP",
            RuleCode::DpRequired => "DP_REQUIRED",
            RuleCode::ConflictsWithProcedure => "CONFLICTS_WITH_PROCEDURE",
        }
    }

    /// The rule with this stored code.
    pub fn parse(s: &str) -> Option<RuleCode> {
        RuleCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether the rule measures the proposal against the parcels it is on: without a parcel
    /// under the proposal it cannot be checked (and is reported so, never left out).
    pub const fn needs_parcels(self) -> bool {
        matches!(self, RuleCode::Setback | RuleCode::Coverage)
    }
}

/// The rule codes, in report order (the same as [`RuleCode::ALL`]).
pub const RULES: [RuleCode; 8] = RuleCode::ALL;

/// A finding's stable outcome code (`Finding.code` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The rule does not apply to the proposal's procedure.
    NotApplicable,
    /// The rule is in force but could not be checked (the finding's [`Reason`] says why).
    NotChecked,
    GeometryValid,
    ParcelNotFound,
    OutsideParcel,
    WithinParcel,
    SetbackOk,
    SetbackTooSmall,
    NoZone,
    ZoneUseAllowed,
    ZoneUseNotAllowed,
    NoCoverageLimit,
    CoverageOk,
    CoverageExceeded,
    NoRestriction,
    RestrictionOverlap,
    DpNotRequired,
    DpInForce,
    DpRequired,
    NoConflict,
    ProcedureConflict,
}

impl Outcome {
    /// The code as reported.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::NotApplicable => "NOT_APPLICABLE",
            Outcome::NotChecked => "NOT_CHECKED",
            Outcome::GeometryValid => "GEOMETRY_VALID",
            Outcome::ParcelNotFound => "PARCEL_NOT_FOUND",
            Outcome::OutsideParcel => "OUTSIDE_PARCEL",
            Outcome::WithinParcel => "WITHIN_PARCEL",
            Outcome::SetbackOk => "SETBACK_OK",
            Outcome::SetbackTooSmall => "SETBACK_TOO_SMALL",
            Outcome::NoZone => "NO_ZONE",
            Outcome::ZoneUseAllowed => "ZONE_USE_ALLOWED",
            Outcome::ZoneUseNotAllowed => "ZONE_USE_NOT_ALLOWED",
            Outcome::NoCoverageLimit => "NO_COVERAGE_LIMIT",
            Outcome::CoverageOk => "COVERAGE_OK",
            Outcome::CoverageExceeded => "COVERAGE_EXCEEDED",
            Outcome::NoRestriction => "NO_RESTRICTION",
            Outcome::RestrictionOverlap => "RESTRICTION_OVERLAP",
            Outcome::DpNotRequired => "DP_NOT_REQUIRED",
            Outcome::DpInForce => "DP_IN_FORCE",
            Outcome::DpRequired => "DP_REQUIRED",
            Outcome::NoConflict => "NO_CONFLICT",
            Outcome::ProcedureConflict => "PROCEDURE_CONFLICT",
        }
    }
}

/// Both codes are shown, compared and sent as their stable strings.
macro_rules! as_wire_string {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$t> for String {
            fn from(c: $t) -> String {
                c.as_str().to_owned()
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

/// Why a rule in force was not applied or not checked (`Finding.reason` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The rule does not apply to the proposal's procedure type.
    OtherProcedure,
    /// The rule measures against parcels and there is none: no current parcel under the
    /// proposal, or none of the parcels named exists.
    NoParcel,
    /// The rule gave no outcome at all (a safeguard: every rule in force is reported).
    NoOutcome,
    /// Checking it would cost more than the documented bound (e.g. SETBACK on more parcels or
    /// parcel vertices than are united for one proposal).
    TooComplex,
    /// No layer the rule reads (zoning, detailed plans, restrictions) applies in the
    /// municipality: nothing is loaded to check against, which is not the same as "clear".
    NoLayer,
}

impl Reason {
    /// The code as reported.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::OtherProcedure => "OTHER_PROCEDURE",
            Reason::NoParcel => "NO_PARCEL",
            Reason::NoOutcome => "NO_OUTCOME",
            Reason::TooComplex => "TOO_COMPLEX",
            Reason::NoLayer => "NO_LAYER",
        }
    }
}

as_wire_string!(RuleCode);
as_wire_string!(Outcome);
as_wire_string!(Reason);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Blocking,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "blocking" => Some(Severity::Blocking),
            _ => None,
        }
    }
}

/// One version of one rule, national (`municipality_code` `None`) or a municipality's own.
#[derive(Debug, Clone)]
pub struct RuleDef {
    /// As stored; a code the engine does not know is never in force (see [`RuleCode::parse`]).
    pub code: String,
    pub version: i32,
    pub municipality_code: Option<String>,
    /// Severity of a failure.
    pub severity: Severity,
    /// Procedure types it applies to; empty: all.
    pub procedures: Vec<String>,
    pub params: serde_json::Value,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl RuleDef {
    /// The number parameter `key`, or `default` when it is missing or not a number.
    pub(crate) fn number(&self, key: &str, default: f64) -> f64 {
        self.params
            .get(key)
            .and_then(|v| v.as_f64())
            .unwrap_or(default)
    }
}

/// Every rule version known.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<RuleDef>,
}

impl RuleSet {
    /// The version of `code` in force in a municipality on a date: the municipality's own if it
    /// has one in force, else the national one.
    pub fn in_force(&self, code: RuleCode, municipality: &str, on: NaiveDate) -> Option<&RuleDef> {
        let code = code.as_str();
        let valid = |r: &&RuleDef| {
            r.code == code && r.valid_from <= on && r.valid_to.is_none_or(|to| on < to)
        };
        self.rules
            .iter()
            .filter(valid)
            .filter(|r| r.municipality_code.as_deref() == Some(municipality))
            .max_by_key(|r| r.valid_from)
            .or_else(|| {
                self.rules
                    .iter()
                    .filter(valid)
                    .filter(|r| r.municipality_code.is_none())
                    .max_by_key(|r| r.valid_from)
            })
    }
}
