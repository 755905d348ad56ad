//! The rules a proposal is checked against, and the report: [`validate`] runs every rule in
//! force, in catalogue order, over one context (`context::Ctx`).
//!
//! Rules are data ([`RuleDef`], stored in PostGIS in `validation_rule`): a national default per
//! rule code, which a municipality may override, each version valid from a date (laws change).
//! Every rule in force is evaluated and reported, passed ones too: "checked and clear" must never
//! look like "not checked".
//!
//! Hits: a feature counts only when it shares more than a sliver with the proposal — more than
//! `sliver_area_m2` of area and a mean width (2 × area / perimeter) above `sliver_width_m`
//! (parameters of `RESTRICTION_OVERLAP`). A neighbour whose boundary the proposal touches, or a
//! digitising sliver along a shared boundary, is not a hit.
//!
//! - [`catalogue`]: the rule and outcome codes, severities, rule versions as data;
//! - `context`: the proposal and what every rule reads (its shape, the hits, the parcels);
//! - one module per rule: `geometry_valid`, `within_parcel`, `setback`, `zone_use`,
//!   `coverage`, `restriction_overlap`, `dp_required`, [`conflicts`] (with other procedures,
//!   from a [`ProcedureIndex`]);
//! - [`report`]: findings, verdict, provenance; [`report_id`]: the id that names exactly what was
//!   checked; `messages` and `number`: how findings read.

pub mod catalogue;
pub mod conflicts;
mod context;
mod coverage;
mod dp_required;
mod geometry_valid;
mod messages;
mod number;
pub mod report;
pub mod report_id;
mod restriction_overlap;
mod setback;
mod within_parcel;
mod zone_use;

pub use catalogue::{Outcome, RULES, Reason, RuleCode, RuleDef, RuleSet, Severity};
pub use context::Proposal;
pub use messages::Locale;
pub use report::{Finding, Report, RuleVersion, Status, Verdict};
pub use report_id::report_id;

use crate::index::{Index, Parcel, ProcedureIndex};
use context::Ctx;
use messages::t;

/// Checks a proposal against every rule in force, with no other procedure known (a
/// `CONFLICTS_WITH_PROCEDURE` in force finds no conflict); see [`validate_with`].
pub fn validate(index: &Index, rules: &RuleSet, proposal: &Proposal) -> Report {
    validate_with(index, &ProcedureIndex::default(), rules, proposal)
}

/// Checks a proposal against every rule in force, and against the other `procedures`; see the
/// module docs.
///
/// Every rule in force gets at least one finding: not applicable to the procedure, not checked
/// (with the reason, e.g. no parcel under the proposal for the rules that measure against
/// parcels), or its outcome.
pub fn validate_with(
    index: &Index,
    procedures: &ProcedureIndex,
    rules: &RuleSet,
    proposal: &Proposal,
) -> Report {
    let (on, m, loc) = (
        proposal.on,
        proposal.municipality_code.as_str(),
        proposal.locale,
    );
    let mut cx = Ctx::new(index, procedures, rules, proposal);
    let (on_parcels, missing) = cx.parcels();

    for code in RuleCode::ALL {
        let Some(def) = rules.in_force(code, m, on) else {
            continue;
        };
        let first = cx.findings.len();
        check(&mut cx, code, def, &on_parcels, &missing);
        // Every rule in force is in the report: one that said nothing was not checked.
        if cx.findings.len() == first {
            cx.not_checked(
                code,
                def,
                Reason::NoOutcome,
                t!(
                    loc,
                    "ei kontrollitud: reegel ei andnud tulemust".into(),
                    "not checked: the rule gave no outcome".into(),
                ),
            );
        }
        cx.rule_versions.push(RuleVersion {
            rule: code,
            version: def.version,
            municipality_code: def.municipality_code.clone(),
            status: Status::of(&cx.findings[first..]),
        });
    }

    let verdict = Verdict::of(&cx.findings);
    let input_hash = report::input_hash(&proposal.geometry);
    let dataset_versions = std::iter::once(("parcels".to_owned(), index.parcel_version))
        .chain(
            cx.layers_used
                .iter()
                .map(|l| (l.label().to_owned(), l.info.version)),
        )
        .collect();
    Report {
        verdict,
        findings: cx.findings,
        parcels: on_parcels.iter().map(|(p, _)| p.code.clone()).collect(),
        rule_versions: cx.rule_versions,
        dataset_versions,
        input_hash,
    }
}

/// Runs one rule in force (version `def`) on the proposal.
fn check(
    cx: &mut Ctx<'_>,
    code: RuleCode,
    def: &RuleDef,
    on_parcels: &[(&Parcel, f64)],
    missing: &[&str],
) {
    let loc = cx.p.locale;
    if !def.procedures.is_empty() && !def.procedures.contains(&cx.p.procedure) {
        let procedure = &cx.p.procedure;
        let message = t!(
            loc,
            format!("ei kohaldata menetlusele {procedure}"),
            format!("does not apply to {procedure}"),
        );
        cx.not_applicable(code, def, Reason::OtherProcedure, message);
        return;
    }
    if code.needs_parcels() && on_parcels.is_empty() {
        let message = if missing.is_empty() {
            t!(
                loc,
                "ei kontrollitud: ala all ei ole ühtegi katastriüksust".into(),
                "not checked: there is no parcel under the proposal".into(),
            )
        } else {
            t!(
                loc,
                "ei kontrollitud: nimetatud katastriüksusi ei ole (kehtivana) olemas".into(),
                "not checked: none of the parcels named exists".into(),
            )
        };
        cx.not_checked(code, def, Reason::NoParcel, message);
        return;
    }
    match code {
        RuleCode::GeometryValid => geometry_valid::geometry_valid(cx, def),
        RuleCode::WithinParcel => within_parcel::within_parcel(cx, def, on_parcels, missing),
        RuleCode::Setback => {
            let parcels: Vec<&Parcel> = on_parcels.iter().map(|(p, _)| *p).collect();
            setback::setback(cx, def, &parcels)
        }
        RuleCode::ZoneUse => zone_use::zone_use(cx, def),
        RuleCode::Coverage => coverage::coverage(cx, def, on_parcels),
        RuleCode::RestrictionOverlap => restriction_overlap::restrictions(cx, def),
        RuleCode::DpRequired => dp_required::dp_required(cx, def),
        RuleCode::ConflictsWithProcedure => conflicts::conflicts(cx, def),
    }
}
