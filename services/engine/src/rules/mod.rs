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
//!   `coverage`, `restriction_overlap`, `dp_required`;
//! - [`report`]: findings, verdict, provenance; `messages` and `number`: how findings read.

pub mod catalogue;
mod context;
mod coverage;
mod dp_required;
mod geometry_valid;
mod messages;
mod number;
pub mod report;
mod restriction_overlap;
mod setback;
mod within_parcel;
mod zone_use;

pub use catalogue::{Outcome, RULES, RuleCode, RuleDef, RuleSet, Severity};
pub use context::Proposal;
pub use messages::Locale;
pub use report::{Finding, Report, Verdict};

use crate::index::{Index, Parcel};
use context::Ctx;
use messages::t;

/// Checks a proposal against every rule in force; see the module docs.
pub fn validate(index: &Index, rules: &RuleSet, proposal: &Proposal) -> Report {
    let (on, m, loc) = (
        proposal.on,
        proposal.municipality_code.as_str(),
        proposal.locale,
    );
    let mut cx = Ctx::new(index, rules, proposal);
    let (on_parcels, missing) = cx.parcels();
    let parcels: Vec<&Parcel> = on_parcels.iter().map(|(p, _)| *p).collect();

    for code in RuleCode::ALL {
        let Some(def) = rules.in_force(code, m, on) else {
            continue;
        };
        cx.rule_versions.push((code, def.version));
        if !def.procedures.is_empty() && !def.procedures.contains(&proposal.procedure) {
            cx.finding(
                code,
                def,
                Outcome::NotApplicable,
                true,
                t!(
                    loc,
                    format!("ei kohaldata menetlusele {}", proposal.procedure),
                    format!("does not apply to {}", proposal.procedure),
                ),
            );
            continue;
        }
        match code {
            RuleCode::GeometryValid => geometry_valid::geometry_valid(&mut cx, def),
            RuleCode::WithinParcel => {
                within_parcel::within_parcel(&mut cx, def, &on_parcels, &missing)
            }
            RuleCode::Setback => setback::setback(&mut cx, def, &parcels),
            RuleCode::ZoneUse => zone_use::zone_use(&mut cx, def),
            RuleCode::Coverage => coverage::coverage(&mut cx, def, &on_parcels),
            RuleCode::RestrictionOverlap => restriction_overlap::restrictions(&mut cx, def),
            RuleCode::DpRequired => dp_required::dp_required(&mut cx, def),
        }
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
        parcels: parcels.iter().map(|p| p.code.clone()).collect(),
        rule_versions: cx.rule_versions,
        dataset_versions,
        input_hash,
    }
}
