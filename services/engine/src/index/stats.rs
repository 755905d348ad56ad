//! What an index holds and what it cost: counts, rough resident sizes and the build time, per
//! layer, for the logs and `GetIndexStats`.
//!
//! Estimates for operators, not measurements the engine relies on.

use std::time::Duration;

use super::Parcel;
use super::layer::{Feature, Layer};
use super::tree::{Entry, Indexed};
use crate::shape::Shape;

/// What an index holds and what it cost, per layer (for logs and `GetIndexStats`).
#[derive(Debug, Clone, Default)]
pub struct IndexStats {
    pub parcels: usize,
    pub parcel_bytes: usize,
    pub layers: Vec<LayerStats>,
    pub build: Duration,
}

#[derive(Debug, Clone)]
pub struct LayerStats {
    pub layer_id: i64,
    pub name: String,
    pub municipality_code: Option<String>,
    pub features: usize,
    pub bytes: usize,
    pub version: Option<i64>,
}

impl IndexStats {
    /// The stats of parcels (`parcel_bytes`: their own rough size, before the tree) and layers,
    /// `started` being when loading began.
    pub(super) fn of(
        parcels: &Indexed<Parcel>,
        parcel_bytes: usize,
        layers: &[std::sync::Arc<Layer>],
        started: std::time::Instant,
    ) -> IndexStats {
        IndexStats {
            parcels: parcels.items.len(),
            parcel_bytes: parcel_bytes + parcels.boxes() * std::mem::size_of::<Entry>(),
            layers: layers.iter().map(|l| LayerStats::of(l)).collect(),
            build: started.elapsed(),
        }
    }
}

impl LayerStats {
    /// A layer's stats (its size is worked out feature by feature: not for every refresh of
    /// another layer, see `refresh`).
    pub(super) fn of(l: &Layer) -> LayerStats {
        LayerStats {
            layer_id: l.info.id,
            name: l.info.name.clone(),
            municipality_code: l.info.municipality_code.clone(),
            features: l.len(),
            bytes: l.bytes(),
            version: l.info.version,
        }
    }
}

/// Rough resident size of parcels: their shapes and codes.
pub(super) fn parcel_bytes(parcels: &[Parcel]) -> usize {
    parcels
        .iter()
        .map(|p| std::mem::size_of::<Parcel>() + p.shape.heap_bytes() + p.code.len())
        .sum()
}

impl Layer {
    /// Rough resident size: coordinates, boxes and attributes.
    fn bytes(&self) -> usize {
        self.features
            .items
            .iter()
            .map(|f| {
                use geo::CoordsIter;
                std::mem::size_of::<Feature>()
                    + f.geometry.coords_count() * 16
                    + f.areal.as_ref().map_or(0, Shape::heap_bytes)
                    + f.attributes.to_string().len()
                    + f.facts.name.len()
            })
            .sum::<usize>()
            + self.features.boxes() * std::mem::size_of::<Entry>()
    }
}
