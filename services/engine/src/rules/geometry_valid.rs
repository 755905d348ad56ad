//! GEOMETRY_VALID: the proposal's geometry is valid. The API refuses an invalid one before it
//! reaches the engine, so here the rule always passes and reports the area checked.

use super::catalogue::{Outcome, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;
use super::number::Dec;

pub(super) fn geometry_valid(cx: &mut Ctx<'_>, def: &RuleDef) {
    let loc = cx.p.locale;
    let area = Dec(cx.area, 1);
    cx.finding(
        RuleCode::GeometryValid,
        def,
        Outcome::GeometryValid,
        true,
        t!(
            loc,
            format!("geomeetria on korrektne, pindala {area} m²"),
            format!("geometry is valid, area {area} m²"),
        ),
    );
}
