//! The in-memory index the rules run on: the current parcels and every layer's features, each
//! layer in its own R-tree (rstar 0.14) of bounding boxes, built in bulk.
//!
//! An [`Index`] is immutable once built: a refresh builds a new one and swaps it in whole, so a
//! validation always sees one consistent set of versions. A new index for changed layers shares
//! the parcels and the unchanged layers with the one it replaces (`refresh`).
//!
//! Files: the index and its parcels here; the R-tree in `tree`, layers and features in `layer`,
//! the one reading of feature attributes in `facts`, parcels' coverage in `coverage`, a new
//! index for changed layers in `refresh`, the stats in `stats`. The other procedures (for `CONFLICTS_WITH_PROCEDURE`) are in [`procedures`]: an
//! index of their own, changed one procedure at a time.

mod coverage;
mod facts;
mod layer;
pub mod procedures;
mod refresh;
mod stats;
#[cfg(test)]
mod tests;
mod tree;

use std::collections::HashMap;
use std::sync::Arc;

use geo::{MultiPolygon, Rect};
use kovgis_core::model::LayerKind;

use crate::shape::Shape;
use layer::LayerSet;
use tree::Indexed;

pub use coverage::{COVERAGE_SLIVER_M2, Coverage};
pub use facts::Facts;
pub use layer::{Feature, Layer, LayerInfo, areal_part};
pub use procedures::{ProcedureEntry, ProcedureIndex};
pub use stats::{IndexStats, LayerStats};

/// A current parcel, as the rules need it.
#[derive(Debug, Clone)]
pub struct Parcel {
    pub code: String,
    pub municipality_code: String,
    /// Its area, prepared (area, box, convexity, boundary runs).
    pub shape: Shape,
    /// Its place among the index's parcels (its coverage's, see [`Index::coverage`]).
    at: u32,
}

/// The parcels and layers of one moment.
///
/// The parcels (the biggest part) and each layer are shared with the index this one was
/// [`refreshed`](Index::refreshed) from, when they did not change.
#[derive(Debug)]
pub struct Index {
    parcels: Arc<Indexed<Parcel>>,
    by_code: Arc<HashMap<String, u32>>,
    /// Per parcel (in `parcels` order): its built area and coverage limit, worked out when the
    /// index is built (see [`Index::coverage`]).
    coverage: Vec<Coverage>,
    layers: Vec<Arc<Layer>>,
    /// Per municipality: the layers that apply there (its own and the national ones), in
    /// `layers` order; `national` for a municipality without layers of its own.
    applicable: HashMap<String, Vec<u32>>,
    national: Vec<u32>,
    /// The dataset version the parcels came from.
    pub parcel_version: Option<i64>,
    pub stats: IndexStats,
}

impl Index {
    /// Builds the index. `started` is when loading began, for the stats.
    pub fn build(
        mut parcels: Vec<Parcel>,
        parcel_version: Option<i64>,
        layers: Vec<Layer>,
        started: std::time::Instant,
    ) -> Self {
        for (i, p) in parcels.iter_mut().enumerate() {
            p.at = i as u32;
        }
        let by_code = parcels.iter().map(|p| (p.code.clone(), p.at)).collect();
        let parcel_bytes = stats::parcel_bytes(&parcels);
        let layers: Vec<Arc<Layer>> = layers.into_iter().map(Arc::new).collect();
        let (applicable, national) = applicable(&layers);
        let set = LayerSet {
            layers: &layers,
            applicable: &applicable,
            national: &national,
        };
        let mut coverage = vec![Coverage::default(); parcels.len()];
        set.cover(&parcels, &mut coverage, |_| true);
        let parcels = Indexed::build(parcels, |p| p.shape.bbox.into_iter().collect());
        let stats = IndexStats::of(&parcels, parcel_bytes, &layers, started);
        Index {
            parcels: Arc::new(parcels),
            by_code: Arc::new(by_code),
            coverage,
            layers,
            applicable,
            national,
            parcel_version,
            stats,
        }
    }

    /// The current parcel with this code.
    pub fn parcel(&self, code: &str) -> Option<&Parcel> {
        self.by_code
            .get(code)
            .map(|&i| &self.parcels.items[i as usize])
    }

    /// Parcels whose bounding box meets `r`.
    pub fn parcels_near(&self, r: Rect) -> impl Iterator<Item = &Parcel> {
        self.parcels.near(r)
    }

    /// The layers of `kind` that apply in a municipality: its own and the national ones.
    pub fn layers<'a>(
        &'a self,
        kind: LayerKind,
        municipality_code: &'a str,
    ) -> impl Iterator<Item = &'a Layer> {
        self.set().of(kind, municipality_code)
    }

    fn set(&self) -> LayerSet<'_> {
        LayerSet {
            layers: &self.layers,
            applicable: &self.applicable,
            national: &self.national,
        }
    }

    /// The built area on `parcel` and the coverage limit over it, for a proposal in
    /// `municipality_code` with the sliver tolerance `sliver` (m²): as worked out when the index
    /// was built, unless the municipality or the tolerance differ.
    pub fn coverage(&self, municipality_code: &str, parcel: &Parcel, sliver: f64) -> Coverage {
        // One of this index's parcels (not a copy made elsewhere), with the defaults.
        let own = self
            .parcels
            .items
            .get(parcel.at as usize)
            .is_some_and(|p| std::ptr::eq(p, parcel));
        match self.coverage.get(parcel.at as usize) {
            Some(c)
                if own
                    && parcel.municipality_code == municipality_code
                    && sliver == COVERAGE_SLIVER_M2 =>
            {
                c.clone()
            }
            _ => self
                .set()
                .coverage(municipality_code, &parcel.shape, sliver),
        }
    }

    /// Every layer, in the order they were given.
    pub fn all_layers(&self) -> &[Arc<Layer>] {
        &self.layers
    }
}

/// Per municipality, the layers that apply there (its own, then the national ones, in `layers`
/// order), and the national ones alone.
fn applicable(layers: &[Arc<Layer>]) -> (HashMap<String, Vec<u32>>, Vec<u32>) {
    let national: Vec<u32> = (0..layers.len() as u32)
        .filter(|&i| layers[i as usize].info.municipality_code.is_none())
        .collect();
    let mut applicable: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, l) in layers.iter().enumerate() {
        if let Some(m) = &l.info.municipality_code {
            applicable.entry(m.clone()).or_default().push(i as u32);
        }
    }
    for list in applicable.values_mut() {
        list.extend(&national);
        list.sort_unstable();
    }
    (applicable, national)
}

impl Parcel {
    pub fn new(code: String, municipality_code: String, geometry: MultiPolygon) -> Self {
        Parcel {
            code,
            municipality_code,
            shape: Shape::indexed(geometry),
            at: 0,
        }
    }

    pub fn geometry(&self) -> &MultiPolygon {
        &self.shape.polygons
    }
}
