//! ZONE_USE: every comprehensive-plan zone the proposal lies in (more than a sliver) allows its
//! intended use (the zone's `allowed_uses`).

use kovgis_core::model::LayerKind;

use super::catalogue::{Outcome, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;

pub(super) fn zone_use(cx: &mut Ctx<'_>, def: &RuleDef) {
    if cx.no_layer(RuleCode::ZoneUse, def, &[LayerKind::Zoning]) {
        return;
    }
    let loc = cx.p.locale;
    let hits = cx.zone_hits();
    if hits.is_empty() {
        cx.finding(
            RuleCode::ZoneUse,
            def,
            Outcome::NoZone,
            true,
            t!(
                loc,
                "üldplaneeringu maakasutuse juhtotstarve puudub".into(),
                "no comprehensive-plan zone here".into(),
            ),
        );
        return;
    }
    let intended = cx.p.intended_use.clone();
    let proposal_area = cx.area;
    for (layer, f, overlap, area) in hits {
        let allowed = &f.facts.allowed_uses;
        let designation = f.facts.designation.as_deref().unwrap_or("?");
        let name = &f.facts.name;
        let ok = allowed.contains(&intended);
        let finding = if ok {
            cx.finding(
                RuleCode::ZoneUse,
                def,
                Outcome::ZoneUseAllowed,
                true,
                t!(
                    loc,
                    format!("juhtotstarve {designation} ({name}) lubab kasutust {intended}"),
                    format!("zone {designation} ({name}) allows {intended}"),
                ),
            )
        } else {
            cx.finding(
                RuleCode::ZoneUse,
                def,
                Outcome::ZoneUseNotAllowed,
                false,
                t!(
                    loc,
                    format!(
                        "juhtotstarve {designation} ({name}) ei luba kasutust {intended}; lubatud: {}",
                        allowed.join(", ")
                    ),
                    format!(
                        "zone {designation} ({name}) does not allow {intended}; allowed: {}",
                        allowed.join(", ")
                    ),
                ),
            )
        };
        finding.describe(layer, f, overlap, area, proposal_area);
    }
}
