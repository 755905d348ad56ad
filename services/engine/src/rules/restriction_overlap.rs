//! RESTRICTION_OVERLAP: every restriction (protection zone, shore zone, utility corridor, …) the
//! proposal shares more than a sliver with is a finding, with whom to coordinate. The sliver
//! tolerances themselves are this rule's parameters but apply to every hit (see
//! [`super::context::Ctx::new`]).

use kovgis_core::model::LayerKind;

use super::catalogue::{Outcome, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;
use super::number::Dec;

pub(super) fn restrictions(cx: &mut Ctx<'_>, def: &RuleDef) {
    if cx.no_layer(RuleCode::RestrictionOverlap, def, &[LayerKind::Restriction]) {
        return;
    }
    let loc = cx.p.locale;
    let hits = cx.hits(LayerKind::Restriction);
    if hits.is_empty() {
        cx.finding(
            RuleCode::RestrictionOverlap,
            def,
            Outcome::NoRestriction,
            true,
            t!(
                loc,
                "ala ei kattu ühegi kitsendusega".into(),
                "the area overlaps no restriction".into(),
            ),
        );
        return;
    }
    for (layer, f, overlap, area) in hits {
        let name = &f.facts.name;
        let a = Dec(area, 1);
        let share = Dec(cx.share(area), 1);
        let authority = f.facts.authority(&layer.info).unwrap_or_default();
        let proposal_area = cx.area;
        let finding = cx.finding(
            RuleCode::RestrictionOverlap,
            def,
            Outcome::RestrictionOverlap,
            false,
            t!(
                loc,
                format!(
                    "{a} m² ({share} %) alast jääb kitsendusse {name} ({}); kooskõlastada: {authority}",
                    layer.info.title
                ),
                format!(
                    "{a} m² ({share} %) of the area lies in {name} ({}); coordinate with {authority}",
                    layer.info.title
                ),
            ),
        );
        finding.describe(layer, f, overlap, area, proposal_area);
    }
}
