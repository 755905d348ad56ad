//! COVERAGE: on every parcel it is on, the proposal with the buildings already there stays within
//! the maximum coverage of the detailed plan in force over the parcel, else of the zone that
//! covers most of it. Both the built area and the limit come from the index
//! ([`crate::index::Index::coverage`]).

use kovgis_core::model::LayerKind;

use super::catalogue::{Outcome, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;
use super::number::Dec;
use crate::index::Parcel;

/// `on`: the parcels with the proposal's area on each.
pub(super) fn coverage(cx: &mut Ctx<'_>, def: &RuleDef, on: &[(&Parcel, f64)]) {
    if cx.no_layer(
        RuleCode::Coverage,
        def,
        &[LayerKind::DetailedPlan, LayerKind::Zoning],
    ) {
        return;
    }
    let loc = cx.p.locale;
    for &(parcel, new) in on {
        // A detailed plan in force over the parcel decides, else the zone covering most of it;
        // the buildings already on it count (both worked out when the index was built).
        let facts = cx
            .index
            .coverage(&cx.p.municipality_code, parcel, cx.sliver_area);
        let existing = facts.built_m2;
        let Some((max, source)) = facts.limit else {
            cx.finding(
                RuleCode::Coverage,
                def,
                Outcome::NoCoverageLimit,
                true,
                t!(
                    loc,
                    format!(
                        "katastriüksusele {} ei ole täisehituse piirangut",
                        parcel.code
                    ),
                    format!("no coverage limit applies to parcel {}", parcel.code),
                ),
            );
            continue;
        };
        let pct = 100.0 * (existing + new) / parcel.shape.area.max(f64::MIN_POSITIVE);
        let shown = Dec(pct, 1);
        let (e, n) = (Dec(existing, 1), Dec(new, 1));
        // At the maximum is allowed; areas are compared to 1e-6 of a percent.
        let f = if pct <= max + 1e-6 {
            cx.finding(
                RuleCode::Coverage,
                def,
                Outcome::CoverageOk,
                true,
                t!(
                    loc,
                    format!(
                        "täisehitus {} katastriüksusel {shown} % (olemasolev {e} m² + uus {n} m²), lubatud {max} % ({source})",
                        parcel.code
                    ),
                    format!(
                        "coverage of parcel {} {shown} % (existing {e} m² + new {n} m²), {max} % allowed ({source})",
                        parcel.code
                    ),
                ),
            )
        } else {
            cx.finding(
                RuleCode::Coverage,
                def,
                Outcome::CoverageExceeded,
                false,
                t!(
                    loc,
                    format!(
                        "täisehitus {} katastriüksusel oleks {shown} % (olemasolev {e} m² + uus {n} m²), lubatud {max} % ({source})",
                        parcel.code
                    ),
                    format!(
                        "coverage of parcel {} would be {shown} % (existing {e} m² + new {n} m²), {max} % allowed ({source})",
                        parcel.code
                    ),
                ),
            )
        };
        f.feature_id = Some(parcel.code.clone());
        f.overlap_area_m2 = Some(existing + new);
        f.overlap_share_pct = Some(pct);
    }
}
