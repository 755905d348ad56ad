//! The in-memory index the rules run on: the current parcels and every layer's features, each
//! layer in its own R-tree (rstar 0.14) of bounding boxes, built in bulk.
//!
//! An [`Index`] is immutable once built: a refresh builds a new one and swaps it in whole, so a
//! validation always sees one consistent set of versions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use geo::{BoundingRect, Geometry, MultiPolygon, Rect};
use kovgis_core::model::LayerKind;
use rstar::{AABB, RStarInsertionStrategy, RTree, RTreeObject, RTreeParams};

use crate::shape::{self, Shape};

/// A current parcel, as the rules need it.
#[derive(Debug, Clone)]
pub struct Parcel {
    pub code: String,
    pub municipality_code: String,
    /// Its area, prepared (area, box, convexity, boundary runs).
    pub shape: Shape,
    /// Built area and coverage limit, worked out when the index is built (see
    /// [`Index::coverage`]).
    coverage: Coverage,
}

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

/// The layers of an index, by kind and municipality.
struct LayerSet<'a> {
    layers: &'a [Layer],
    applicable: &'a HashMap<String, Vec<u32>>,
    national: &'a [u32],
}

impl<'a> LayerSet<'a> {
    fn of(
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
            .map(move |&i| &layers[i as usize])
            .filter(move |l| l.info.kind == kind)
    }

    fn coverage(&self, municipality_code: &str, parcel: &Shape, sliver: f64) -> Coverage {
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

/// What the rules read from a feature's attributes, read once when the index is built.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// A display name: `name_et` / `name` / `plan_name` / `monument` / `designation`, else the
    /// external id, else the id.
    pub name: Arc<str>,
    /// `designation`: a zone's land-use designation.
    pub designation: Option<String>,
    /// `allowed_uses`: what a zone allows.
    pub allowed_uses: Vec<String>,
    /// `max_coverage_pct`.
    pub max_coverage_pct: Option<f64>,
    /// `status` is `in_force` (a detailed plan).
    pub in_force: bool,
    /// `dp_required`, true or non-zero.
    pub dp_required: bool,
    /// `authority`: whom to coordinate with (else the layer's).
    pub authority: Option<String>,
}

impl Facts {
    fn of(id: i64, external_id: Option<&str>, a: &serde_json::Value) -> Facts {
        let text = |k: &str| a.get(k).and_then(|v| v.as_str());
        let name = ["name_et", "name", "plan_name", "monument", "designation"]
            .iter()
            .find_map(|k| text(k))
            .map(str::to_owned)
            .or_else(|| external_id.map(str::to_owned))
            .unwrap_or_else(|| id.to_string());
        Facts {
            name: name.into(),
            designation: text("designation").map(str::to_owned),
            allowed_uses: a
                .get("allowed_uses")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            max_coverage_pct: a.get("max_coverage_pct").and_then(|v| v.as_f64()),
            in_force: text("status") == Some("in_force"),
            dp_required: a
                .get("dp_required")
                .and_then(|v| v.as_bool().or_else(|| v.as_i64().map(|i| i != 0)))
                .unwrap_or(false),
            authority: text("authority").map(str::to_owned),
        }
    }
}

/// One bounding box in an R-tree: the index of the thing it bounds.
#[derive(Debug, Clone, Copy)]
struct Entry {
    envelope: AABB<[f64; 2]>,
    at: u32,
    /// The item has more than one box in the tree (a query may meet it twice).
    several: bool,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn aabb(r: Rect) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

/// R-tree node sizes: wider than rstar's default (3–6), so a query over the 775 000 parcels
/// visits about five levels instead of eight — fewer cache misses on a tree built once and only
/// read.
struct Wide;

impl RTreeParams for Wide {
    const MIN_SIZE: usize = 8;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// Items and the R-tree over their boxes.
#[derive(Debug)]
struct Indexed<T> {
    items: Vec<T>,
    tree: RTree<Entry, Wide>,
}

impl<T> Indexed<T> {
    /// `boxes`: the boxes an item is found by — its bounding box, or several smaller ones that
    /// together cover it.
    fn build(items: Vec<T>, boxes: impl Fn(&T) -> Vec<Rect>) -> Self {
        let mut entries = Vec::with_capacity(items.len());
        for (at, item) in items.iter().enumerate() {
            let rects = boxes(item);
            let several = rects.len() > 1;
            entries.extend(rects.into_iter().map(|r| Entry {
                envelope: aabb(r),
                at: at as u32,
                several,
            }));
        }
        Indexed {
            items,
            tree: RTree::bulk_load_with_params(entries),
        }
    }

