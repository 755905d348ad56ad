//! A new index for changed layers: the parcels (the biggest part: their shapes and R-tree) and
//! every unchanged layer are shared with the index it replaces, and the coverage of parcels is
//! worked out again only where a changed layer can move it — in the municipality of a changed
//! zoning, detailed-plan or building layer, everywhere for a national one.
//!
//! An import of one municipality's zoning then costs the reading and indexing of that layer
//! and its parcels' coverage, not the whole country's.

use std::collections::HashSet;
use std::sync::Arc;

use kovgis_core::model::LayerKind;

use super::layer::{Layer, LayerSet};
use super::stats::{IndexStats, LayerStats};
use super::{Index, applicable};

/// Which parcels' coverage a change of layers moves.
enum Moved {
    Nowhere,
    In(HashSet<String>),
    Everywhere,
}

impl Moved {
    fn add(&mut self, layer: &Layer) {
        if !matches!(
            layer.info.kind,
            LayerKind::Zoning | LayerKind::DetailedPlan | LayerKind::Building
        ) {
            return;
        }
        match (&mut *self, &layer.info.municipality_code) {
            (Moved::Everywhere, _) => {}
            (_, None) => *self = Moved::Everywhere,
            (Moved::Nowhere, Some(m)) => *self = Moved::In(HashSet::from([m.clone()])),
            (Moved::In(set), Some(m)) => {
                set.insert(m.clone());
            }
        }
    }
}

impl Index {
    /// The index with `layers` instead of this one's, on the same parcels: a layer that did
    /// not change is passed as this index's own (`Arc` shared, see [`Index::all_layers`]); any
    /// other is new, changed, or — missing from `layers` — gone. `started` is when loading
    /// began, for the stats.
    pub fn refreshed(&self, layers: Vec<Arc<Layer>>, started: std::time::Instant) -> Index {
        let kept: HashSet<*const Layer> = layers.iter().map(Arc::as_ptr).collect();
        let old: HashSet<*const Layer> = self.layers.iter().map(Arc::as_ptr).collect();
        let mut moved = Moved::Nowhere;
        for l in &self.layers {
            if !kept.contains(&Arc::as_ptr(l)) {
                moved.add(l);
            }
        }
        for l in &layers {
            if !old.contains(&Arc::as_ptr(l)) {
                moved.add(l);
            }
        }
        let (applicable, national) = applicable(&layers);
        let mut coverage = self.coverage.clone();
        let set = LayerSet {
            layers: &layers,
            applicable: &applicable,
            national: &national,
        };
        let parcels = &self.parcels.items;
        match &moved {
            Moved::Nowhere => {}
            Moved::Everywhere => set.cover(parcels, &mut coverage, |_| true),
            Moved::In(m) => set.cover(parcels, &mut coverage, |p| m.contains(&p.municipality_code)),
        }
        // The stats of a kept layer are the old index's (working out a layer's size reads all
        // its features).
        let stats = IndexStats {
            parcels: self.stats.parcels,
            parcel_bytes: self.stats.parcel_bytes,
            layers: layers
                .iter()
                .map(|l| {
                    let kept = old.contains(&Arc::as_ptr(l));
                    self.stats
                        .layers
                        .iter()
                        .find(|s| kept && s.layer_id == l.info.id)
                        .cloned()
                        .unwrap_or_else(|| LayerStats::of(l))
                })
                .collect(),
            build: started.elapsed(),
        };
        Index {
            parcels: Arc::clone(&self.parcels),
            by_code: Arc::clone(&self.by_code),
            coverage,
            layers,
            applicable,
            national,
            parcel_version: self.parcel_version,
            stats,
        }
    }

    /// This index's layer with this id, to pass again to [`Index::refreshed`] when it did not
    /// change.
    pub fn layer(&self, id: i64) -> Option<&Arc<Layer>> {
        self.layers.iter().find(|l| l.info.id == id)
    }
}
