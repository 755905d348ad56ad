//! SETBACK: the proposal keeps at least `min_m` (default 4 m) from the boundary of the parcels
//! it is on, taken together — a building across the common boundary of two of them is measured
//! to the outside only.
//!
//! The common boundaries are dropped edge by edge where the parcels have few edges
//! (`p::union_boundary_distance`); larger sets are united with one overlay, whose cost grows with
//! their vertices. That overlay is bounded: past [`MAX_UNION_PARCELS`] parcels or
//! [`MAX_UNION_VERTICES`] vertices in all the setback is not worked out and the finding says so
//! (`NOT_CHECKED` with reason `TOO_COMPLEX`, not passed), instead of one request uniting half a town.

use geo::{CoordsIter, MultiPolygon};

use super::catalogue::{Outcome, Reason, RuleCode, RuleDef};
use super::context::Ctx;
use super::messages::t;
use super::number::Dec;
use crate::index::Parcel;
use crate::predicates as p;

/// The most parcels the setback unites with an overlay.
pub const MAX_UNION_PARCELS: usize = 100;

/// The most parcel vertices, in all, the setback unites with an overlay (about 50 ms of work).
pub const MAX_UNION_VERTICES: usize = 20_000;

pub(super) fn setback(cx: &mut Ctx<'_>, def: &RuleDef, parcels: &[&Parcel]) {
    let loc = cx.p.locale;
    let min = def.number("min_m", 4.0);
    if parcels.is_empty() {
        return;
    }
    // The boundary of the parcels taken together: a building across the common boundary of two
    // of them is measured to the outside only. Their common boundaries are dropped edge by edge
    // (see `p::outer_edges`); only large sets are united with an overlay, and only up to a cap.
    let geometries: Vec<&MultiPolygon> = parcels.iter().map(|p| p.geometry()).collect();
    let d = match p::union_boundary_distance(&cx.p.geometry, &geometries) {
        Some(d) => d,
        None if parcels.len() == 1 => p::boundary_distance(&cx.p.geometry, parcels[0].geometry()),
        None => {
            let vertices: usize = geometries.iter().map(|g| g.coords_count()).sum();
            if parcels.len() > MAX_UNION_PARCELS || vertices > MAX_UNION_VERTICES {
                let (n, cap_n, cap_v) = (parcels.len(), MAX_UNION_PARCELS, MAX_UNION_VERTICES);
                cx.not_checked(
                    RuleCode::Setback,
                    def,
                    Reason::TooComplex,
                    t!(
                        loc,
                        format!(
                            "kaugust katastriüksuse piirist ei kontrollitud: ettepanek asub {n} \
                             katastriüksusel ({vertices} tippu), ühendatakse kuni {cap_n} \
                             katastriüksust ja {cap_v} tippu — jagage ettepanek osadeks"
                        ),
                        format!(
                            "the distance from the parcel boundary was not checked: the proposal \
                             lies on {n} parcels ({vertices} vertices); at most {cap_n} parcels \
                             and {cap_v} vertices are united for it — split the proposal"
                        ),
                    ),
                );
                return;
            }
            let union = geo::unary_union(geometries.iter().copied());
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
