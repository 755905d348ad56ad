//! The coverage of a parcel: the area of the buildings on it and the limit that applies (a
//! detailed plan in force over it, else the zone that covers most of it), worked out for every
//! parcel when the index is built and per validation only when a rule version asks for another
//! sliver tolerance.
//!
//! The comparison with the limit is the coverage rule's (`rules::coverage`), not this module's.

use std::sync::Arc;

use kovgis_core::model::LayerKind;

use super::Parcel;
use super::layer::LayerSet;
use crate::shape::{self, Shape};

/// What the coverage rule needs of a parcel.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// The area of the buildings on it, m².
    pub built_m2: f64,
    /// The maximum coverage in % and where it comes from: a detailed plan in force over the
    /// parcel, else the zone that covers most of it.
    pub limit: Option<(f64, Arc<str>)>,
}

/// The sliver tolerance (m²) the coverage of every parcel is worked out with when the index is
/// built: the national default of RESTRICTION_OVERLAP's `sliver_area_m2`. A rule version with
/// another tolerance gets it worked out per validation.
pub const COVERAGE_SLIVER_M2: f64 = 0.5;

impl LayerSet<'_> {
    /// Works out the coverage (with [`COVERAGE_SLIVER_M2`]) of the parcels `which` selects into
    /// `out` (one entry per parcel, in order), on every core.
    pub(super) fn cover(
        &self,
        parcels: &[Parcel],
        out: &mut [Coverage],
        which: impl Fn(&Parcel) -> bool + Sync,
    ) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = parcels.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for (part, out) in parcels.chunks(per).zip(out.chunks_mut(per)) {
                let which = &which;
                s.spawn(move || {
                    for (p, c) in part.iter().zip(out) {
                        if which(p) {
                            *c = self.coverage(&p.municipality_code, &p.shape, COVERAGE_SLIVER_M2);
                        }
                    }
                });
            }
        });
    }

    /// The built area on a parcel and the coverage limit over it, in a municipality, with the
    /// sliver tolerance `sliver` (m²).
    pub(super) fn coverage(
        &self,
        municipality_code: &str,
        parcel: &Shape,
        sliver: f64,
    ) -> Coverage {
        let Some(bounds) = parcel.bbox else {
            return Coverage::default();
        };
        let best = |kind: LayerKind, in_force_only: bool| {
            let mut best: Option<(f64, f64, &Arc<str>)> = None;
            for layer in self.of(kind, municipality_code) {
                for f in layer.near(bounds) {
                    let (Some(areal), Some(max)) = (&f.areal, f.facts.max_coverage_pct) else {
                        continue;
                    };
                    if in_force_only && !f.facts.in_force {
                        continue;
                    }
                    let a = shape::overlap_area(parcel, areal);
                    if a > sliver && best.is_none_or(|b| a > b.0) {
                        best = Some((a, max, &f.facts.name));
                    }
                }
            }
            best.map(|(_, max, name)| (max, Arc::clone(name)))
        };
        let limit = best(LayerKind::DetailedPlan, true).or_else(|| best(LayerKind::Zoning, false));
        let mut built_m2 = 0.0;
        for layer in self.of(LayerKind::Building, municipality_code) {
            for b in layer.near(bounds) {
                if let Some(areal) = &b.areal {
                    built_m2 += shape::overlap_area(parcel, areal);
                }
            }
        }
        Coverage { built_m2, limit }
    }
}
