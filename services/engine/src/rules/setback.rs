//! SETBACK: the proposal keeps at least `min_m` (default 4 m) from the boundary of the parcels
//! it is on, taken together — a building across the common boundary of two of them is measured
//! to the outside only.

use geo::{BooleanOps, MultiPolygon};

use super::catalogue::{Outcome, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;
use super::number::Dec;
use crate::index::Parcel;
use crate::predicates as p;

pub(super) fn setback(cx: &mut Ctx<'_>, def: &RuleDef, parcels: &[&Parcel]) {
    let loc = cx.p.locale;
    let min = def.number("min_m", 4.0);
    if parcels.is_empty() {
        return;
    }
    // The boundary of the parcels taken together: a building across the common boundary of two
    // of them is measured to the outside only. Their common boundaries are dropped edge by edge
    // (see `p::outer_edges`); only very large sets are united with an overlay.
    let geometries: Vec<&MultiPolygon> = parcels.iter().map(|p| p.geometry()).collect();
    let d = match p::union_boundary_distance(&cx.p.geometry, &geometries) {
        Some(d) => d,
        None if parcels.len() == 1 => p::boundary_distance(&cx.p.geometry, parcels[0].geometry()),
        None => {
            let union = parcels
                .iter()
                .skip(1)
                .fold(parcels[0].geometry().clone(), |u, p| u.union(p.geometry()));
            p::boundary_distance(&cx.p.geometry, &union)
        }
    };
    let shown = Dec(d, 2);
    let f = if d + 1e-9 >= min {
        cx.finding(
            RuleCode::Setback,
            def,
            Outcome::SetbackOk,
            true,
            t!(
                loc,
                format!("kaugus katastriüksuse piirist {shown} m (nõue vähemalt {min} m)"),
                format!("{shown} m from the parcel boundary (at least {min} m required)"),
            ),
        )
    } else {
        cx.finding(
            RuleCode::Setback,
            def,
            Outcome::SetbackTooSmall,
            false,
            t!(
                loc,
                format!("kaugus katastriüksuse piirist on {shown} m, nõue on vähemalt {min} m"),
                format!("{shown} m from the parcel boundary, at least {min} m required"),
            ),
        )
    };
    f.distance_m = Some(d);
}