    /// Items with a box that meets `r` (a superset of those that meet the geometry), each once.
    fn near(&self, r: Rect) -> impl Iterator<Item = &T> {
        let mut seen: Vec<u32> = Vec::new();
        self.tree
            .locate_in_envelope_intersecting(aabb(r))
            .filter(move |e| {
                if !e.several {
                    return true;
                }
                if seen.contains(&e.at) {
                    return false;
                }
                seen.push(e.at);
                true
            })
            .map(|e| &self.items[e.at as usize])
    }
}

/// One layer and its features.
#[derive(Debug)]
pub struct Layer {
    pub info: LayerInfo,
    /// How reports name it: `layer <name> (<id>)`.
    label: String,
    features: Indexed<Feature>,
}

impl Layer {
    pub fn new(info: LayerInfo, features: Vec<Feature>) -> Self {
        Layer {
            label: format!("layer {} ({})", info.name, info.id),
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

    /// How reports name it in their provenance: `layer <name> (<id>)`.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn is_empty(&self) -> bool {
        self.features.items.is_empty()
    }

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
            + self.features.tree.size() * std::mem::size_of::<Entry>()
    }
}

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

/// The parcels and layers of one moment.
#[derive(Debug)]
pub struct Index {
    parcels: Indexed<Parcel>,
    by_code: HashMap<String, u32>,
    layers: Vec<Layer>,
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
        let by_code = parcels
            .iter()
            .enumerate()
            .map(|(i, p)| (p.code.clone(), i as u32))
            .collect();
        let parcel_bytes: usize = parcels
            .iter()
            .map(|p| std::mem::size_of::<Parcel>() + p.shape.heap_bytes() + p.code.len())
            .sum();
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
        // Every parcel's coverage, on every core.
        let set = LayerSet {
            layers: &layers,
            applicable: &applicable,
            national: &national,
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = parcels.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for part in parcels.chunks_mut(per) {
                let set = &set;
                s.spawn(move || {
                    for p in part {
                        p.coverage =
                            set.coverage(&p.municipality_code, &p.shape, COVERAGE_SLIVER_M2);
                    }
                });
            }
        });
        let parcels = Indexed::build(parcels, |p| p.shape.bbox.into_iter().collect());
        let stats = IndexStats {
            parcels: parcels.items.len(),
            parcel_bytes: parcel_bytes + parcels.tree.size() * std::mem::size_of::<Entry>(),
            layers: layers
                .iter()
                .map(|l| LayerStats {
                    layer_id: l.info.id,
                    name: l.info.name.clone(),
                    municipality_code: l.info.municipality_code.clone(),
                    features: l.len(),
                    bytes: l.bytes(),
                    version: l.info.version,
                })
                .collect(),
            build: started.elapsed(),
        };
        Index {
            parcels,
            by_code,
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
        if parcel.municipality_code == municipality_code && sliver == COVERAGE_SLIVER_M2 {
            parcel.coverage.clone()
        } else {
            self.set()
                .coverage(municipality_code, &parcel.shape, sliver)
        }
    }

    pub fn all_layers(&self) -> &[Layer] {
        &self.layers
    }
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

impl Parcel {
    pub fn new(code: String, municipality_code: String, geometry: MultiPolygon) -> Self {
        Parcel {
            code,
            municipality_code,
            shape: Shape::indexed(geometry),
            coverage: Coverage::default(),
        }
    }

    pub fn geometry(&self) -> &MultiPolygon {
        &self.shape.polygons
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Coord, LineString, Polygon};

    /// A 50 m wide band along a 2 km diagonal, of many vertices: it fills a small part of its
    /// box, so it is indexed by the boxes of its grid rows.
    fn band() -> Feature {
        let n = 100;
        let mut pts: Vec<Coord> = (0..=n)
            .map(|i| {
                let t = i as f64 / n as f64 * 2000.0;
                Coord {
                    x: t,
                    y: t + 10.0 * (t / 50.0).sin(),
                }
            })
            .collect();
        pts.extend((0..=n).rev().map(|i| {
            let t = i as f64 / n as f64 * 2000.0;
            Coord {
                x: t + 50.0,
                y: t - 50.0 + 10.0 * (t / 50.0).sin(),
            }
        }));
        pts.push(pts[0]);
        Feature::new(
            1,
            None,
            serde_json::Value::Null,
            Geometry::Polygon(Polygon::new(LineString(pts), vec![])),
        )
    }

    #[test]
    fn features_found_by_row_boxes_are_found_once_wherever_they_are() {
        let f = band();
        let rows = f.areal.as_ref().unwrap().row_boxes().expect("a thin band");
        assert!(rows.len() > 4);
        let layer = Layer::new(
            LayerInfo {
                id: 1,
                name: "band".into(),
                title: "band".into(),
                kind: LayerKind::Restriction,
                municipality_code: None,
                authority: None,
                version: None,
            },
            vec![f],
        );
        let feature = &layer.features.items[0];
        let (mut found, mut skipped) = (0, 0);
        for i in 0..3000 {
            let (x, y) = (
                (i * 37 % 2100) as f64 - 50.0,
                (i * 53 % 2100) as f64 - 100.0,
            );
            let side = 1.0 + (i % 30) as f64;
            let r = Rect::new(
                Coord { x, y },
                Coord {
                    x: x + side,
                    y: y + side,
                },
            );
            let hits = layer.near(r).count();
            assert!(hits <= 1, "found {hits} times");
            let probe = Shape::new(geo::MultiPolygon(vec![r.to_polygon()]));
            let meets = shape::overlap_area(&probe, feature.areal.as_ref().unwrap()) > 0.0
                || feature.areal.as_ref().unwrap().place_shape(&probe) == shape::Placement::Inside;
            if meets {
                assert_eq!(
                    hits, 1,
                    "a box meeting the band at ({x}, {y}) did not find it"
                );
            }
            found += hits;
            skipped += (!meets && hits == 0 && f_box_meets(feature, &r)) as usize;
        }
        assert!(found > 100, "{found}");
        assert!(
            skipped > 1000,
            "boxes in the band's box but away from it skipped: {skipped}"
        );
    }

    fn f_box_meets(f: &Feature, r: &Rect) -> bool {
        let b = f.bbox.unwrap();
        b.min().x <= r.max().x
            && r.min().x <= b.max().x
            && b.min().y <= r.max().y
            && r.min().y <= b.max().y
    }
}
