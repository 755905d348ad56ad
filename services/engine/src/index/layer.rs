//! Layers and their features as the rules see them: a layer's description ([`LayerInfo`]), its
//! features ([`Feature`], each with its areal part prepared and its [`Facts`] read) in an R-tree,
//! and which layers apply in a municipality (its own and the national ones).
//!
//! The features' attributes are read in [`super::facts`], the coverage of parcels in
//! [`super::coverage`].

use std::collections::HashMap;
use std::sync::Arc;

use geo::{BoundingRect, Geometry, MultiPolygon, Rect};
use kovgis_core::model::LayerKind;
use kovgis_core::names::layer_resource_name;

use super::facts::Facts;
use super::tree::Indexed;
use crate::shape::Shape;

/// A layer as the rules need it.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    pub id: i64,
    pub name: String,
    pub title: String,
    pub kind: LayerKind,
    /// `None`: a national layer.
    pub municipality_code: Option<String>,
    pub authority: Option<String>,
    /// The dataset version its features came from.
    pub version: Option<i64>,
}

/// A layer feature.
#[derive(Debug, Clone)]
pub struct Feature {
    pub id: i64,
    pub external_id: Option<String>,
    /// Shared with the findings that report it.
    pub attributes: Arc<serde_json::Value>,
    pub geometry: Geometry,
    /// Its areal part, prepared for overlap areas (`None` for points and lines).
    pub areal: Option<Shape>,
    pub bbox: Option<Rect>,
    /// The attributes the rules read, read once.
    pub facts: Facts,
}

/// A feature's areal part, for overlap areas: polygons as they are, nothing for points and lines.
pub fn areal_part(g: &Geometry) -> Option<MultiPolygon> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        Geometry::Rect(r) => Some(MultiPolygon(vec![r.to_polygon()])),
        Geometry::Triangle(t) => Some(MultiPolygon(vec![t.to_polygon()])),
        Geometry::GeometryCollection(c) => {
            let polygons: Vec<_> = c.iter().filter_map(areal_part).flat_map(|m| m.0).collect();
            (!polygons.is_empty()).then_some(MultiPolygon(polygons))
        }
        _ => None,
    }
}

impl Feature {
    pub fn new(
        id: i64,
        external_id: Option<String>,
        attributes: serde_json::Value,
        geometry: Geometry,
    ) -> Self {
        let areal = areal_part(&geometry).map(Shape::indexed);
        let bbox = geometry.bounding_rect();
        let facts = Facts::of(id, external_id.as_deref(), &attributes);
        Feature {
            id,
            external_id,
            attributes: Arc::new(attributes),
            geometry,
            areal,
            bbox,
            facts,
        }
    }

    /// Its display name (see [`Facts::name`]).
    pub fn name(&self) -> String {
        self.facts.name.to_string()
    }
}

/// One layer and its features.
#[derive(Debug)]
pub struct Layer {
    pub info: LayerInfo,
    /// How reports name it: `layer <name> (<id>)`.
    label: String,
    /// Its stable resource name (`municipalities/0793/layers/zoning`, `layers/shore-zones`),
    /// made once and shared with every finding about it.
    resource_name: Arc<str>,
    pub(super) features: Indexed<Feature>,
}

impl Layer {
    pub fn new(info: LayerInfo, features: Vec<Feature>) -> Self {
        Layer {
            label: format!("layer {} ({})", info.name, info.id),
            resource_name: layer_resource_name(info.municipality_code.as_deref(), &info.name)
                .into(),
            info,
            // Large features whose area fills little of their box (a shore zone along a river)
            // are found by the boxes of their grid rows, so that a proposal in the empty part of
            // the box does not even become a candidate.
            features: Indexed::build(features, |f| {
                let rows = match (&f.areal, &f.geometry) {
                    (Some(a), Geometry::Polygon(_) | Geometry::MultiPolygon(_)) => a.row_boxes(),
                    _ => None,
                };
                rows.or_else(|| f.bbox.map(|b| vec![b])).unwrap_or_default()
            }),
        }
    }

    /// Features whose bounding box meets `r`.
    pub fn near(&self, r: Rect) -> impl Iterator<Item = &Feature> {
        self.features.near(r)
    }

    pub fn len(&self) -> usize {
        self.features.items.len()
    }

    /// Its stable resource name, e.g. `municipalities/0793/layers/zoning`.
    pub fn resource_name(&self) -> &Arc<str> {
        &self.resource_name
    }

    /// How reports name it in their provenance: `layer <name> (<id>)`.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn is_empty(&self) -> bool {
        self.features.items.is_empty()
    }
}

/// The layers of an index, by kind and municipality.
pub(super) struct LayerSet<'a> {
    pub(super) layers: &'a [Arc<Layer>],
    pub(super) applicable: &'a HashMap<String, Vec<u32>>,
    pub(super) national: &'a [u32],
}

impl<'a> LayerSet<'a> {
    pub(super) fn of(
        &self,
        kind: LayerKind,
        municipality_code: &str,
    ) -> impl Iterator<Item = &'a Layer> + use<'a> {
        let layers = self.layers;
        self.applicable
            .get(municipality_code)
            .map(Vec::as_slice)
            .unwrap_or(self.national)
            .iter()
            .map(move |&i| &*layers[i as usize])
            .filter(move |l| l.info.kind == kind)
    }
}
