//! DP_REQUIRED: where a zone the proposal lies in requires a detailed plan (`dp_required`), one
//! in force must cover the whole proposal (up to a sliver).

use kovgis_core::model::LayerKind;

use super::catalogue::{Outcome, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;

pub(super) fn dp_required(cx: &mut Ctx<'_>, def: &RuleDef) {
    if cx.no_layer(RuleCode::DpRequired, def, &[LayerKind::Zoning]) {
        return;
    }
    let loc = cx.p.locale;
    let zones = cx.zone_hits();
    let requiring: Vec<String> = zones
        .iter()
        .filter(|(_, f, _, _)| f.facts.dp_required)
        .map(|(_, f, _, _)| f.name())
        .collect();
    if requiring.is_empty() {
        cx.finding(
            RuleCode::DpRequired,
            def,
            Outcome::DpNotRequired,
            true,
            t!(
                loc,
                "detailplaneeringu kohustust ei ole".into(),
                "no detailed plan is required here".into(),
            ),
        );
        return;
    }
    // A plan in force must cover the whole proposal (up to a sliver).
    let plans = cx.hits(LayerKind::DetailedPlan);
    let covering = plans
        .iter()
        .find(|(_, f, _, area)| f.facts.in_force && cx.area - area <= cx.sliver_area);
    let zones = requiring.join(", ");
    match covering {
        Some((_, f, _, _)) => {
            let plan = f.name();
            cx.finding(
                RuleCode::DpRequired,
                def,
                Outcome::DpInForce,
                true,
                t!(
                    loc,
                    format!("alal ({zones}) on nõutud detailplaneering; kehtib {plan}"),
                    format!("a detailed plan is required here ({zones}); {plan} is in force"),
                ),
            );
        }
        None => {
            cx.finding(
                RuleCode::DpRequired,
                def,
                Outcome::DpRequired,
                false,
                t!(
                    loc,
                    format!("alal ({zones}) on nõutud detailplaneering, kehtivat ei ole"),
                    format!("a detailed plan is required here ({zones}) and none is in force"),
                ),
            );
        }
    }
}
